//! Keys read from Secrets Manager at cold start (on moto): the sealing and audit signing
//! keys derive from generated secret strings, and the model key is read as is.
mod support;

use vigil_shared::adapters::aws::sdk_config;
use vigil_shared::config::Config;
use vigil_shared::wiring;

#[tokio::test]
async fn keys_come_from_secrets_manager() {
    let Some(url) = support::moto_url("secrets") else {
        return;
    };
    let sdk = sdk_config(Some(&url)).await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let mut arns = Vec::new();
    for (name, value) in [
        ("seal", "s3cr3t-sealing-material-0123456789"),
        ("audit", "audit-seed-material-9876543210"),
    ] {
        let out = sm
            .create_secret()
            .name(format!("vigil-{name}-{suffix}"))
            .secret_string(value)
            .send()
            .await
            .unwrap();
        arns.push(out.arn().unwrap().to_string());
    }
    let vars = [
        ("AWS_ENDPOINT_URL", url.clone()),
        ("VIGIL_SECRET_KEY_SECRET_ARN", arns[0].clone()),
        ("VIGIL_AUDIT_SIGNING_KEY_SECRET_ARN", arns[1].clone()),
    ];
    let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let mut a = Config::from_lookup(&lookup).unwrap();
    assert!(a.webhooks.secret_key.is_none() && a.audit_signing_key.is_none());
    wiring::resolve_keys(&mut a).await.unwrap();
    assert!(a.webhooks.secret_key.is_some());
    let signer = a.audit_signing_key.clone().unwrap();
    // Every cold start derives the same keys.
    let mut b = Config::from_lookup(&lookup).unwrap();
    wiring::resolve_keys(&mut b).await.unwrap();
    assert_eq!(
        signer.public_key(),
        b.audit_signing_key.unwrap().public_key()
    );
    // A missing secret is a clear start-up error.
    let missing = [
        ("AWS_ENDPOINT_URL", url.clone()),
        (
            "VIGIL_SECRET_KEY_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope".to_string(),
        ),
    ];
    let mut c = Config::from_lookup(&|k: &str| {
        missing
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let err = wiring::resolve_keys(&mut c).await.unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
