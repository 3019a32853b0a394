//! Domain records the tests seed.
use vigil_shared::classifier::{Answers, classify};
use vigil_shared::domain::TenantId;
use vigil_shared::domain::ai_system::{AiSystem, Monitoring};
use vigil_shared::ports::{Clock, SystemClock};

/// An AI system `name` of `tenant` with `answers`, classified from them as of now,
/// monitored, with empty descriptive fields.
pub fn ai_system(tenant: &TenantId, name: &str, answers: Answers) -> AiSystem {
    let now = SystemClock.now();
    AiSystem {
        id: AiSystem::new_id(),
        tenant: tenant.clone(),
        name: name.into(),
        description: String::new(),
        purpose: String::new(),
        owner: String::new(),
        human_oversight: None,
        classification: Some(classify(&answers, now.date_naive())),
        answers: Some(answers),
        monitoring: Monitoring::default(),
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

/// A source `id` of `tenant` and `kind` (all records kept), its secret a fixed test
/// one, as of `now`.
pub fn source(
    id: &str,
    tenant: &TenantId,
    kind: vigil_shared::sources::SourceKind,
    now: chrono::DateTime<chrono::Utc>,
) -> vigil_shared::sources::Source {
    let spec = vigil_shared::sources::SourceSpec {
        kind,
        name: None,
        drop_unmapped: false,
        principals: vec![],
    };
    let key = vigil_shared::webhooks::SecretKey::generate().expect("a random key");
    let secret = vigil_shared::webhooks::signing::SigningSecret::parse(
        "whsec_c291cmNlcy1zYW1wbGUtc2VjcmV0LTMyLWJ5dGVzISE=",
    )
    .expect("a valid secret");
    vigil_shared::sources::Source::with_id_and_secret(id, tenant, spec, &key, &secret, now)
        .expect("a valid source")
}
