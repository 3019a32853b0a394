//! Model and prompt versions, parsed at the edge, and the one table of state
//! transitions (`draft → pending_approval → approved | rejected`, `approved → retired`).
//! What a version says (its spec) never changes once it exists: a new wording or
//! setting is a new version.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::FieldError;
use crate::domain::validation::has_control;

/// Which registry a version belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Model,
    Prompt,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Prompt => "prompt",
        }
    }

    /// The noun of its 404s and audit resource type.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Model => "model version",
            Kind::Prompt => "prompt version",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Kind::Model => "mdl",
            Kind::Prompt => "prm",
        }
    }

    pub fn new_id(self) -> String {
        format!("{}_{}", self.id_prefix(), uuid::Uuid::now_v7().simple())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    PendingApproval,
    Approved,
    Rejected,
    Retired,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Draft,
        State::PendingApproval,
        State::Approved,
        State::Rejected,
        State::Retired,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::PendingApproval => "pending_approval",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Retired => "retired",
        }
    }
}

/// What someone does to a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Register,
    Submit,
    Approve,
    Reject,
    Retire,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Submit, Self::Approve, Self::Reject, Self::Retire]
            .into_iter()
            .find(|a| a.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Submit => "submit",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Retire => "retire",
        }
    }

    /// Approving and rejecting are decisions: they need the approver role and four eyes.
    pub fn is_decision(self) -> bool {
        matches!(self, Action::Approve | Action::Reject)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a version that is {}", .action.as_str(), .from.as_str())]
pub struct InvalidTransition {
    pub from: State,
    pub action: Action,
}

/// The one table of transitions. Withdrawing a draft or a pending version retires it;
/// rejected and retired are final.
pub fn transition(from: State, action: Action) -> Result<State, InvalidTransition> {
    use Action::*;
    use State::*;
    match (from, action) {
        (Draft, Submit) => Ok(PendingApproval),
        (PendingApproval, Approve) => Ok(Approved),
        (PendingApproval, Reject) => Ok(Rejected),
        (Draft | PendingApproval | Approved, Retire) => Ok(Retired),
        _ => Err(InvalidTransition { from, action }),
    }
}

/// One step of a version's history: who did what, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    pub state: State,
    /// `key:<id>` or `system:<component>`.
    pub actor: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A model version: where it is called and with what settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub provider: String,
    pub name: String,
    pub version: String,
    pub endpoint: String,
    /// Request settings (e.g. `temperature`); a JSON object.
    pub parameters: Map<String, Value>,
    pub purpose: String,
}

/// A prompt version: its text and the SHA-256 Vigil computed over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptSpec {
    pub name: String,
    pub version: String,
    /// The system message; may be empty.
    #[serde(default)]
    pub system: String,
    /// The user message; `{{finding}}` is replaced by the finding for enrichment.
    pub template: String,
    pub purpose: String,
    /// Hex SHA-256 of the JSON array `[system, template]` (see [`prompt_sha256`]).
    pub sha256: String,
}

/// The hash a prompt version records: over the compact JSON `["<system>","<template>"]`,
/// so the boundary between the two texts is unambiguous.
pub fn prompt_sha256(system: &str, template: &str) -> String {
    let canonical = serde_json::to_string(&[system, template]).unwrap_or_default();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// What a version is: a model or a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Spec {
    Model(ModelSpec),
    Prompt(PromptSpec),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Model(_) => Kind::Model,
            Spec::Prompt(_) => Kind::Prompt,
        }
    }

    pub fn purpose(&self) -> &str {
        match self {
            Spec::Model(m) => &m.purpose,
            Spec::Prompt(p) => &p.purpose,
        }
    }

    /// `(name, version)`: unique per tenant and kind.
    pub fn name_version(&self) -> (&str, &str) {
        match self {
            Spec::Model(m) => (&m.name, &m.version),
            Spec::Prompt(p) => (&p.name, &p.version),
        }
    }
}

/// A registered version with its state and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    pub id: String,
    #[serde(flatten)]
    pub spec: Spec,
    pub state: State,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Who submitted it for approval; with `created_by`, barred from deciding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    pub history: Vec<Step>,
}

impl Registered {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// Whether `actor` authored or submitted this version (four eyes bars them from
    /// deciding it).
    pub fn is_authored_by(&self, actor: &str) -> bool {
        self.created_by == actor || self.submitted_by.as_deref() == Some(actor)
    }

