//! Risk and compliance decisions (the seed's `/risk` and `/compliance`): the pure part.
//! One table of status transitions ([`transition`]), the policy refusals ([`policy`]),
//! the 0–100 score ([`score`]) and the tenant guardrails ([`Guardrails::decide`]). The
//! workflow that runs them step by step on the `decide` queue is built on these; nothing
//! here reads a store or a clock.
use serde::{Deserialize, Serialize};

pub mod request;
pub mod workflow;
pub use request::{Ask, Decision, Review, StepError, StepRecord};
pub use workflow::{AdvanceError, Advanced, ReviewError, advance, review};

use crate::classifier::RiskLevel;
use crate::governance::State as RegistryState;

/// Which question a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    Risk,
    Compliance,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Risk => "risk",
            DecisionKind::Compliance => "compliance",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Risk, Self::Compliance]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A request's status. `Approved`, `Rejected` and `Failed` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Received,
    Validated,
    Processing,
    Approved,
    Rejected,
    RequiresApproval,
    Failed,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Received,
        Status::Validated,
        Status::Processing,
        Status::Approved,
        Status::Rejected,
        Status::RequiresApproval,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "RECEIVED",
            Status::Validated => "VALIDATED",
            Status::Processing => "PROCESSING",
            Status::Approved => "APPROVED",
            Status::Rejected => "REJECTED",
            Status::RequiresApproval => "REQUIRES_APPROVAL",
            Status::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Approved | Status::Rejected | Status::Failed)
    }
}

/// What moves a request on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Move {
    /// The worker checked the stored request.
    Validate,
    /// The worker started the steps.
    Start,
    /// The decision step's outcome.
    Conclude(Outcome),
    /// A step can never succeed (e.g. the AI system was deleted).
    Fail,
    /// A human's decision on a request that requires one.
    HumanApprove,
    HumanReject,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot move a {} request by {:?}", .from.as_str(), .by)]
pub struct InvalidTransition {
    pub from: Status,
    pub by: Move,
}

/// The one table of transitions (an invalid move answers 409).
pub fn transition(from: Status, by: Move) -> Result<Status, InvalidTransition> {
    use Move::*;
    use Status::*;
    match (from, by) {
        (Received, Validate) => Ok(Validated),
        (Validated, Start) => Ok(Processing),
        (Processing, Conclude(Outcome::Approve)) => Ok(Approved),
        (Processing, Conclude(Outcome::Reject)) => Ok(Rejected),
        (Processing, Conclude(Outcome::NeedsHuman)) => Ok(RequiresApproval),
        (Received | Validated | Processing, Fail) => Ok(Failed),
        (RequiresApproval, HumanApprove) => Ok(Approved),
        (RequiresApproval, HumanReject) => Ok(Rejected),
        _ => Err(InvalidTransition { from, by }),
    }
}

/// The steps, in the order the worker runs them. Each is persisted with its inputs and
/// outputs before the next starts, so a resumed worker starts at the first unfinished one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepName {
    Retrieval,
    Policy,
    Scoring,
    Guardrails,
    Decision,
}

impl StepName {
    pub const ORDER: [StepName; 5] = [
        StepName::Retrieval,
        StepName::Policy,
        StepName::Scoring,
        StepName::Guardrails,
        StepName::Decision,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Retrieval => "retrieval",
            StepName::Policy => "policy",
            StepName::Scoring => "scoring",
            StepName::Guardrails => "guardrails",
            StepName::Decision => "decision",
        }
    }

    /// The first step not in `done` (steps are finished in order); None when all are.
    pub fn first_unfinished(done: &[StepName]) -> Option<StepName> {
        Self::ORDER.into_iter().find(|s| !done.contains(s))
    }
}

/// The drift alert level of the models linked to the system: the worst alert level of
/// their latest completed checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftLevel {
    /// No linked model, no completed check, or every latest check normal.
    None,
    Warning,
    Critical,
}

/// Open findings on the system, by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenFindings {
    pub low: u32,
    pub medium: u32,
    pub high: u32,
    pub critical: u32,
}

/// What the retrieval step found: the policy and scoring steps read only this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retrieved {
    /// None: the system was never classified (scored as the worst level it could be).
    pub level: Option<RiskLevel>,
    /// The obligation ids the classification lists.
    pub obligations: Vec<String>,
    /// Whether the system declares human oversight; None when its record says nothing.
    pub human_oversight: Option<bool>,
    pub findings: OpenFindings,
    pub drift: DriftLevel,
    /// The registry state of the model and prompt versions named; None: no such version.
    pub model_state: Option<RegistryState>,
    pub prompt_state: Option<RegistryState>,
}

