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
