//! What a client may set on an AI system, parsed once at the edge: a create or full
//! replace body ([`AiSystemSpec::from_json`]), a merge patch over the stored system
//! ([`AiSystemSpec::patched`]) and monitoring settings ([`Monitoring::patched`]).
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::FieldError;
use super::ai_system::{AiSystem, DriftType, MAX_NAME, MAX_TEXT, Monitoring};
use super::merge_patch::merge_patch;
use super::validation::text_field as text;
use crate::classifier::{Answers, classify};

const FIELDS: [&str; 7] = [
    "name",
    "description",
    "purpose",
    "owner",
    "human_oversight",
    "answers",
    "monitoring",
];

/// A create or full replace: every editable field (absent: empty or none).
#[derive(Debug, Clone, PartialEq)]
pub struct AiSystemSpec {
    pub name: String,
    pub description: String,
    pub purpose: String,
    pub owner: String,
    /// None: not declared.
    pub human_oversight: Option<bool>,
    pub answers: Option<Answers>,
    /// None keeps the current settings (or the defaults on create).
    pub monitoring: Option<Monitoring>,
}

impl Monitoring {
    /// `base` with the settings `v` names changed.
    pub fn patched(&self, v: &Value) -> Result<Monitoring, Vec<FieldError>> {
        let mut errors = Vec::new();
        let m = self.patch_into(v, &mut errors);
        if errors.is_empty() {
            Ok(m)
        } else {
            Err(errors)
        }
    }

    fn patch_into(&self, v: &Value, errors: &mut Vec<FieldError>) -> Monitoring {
        let mut m = self.clone();
        let Some(obj) = v.as_object() else {
            errors.push(FieldError::new("monitoring", "must be an object"));
            return m;
        };
        for (k, v) in obj {
            match (k.as_str(), v) {
                ("monitoring_enabled", Value::Bool(b)) => m.monitoring_enabled = *b,
                ("monitoring_enabled", _) => errors.push(FieldError::new(
                    "monitoring_enabled",
                    "must be a JSON boolean",
                )),
                ("notify_on", Value::Array(items)) => {
                    let mut types = Vec::new();
                    for (i, t) in items.iter().enumerate() {
                        match t.as_str().and_then(DriftType::parse) {
                            Some(d) if !types.contains(&d) => types.push(d),
                            Some(_) => {}
                            None => errors.push(
                                FieldError::new(
                                    "notify_on",
                                    "must list risk_change, status_change, classifier_version_change or mixed",
                                )
                                .at(i),
                            ),
                        }
                    }
                    m.notify_on = types;
                }
                ("notify_on", _) => errors.push(FieldError::new("notify_on", "must be an array")),
                (other, _) => errors.push(FieldError::new(other, "is not a monitoring setting")),
            }
        }
        m
    }
}

impl AiSystemSpec {
    /// Parses a full representation. `answers` absent or null: no questionnaire;
    /// unanswered questions stay unknown (the classifier assumes their defaults and says so).
    pub fn from_json(value: &Value) -> Result<Self, Vec<FieldError>> {
        Self::parse(value, Answers::default())
    }

    fn parse(value: &Value, answer_base: Answers) -> Result<Self, Vec<FieldError>> {
        let obj = value
            .as_object()
            .ok_or_else(|| vec![FieldError::new("", "body must be a JSON object")])?;
        let mut errors: Vec<FieldError> = obj
            .keys()
            .filter(|k| !FIELDS.contains(&k.as_str()))
            .map(|k| FieldError::new(k, "is not a field of an AI system"))
            .collect();
        let name = text(obj, "name", MAX_NAME, true, &mut errors);

        let description = text(obj, "description", MAX_TEXT, false, &mut errors);
        let purpose = text(obj, "purpose", MAX_TEXT, false, &mut errors);
        let owner = text(obj, "owner", MAX_NAME, false, &mut errors);
        // Names (unlike descriptions) are single-line labels.
        for (key, v) in [("name", &name), ("owner", &owner)] {
            if super::validation::has_control(v) {
                errors.push(FieldError::new(key, "must not contain control characters"));
            }
        }
        let human_oversight = match obj.get("human_oversight") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                errors.push(FieldError::new(
                    "human_oversight",
                    "must be a JSON boolean or null",
                ));
                None
            }
        };
        let answers = match obj.get("answers") {
            None | Some(Value::Null) => None,
            Some(v) => match Answers::parse(v, "answers", answer_base) {
                Ok(a) => Some(a),
                Err(e) => {
                    errors.extend(e);
                    None
                }
            },
        };
        let monitoring = obj
            .get("monitoring")
            .map(|v| Monitoring::default().patch_into(v, &mut errors));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name,
            description,
            purpose,
            owner,
            human_oversight,
            answers,
            monitoring,
        })
    }

    /// The spec an RFC 7396 merge patch makes of `current`. Monitoring settings merge
    /// into the current ones.
    pub fn patched(current: &AiSystem, patch: &Value) -> Result<Self, Vec<FieldError>> {
        if !patch.is_object() {
            return Err(vec![FieldError::new(
                "",
                "a merge patch must be a JSON object",
            )]);
        }
        let mut doc = editable(current);
        merge_patch(&mut doc, patch);
        let mut spec = Self::parse(&doc, Answers::default())?;
        spec.monitoring = patch
            .get("monitoring")
            .map(|m| current.monitoring.patched(m))
            .transpose()?;
        Ok(spec)
    }
}

/// The client-editable representation, the document a merge patch applies to.
fn editable(s: &AiSystem) -> Value {
    json!({
        "name": s.name,
        "description": s.description,
        "purpose": s.purpose,
        "owner": s.owner,
        "human_oversight": s.human_oversight,
        "answers": s.answers.as_ref().map(Answers::to_json),
    })
}

impl AiSystem {
    /// A new system of `tenant` as `spec` describes it, classified if it has answers.
    pub fn create(tenant: &super::TenantId, spec: AiSystemSpec, now: DateTime<Utc>) -> AiSystem {
        let mut s = AiSystem {
            id: AiSystem::new_id(),
            tenant: tenant.clone(),
            name: String::new(),
            description: String::new(),
            purpose: String::new(),
            owner: String::new(),
            human_oversight: None,
            answers: None,
            classification: None,
            monitoring: Monitoring::default(),
            archived: false,
            created_at: now,
            updated_at: now,
        };
        s.apply(spec, now);
        s
    }

    /// Takes every field of `spec`, classifying at once when the answers changed.
    pub fn apply(&mut self, spec: AiSystemSpec, now: DateTime<Utc>) {
        let answers_changed = self.answers != spec.answers;
        self.name = spec.name;
        self.description = spec.description;
        self.purpose = spec.purpose;
        self.owner = spec.owner;
        self.human_oversight = spec.human_oversight;
        if let Some(m) = spec.monitoring {
            self.monitoring = m;
        }
        if answers_changed || (self.answers.is_some() && self.classification.is_none()) {
            self.classification = spec.answers.as_ref().map(|a| classify(a, now.date_naive()));
        }
        self.answers = spec.answers;
        self.updated_at = now;
    }
}
