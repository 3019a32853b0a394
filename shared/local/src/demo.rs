//! The demo tenant's registries, so every dashboard page has something to show: AI
//! systems (one classified by an earlier classifier version, so the re-classification
//! run the demo starts records a drift event and a notification for it), model and
//! prompt versions waiting for approval, and a webhook endpoint for critical findings.
use serde_json::{Value, json};
use vigil_shared::decide::{Ask, DecisionKind};
use vigil_shared::domain::ai_system::{AiSystem, RunTrigger};
use vigil_shared::domain::{AiSystemSpec, TenantId};
use vigil_shared::governance::registry::{Action, ModelSpec, PromptSpec, Spec};
use vigil_shared::repo::ai_systems;
use vigil_shared::retry::on_conflict;
use vigil_shared::service::{
    Origin, ServiceError, ai_systems as systems, decisions, governance, webhooks,
};
use vigil_shared::webhooks::endpoint::EndpointSpec;

use super::LocalSystem;

/// The classifier version the demo pretends one system was last classified with.
const EARLIER_CLASSIFIER: &str = "2024-1689.1";

/// The demo webhook endpoint: `example.com` never answers, so its deliveries fail and
/// show their attempts (and can be redelivered once their retries run out).
pub const DEMO_WEBHOOK_URL: &str = "https://hooks.example.com/vigil";

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

/// The webhook endpoint, created before the events are queued so the critical
/// findings they raise are delivered to it. Registered without the DNS guard the API
/// applies (the demo host does not resolve on purpose).
pub async fn load_webhook(system: &LocalSystem, tenant: &TenantId) -> Result<(), String> {
    let store = system.store.as_ref();
    let origin = Origin::system(tenant.clone(), "demo");
    if !vigil_shared::repo::webhooks::list_endpoints(store, tenant)
        .await
        .map_err(err)?
        .is_empty()
    {
        return Ok(());
    }
    let spec = EndpointSpec::from_json(&json!({
        "url": DEMO_WEBHOOK_URL,
        "event_types": ["finding.created"],
        "min_severity": "critical",
        "description": "SOC channel (demo: the host never answers)",
    }))
    .map_err(err)?;
    webhooks::create(
        store,
        &system.config.webhooks,
        &origin,
        spec,
        system.clock.now(),
    )
    .await
    .map_err(err)?;
    Ok(())
}

fn systems_seed() -> Vec<(Value, bool)> {
    vec![
        (
            json!({"name": "CV screener", "owner": "hr", "purpose": "rank job applications",
                   "description": "Scores and filters incoming CVs for recruiters",
                   "human_oversight": true,
                   "answers": {"employment_recruitment": true, "role_deployer": true}}),
            false,
        ),
        (
            json!({"name": "Support chatbot", "owner": "customer-care",
                   "purpose": "answer customer questions",
                   "answers": {"interacts_with_humans": true, "generates_synthetic_content": true,
                               "role_provider": true}}),
            true,
        ),
        (
            json!({"name": "Spam filter", "owner": "it", "purpose": "filter inbound e-mail",
                   "answers": {"interacts_with_humans": false, "role_deployer": true}}),
            false,
        ),
    ]
}