    pub fn model(&self) -> Option<&ModelSpec> {
        match &self.spec {
            Spec::Model(m) => Some(m),
            Spec::Prompt(_) => None,
        }
    }

    pub fn prompt(&self) -> Option<&PromptSpec> {
        match &self.spec {
            Spec::Prompt(p) => Some(p),
            Spec::Model(_) => None,
        }
    }
}

pub const MAX_NAME: usize = 128;
pub const MAX_PROMPT: usize = 32 * 1024;
pub const MAX_PARAMETERS: usize = 8 * 1024;
/// What enrichment prompts must contain: where the finding goes.
pub const FINDING_PLACEHOLDER: &str = "{{finding}}";
/// The purpose of the enrichment stage's model and prompt.
pub const ENRICHMENT: &str = "enrichment";

/// Parses a purpose: `[a-z0-9_.-]{1,64}`.
pub fn parse_purpose(s: &str) -> Option<String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    ok.then(|| s.to_string())
}

struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields<'_> {
    /// A required one-line string of at most `max` characters without control characters.
    fn name(&mut self, key: &str, max: usize) -> String {
        match self.obj.get(key) {
            Some(Value::String(s))
                if !s.trim().is_empty() && s.chars().count() <= max && !has_control(s) =>
            {
                s.trim().to_string()
            }
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(key, "is required"));
                String::new()
            }
            _ => {
                self.errors.push(FieldError::new(
                    key,
                    format!(
                        "must be a non-empty string of at most {max} characters without control characters"
                    ),
                ));
                String::new()
            }
        }
    }

    /// A multi-line text of at most `max` bytes (tabs and newlines allowed).
    fn text(&mut self, key: &str, max: usize, required: bool) -> String {
        let bad = |s: &str| {
            s.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        };
        match self.obj.get(key) {
            Some(Value::String(s))
                if s.len() <= max && !bad(s) && !(required && s.trim().is_empty()) =>
            {
                s.clone()
            }
            None | Some(Value::Null) if !required => String::new(),
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(key, "is required"));
                String::new()
            }
            _ => {
                self.errors.push(FieldError::new(
                    key,
                    format!("must be a{} string of at most {max} bytes without control characters other than newlines and tabs", if required { " non-empty" } else { "" }),
                ));
                String::new()
            }
        }
    }

    fn purpose(&mut self) -> String {
        match self.obj.get("purpose") {
            Some(Value::String(s)) if parse_purpose(s).is_some() => s.clone(),
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new("purpose", "is required"));
                String::new()
            }
            _ => {
                self.errors
                    .push(FieldError::new("purpose", "must match [a-z0-9_.-]{1,64}"));
                String::new()
            }
        }
    }

    fn endpoint(&mut self) -> String {
        let s = self.name("endpoint", 2048);
        if s.is_empty() {
            return s;
        }
        match reqwest::Url::parse(&s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => s,
            _ => {
                self.errors.push(FieldError::new(
                    "endpoint",
                    "must be an absolute http(s) URL",
                ));
                String::new()
            }
        }
    }

    fn parameters(&mut self) -> Map<String, Value> {
        match self.obj.get("parameters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m))
                if Value::Object(m.clone()).to_string().len() <= MAX_PARAMETERS =>
            {
                m.clone()
            }
            _ => {
                self.errors.push(FieldError::new(
                    "parameters",
                    format!("must be a JSON object of at most {MAX_PARAMETERS} bytes"),
                ));
                Map::new()
            }
        }
    }

    fn unknown(&mut self, known: &[&str]) {
        for k in self.obj.keys() {
            if !known.contains(&k.as_str()) {
                self.errors
                    .push(FieldError::new(k.as_str(), "is not a known field"));
            }
        }
    }

    fn done<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

fn object(v: &Value) -> Result<&Map<String, Value>, Vec<FieldError>> {
    v.as_object()
        .ok_or_else(|| vec![FieldError::new("body", "must be a JSON object")])
}

/// Whether the body asks to submit the new version at once (`"submit": true`).
pub fn wants_submit(v: &Value) -> Result<bool, Vec<FieldError>> {
    match v.get("submit") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(_) => Err(vec![FieldError::new("submit", "must be a boolean")]),
    }
}

