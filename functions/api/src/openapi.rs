//! The OpenAPI 3.1 document: each operation comes from its handler's `#[utoipa::path]`
//! (collected by the router, so a route without one is not in the document and a test
//! says so), the shapes it names are here, and `/openapi.json` and `/docs` serve it.
//! The schemas describe what clients may rely on; objects may carry more fields.
#![allow(dead_code)] // The types below exist for their schemas.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

/// An RFC 9457 problem document: every error answer of the API is one.
#[derive(ToSchema)]
#[schema(example = json!({
    "type": "https://vigil.dev/problems/validation-error",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "[0].timestamp: is more than 3650 days in the past",
    "errors": [{"index": 0, "field": "timestamp", "message": "is more than 3650 days in the past"}]
}))]
pub struct Problem {
    /// `https://vigil.dev/problems/<slug>`: validation-error, malformed-json, unauthorized,
    /// bad-signature, forbidden, four-eyes, not-found, conflict, taken, precondition-failed, run-in-progress,
    /// payload-too-large, bad-request, unsupported-media-type, uri-too-long,
    /// headers-too-large, request-timeout, method-not-allowed, overloaded, unavailable,
    /// internal.
    #[schema(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The offending fields or headers (with their index in a batch).
    pub errors: Option<Vec<FieldProblem>>,
    /// The run holding the lease, for `run-in-progress`.
    pub run_id: Option<String>,
}

#[derive(ToSchema)]
pub struct FieldProblem {
    pub index: Option<u64>,
    /// A body field (`timestamp`, `answers.x`) or a header (`If-Match`, `Content-Type`).
    pub field: String,
    pub message: String,
}

/// Error answers every operation may give.
#[derive(IntoResponses)]
pub enum ReadErrors {
    /// The query string (or a JSON body) cannot be read.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing or unknown API key (`WWW-Authenticate: Bearer`).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The key's role is not enough.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such resource in the caller's tenant.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The request target is longer than `VIGIL_HTTP_MAX_URI_BYTES`.
    #[response(status = 414, content_type = "application/problem+json")]
    UriTooLong(Problem),
    /// A parameter is invalid; `errors` names each.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// A rate limit refused the request: the key's or the tenant's request budget, or
    /// the tenant's ingest budget (`Retry-After`, `RateLimit-Limit`, `RateLimit-Remaining`,
    /// `RateLimit-Reset`).
    #[response(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Problem),
    /// Headers larger than `VIGIL_HTTP_MAX_HEADER_BYTES`; the largest is named.
    #[response(status = 431, content_type = "application/problem+json")]
    HeadersTooLarge(Problem),
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// Overloaded or a dependency is down (`Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The further error answers of operations that change something (and may read a
/// body); they list [`ReadErrors`] too.
#[derive(IntoResponses)]
pub enum WriteErrors {
    /// The body did not arrive within `VIGIL_HTTP_BODY_TIMEOUT_MS`.
    #[response(status = 408, content_type = "application/problem+json")]
    Timeout(Problem),
    /// The change conflicts with the current state (a taken name, a duplicate URL, an
    /// archived resource, a running re-classification).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `If-Match` names no current version.
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is over 1 MiB.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not `application/json` (or a `+json` type).
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
}

#[derive(ToSchema)]
pub struct Health {
    pub status: String,
}

/// One audit event as sent.
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "okta-1", "event_type": "login_failed", "timestamp": "2026-11-25T10:00:00Z",
    "user": "alice", "source": "okta", "raw_data": {"ip": "203.0.113.7", "location": "Russia"}
}))]
#[derive(serde::Serialize)]
pub struct EventIn {
    /// Optional client id (1-128 characters): the same id twice is one event, and
    /// `GET /events/{id}` finds the event by it.
    pub id: Option<String>,
    /// `[a-z0-9_.]{1,64}`.
    pub event_type: String,
    /// RFC 3339; at most 5 minutes ahead and `VIGIL_EVENT_MAX_AGE_DAYS` back.
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// 1-256 characters, no control characters.
    pub user: String,
    pub source: Option<String>,
    /// At most 64 KiB serialized.
    pub raw_data: Option<Object>,
}

