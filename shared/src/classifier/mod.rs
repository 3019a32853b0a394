//! EU AI Act (Regulation (EU) 2024/1689) risk classifier: pure, deterministic and
//! versioned. Given typed answers and the date of assessment it returns the level, the
//! Article 50 duties, the obligations of each operator role, reasons citing the
//! provisions (for what applies and for what does not), and the unanswered questions
//! that could change the result.
//!
//! Unknown answers are never read as yes. A provision whose trigger is unanswered is
//! reported as possible; an exception (or the Article 6(3) derogation) that is
//! unanswered is not established, so the stricter result stands and the question is
//! reported as one that could lift it. `level` is the level the known answers
//! establish; `highest_possible_level` and `deciding_questions` say how far the open
//! questions could raise it, so uncertainty never shows as a lower level alone.
pub mod annex1;
pub mod annex3;
pub mod article5;
pub mod article50;
pub mod derogation;
pub mod gpai;
pub mod logic;
pub mod obligations;
pub mod questionnaire;
pub mod rule;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_duties;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use article50::Addressee;
pub use gpai::GpaiAssessment;
pub use obligations::Obligation;
pub use questionnaire::{Answer, Answers, Q};
pub use rule::Citation;

use article50::DutyRule;
use derogation::Derogation;
use obligations::HighRiskPaths;
use rule::{Cite, Rule, Verdict};

/// Bump whenever a change to the questionnaire or the rules could change a result:
/// re-classification flags every stored result made by another version.
pub const CLASSIFIER_VERSION: &str = "2024-1689.2";

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
    /// Unanswered questions could change the result: read `highest_possible_level` and
    /// `deciding_questions`.
    #[serde(alias = "assessment_incomplete")]
    Incomplete,
    /// The level's obligations exist but do not apply yet (Article 113).
    ObligationsPending,
    ObligationsApply,
    NoObligations,
}

impl ComplianceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prohibited => "prohibited",
            Self::Incomplete => "incomplete",
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
    /// The derogation was claimed but the system profiles natural persons or materially
    /// influences the outcome of decision-making.
    DerogationRefused,
    /// An exception or exclusion written into a provision lifted it.
    Exclusion,
    Transparency,
    /// Chapter V: the asker provides a general-purpose AI model.
    GeneralPurposeModel,
    /// A provision whose trigger was answered no (listed under `not_triggered`).
    NotTriggered,
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
    /// Questions left unanswered whose default the reason rests on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumed_answers: Vec<String>,
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
    /// Chapter V duties of a general-purpose AI model (systemic risk, Article 55).
    CouldAddGpaiDuties,
    CouldLiftGpaiDuties,
}

impl Effect {
    /// The level this effect could raise a result to, if it raises the level at all.
    fn raises_to(self) -> Option<RiskLevel> {
        match self {
            Effect::CouldMakeUnacceptable => Some(RiskLevel::Unacceptable),
            Effect::CouldMakeHighRisk => Some(RiskLevel::High),
            Effect::CouldAddTransparencyDuty => Some(RiskLevel::Limited),
            _ => None,
        }
    }