/// Why the policy step refused, most fundamental first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Article 5: the system is prohibited.
    ProhibitedSystem,
    /// The model version is not approved (pending, rejected, retired or missing).
    ModelNotApproved,
    PromptNotApproved,
    /// A high-risk system without declared human oversight (Art. 14, 26(2)).
    NoHumanOversight,
}

impl Refusal {
    /// Refusals that blocked a model or prompt are also `GOVERNANCE_VIOLATION` audit
    /// entries, as the gate's blocks are in enrichment.
    pub fn is_governance(self) -> bool {
        matches!(self, Refusal::ModelNotApproved | Refusal::PromptNotApproved)
    }
}

/// The policy step: every refusal that applies (empty: the request may be scored).
pub fn policy(r: &Retrieved) -> Vec<Refusal> {
    let mut out = Vec::new();
    if r.level == Some(RiskLevel::Unacceptable) {
        out.push(Refusal::ProhibitedSystem);
    }
    if r.model_state != Some(RegistryState::Approved) {
        out.push(Refusal::ModelNotApproved);
    }
    if r.prompt_state != Some(RegistryState::Approved) {
        out.push(Refusal::PromptNotApproved);
    }
    if r.level == Some(RiskLevel::High) && r.human_oversight != Some(true) {
        out.push(Refusal::NoHumanOversight);
    }
    out
}

/// The score, 0–100, a pure function of what was retrieved:
///
/// `min(100, level + findings + drift)` where
/// - level: minimal 0, limited 20, high 50, unacceptable 100, unclassified 50;
/// - findings: 15 per open critical, 8 per high, 3 per medium, 1 per low, at most 40;
/// - drift: none 0, warning 10, critical 20.
pub fn score(r: &Retrieved) -> u8 {
    let level: u32 = match r.level {
        Some(RiskLevel::Minimal) => 0,
        Some(RiskLevel::Limited) => 20,
        Some(RiskLevel::High) | None => 50,
        Some(RiskLevel::Unacceptable) => 100,
    };
    let f = r.findings;
    let findings = (f.critical.saturating_mul(15))
        .saturating_add(f.high.saturating_mul(8))
        .saturating_add(f.medium.saturating_mul(3))
        .saturating_add(f.low)
        .min(40);
    let drift = match r.drift {
        DriftLevel::None => 0,
        DriftLevel::Warning => 10,
        DriftLevel::Critical => 20,
    };
    u8::try_from((level + findings + drift).min(100)).unwrap_or(100)
}

/// What the decision step concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approve,
    Reject,
    NeedsHuman,
}

/// A tenant's thresholds (`GET/PUT /risk/policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guardrails {
    /// A score above this needs a human's approval.
    pub review_above: u8,
    /// A score above this is rejected outright; at least `review_above`.
    pub reject_above: u8,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            review_above: 60,
            reject_above: 90,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardrailsError {
    #[error("must be an integer from 0 to 100")]
    OutOfRange(&'static str),
    #[error("reject_above must be at least review_above")]
    Inverted,
}

impl Guardrails {
    pub fn new(review_above: u8, reject_above: u8) -> Result<Self, GuardrailsError> {
        if review_above > 100 {
            return Err(GuardrailsError::OutOfRange("review_above"));
        }
        if reject_above > 100 {
            return Err(GuardrailsError::OutOfRange("reject_above"));
        }
        if reject_above < review_above {
            return Err(GuardrailsError::Inverted);
        }
        Ok(Self {
            review_above,
            reject_above,
        })
    }

    /// The guardrails step: a score's outcome.
    pub fn decide(&self, score: u8) -> Outcome {
        if score > self.reject_above {
            Outcome::Reject
        } else if score > self.review_above {
            Outcome::NeedsHuman
        } else {
            Outcome::Approve
        }
    }
}

/// The whole decision from what was retrieved: a policy refusal rejects before scoring.
/// A high-score rejection or approval-needed is counted `HIGH_RISK`; a refusal
/// `POLICY_VIOLATION`.
pub fn conclude(r: &Retrieved, g: &Guardrails) -> (Outcome, Vec<Refusal>, Option<u8>) {
    let refusals = policy(r);
    if !refusals.is_empty() {
        return (Outcome::Reject, refusals, None);
    }
    let s = score(r);
    (g.decide(s), refusals, Some(s))
}

#[cfg(test)]
mod tests;