/// One event or an array of up to 500.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum EventsIn {
    One(EventIn),
    Many(Vec<EventIn>),
}

#[derive(ToSchema)]
pub struct Accepted {
    pub accepted: u64,
    /// The stored ids, in request order.
    pub ids: Vec<String>,
}

/// A stored event.
#[derive(ToSchema, serde::Serialize)]
pub struct Event {
    /// The stored id (`ev_...`).
    pub id: String,
    /// The `id` the client sent, if any.
    pub client_id: Option<String>,
    pub event_type: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub user: String,
    pub source: Option<String>,
    pub raw_data: Object,
    #[schema(format = DateTime)]
    pub received_at: String,
}

/// Any JSON object.
#[derive(ToSchema, serde::Serialize)]
#[schema(value_type = Object)]
pub struct Object(Value);

/// One page of a list; `next_cursor` continues it.
#[derive(ToSchema)]
pub struct Page {
    pub items: Vec<Object>,
    pub next_cursor: Option<String>,
    pub limit: Option<u64>,
}

#[derive(ToSchema)]
pub struct EventPage {
    pub items: Vec<ListedEvent>,
    pub next_cursor: Option<String>,
}

/// An event of a list: Vigil's own shape, or with `format=ocsf` an OCSF document.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum ListedEvent {
    Vigil(Event),
    Ocsf(OcsfEvent),
}

/// An OCSF 1.8.0 event (`format=ocsf`): Authentication (3002), Account Change (3001),
/// API Activity (6003) or Base Event (0), as its `class_uid` says; the rest of its
/// attributes are those of its class.
#[derive(ToSchema, serde::Serialize)]
pub struct OcsfEvent {
    pub class_uid: u32,
    pub category_uid: u32,
    pub activity_id: u32,
    /// `class_uid * 100 + activity_id`.
    pub type_uid: u64,
    pub severity_id: u32,
    /// Epoch milliseconds.
    pub time: i64,
    pub metadata: Object,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RoleName {
    Admin,
    Approver,
    Analyst,
    Viewer,
}

#[derive(ToSchema)]
#[schema(example = json!({"role": "viewer", "name": "dashboard"}))]
pub struct KeyIn {
    pub role: RoleName,
    /// At most 128 characters.
    pub name: Option<String>,
}

/// Events on one UTC day.
#[derive(ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD`
    pub date: String,
    pub count: i64,
}

/// A ranked key (a rule id or a user) and its count.
#[derive(ToSchema)]
pub struct RankedCount {
    pub key: String,
    pub count: i64,
}

/// `GET /stats/summary`: dashboard numbers from counters kept on write.
#[derive(ToSchema)]
pub struct StatsSummary {
    pub total_events: i64,
    pub total_findings: i64,
    /// Every live finding by severity (`critical`, `high`, `medium`, `low`).
    pub findings_by_severity: std::collections::BTreeMap<String, i64>,
    /// Open and acknowledged findings by severity.
    pub open_findings_by_severity: std::collections::BTreeMap<String, i64>,
    /// Events whose time is in the 24 hours up to now.
    pub events_last_24h: i64,
    /// Events per UTC day, oldest first.
    pub events_over_time: Vec<DayCount>,
    /// Open findings per rule, most first (at most 50).
    pub open_findings_by_rule: Vec<RankedCount>,
    /// Users with the most findings (at most 10).
    pub top_users_by_findings: Vec<RankedCount>,
    /// Users with the most events (at most 10).
    pub top_users_by_events: Vec<RankedCount>,
}

/// The key a request was signed with: who the caller is and what it may do.
#[derive(ToSchema)]
#[schema(example = json!({"tenant": "demo", "key_id": "a5ebD2wSQzGs", "role": "viewer"}))]
pub struct WhoAmI {
    pub tenant: String,
    pub key_id: String,
    pub role: RoleName,
}

#[derive(ToSchema)]
pub struct KeyCreated {
    pub id: String,
    pub role: RoleName,
    pub name: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The secret: shown in this answer only.
    pub key: String,
}