    /// Whether this effect could lower a result that stands at `level`.
    fn lowers(self, level: RiskLevel) -> bool {
        matches!(
            (self, level),
            (Effect::CouldLiftProhibition, RiskLevel::Unacceptable)
                | (Effect::CouldLiftHighRisk, RiskLevel::High)
                | (Effect::CouldLiftTransparencyDuty, RiskLevel::Limited)
        )
    }
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
    #[serde(default)]
    pub applies_on_as_of: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Stored")]
pub struct Classification {
    pub classifier_version: String,
    pub as_of: NaiveDate,
    /// The level the known answers establish.
    pub level: RiskLevel,
    /// The highest level the unanswered questions could still lead to; `level` when
    /// none could raise it.
    pub highest_possible_level: RiskLevel,
    /// The unanswered questions whose answer could change `level`.
    pub deciding_questions: Vec<String>,
    pub status: ComplianceStatus,
    pub confidence: Confidence,
    /// The roles `obligations` are listed for: the asker's, or every role while none is
    /// answered.
    pub roles: Vec<Addressee>,
    /// Unanswered questions whose default (`interacts_with_humans`,
    /// `makes_automated_decisions`) the result rests on.
    pub assumed: Vec<String>,
    pub article50_duties: Vec<Duty>,
    pub obligations: Vec<Obligation>,
    /// Present when the asker provides a general-purpose AI model (Chapter V).
    pub gpai: Option<GpaiAssessment>,
    pub reasons: Vec<Reason>,
    /// Each provision whose trigger was answered no, with the answers that decided it:
    /// "why not" for everything that does not apply.
    pub not_triggered: Vec<Reason>,
    pub unanswered: Vec<Unanswered>,
}

/// A classification as stored, possibly by an earlier version that lacked the later
/// fields. The uncertainty fields derive from `level` and `unanswered`, so they are
/// recomputed rather than trusted.
#[derive(Deserialize)]
struct Stored {
    classifier_version: String,
    as_of: NaiveDate,
    level: RiskLevel,
    status: ComplianceStatus,
    confidence: Confidence,
    #[serde(default)]
    roles: Vec<Addressee>,
    #[serde(default)]
    assumed: Vec<String>,
    article50_duties: Vec<Duty>,
    obligations: Vec<Obligation>,
    #[serde(default)]
    gpai: Option<GpaiAssessment>,
    reasons: Vec<Reason>,
    #[serde(default)]
    not_triggered: Vec<Reason>,
    unanswered: Vec<Unanswered>,
}

impl From<Stored> for Classification {
    fn from(s: Stored) -> Self {
        let (highest_possible_level, deciding_questions) = uncertainty(s.level, &s.unanswered);
        Classification {
            classifier_version: s.classifier_version,
            as_of: s.as_of,
            level: s.level,
            highest_possible_level,
            deciding_questions,
            status: s.status,
            confidence: s.confidence,
            roles: s.roles,
            assumed: s.assumed,
            article50_duties: s.article50_duties,
            obligations: s.obligations,
            gpai: s.gpai,
            reasons: s.reasons,
            not_triggered: s.not_triggered,
            unanswered: s.unanswered,
        }
    }
}

/// How far the open questions could move `level`: the highest level they could reach
/// and the questions that could change it.
fn uncertainty(level: RiskLevel, unanswered: &[Unanswered]) -> (RiskLevel, Vec<String>) {
    let highest = unanswered
        .iter()
        .flat_map(|u| u.effects.iter().filter_map(|e| e.raises_to()))
        .fold(level, RiskLevel::max);
    let deciding = unanswered
        .iter()
        .filter(|u| {
            u.effects
                .iter()
                .any(|e| e.raises_to().is_some_and(|l| l > level) || e.lowers(level))
        })
        .map(|u| u.question.clone())
        .collect();
    (highest, deciding)
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

fn note(rule: &str, cite: Cite, summary: &str) -> Reason {
    Reason {
        kind: ReasonKind::Note,
        rule: rule.into(),
        citation: cite.citation(),
        summary: summary.into(),
        unsettled_exceptions: vec![],
        assumed_answers: vec![],
    }
}

/// Reads the questionnaire once for every rule: with the defaults applied, and knowing
/// which answers are only defaults.
struct Reader<'a> {
    given: &'a Answers,
    answers: Answers,
    defaulted: BTreeSet<Q>,
    not_triggered: Vec<Reason>,
}

impl Reader<'_> {
    /// The defaults a rule's trigger rests on: questions it needs that only a default
    /// answers.
    fn rests_on(&self, rule: &Rule) -> Vec<String> {
        let open = rule.trigger.eval(self.given).open;
        ids(&open.intersection(&self.defaulted).copied().collect())
    }

    fn reason(
        &self,
        kind: ReasonKind,
        rule: &Rule,
        summary: &str,
        unsettled: &BTreeSet<Q>,
    ) -> Reason {
        Reason {
            kind,
            rule: rule.id.to_string(),
            citation: rule.cite.citation(),
            summary: summary.to_string(),
            unsettled_exceptions: ids(unsettled),
            assumed_answers: if kind == ReasonKind::Exclusion {
                vec![]
            } else {
                self.rests_on(rule)
            },
        }
    }