/// AI systems, pending governance approvals and a re-classification run.
pub async fn load_registry(system: &LocalSystem, tenant: &TenantId) -> Result<(), String> {
    let store = system.store.as_ref();
    let origin = Origin::system(tenant.clone(), "demo");
    let now = system.clock.now();
    let existing = ai_systems::list(store, tenant, &Default::default(), 1, None)
        .await
        .map_err(err)?;
    if !existing.items.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    for (body, earlier) in systems_seed() {
        let spec = AiSystemSpec::from_json(&body).map_err(err)?;
        if !earlier {
            let v = systems::create(store, &origin, spec, now)
                .await
                .map_err(err)?;
            ids.push(v.system.id);
            continue;
        }
        // As if classified before the current classifier shipped.
        let mut s = AiSystem::create(tenant, spec, now);
        if let Some(c) = s.classification.as_mut() {
            c.classifier_version = EARLIER_CLASSIFIER.to_string();
        }
        let draft = origin
            .draft("ai_system.create", "ai_system", &s.id)
            .after(&ai_systems::snapshot(&s, 1));
        let (s, draft) = (&s, &draft);
        // The workers append to the ledger meanwhile: a lost race reads the head again.
        on_conflict(move || async move {
            let ledger = vigil_shared::audit::prepare(store, tenant, draft, now).await?;
            ai_systems::create_with(store, s, ledger.ops).await?;
            Ok::<(), ServiceError>(())
        })
        .await
        .map_err(err)?;
        ids.push(s.id.clone());
    }
    for (body, submit) in [
        (
            json!({"provider": "openai", "name": "gpt-4o-mini", "version": "2024-07-18",
                   "endpoint": "https://api.openai.com/v1/chat/completions",
                   "purpose": "enrichment", "parameters": {"temperature": 0.2}}),
            true,
        ),
        (
            json!({"provider": "openai", "name": "gpt-4o", "version": "2024-11-20",
                   "endpoint": "https://api.openai.com/v1/chat/completions",
                   "purpose": "enrichment"}),
            false,
        ),
    ] {
        let spec = Spec::Model(ModelSpec::from_json(&body).map_err(err)?);
        governance::register(store, &origin, spec, submit, now)
            .await
            .map_err(err)?;
    }
    let prompt = json!({"name": "finding-risk-assessment", "version": "2", "purpose": "enrichment",
                        "system": "You are a careful security analyst.",
                        "template": "Score this finding 0-100 as JSON {\"risk_score\", \"explanation\"}: {{finding}}"});
    let spec = Spec::Prompt(PromptSpec::from_json(&prompt).map_err(err)?);
    let pending_prompt = governance::register(store, &origin, spec, true, now)
        .await
        .map_err(err)?;
    load_decisions(system, tenant, &ids, &pending_prompt.record.id).await?;
    system
        .reclassifier()
        .start_run(tenant, RunTrigger::Api, None)
        .await
        .map_err(err)?;
    Ok(())
}

/// An approved model and prompt for screening, stricter guardrails (a score above 40
/// needs an approver) and one risk request per system, plus one naming a prompt still
/// pending approval: the workers decide them (the CV screener's waits for an approver,
/// the pending prompt's is refused), so the governance page has both lists filled.
async fn load_decisions(
    system: &LocalSystem,
    tenant: &TenantId,
    systems: &[String],
    pending_prompt: &str,
) -> Result<(), String> {
    let store = system.store.as_ref();
    let now = system.clock.now();
    let requester = Origin::system(tenant.clone(), "demo");
    let approver = Origin::system(tenant.clone(), "demo-approver");
    let mut approved = Vec::new();
    for spec in [
        Spec::Model(
            ModelSpec::from_json(
                &json!({"provider": "openai", "name": "gpt-4o-mini", "version": "screening-1",
                "endpoint": "https://api.openai.com/v1/chat/completions", "purpose": "screening"}),
            )
            .map_err(err)?,
        ),
        Spec::Prompt(
            PromptSpec::from_json(
                &json!({"name": "cv-screen", "version": "1", "purpose": "screening",
                "template": "Summarise the candidate's fit for the role: {{finding}}"}),
            )
            .map_err(err)?,
        ),
    ] {
        let kind = spec.kind();
        let v = governance::register(store, &requester, spec, true, now)
            .await
            .map_err(err)?;
        governance::act(
            store,
            &approver,
            kind,
            &v.record.id,
            Action::Approve,
            None,
            now,
        )
        .await
        .map_err(err)?;
        approved.push(v.record.id);
    }
    let guardrails = vigil_shared::decide::Guardrails::new(40, 90).map_err(err)?;
    decisions::set_guardrails(store, &requester, guardrails, now)
        .await
        .map_err(err)?;
    let mut asks: Vec<(String, String)> = systems
        .iter()
        .map(|s| (s.clone(), approved[1].clone()))
        .collect();
    if let Some(first) = systems.first() {
        asks.push((first.clone(), pending_prompt.to_string()));
    }
    for (i, (ai_system, prompt)) in asks.iter().enumerate() {
        let ask = Ask::parse(
            DecisionKind::Risk,
            &json!({"ai_system_id": ai_system, "model_id": approved[0], "prompt_id": prompt,
                    "purpose": "screen applicants", "decision": "shortlist for interview",
                    "data_categories": ["cv", "employment_history"]}),
        )
        .map_err(err)?;
        let key = format!("demo-{i}");
        decisions::submit(
            store,
            system.queue.as_ref(),
            &requester,
            ask,
            Some(&key),
            key.clone(),
            now,
        )
        .await
        .map_err(err)?;
    }
    Ok(())
}
