//! The workflow as one pure step function: [`advance`] takes a stored request and does
//! exactly the next thing (validate, start, or the first unfinished step), returning the
//! request to write back with a version condition. A worker calls it once per write, so
//! a crash between two writes resumes at the first unfinished step and a finished step
//! is never redone (its record is already stored and [`Decision::record_step`] refuses
//! it). Retrieval is the only step that reads the world; the worker passes its result
//! in, and every later step reads only what earlier steps recorded.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    Decision, Guardrails, InvalidTransition, Move, Outcome, Refusal, Retrieved, Review, Status,
    StepError, StepName, StepRecord, policy, score,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdvanceError {
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    #[error(transparent)]
    Step(#[from] StepError),
    /// The retrieval step needs the worker's reads.
    #[error("the retrieval step needs what was retrieved")]
    NeedsRetrieval,
    /// A stored step's output does not read back (a bug or a hand-edited item).
    #[error("step {0} recorded an unreadable output")]
    Corrupt(&'static str),
    #[error("the request is {0}: nothing to do")]
    Finished(&'static str),
}

/// What one call did, for the audit entry the worker writes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advanced {
    Validated,
    Started,
    Step(StepName),
    /// The decision step moved the request to its final or waiting status.
    Concluded(Outcome),
}

fn output<T: serde::de::DeserializeOwned>(d: &Decision, step: StepName) -> Result<T, AdvanceError> {
    d.step(step)
        .and_then(|s| serde_json::from_value(s.outputs.clone()).ok())
        .ok_or(AdvanceError::Corrupt(step.as_str()))
}

/// Does the next thing to `d`. `retrieved` is read only by the retrieval step;
/// `guardrails` only by the guardrails step.
pub fn advance(
    d: &Decision,
    retrieved: Option<&Retrieved>,
    guardrails: &Guardrails,
    now: DateTime<Utc>,
) -> Result<(Decision, Advanced), AdvanceError> {
    let mut next = d.clone();
    match d.status {
        Status::Received => {
            next.apply(Move::Validate, now)?;
            return Ok((next, Advanced::Validated));
        }
        Status::Validated => {
            next.apply(Move::Start, now)?;
            return Ok((next, Advanced::Started));
        }
        Status::Processing => {}
        other => return Err(AdvanceError::Finished(other.as_str())),
    }
    let Some(step) = d.next_step() else {
        return Err(AdvanceError::Corrupt("decision"));
    };
    let (inputs, outputs) = match step {
        StepName::Retrieval => {
            let r = retrieved.ok_or(AdvanceError::NeedsRetrieval)?;
            (
                json!({
                    "ai_system_id": d.ask.ai_system_id,
                    "model_id": d.ask.model_id,
                    "prompt_id": d.ask.prompt_id,
                }),
                serde_json::to_value(r).map_err(|_| AdvanceError::Corrupt("retrieval"))?,
            )
        }
        StepName::Policy => {
            let r: Retrieved = output(d, StepName::Retrieval)?;
            let refusals = policy(&r);
            (
                json!({"level": r.level, "human_oversight": r.human_oversight,
                       "model_state": r.model_state, "prompt_state": r.prompt_state}),
                json!({"refusals": refusals}),
            )
        }
        StepName::Scoring => {
            let r: Retrieved = output(d, StepName::Retrieval)?;
            (
                json!({"level": r.level, "findings": r.findings, "drift": r.drift}),
                json!({"score": score(&r)}),
            )
        }
        StepName::Guardrails => {
            let s: ScoreOut = output(d, StepName::Scoring)?;
            (
                json!({"score": s.score, "guardrails": guardrails}),
                json!({"outcome": guardrails.decide(s.score)}),
            )
        }
        StepName::Decision => {
            let p: PolicyOut = output(d, StepName::Policy)?;
            let g: GuardrailsOut = output(d, StepName::Guardrails)?;
            // A policy refusal rejects whatever the score says.
            let outcome = if p.refusals.is_empty() {
                g.outcome
            } else {
                Outcome::Reject
            };
            let rec = StepRecord {
                step,
                inputs: json!({"refusals": p.refusals, "guardrails_outcome": g.outcome}),
                outputs: json!({"outcome": outcome}),
                at: now,
            };
            next.record_step(rec)?;
            next.apply(Move::Conclude(outcome), now)?;
            return Ok((next, Advanced::Concluded(outcome)));
        }
    };
    next.record_step(StepRecord {
        step,
        inputs,
        outputs,
        at: now,
    })?;
    Ok((next, Advanced::Step(step)))
}

#[derive(serde::Deserialize)]
struct ScoreOut {
    score: u8,
}
#[derive(serde::Deserialize)]
struct PolicyOut {
    refusals: Vec<Refusal>,
}
#[derive(serde::Deserialize)]
struct GuardrailsOut {
    outcome: Outcome,
}

/// Why a human's decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// The requester never decides its own request (403 `four-eyes`).
    #[error("the requester cannot decide its own request")]
    FourEyes,
    #[error("a rejection needs a reason")]
    ReasonRequired,
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
}

/// A human's approval or rejection of a request that requires one. The role check
/// (approver or admin) is the caller's; four eyes and the state are checked here.
pub fn review(
    d: &Decision,
    actor: &str,
    approve: bool,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Decision, ReviewError> {
    if actor == d.requested_by {
        return Err(ReviewError::FourEyes);
    }
    let reason = reason.filter(|r| !r.trim().is_empty());
    if !approve && reason.is_none() {
        return Err(ReviewError::ReasonRequired);
    }
    let mut next = d.clone();
    next.apply(
        if approve {
            Move::HumanApprove
        } else {
            Move::HumanReject
        },
        now,
    )?;
    next.review = Some(Review {
        approved: approve,
        actor: actor.to_string(),
        at: now,
        reason,
    });
    Ok(next)
}

/// The failure class a concluded request counts under, if any: a policy refusal is a
/// `POLICY_VIOLATION`, a rejection or approval-needed for a high score `HIGH_RISK`.
pub fn failure_class(d: &Decision) -> Option<crate::governance::FailureClass> {
    use crate::governance::FailureClass;
    let refused = d
        .step(StepName::Policy)
        .and_then(|s| s.outputs.get("refusals"))
        .and_then(|r| r.as_array())
        .is_some_and(|r| !r.is_empty());
    match d.status {
        Status::Rejected if refused => Some(FailureClass::PolicyViolation),
        Status::Rejected | Status::RequiresApproval if d.review.is_none() => {
            Some(FailureClass::HighRisk)
        }
        _ => None,
    }
}