#[derive(ToSchema)]
#[schema(example = json!({
    "name": "CV screener", "purpose": "rank applications", "owner": "hr",
    "answers": {"employment_recruitment": true}
}))]
pub struct AiSystemIn {
    /// Unique among the tenant's systems; no control characters.
    pub name: String,
    pub description: Option<String>,
    pub purpose: Option<String>,
    pub owner: Option<String>,
    /// Whether human oversight is in place (Art. 14, 26(2)); a high-risk system without
    /// it is refused by `POST /risk`. `null` or absent: not declared.
    pub human_oversight: Option<bool>,
    /// Questionnaire answers: JSON booleans, `null` for unknown.
    pub answers: Option<Object>,
    pub monitoring: Option<Object>,
}

#[derive(ToSchema)]
#[schema(example = json!({"answers": {"employment_recruitment": true, "role_deployer": true, "public_authority": false}, "as_of": "2026-08-02"}))]
pub struct ClassifyIn {
    /// Question ids to JSON booleans, `null` for unknown. Role questions (`role_provider`,
    /// `role_deployer`, `role_importer`, `role_distributor`, `became_provider`,
    /// `public_authority`) decide whose obligations are listed.
    pub answers: Object,
    /// YYYY-MM-DD; today by default. Decides which obligations apply yet (Article 113).
    #[schema(format = Date)]
    pub as_of: Option<String>,
}

/// The EU AI Act classification of a questionnaire.
#[derive(ToSchema)]
pub struct Classification {
    pub classifier_version: String,
    #[schema(format = Date)]
    pub as_of: String,
    /// unacceptable, high, limited or minimal: the level the known answers establish.
    pub level: String,
    /// The highest level the unanswered questions could still lead to (`level` when none could raise it).
    pub highest_possible_level: String,
    /// The unanswered questions whose answer could change `level`.
    pub deciding_questions: Vec<String>,
    /// prohibited, incomplete, obligations_pending, obligations_apply or no_obligations.
    pub status: String,
    /// low, medium or high.
    pub confidence: String,
    /// The roles `obligations` are listed for (every role while none is answered).
    pub roles: Vec<String>,
    /// Unanswered questions whose default the result rests on.
    pub assumed: Vec<String>,
    pub article50_duties: Vec<Object>,
    /// Each with `id`, `title`, `citation`, `addressee` (role), `applies_from`, `applies_on_as_of`, `note`.
    pub obligations: Vec<Object>,
    /// `systemic_risk` (true, false or null) and `open_source_exemption`, when the asker provides a general-purpose AI model.
    pub gpai: Option<Object>,
    /// What applies and what an answered exclusion lifted, each with its citation.
    pub reasons: Vec<Object>,
    /// Each provision whose trigger was answered no, with the answers that decided it.
    pub not_triggered: Vec<Object>,
    /// The unknowns that could change the result, and how.
    pub unanswered: Vec<Object>,
}

#[derive(ToSchema)]
pub struct ClassifyOut {
    /// The answers as read (`null` for unknown).
    pub answers: Object,
    pub classification: Classification,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum FindingStatusName {
    Open,
    Acknowledged,
    Resolved,
}

#[derive(ToSchema)]
#[schema(example = json!({"status": "acknowledged", "note": "talking to alice"}))]
pub struct FindingPatch {
    pub status: Option<FindingStatusName>,
    /// At most 4,000 characters; `null` clears it.
    pub note: Option<String>,
}

#[derive(ToSchema)]
#[schema(example = json!({
    "url": "https://hooks.example.com/vigil", "event_types": ["finding.created"],
    "min_severity": "high"
}))]
pub struct WebhookIn {
    /// `https` to a public address; unique among the tenant's endpoints.
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub min_severity: Option<String>,
    pub enabled: Option<bool>,
}

/// A sequence range by numbers or by times; every field is optional.
#[derive(ToSchema)]
pub struct RangeIn {
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
    #[schema(format = DateTime)]
    pub from: Option<String>,
    #[schema(format = DateTime)]
    pub to: Option<String>,
}

