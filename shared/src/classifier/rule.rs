//! A provision as data: what triggers it, which exceptions lift it, and what it cites.
use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::logic::Cond;
use super::questionnaire::{Answer, Answers, Q};

/// Where in Regulation (EU) 2024/1689 a rule lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cite {
    pub article: &'static str,
    pub annex: Option<&'static str>,
    pub point: Option<&'static str>,
    pub sub_point: Option<&'static str>,
}

impl Cite {
    pub const fn article(article: &'static str) -> Self {
        Self {
            article,
            annex: None,
            point: None,
            sub_point: None,
        }
    }

    pub const fn annex(
        article: &'static str,
        annex: &'static str,
        point: &'static str,
        sub_point: Option<&'static str>,
    ) -> Self {
        Self {
            article,
            annex: Some(annex),
            point: Some(point),
            sub_point,
        }
    }

    pub fn citation(&self) -> Citation {
        let mut reference = format!("Article {}", self.article);
        if let Some(annex) = self.annex {
            reference.push_str(&format!(", Annex {annex}"));
            if let Some(p) = self.point {
                reference.push_str(&format!(" point {p}"));
                if let Some(s) = self.sub_point {
                    reference.push_str(&format!("({s})"));
                }
            }
        }
        Citation {
            reference,
            article: self.article.to_string(),
            annex: self.annex.map(str::to_string),
            point: self.point.map(str::to_string),
            sub_point: self.sub_point.map(str::to_string),
        }
    }
}

/// A citation as reported and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// Human-readable, e.g. "Article 6(2), Annex III point 4(a)".
    pub reference: String,
    /// The article, e.g. "5(1)(h)" or "6(2)".
    pub article: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_point: Option<String>,
}

/// An exception written into a provision: when answered yes the provision does not
/// apply. Until it is answered it is not established, so the provision applies and the
/// question is reported as one that could lift it.
#[derive(Debug, Clone)]
pub struct Exception {
    pub when: Cond,
    pub summary: &'static str,
    /// An exclusion that says what the provision covers (verification only, fraud
    /// detection only): a user who answers it yes has explained their "no" to the
    /// trigger, so it is reported even then. A permitted use (the Article 5(1)(h)
    /// objectives) means nothing without the trigger and is not.
    pub limits_scope: bool,
    /// Where the exclusion is written when not in the provision itself (Article 3(40)).
    pub cite: Option<Cite>,
}

impl Exception {
    pub fn scope(when: Cond, summary: &'static str) -> Self {
        Self {
            when,
            summary,
            limits_scope: true,
            cite: None,
        }
    }

    pub fn permission(when: Cond, summary: &'static str) -> Self {
        Self {
            limits_scope: false,
            ..Self::scope(when, summary)
        }
    }

    pub fn citing(self, cite: Cite) -> Self {
        Self {
            cite: Some(cite),
            ..self
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id, e.g. `art5_1_h` or `annex3_5_b`.
    pub id: &'static str,
    pub cite: Cite,
    pub summary: &'static str,
    pub trigger: Cond,
    pub exceptions: Vec<Exception>,
    /// Reported when the trigger fails only because the case is outside the provision's
    /// scope (e.g. insurance other than life and health under Annex III 5(c)).
    pub out_of_scope: Option<(Cond, &'static str)>,
    /// When the duties the rule brings start to apply (Article 113).
    pub applies_from: NaiveDate,
}

/// What one rule says about one questionnaire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rule applies; `assumed` are exceptions left unanswered.
    Applies { assumed: BTreeSet<Q> },
    /// It would apply if these unanswered questions were answered yes.
    Possible { open: BTreeSet<Q> },
    /// An exception lifted it; `cite` when the exception is written elsewhere.
    Excepted {
        summary: &'static str,
        cite: Option<Cite>,
    },
    /// The trigger is answered but the case is outside the provision's scope.
    OutOfScope { summary: &'static str },
    /// The trigger is answered no; `decided_by` are the answers that decided it.
    NotTriggered { decided_by: BTreeSet<Q> },
}

impl Rule {
    /// A rule without exceptions or an out-of-scope case.
    pub fn new(
        id: &'static str,
        cite: Cite,
        summary: &'static str,
        trigger: Cond,
        applies_from: NaiveDate,
    ) -> Self {
        Self {
            id,
            cite,
            summary,
            trigger,
            exceptions: vec![],
            out_of_scope: None,
            applies_from,
        }
    }

    pub fn evaluate(&self, a: &Answers) -> Verdict {
        let t = self.trigger.eval(a);
        if t.value == Answer::No {
            if let Some((cond, summary)) = &self.out_of_scope {
                if cond.eval(a).value == Answer::Yes {
                    return Verdict::OutOfScope { summary };
                }
            }
            if let Some(e) = self
                .exceptions
                .iter()
                .find(|e| e.limits_scope && e.when.eval(a).value == Answer::Yes)
            {
                return Verdict::Excepted {
                    summary: e.summary,
                    cite: e.cite,
                };
            }
            return Verdict::NotTriggered {
                decided_by: t.decided_by,
            };
        }
        let mut assumed = BTreeSet::new();
        for e in &self.exceptions {
            let o = e.when.eval(a);
            match o.value {
                Answer::Yes => {
                    return Verdict::Excepted {
                        summary: e.summary,
                        cite: e.cite,
                    };
                }
                Answer::Unknown => assumed.extend(o.open),
                Answer::No => {}
            }
        }
        match t.value {
            Answer::Yes => Verdict::Applies { assumed },
            _ => Verdict::Possible { open: t.open },
        }
    }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Article 113: prohibitions and AI literacy from 2 February 2025.
pub fn from_prohibitions() -> NaiveDate {
    date(2025, 2, 2)
}

/// Article 113(b): general-purpose AI models (Chapter V) from 2 August 2025.
pub fn from_gpai() -> NaiveDate {
    date(2025, 8, 2)
}

/// Article 111(3): a model placed on the market before 2 August 2025 complies by 2
/// August 2027.
pub fn from_gpai_legacy() -> NaiveDate {
    date(2027, 8, 2)
}

/// Article 113: Annex III high-risk rules and Article 50 from 2 August 2026.
pub fn from_general() -> NaiveDate {
    date(2026, 8, 2)
}

/// Article 113(c): Article 6(1) (Annex I products) from 2 August 2027.
pub fn from_annex_i() -> NaiveDate {
    date(2027, 8, 2)
}
