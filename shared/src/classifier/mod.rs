//! EU AI Act (Regulation (EU) 2024/1689) risk classifier: pure, deterministic and
//! versioned. Given typed answers and the date of assessment it returns the level, the
//! Article 50 duties, the obligations, reasons citing the provisions, and the unanswered
//! questions that could change the result.
//!
//! Unknown answers are never read as yes. A provision whose trigger is unanswered is
//! reported as possible; an exception (or the Article 6(3) derogation) that is
//! unanswered is not established, so the stricter result stands and the question is
//! reported as one that could lift it.
pub mod annex1;
pub mod annex3;
pub mod article5;
pub mod article50;
pub mod derogation;
pub mod logic;
pub mod obligations;
pub mod questionnaire;
pub mod rule;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use article50::Addressee;
pub use obligations::Obligation;
pub use questionnaire::{Answer, Answers, Q};
pub use rule::Citation;

use article50::DutyRule;
use derogation::Derogation;
use obligations::HighRiskPaths;
use rule::{Cite, Rule, Verdict};

/// Bump whenever a change to the questionnaire or the rules could change a result:
/// re-classification flags every stored result made by another version.
pub const CLASSIFIER_VERSION: &str = "2024-1689.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Minimal,
    Limited,
    High,
    Unacceptable,
}

impl RiskLevel {
    pub const ALL: [RiskLevel; 4] = [
        RiskLevel::Minimal,
        RiskLevel::Limited,
        RiskLevel::High,
        RiskLevel::Unacceptable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Minimal => "minimal",
            RiskLevel::Limited => "limited",
            RiskLevel::High => "high",
            RiskLevel::Unacceptable => "unacceptable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// Where the system stands on the date of assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceStatus {
    /// An Article 5 practice: may not be placed on the market, put into service or used.
    Prohibited,
    /// Unanswered questions could change the result.
    AssessmentIncomplete,
    /// The level's obligations exist but do not apply yet (Article 113).
    ObligationsPending,
    ObligationsApply,
    NoObligations,
}

impl ComplianceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prohibited => "prohibited",
            Self::AssessmentIncomplete => "assessment_incomplete",
            Self::ObligationsPending => "obligations_pending",
            Self::ObligationsApply => "obligations_apply",
            Self::NoObligations => "no_obligations",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    ProhibitedPractice,
    HighRisk,
    /// An Annex III use case that the Article 6(3) derogation takes out of high-risk.
    Derogation,
    /// The derogation was claimed but the system profiles natural persons.
    DerogationRefused,
    /// An exception or exclusion written into a provision lifted it.
    Exclusion,
    Transparency,
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub kind: ReasonKind,
    /// The rule that produced it, e.g. `annex3_4_a`.
    pub rule: String,
    pub citation: Citation,
    pub summary: String,
    /// Exceptions left unanswered, so assumed not to apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsettled_exceptions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    CouldMakeUnacceptable,
    CouldLiftProhibition,
    CouldMakeHighRisk,
    CouldLiftHighRisk,
    CouldAddTransparencyDuty,
    CouldLiftTransparencyDuty,
}

/// An unanswered question that could change the result, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unanswered {
    pub question: String,
    pub text: String,
    pub cite: String,
    pub effects: Vec<Effect>,
}

/// An Article 50 duty found to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duty {
    pub id: String,
    pub citation: Citation,
    pub summary: String,
    pub addressee: Addressee,
    pub applies_from: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub classifier_version: String,
    pub as_of: NaiveDate,
    pub level: RiskLevel,
    pub status: ComplianceStatus,
    pub confidence: Confidence,
    pub article50_duties: Vec<Duty>,
    pub obligations: Vec<Obligation>,
    pub reasons: Vec<Reason>,
    pub unanswered: Vec<Unanswered>,
}

struct Tables {
    article5: Vec<Rule>,
    annex1: Vec<Rule>,
    annex3: Vec<Rule>,
    article50: Vec<DutyRule>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| Tables {
    article5: article5::practices(),
    annex1: annex1::products(),
    annex3: annex3::use_cases(),
    article50: article50::duties(),
});

fn ids(qs: &BTreeSet<Q>) -> Vec<String> {
    qs.iter().map(|q| q.id().to_string()).collect()
}

fn reason(kind: ReasonKind, rule: &Rule, summary: &str, assumed: &BTreeSet<Q>) -> Reason {
    Reason {
        kind,
        rule: rule.id.to_string(),
        citation: rule.cite.citation(),
        summary: summary.to_string(),
        unsettled_exceptions: ids(assumed),
    }
}

#[derive(Default)]
struct Open(BTreeMap<Q, BTreeSet<Effect>>);

impl Open {
    fn add(&mut self, qs: impl IntoIterator<Item = Q>, effect: Effect) {
        for q in qs {
            self.0.entry(q).or_default().insert(effect);
        }
    }
}