/// `limit` and `cursor` of a cursor-paginated list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A new log source.
#[derive(ToSchema)]
#[schema(example = json!({"kind": "github", "name": "octo-org webhooks"}))]
pub struct SourceIn {
    /// cloudtrail, github, okta or native.
    pub kind: String,
    pub name: Option<String>,
    /// Drop records no mapping covers instead of storing them as `other`.
    pub drop_unmapped: Option<bool>,
    /// AWS account ids or IAM ARNs allowed to send to the source's queue (on AWS).
    pub principals: Option<Vec<String>>,
}

/// What a source push took.
#[derive(ToSchema)]
pub struct SourceAccepted {
    pub accepted: u64,
    /// The stored ids, in record order.
    pub ids: Vec<String>,
    /// Records no mapping covers that the source drops.
    pub dropped: Option<u64>,
}

/// The `format` query parameter of reads that can answer OCSF.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (Vigil's own documents, the default) or `ocsf` (OCSF 1.8.0).
    #[param(inline, value_type = Option<FormatName>)]
    pub format: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum FormatName {
    Json,
    Ocsf,
}

/// The `id` path parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    pub id: String,
}

/// A finding (the fields clients rely on; it carries more).
#[derive(ToSchema)]
pub struct Finding {
    pub id: String,
    pub rule_id: String,
    pub severity: String,
    pub status: String,
    pub risk_score: Option<f64>,
    pub ai_explanation: Option<String>,
    /// heuristic or llm.
    pub enriched_by: Option<String>,
    /// For an LLM enrichment: the approved model's name and version, and the approved
    /// prompt's version and SHA-256 it used; null for the heuristic.
    pub model: Option<String>,
    pub model_version: Option<String>,
    pub prompt_version: Option<String>,
    pub prompt_sha256: Option<String>,
}

/// A model version to register.
#[derive(ToSchema)]
#[schema(example = json!({
    "provider": "openai", "name": "gpt-4o-mini", "version": "2024-07-18",
    "endpoint": "https://api.openai.com/v1/chat/completions",
    "parameters": {"temperature": 0.2}, "purpose": "enrichment", "submit": true
}))]
pub struct ModelIn {
    /// At most 64 characters.
    pub provider: String,
    /// The model name sent to the endpoint; at most 128 characters.
    pub name: String,
    /// At most 64 characters; `(name, version)` is unique per tenant.
    pub version: String,
    /// Absolute http(s) URL. Enrichment only uses a model whose endpoint is the one the
    /// deployment is configured to call.
    pub endpoint: String,
    /// Request settings merged into each call (e.g. `temperature`); at most 8 KiB.
    pub parameters: Option<Object>,
    /// What it is for: `[a-z0-9_.-]{1,64}`, e.g. `enrichment`.
    pub purpose: String,
    /// Submit for approval at once (default false: a draft).
    pub submit: Option<bool>,
}

/// A prompt version to register; Vigil computes `sha256`.
#[derive(ToSchema)]
#[schema(example = json!({
    "name": "finding-risk-assessment", "version": "2", "system": "You are a careful analyst.",
    "template": "Score this finding 0-100 as JSON {\"risk_score\", \"explanation\"}: {{finding}}",
    "purpose": "enrichment"
}))]
pub struct PromptIn {
    pub name: String,
    pub version: String,
    /// The system message (optional); at most 32 KiB.
    pub system: Option<String>,
    /// The user message; at most 32 KiB; `{{finding}}` is replaced by the finding.
    pub template: String,
    pub purpose: String,
    pub submit: Option<bool>,
}

