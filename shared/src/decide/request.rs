//! A `POST /risk` or `POST /compliance` body, parsed at the edge, and the stored request
//! with its finished steps. A step is recorded once, in order: [`Decision::record_step`]
//! refuses a step that is already finished or out of turn, so a resumed worker cannot
//! redo one.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{DecisionKind, InvalidTransition, Move, Status, StepName, transition};
use crate::domain::FieldError;
use crate::domain::validation::{has_control, text_field};

const MAX_TEXT: usize = 1000;
const MAX_ID: usize = 100;
const MAX_CATEGORIES: usize = 50;

/// What the request asks about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    pub kind: DecisionKind,
    pub ai_system_id: String,
    /// Governance registry version ids.
    pub model_id: String,
    pub prompt_id: String,
    pub purpose: String,
    /// What the AI use feeds.
    pub decision: String,
    pub data_categories: Vec<String>,
    /// Compliance only: e.g. "EU AI Act Art. 26".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_type: Option<String>,
}

/// A required single-line string field.
fn text(obj: &Map<String, Value>, key: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let s = text_field(obj, key, max, true, errors);
    if has_control(&s) {
        errors.push(FieldError::new(key, "must not contain control characters"));
    }
    s
}

impl Ask {
    /// Parses a body; every field in error is named.
    pub fn parse(kind: DecisionKind, body: &Value) -> Result<Ask, Vec<FieldError>> {
        let Some(obj) = body.as_object() else {
            return Err(vec![FieldError::new("body", "must be a JSON object")]);
        };
        let mut errors = Vec::new();
        let mut allowed = vec![
            "ai_system_id",
            "model_id",
            "prompt_id",
            "purpose",
            "decision",
            "data_categories",
        ];
        if kind == DecisionKind::Compliance {
            allowed.extend(["regulation", "compliance_type"]);
        }
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                errors.push(FieldError::new(k.clone(), "is not a known field"));
            }
        }
        let ai_system_id = text(obj, "ai_system_id", MAX_ID, &mut errors);
        let model_id = text(obj, "model_id", MAX_ID, &mut errors);
        let prompt_id = text(obj, "prompt_id", MAX_ID, &mut errors);
        let purpose = text(obj, "purpose", MAX_TEXT, &mut errors);
        let decision = text(obj, "decision", MAX_TEXT, &mut errors);
        let data_categories = match obj.get("data_categories") {
            Some(Value::Array(a)) if a.len() <= MAX_CATEGORIES => {
                let mut out = Vec::new();
                for v in a {
                    match v.as_str().map(str::trim) {
                        Some(s) if !s.is_empty() && s.len() <= MAX_ID && !has_control(s) => {
                            if !out.iter().any(|o: &String| o == s) {
                                out.push(s.to_string());
                            }
                        }
                        _ => {
                            errors.push(FieldError::new(
                                "data_categories",
                                "must hold non-empty strings of at most 100 characters",
                            ));
                            break;
                        }
                    }
                }
                out
            }
            None | Some(Value::Null) => {
                errors.push(FieldError::new("data_categories", "is required"));
                Vec::new()
            }
            _ => {
                errors.push(FieldError::new(
                    "data_categories",
                    format!("must be an array of at most {MAX_CATEGORIES} strings"),
                ));
                Vec::new()
            }
        };
        let (regulation, compliance_type) = if kind == DecisionKind::Compliance {
            (
                Some(text(obj, "regulation", MAX_TEXT, &mut errors)),
                Some(text(obj, "compliance_type", MAX_ID, &mut errors)),
            )
        } else {
            (None, None)
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Ask {
            kind,
            ai_system_id,
            model_id,
            prompt_id,
            purpose,
            decision,
            data_categories,
            regulation,
            compliance_type,
        })
    }
}

/// One finished step: what it read and what it concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: StepName,
    pub inputs: Value,
    pub outputs: Value,
    pub at: DateTime<Utc>,
}

/// A human's decision on a request that required one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub approved: bool,
    /// `key:<id>`.
    pub actor: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: String,
    pub ask: Ask,
    pub status: Status,
    /// The request id of the POST: every step's audit entry carries it.
    pub correlation_id: String,
    /// `key:<id>` of the requester: never its own approver.
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Finished steps, in order.
    pub steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// Digest of the submitted body: an Idempotency-Key reused with another is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
    /// Why a FAILED request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("step {} is already finished", .0.as_str())]
    AlreadyDone(StepName),
    #[error("step {} is out of turn (next is {:?})", .got.as_str(), .next)]
    OutOfTurn {
        got: StepName,
        next: Option<StepName>,
    },
    #[error("steps run only while PROCESSING, not {}", .0.as_str())]
    NotProcessing(Status),
}

impl Decision {
    pub fn new_id() -> String {
        format!("dec_{}", uuid::Uuid::now_v7().simple())
    }

    pub fn new(
        id: String,
        ask: Ask,
        correlation_id: String,
        requested_by: String,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            ask,
            status: Status::Received,
            correlation_id,
            requested_by,
            created_at: at,
            updated_at: at,
            steps: Vec::new(),
            review: None,
            request_hash: None,
            failure: None,
        }
    }

    pub fn done(&self) -> Vec<StepName> {
        self.steps.iter().map(|s| s.step).collect()
    }

    /// The step a worker runs next; None when all are finished.
    pub fn next_step(&self) -> Option<StepName> {
        StepName::first_unfinished(&self.done())
    }

    pub fn step(&self, name: StepName) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.step == name)
    }

    /// Moves the status through the one transition table.
    pub fn apply(&mut self, by: Move, at: DateTime<Utc>) -> Result<(), InvalidTransition> {
        self.status = transition(self.status, by)?;
        self.updated_at = at;
        Ok(())
    }

    /// Records a finished step; only the next unfinished one, only while processing.
    pub fn record_step(&mut self, rec: StepRecord) -> Result<(), StepError> {
        if self.status != Status::Processing {
            return Err(StepError::NotProcessing(self.status));
        }
        if self.step(rec.step).is_some() {
            return Err(StepError::AlreadyDone(rec.step));
        }
        let next = self.next_step();
        if next != Some(rec.step) {
            return Err(StepError::OutOfTurn {
                got: rec.step,
                next,
            });
        }
        self.updated_at = rec.at;
        self.steps.push(rec);
        Ok(())
    }
}
