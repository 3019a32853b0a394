//! What `vigil serve --demo` adds for the dashboard's pages (AI systems with a drift
//! event and a notification, pending approvals, risk requests, a webhook endpoint), loaded twice to show
//! a restart adds nothing; and `GET /whoami`, which the dashboard asks for the key's role.
mod common;

use common::*;
use vigil_shared::domain::{Role, TenantId};

#[tokio::test]
async fn demo_registry_fills_every_page_once() {
    let app = spawn_app().await;
    let tenant = TenantId::parse("acme").unwrap();
    for _ in 0..2 {
        vigil_local::demo::load_webhook(&app.system, &tenant)
            .await
            .unwrap();
        vigil_local::demo::load_registry(&app.system, &tenant)
            .await
            .unwrap();
        app.drain().await;
    }
    let key = app.admin.clone();
    let systems = app.get_json(&key, "/ai-systems").await;
    let names: Vec<&str> = systems["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let chatbot = systems["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Support chatbot")
        .unwrap();
    assert_eq!(chatbot["classification"]["level"], "limited");
    let id = chatbot["id"].as_str().unwrap();
    let drift = app
        .get_json(&key, &format!("/ai-systems/{id}/drift-events"))
        .await;
    assert_eq!(drift["items"][0]["drift_type"], "classifier_version_change");
    let notes = app.get_json(&key, "/notifications").await;
    assert_eq!(notes["items"].as_array().unwrap().len(), 1);
    for kind in ["models", "prompts"] {
        let pending = app
            .get_json(&key, &format!("/governance/{kind}?state=pending_approval"))
            .await;
        assert_eq!(pending["items"].as_array().unwrap().len(), 1, "{kind}");
    }
    // One risk request per system and one naming the pending prompt, each decided once.
    let decided = app.get_json(&key, "/risk?limit=100").await;
    let mut statuses: Vec<&str> = decided["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        ["APPROVED", "APPROVED", "REJECTED", "REQUIRES_APPROVAL"],
        "{decided}"
    );
    let hooks = app.get_json(&key, "/webhooks").await;
    assert_eq!(hooks["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        hooks["items"][0]["url"],
        vigil_local::demo::DEMO_WEBHOOK_URL
    );
}

#[tokio::test]
async fn whoami_names_the_calling_key() {
    let app = spawn_app().await;
    let viewer = app.key("acme", Role::Viewer).await;
    let me = app.get_json(&viewer, "/whoami").await;
    assert_eq!(me["tenant"], "acme");
    assert_eq!(me["role"], "viewer");
    assert_eq!(
        me["key_id"].as_str().unwrap(),
        viewer.split('_').nth(2).unwrap()
    );
    assert_eq!(app.get(&app.admin, "/whoami").await.status(), 200);
    assert_eq!(
        app.get("vk_acme_nokey_secret", "/whoami").await.status(),
        401
    );
}