/// Why a version moves; required to reject.
#[derive(ToSchema)]
#[schema(example = json!({"reason": "the template leaks user names"}))]
pub struct ReasonIn {
    /// At most 2000 characters.
    pub reason: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum VersionState {
    Draft,
    PendingApproval,
    Approved,
    Rejected,
    Retired,
}

/// One step of a version's history.
#[derive(ToSchema)]
pub struct VersionStep {
    /// register, submit, approve, reject or retire.
    pub action: String,
    pub state: VersionState,
    /// `key:<id>` or `system:<component>`.
    pub actor: String,
    #[schema(format = DateTime)]
    pub at: String,
    pub reason: Option<String>,
}

/// A model or prompt version (the fields of its `kind` besides these).
#[derive(ToSchema)]
pub struct RegistryVersion {
    pub id: String,
    /// model or prompt.
    pub kind: String,
    pub name: String,
    pub version: String,
    pub purpose: String,
    pub state: VersionState,
    pub created_by: String,
    pub submitted_by: Option<String>,
    /// Prompts: hex SHA-256 of the JSON array `[system, template]`.
    pub sha256: Option<String>,
    pub history: Vec<VersionStep>,
}

/// Failed requests and messages of the tenant by class.
#[derive(ToSchema)]
#[schema(example = json!({"counts": {"VALIDATION_ERROR": 3, "POLICY_VIOLATION": 1, "HIGH_RISK": 0, "WORKFLOW_ERROR": 0, "INFRA_ERROR": 0, "UNEXPECTED_ERROR": 0}, "total": 4}))]
pub struct FailureCounts {
    /// VALIDATION_ERROR, POLICY_VIOLATION, HIGH_RISK, WORKFLOW_ERROR, INFRA_ERROR and
    /// UNEXPECTED_ERROR, each present.
    pub counts: Object,
    pub total: i64,
}

/// `POST /risk`: an AI use to decide on.
#[derive(ToSchema)]
#[schema(example = json!({
    "ai_system_id": "ais_0190f0c2a8b34c7e9d1f2a3b4c5d6e7f", "model_id": "gm_...", "prompt_id": "gp_...",
    "purpose": "rank job applications", "decision": "shortlist for interview",
    "data_categories": ["cv", "employment_history"]
}))]
pub struct RiskIn {
    /// An AI system of the tenant.
    pub ai_system_id: String,
    /// The governance registry's model version id the use would call.
    pub model_id: String,
    /// The registry's prompt version id.
    pub prompt_id: String,
    /// At most 1000 characters.
    pub purpose: String,
    /// The decision the AI use feeds; at most 1000 characters.
    pub decision: String,
    /// At most 50 names of personal-data categories.
    pub data_categories: Vec<String>,
}