/// Classifies `answers` as of `as_of` (which decides only whether obligations apply yet).
pub fn classify(answers: &Answers, as_of: NaiveDate) -> Classification {
    let t = &*TABLES;
    let mut reasons = Vec::new();
    let mut open = Open::default();

    // Article 5.
    let mut prohibited = false;
    let mut prohibited_for_sure = false;
    let mut lift_prohibition = BTreeSet::new();
    let mut maybe_prohibited = BTreeSet::new();
    for r in &t.article5 {
        match r.evaluate(answers) {
            Verdict::Applies { assumed } => {
                prohibited = true;
                prohibited_for_sure |= assumed.is_empty();
                lift_prohibition.extend(assumed.iter().copied());
                reasons.push(reason(
                    ReasonKind::ProhibitedPractice,
                    r,
                    r.summary,
                    &assumed,
                ));
            }
            Verdict::Possible { open: o } => maybe_prohibited.extend(o),
            Verdict::Excepted { summary } | Verdict::OutOfScope { summary } => {
                reasons.push(reason(ReasonKind::Exclusion, r, summary, &BTreeSet::new()));
            }
            Verdict::NotApplicable => {}
        }
    }
    if !prohibited {
        open.add(maybe_prohibited, Effect::CouldMakeUnacceptable);
    } else if !prohibited_for_sure {
        open.add(lift_prohibition, Effect::CouldLiftProhibition);
    }

    // Article 6(1) / Annex I: not subject to the derogation.
    let mut paths = HighRiskPaths {
        automated_decisions: answers.get(Q::MakesAutomatedDecisions).is_yes(),
        ..HighRiskPaths::default()
    };
    let mut high_for_sure = false;
    let mut lift_high = BTreeSet::new();
    let mut maybe_high = BTreeSet::new();
    for r in &t.annex1 {
        match r.evaluate(answers) {
            Verdict::Applies { assumed } => {
                paths.annex_i = true;
                high_for_sure |= assumed.is_empty();
                lift_high.extend(assumed.iter().copied());
                reasons.push(reason(ReasonKind::HighRisk, r, r.summary, &assumed));
            }
            Verdict::Possible { open: o } => maybe_high.extend(o),
            _ => {}
        }
    }

    // Article 6(2) / Annex III, then the Article 6(3) derogation over all of them.
    let derogation = derogation::assess(answers);
    let derogated = matches!(derogation, Derogation::Applies { .. });
    let mut annex3_hits = Vec::new();
    let mut maybe_annex3 = BTreeSet::new();
    for r in &t.annex3 {
        match r.evaluate(answers) {
            Verdict::Applies { assumed } => annex3_hits.push((r, assumed)),
            Verdict::Possible { open: o } => maybe_annex3.extend(o),
            Verdict::Excepted { summary } | Verdict::OutOfScope { summary } => {
                reasons.push(reason(ReasonKind::Exclusion, r, summary, &BTreeSet::new()));
            }
            Verdict::NotApplicable => {}
        }
    }
    let derogation_cite = |sub: &str| Citation {
        reference: format!("Article 6(3){sub}"),
        article: format!("6(3){sub}"),
        annex: None,
        point: None,
        sub_point: None,
    };
    for (r, assumed) in &annex3_hits {
        if derogated {
            reasons.push(reason(
                ReasonKind::Derogation,
                r,
                &format!(
                    "{} (Annex III use case), not high-risk under the Article 6(3) derogation",
                    r.summary
                ),
                assumed,
            ));
        } else {
            if let Some(p) = r.cite.point {
                paths.annex_iii_points.insert(p.to_string());
            }
            let sure = assumed.is_empty()
                && matches!(
                    derogation,
                    Derogation::NotClaimed | Derogation::RefusedForProfiling
                );
            high_for_sure |= sure;
            lift_high.extend(assumed.iter().copied());
            reasons.push(reason(ReasonKind::HighRisk, r, r.summary, assumed));
        }
    }
    match &derogation {
        Derogation::Applies { conditions } if !annex3_hits.is_empty() => {
            for c in conditions {
                reasons.push(Reason {
                    kind: ReasonKind::Derogation,
                    rule: format!("art6_3_{c}"),
                    citation: derogation_cite(&format!("({c})")),
                    summary: "The system meets an Article 6(3) condition and does not profile natural persons".into(),
                    unsettled_exceptions: vec![],
                });
            }
        }
        Derogation::RefusedForProfiling if !annex3_hits.is_empty() => reasons.push(Reason {
            kind: ReasonKind::DerogationRefused,
            rule: "art6_3_profiling".into(),
            citation: derogation_cite(", third subparagraph"),
            summary: "An Annex III system that performs profiling of natural persons is always high-risk; the Article 6(3) derogation is not available".into(),
            unsettled_exceptions: vec![],
        }),
        Derogation::Unsettled { open: o } if !annex3_hits.is_empty() => {
            lift_high.extend(o.iter().copied());
        }
        _ => {}
    }
    let high = paths.annex_i || !paths.annex_iii_points.is_empty();
    if !high {
        open.add(maybe_high, Effect::CouldMakeHighRisk);
        // Once the derogation is established, another Annex III point changes nothing.
        if !derogated {
            open.add(maybe_annex3, Effect::CouldMakeHighRisk);
        }
    } else if !high_for_sure {
        open.add(lift_high, Effect::CouldLiftHighRisk);
    }

    // Article 50, at every level.
    let mut duties = Vec::new();
    for d in &t.article50 {
        let r = &d.rule;
        match r.evaluate(answers) {
            Verdict::Applies { assumed } => {
                open.add(assumed.iter().copied(), Effect::CouldLiftTransparencyDuty);
                reasons.push(reason(ReasonKind::Transparency, r, r.summary, &assumed));
                duties.push(Duty {
                    id: r.id.to_string(),
                    citation: r.cite.citation(),
                    summary: r.summary.to_string(),
                    addressee: d.addressee,
                    applies_from: r.applies_from,
                });
            }
            Verdict::Possible { open: o } => open.add(o, Effect::CouldAddTransparencyDuty),
            Verdict::Excepted { summary } | Verdict::OutOfScope { summary } => {
                reasons.push(reason(ReasonKind::Exclusion, r, summary, &BTreeSet::new()));
            }
            Verdict::NotApplicable => {}
        }
    }

    let level = if prohibited {
        RiskLevel::Unacceptable
    } else if high {
        RiskLevel::High
    } else if !duties.is_empty() {
        RiskLevel::Limited
    } else {
        RiskLevel::Minimal
    };

    // A prohibited system stays prohibited whatever the high-risk or duty questions say.
    if level == RiskLevel::Unacceptable && prohibited_for_sure {
        open.0.clear();
    }

    if level != RiskLevel::High && answers.get(Q::MakesAutomatedDecisions).is_yes() {
        reasons.push(Reason {
            kind: ReasonKind::Note,
            rule: "art6_automated_decisions".into(),
            citation: Cite::article("6").citation(),
            summary: "Automated decision-making alone does not make a system high-risk; only Article 6(1) (Annex I) or an Annex III use case does".into(),
            unsettled_exceptions: vec![],
        });
    }
    if level == RiskLevel::Minimal && reasons.iter().all(|r| r.kind == ReasonKind::Note) {
        reasons.push(Reason {
            kind: ReasonKind::Note,
            rule: "minimal".into(),
            citation: Cite::article("95").citation(),
            summary: "No prohibited practice, high-risk use case or transparency duty applies; voluntary codes of conduct may be followed".into(),
            unsettled_exceptions: vec![],
        });
    }

    let mut obligations = match level {
        RiskLevel::Unacceptable => vec![obligations::prohibition()],
        RiskLevel::High => obligations::high_risk(&paths),
        RiskLevel::Limited | RiskLevel::Minimal => {
            let mut v: Vec<Obligation> = duties
                .iter()
                .map(|d| Obligation {
                    id: d.id.clone(),
                    title: d.summary.clone(),
                    citation: d.citation.clone(),
                    addressee: d.addressee,
                    applies_from: d.applies_from,
                    note: None,
                })
                .collect();
            v.push(obligations::ai_literacy());
            v
        }
    };
    if derogated && !annex3_hits.is_empty() && level != RiskLevel::Unacceptable {
        obligations.extend(obligations::derogation());
    }

    let unanswered: Vec<Unanswered> = open
        .0
        .into_iter()
        .map(|(q, effects)| Unanswered {
            question: q.id().to_string(),
            text: q.text().to_string(),
            cite: q.cite().to_string(),
            effects: effects.into_iter().collect(),
        })
        .collect();
    let confidence = if unanswered.is_empty() {
        Confidence::High
    } else if unanswered.iter().any(|u| {
        u.effects.iter().any(|e| {
            matches!(
                e,
                Effect::CouldMakeUnacceptable | Effect::CouldLiftProhibition
            )
        })
    }) {
        Confidence::Low
    } else {
        Confidence::Medium
    };
    let status = status_of(level, &unanswered, &obligations, as_of);
    Classification {
        classifier_version: CLASSIFIER_VERSION.to_string(),
        as_of,
        level,
        status,
        confidence,
        article50_duties: duties,
        obligations,
        reasons,
        unanswered,
    }
}

fn status_of(
    level: RiskLevel,
    unanswered: &[Unanswered],
    obligations: &[Obligation],
    as_of: NaiveDate,
) -> ComplianceStatus {
    if level == RiskLevel::Unacceptable {
        return if as_of >= rule::from_prohibitions() {
            ComplianceStatus::Prohibited
        } else {
            ComplianceStatus::ObligationsPending
        };
    }
    if !unanswered.is_empty() {
        return ComplianceStatus::AssessmentIncomplete;
    }
    // AI literacy binds everyone; it does not make a level's obligations apply.
    match obligations
        .iter()
        .filter(|o| o.id != "ai_literacy")
        .map(|o| o.applies_from)
        .min()
    {
        None => ComplianceStatus::NoObligations,
        Some(from) if as_of < from => ComplianceStatus::ObligationsPending,
        Some(_) => ComplianceStatus::ObligationsApply,
    }
}