    fn exclusion(&self, rule: &Rule, summary: &str, cite: Option<Cite>) -> Reason {
        Reason {
            citation: cite.unwrap_or(rule.cite).citation(),
            ..self.reason(ReasonKind::Exclusion, rule, summary, &BTreeSet::new())
        }
    }

    /// Evaluates `rule`; what does not apply leaves its reason here or in `reasons`.
    fn evaluate(&mut self, rule: &Rule, reasons: &mut Vec<Reason>) -> Verdict {
        let v = rule.evaluate(&self.answers);
        match &v {
            Verdict::Excepted { summary, cite } => {
                reasons.push(self.exclusion(rule, summary, *cite));
            }
            Verdict::OutOfScope { summary } => reasons.push(self.exclusion(rule, summary, None)),
            Verdict::NotTriggered { decided_by } => {
                let answered: Vec<String> = decided_by
                    .iter()
                    .map(|q| {
                        let a = if self.answers.get(*q).is_yes() {
                            "yes"
                        } else {
                            "no"
                        };
                        format!("{} = {a}", q.id())
                    })
                    .collect();
                self.not_triggered.push(Reason {
                    summary: format!("Does not apply ({}): {}", answered.join(", "), rule.summary),
                    ..self.reason(ReasonKind::NotTriggered, rule, "", &BTreeSet::new())
                });
            }
            Verdict::Applies { .. } | Verdict::Possible { .. } => {}
        }
        v
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

/// The roles whose obligations to list, and whether the asker named any. A deployer,
/// importer or distributor that Article 25(1) makes the provider of a high-risk system
/// takes on the provider's obligations.
fn roles_of(a: &Answers, high: bool) -> (BTreeSet<Addressee>, bool) {
    let mut roles = BTreeSet::new();
    for (q, role) in [
        (Q::RoleProvider, Addressee::Provider),
        (Q::RoleDeployer, Addressee::Deployer),
        (Q::RoleImporter, Addressee::Importer),
        (Q::RoleDistributor, Addressee::Distributor),
    ] {
        if a.get(q).is_yes() {
            roles.insert(role);
        }
    }
    if high && a.get(Q::BecameProvider).is_yes() {
        roles.insert(Addressee::Provider);
    }
    if roles.is_empty() {
        (Addressee::ALL.into_iter().collect(), false)
    } else {
        (roles, true)
    }
}

/// Classifies `answers` as of `as_of` (which decides which obligations apply yet).
pub fn classify(given: &Answers, as_of: NaiveDate) -> Classification {
    let t = &*TABLES;
    let (answers, defaulted) = given.with_defaults_applied();
    let mut rd = Reader {
        given,
        answers,
        defaulted,
        not_triggered: Vec::new(),
    };
    let mut reasons = Vec::new();
    let mut open = Open::default();

    // Article 5.
    let mut prohibited = false;
    let mut prohibited_for_sure = false;
    let mut excepted_identification = false;
    let mut lift_prohibition = BTreeSet::new();
    let mut maybe_prohibited = BTreeSet::new();
    for r in &t.article5 {
        match rd.evaluate(r, &mut reasons) {
            Verdict::Applies { assumed } => {
                prohibited = true;
                prohibited_for_sure |= assumed.is_empty();
                lift_prohibition.extend(assumed.iter().copied());
                reasons.push(rd.reason(ReasonKind::ProhibitedPractice, r, r.summary, &assumed));
            }
            Verdict::Possible { open: o } => maybe_prohibited.extend(o),
            // Article 5(2)-(7) bind a permitted real-time identification.
            Verdict::Excepted { .. } if r.id == "art5_1_h" => {
                excepted_identification = r.trigger.eval(&rd.answers).value.is_yes();
            }
            _ => {}
        }
    }
    if !prohibited {
        open.add(maybe_prohibited, Effect::CouldMakeUnacceptable);
    } else if !prohibited_for_sure {
        open.add(lift_prohibition, Effect::CouldLiftProhibition);
    }

    // Article 6(1) / Annex I: not subject to the derogation.
    let mut paths = HighRiskPaths::default();
    let mut high_for_sure = false;
    let mut lift_high = BTreeSet::new();
    let mut maybe_high = BTreeSet::new();
    for r in &t.annex1 {
        match rd.evaluate(r, &mut reasons) {
            Verdict::Applies { assumed } => {
                paths.annex_i = true;
                high_for_sure |= assumed.is_empty();
                lift_high.extend(assumed.iter().copied());
                reasons.push(rd.reason(ReasonKind::HighRisk, r, r.summary, &assumed));
            }
            Verdict::Possible { open: o } => maybe_high.extend(o),
            _ => {}
        }
    }

    // Article 6(2) / Annex III, then the Article 6(3) derogation over all of them.
    let derogation = derogation::assess(&rd.answers);
    let derogated = matches!(derogation, Derogation::Applies { .. });
    let mut annex3_hits = Vec::new();
    let mut maybe_annex3 = BTreeSet::new();
    for r in &t.annex3 {
        match rd.evaluate(r, &mut reasons) {
            Verdict::Applies { assumed } => annex3_hits.push((r, assumed)),
            Verdict::Possible { open: o } => maybe_annex3.extend(o),
            _ => {}
        }
    }
    let derogation_cite = |sub: &str| Citation {
        reference: format!("Article 6(3){sub}"),
        article: format!("6(3){sub}"),
        annex: None,
        point: None,
        sub_point: None,
    };
    let refused = |rule: &str, sub: &str, summary: &str| Reason {
        kind: ReasonKind::DerogationRefused,
        rule: rule.into(),
        citation: derogation_cite(sub),
        summary: summary.into(),
        unsettled_exceptions: vec![],
        assumed_answers: vec![],
    };
    for (r, assumed) in &annex3_hits {
        if derogated {
            reasons.push(rd.reason(
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
                paths.annex_iii_sub_points.insert(match r.cite.sub_point {
                    Some(s) => format!("{p}({s})"),
                    None => p.to_string(),
                });
            }
            let sure = assumed.is_empty()
                && matches!(
                    derogation,
                    Derogation::NotClaimed
                        | Derogation::RefusedForProfiling
                        | Derogation::RefusedForInfluence
                );
            high_for_sure |= sure;
            lift_high.extend(assumed.iter().copied());
            reasons.push(rd.reason(ReasonKind::HighRisk, r, r.summary, assumed));
        }
    }
    match &derogation {
        Derogation::Applies {
            conditions,
            influence_open,
        } if !annex3_hits.is_empty() => {
            for c in conditions {
                reasons.push(Reason {
                    kind: ReasonKind::Derogation,
                    rule: format!("art6_3_{c}"),
                    citation: derogation_cite(&format!("({c})")),
                    summary: "The system meets an Article 6(3) condition and does not profile natural persons".into(),
                    unsettled_exceptions: vec![],
                    assumed_answers: vec![],
                });
            }
            if *influence_open {
                open.add([Q::MateriallyInfluencesOutcome], Effect::CouldMakeHighRisk);
            }
        }
        Derogation::RefusedForProfiling if !annex3_hits.is_empty() => reasons.push(refused(
            "art6_3_profiling",
            ", third subparagraph",
            "An Annex III system that performs profiling of natural persons is always high-risk; the Article 6(3) derogation is not available",
        )),
        Derogation::RefusedForInfluence if !annex3_hits.is_empty() => reasons.push(refused(
            "art6_3_material_influence",
            ", first subparagraph",
            "The system materially influences the outcome of decision-making, so it poses a significant risk and the Article 6(3) derogation is not available",
        )),
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

    // Article 50, at every level but unacceptable: a prohibited system may not be placed
    // on the market at all, so it has no transparency duties to meet.
    let mut duties = Vec::new();
    for d in t.article50.iter().filter(|_| !prohibited) {
        let r = &d.rule;
        match rd.evaluate(r, &mut reasons) {
            Verdict::Applies { assumed } => {
                open.add(assumed.iter().copied(), Effect::CouldLiftTransparencyDuty);
                reasons.push(rd.reason(ReasonKind::Transparency, r, r.summary, &assumed));
                duties.push(Duty {
                    id: r.id.to_string(),
                    citation: r.cite.citation(),
                    summary: r.summary.to_string(),
                    addressee: d.addressee,
                    applies_from: r.applies_from,
                    applies_on_as_of: as_of >= r.applies_from,
                });
            }
            Verdict::Possible { open: o } => open.add(o, Effect::CouldAddTransparencyDuty),
            _ => {}
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

    let answers = &rd.answers;
    if level != RiskLevel::High && answers.get(Q::MakesAutomatedDecisions).is_yes() {
        reasons.push(Reason {
            assumed_answers: ids(
                &rd.defaulted
                    .iter()
                    .copied()
                    .filter(|q| *q == Q::MakesAutomatedDecisions)
                    .collect(),
            ),
            ..note(
                "art6_automated_decisions",
                Cite::article("6"),
                "Automated decision-making alone does not make a system high-risk; only Article 6(1) (Annex I) or an Annex III use case does",
            )
        });
    }
    if level == RiskLevel::Minimal && reasons.iter().all(|r| r.kind == ReasonKind::Note) {
        reasons.push(note(
            "minimal",
            Cite::article("95"),
            "No prohibited practice, high-risk use case or transparency duty applies; voluntary codes of conduct may be followed",
        ));
    }

    let (roles, roles_answered) = roles_of(answers, high);
    if high && answers.get(Q::BecameProvider).is_yes() {
        reasons.push(note(
            "art25_1",
            Cite::article("25(1)"),
            "Having put your name or trademark on the system, substantially modified it or changed its intended purpose, you are considered its provider and take on the provider's obligations under Article 16; the initial provider must cooperate (Article 25(2))",
        ));
    }
    if !roles_answered {
        reasons.push(note(
            "roles_unanswered",
            Cite::article("3(3)-(7)"),
            "No role (provider, deployer, importer, distributor) was answered yes, so the obligations of every role are listed",
        ));
    }

    let mut obligations = match level {
        RiskLevel::Unacceptable => obligations::prohibition(),
        _ => {
            let mut v = if level == RiskLevel::High {
                obligations::high_risk(&paths, answers)
            } else {
                Vec::new()
            };
            if excepted_identification {
                v.extend(obligations::excepted_identification());
            }
            v.extend(duties.iter().map(|d| Obligation {
                id: d.id.clone(),
                title: d.summary.clone(),
                citation: d.citation.clone(),
                addressee: d.addressee,
                applies_from: d.applies_from,
                applies_on_as_of: false,
                note: None,
            }));
            if derogated && !annex3_hits.is_empty() {
                v.extend(obligations::derogation());
            }
            v.extend(obligations::ai_literacy());
            v
        }
    };
    obligations.retain(|o| roles.contains(&o.addressee));

    // Chapter V: the model's duties stand beside any level the system has.
    let gpai = gpai::assess(answers).map(|g| {
        obligations.extend(g.obligations);
        reasons.extend(g.reasons);
        for (q, e) in g.open {
            open.add([q], e);
        }
        g.assessment
    });
    for o in &mut obligations {
        o.applies_on_as_of = as_of >= o.applies_from;
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
    let (highest_possible_level, deciding_questions) = uncertainty(level, &unanswered);
    let assumed: BTreeSet<String> = reasons
        .iter()
        .flat_map(|r| r.assumed_answers.iter().cloned())
        .collect();
    Classification {
        classifier_version: CLASSIFIER_VERSION.to_string(),
        as_of,
        level,
        highest_possible_level,
        deciding_questions,
        status,
        confidence,
        roles: roles.into_iter().collect(),
        assumed: assumed.into_iter().collect(),
        article50_duties: duties,
        obligations,
        gpai,
        reasons,
        not_triggered: rd.not_triggered,
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
        return ComplianceStatus::Incomplete;
    }
    // AI literacy binds everyone; it does not make a level's obligations apply.
    match obligations
        .iter()
        .filter(|o| !obligations::AI_LITERACY.contains(&o.id.as_str()))
        .map(|o| o.applies_from)
        .min()
    {
        None => ComplianceStatus::NoObligations,
        Some(from) if as_of < from => ComplianceStatus::ObligationsPending,
        Some(_) => ComplianceStatus::ObligationsApply,
    }
}