/// `POST /compliance`: `RiskIn`'s fields and the regulatory check asked for.
#[derive(ToSchema)]
#[schema(example = json!({
    "ai_system_id": "ais_0190f0c2a8b34c7e9d1f2a3b4c5d6e7f", "model_id": "gm_...", "prompt_id": "gp_...",
    "purpose": "rank job applications", "decision": "shortlist for interview",
    "data_categories": ["cv"], "regulation": "EU AI Act Art. 26", "compliance_type": "deployer_obligations"
}))]
pub struct ComplianceIn {
    pub ai_system_id: String,
    pub model_id: String,
    pub prompt_id: String,
    pub purpose: String,
    pub decision: String,
    pub data_categories: Vec<String>,
    /// E.g. "EU AI Act Art. 26"; at most 1000 characters.
    pub regulation: String,
    /// At most 100 characters.
    pub compliance_type: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DecisionStatus {
    Received,
    Validated,
    Processing,
    Approved,
    Rejected,
    RequiresApproval,
    Failed,
}

/// The 202 of `POST /risk` and `POST /compliance` (`Location: /risk/{id}`).
#[derive(ToSchema)]
pub struct DecisionAccepted {
    pub id: String,
    /// risk or compliance.
    pub kind: String,
    pub status: DecisionStatus,
    /// The `request_id` every audit entry of the request carries.
    pub correlation_id: String,
}

/// One finished workflow step.
#[derive(ToSchema)]
pub struct DecisionStep {
    /// retrieval, policy, scoring, guardrails or decision.
    pub step: String,
    pub inputs: Object,
    pub outputs: Object,
    #[schema(format = DateTime)]
    pub at: String,
}

/// A stored risk or compliance request.
#[derive(ToSchema)]
pub struct DecisionOut {
    pub id: String,
    /// The body as submitted, with its `kind`.
    pub ask: Object,
    pub status: DecisionStatus,
    pub correlation_id: String,
    /// `key:<id>` of the requester (never its approver).
    pub requested_by: String,
    /// The scoring step's 0–100, once it ran.
    pub score: Option<u8>,
    pub steps: Vec<DecisionStep>,
    /// An approver's decision: `approved`, `actor`, `at`, `reason`.
    pub review: Option<Object>,
    /// Why a FAILED request failed.
    pub failure: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub item_version: u64,
}

/// A tenant's guardrails.
#[derive(ToSchema)]
#[schema(example = json!({"review_above": 60, "reject_above": 90}))]
pub struct GuardrailsIo {
    /// 0–100: a score above it needs an approver.
    pub review_above: u8,
    /// 0–100, at least `review_above`: a score above it is rejected.
    pub reject_above: u8,
}

/// `If-Match` (RFC 9110): `*` or a list of the strong ETags this API issued; weak tags
/// never match; no match is 412.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    #[param(rename = "If-Match")]
    pub if_match: Option<String>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("vk_<tenant>_<secret>")
                    .description(Some(
                        "An API key: viewer reads, analyst also ingests, triages and registers models and prompts, approver also decides model and prompt approvals, admin also manages keys, webhooks and checkpoints.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil",
        description = "Compliance monitor for cloud and AI systems. Every error is an RFC 9457 problem document (application/problem+json).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Security),
    security(("bearer" = [])),
    components(schemas(Problem, FieldProblem)),
)]
pub struct ApiDoc;

/// Links from a create to the operations on what it created (the `id` of the answer),
/// for clients and for schemathesis' stateful phase.
/// (path of the create, its status, [(link name, operation id)]).
type Links = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const LINKS: &[Links] = &[
    (
        "/ai-systems",
        "201",
        &[
            ("GetAiSystem", "ai_systems_get"),
            ("PatchAiSystem", "ai_systems_patch"),
            ("ArchiveAiSystem", "ai_systems_archive"),
            ("AiSystemMonitoring", "ai_systems_get_monitoring"),
        ],
    ),
    (
        "/webhooks",
        "201",
        &[
            ("GetWebhook", "webhooks_get"),
            ("PatchWebhook", "webhooks_patch"),
            ("TestWebhook", "webhooks_test"),
            ("WebhookDeliveries", "webhooks_deliveries"),
            ("DeleteWebhook", "webhooks_delete"),
        ],
    ),
    ("/keys", "201", &[("RevokeKey", "keys_revoke")]),
    (
        "/governance/models",
        "201",
        &[("GetModelVersion", "governance_models_get")],
    ),
    (
        "/governance/prompts",
        "201",
        &[("GetPromptVersion", "governance_prompts_get")],
    ),
];

/// The document of `router`'s operations, as `/openapi.json` serves it.
pub fn document(mut doc: Document) -> Value {
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    let mut json = serde_json::to_value(&doc).unwrap_or_default();
    for (path, status, links) in LINKS {
        let response = &mut json["paths"][*path]["post"]["responses"][*status];
        if !response.is_object() {
            continue;
        }
        // Written by hand: utoipa 5.5 serializes a Link's `operationId` as
        // `operation_id`, which no OpenAPI tool reads.
        let links: serde_json::Map<String, Value> = links
            .iter()
            .map(|(name, operation_id)| {
                (
                    name.to_string(),
                    serde_json::json!({
                        "operationId": operation_id,
                        "parameters": {"id": "$response.body#/id"},
                    }),
                )
            })
            .collect();
        response["links"] = Value::Object(links);
    }
    json
}

/// The page at `/docs`: RapiDoc over `/openapi.json`, its script served by this binary.
pub async fn docs() -> Html<&'static str> {
    Html(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Vigil API</title>
<script type="module" src="/docs/rapidoc-min.js"></script></head>
<body><rapi-doc spec-url="/openapi.json" render-style="read" show-header="false"
 allow-authentication="true" theme="light"></rapi-doc></body></html>"#,
    )
}

/// RapiDoc 9.3.8 (MIT, `assets/RAPIDOC-LICENSE.txt`), vendored gzipped from the npm
/// package so nothing is fetched at run time.
const RAPIDOC_GZ: &[u8] = include_bytes!("../assets/rapidoc-min.js.gz");

pub async fn rapidoc() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript"),
            ),
            (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        RAPIDOC_GZ,
    )
        .into_response()
}
