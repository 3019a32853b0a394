//! The `vigil-api` bootstrap under the Lambda Runtime API emulator, over moto: each API
//! Gateway (HTTP API, payload 2.0) sample in `events/` reaches its route with a real key
//! seeded in DynamoDB in place of the samples' placeholder, the placeholder itself is
//! refused, and a payload that is no API Gateway event is answered with an invocation
//! error. Needs `VIGIL_MOTO_URL`; skipped without it unless `VIGIL_REQUIRE_MOTO=1`.
use serde_json::{Value, json};
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::QueueName;
use vigil_shared::service::{Origin, api_keys};
use vigil_testkit::{Function, MotoStack, sample, samples_for};

/// The sample with its `authorization` header (if any) replaced by `key`.
fn with_key(name: &str, key: &str) -> Value {
    let mut event = sample(name);
    if event["headers"].get("authorization").is_some() {
        event["headers"]["authorization"] = Value::String(format!("Bearer {key}"));
    }
    event
}

/// The status and the JSON body of an API Gateway response.
fn status_and_body(resp: &Value) -> (u64, Value) {
    let status = resp["statusCode"].as_u64().unwrap_or_default();
    assert_ne!(
        resp["isBase64Encoded"], true,
        "a JSON body is sent as text: {resp}"
    );
    let body = resp["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn bootstrap_answers_its_samples_and_survives_a_bad_payload() {
    let Some(stack) = MotoStack::for_test("api bootstrap", "api").await else {
        return;
    };
    let tenant = TenantId::parse("demo").unwrap();
    let (_, key) = api_keys::create(
        &stack.store(),
        &Origin::system(tenant, "apikeys"),
        Role::Analyst,
        None,
        chrono::Utc::now(),
    )
    .await
    .expect("seed an API key");
    let mut f = Function::start_on(env!("CARGO_BIN_EXE_vigil-api"), &stack, &[]).await;

    assert_eq!(
        samples_for("api"),
        [
            "api-get-findings.json",
            "api-health.json",
            "api-post-events.json"
        ]
    );
    let resp = f.answer(with_key("api-health.json", &key)).await;
    let (status, body) = status_and_body(&resp);
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{resp}"
    );

    let resp = f.answer(with_key("api-post-events.json", &key)).await;
    let (status, body) = status_and_body(&resp);
    assert_eq!(status, 202, "{resp} {}", f.process.logs());
    assert_eq!(body["accepted"], 2);
    let queued = stack.events_waiting_on(QueueName::Ingest).await;
    assert_eq!(queued, 2, "both events are on the ingest queue");

    let resp = f.answer(with_key("api-get-findings.json", &key)).await;
    let (status, body) = status_and_body(&resp);
    assert_eq!(status, 200, "{resp}");
    assert_eq!(body["page_size"], 20);

    // The samples' placeholder key is no key.
    let resp = f.answer(sample("api-get-findings.json")).await;
    assert_eq!(resp["statusCode"], 401, "{resp}");

    f.assert_rejected_and_alive(json!({"not": "an API Gateway event"}))
        .await;
    let resp = f.answer(with_key("api-health.json", &key)).await;
    assert_eq!(resp["statusCode"], 200, "still serving: {resp}");
}