impl ModelSpec {
    pub fn from_json(v: &Value) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields {
            obj: object(v)?,
            errors: Vec::new(),
        };
        f.unknown(&[
            "provider",
            "name",
            "version",
            "endpoint",
            "parameters",
            "purpose",
            "submit",
        ]);
        let spec = ModelSpec {
            provider: f.name("provider", 64),
            name: f.name("name", MAX_NAME),
            version: f.name("version", 64),
            endpoint: f.endpoint(),
            parameters: f.parameters(),
            purpose: f.purpose(),
        };
        if let Err(e) = wants_submit(v) {
            f.errors.extend(e);
        }
        f.done(spec)
    }
}

impl PromptSpec {
    /// A prompt spec with its hash computed (enrichment prompts must hold
    /// [`FINDING_PLACEHOLDER`]).
    pub fn new(name: &str, version: &str, system: &str, template: &str, purpose: &str) -> Self {
        PromptSpec {
            name: name.to_string(),
            version: version.to_string(),
            system: system.to_string(),
            template: template.to_string(),
            purpose: purpose.to_string(),
            sha256: prompt_sha256(system, template),
        }
    }

    pub fn from_json(v: &Value) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields {
            obj: object(v)?,
            errors: Vec::new(),
        };
        f.unknown(&["name", "version", "system", "template", "purpose", "submit"]);
        let name = f.name("name", MAX_NAME);
        let version = f.name("version", 64);
        let system = f.text("system", MAX_PROMPT, false);
        let template = f.text("template", MAX_PROMPT, true);
        let purpose = f.purpose();
        if purpose == ENRICHMENT && !template.is_empty() && !template.contains(FINDING_PLACEHOLDER)
        {
            f.errors.push(FieldError::new(
                "template",
                format!("an enrichment prompt must contain {FINDING_PLACEHOLDER}"),
            ));
        }
        if let Err(e) = wants_submit(v) {
            f.errors.extend(e);
        }
        f.done(PromptSpec::new(
            &name, &version, &system, &template, &purpose,
        ))
    }

    /// The user message for `finding` (its JSON in place of [`FINDING_PLACEHOLDER`]).
    pub fn render(&self, finding: &Value) -> String {
        self.template
            .replace(FINDING_PLACEHOLDER, &finding.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_transition_is_in_one_table() {
        use Action::*;
        use State::*;
        let valid = [
            (Draft, Submit, PendingApproval),
            (PendingApproval, Approve, Approved),
            (PendingApproval, Reject, Rejected),
            (Draft, Retire, Retired),
            (PendingApproval, Retire, Retired),
            (Approved, Retire, Retired),
        ];
        for from in State::ALL {
            for action in [Register, Submit, Approve, Reject, Retire] {
                let expected = valid
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(
                    transition(from, action).ok(),
                    expected,
                    "{from:?} {action:?}"
                );
            }
        }
        let e = transition(Approved, Approve).unwrap_err();
        assert_eq!(e.to_string(), "cannot approve a version that is approved");
        assert_eq!(
            transition(Rejected, Submit).unwrap_err().to_string(),
            "cannot submit a version that is rejected"
        );
    }

    #[test]
    fn prompt_hash_covers_both_texts_unambiguously() {
        let a = prompt_sha256("ab", "c");
        assert_ne!(a, prompt_sha256("a", "bc"));
        assert_eq!(a.len(), 64);
        let p = PromptSpec::from_json(&json!({
            "name": "p", "version": "1", "template": "x {{finding}}", "purpose": "enrichment"
        }))
        .unwrap();
        assert_eq!(p.sha256, prompt_sha256("", "x {{finding}}"));
        assert_eq!(p.render(&json!({"a": 1})), "x {\"a\":1}");
    }

    #[test]
    fn bad_specs_name_their_fields() {
        let e = ModelSpec::from_json(&json!({
            "provider": "", "name": "m", "version": 3, "endpoint": "ftp://x", "parameters": [],
            "purpose": "Bad Purpose", "colour": 1, "submit": "yes"
        }))
        .unwrap_err();
        let mut fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "colour",
                "endpoint",
                "parameters",
                "provider",
                "purpose",
                "submit",
                "version"
            ]
        );
        let e = PromptSpec::from_json(&json!({
            "name": "p", "version": "1", "template": "no placeholder", "purpose": "enrichment"
        }))
        .unwrap_err();
        assert_eq!(e[0].field, "template");
        assert!(ModelSpec::from_json(&json!([])).is_err());
    }
}
