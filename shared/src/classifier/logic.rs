//! Conditions over answers in three-valued logic. Evaluating one also says which
//! unanswered questions kept it from being decided, so the classifier can list exactly
//! the unknowns that mattered.
use std::collections::BTreeSet;

use super::questionnaire::{Answer, Answers, Q};

#[derive(Debug, Clone)]
pub enum Cond {
    Is(Q),
    Not(Box<Cond>),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

pub fn is(q: Q) -> Cond {
    Cond::Is(q)
}

pub fn not(q: Q) -> Cond {
    Cond::Not(Box::new(Cond::Is(q)))
}

pub fn all(c: impl Into<Vec<Cond>>) -> Cond {
    Cond::All(c.into())
}

pub fn any(c: impl Into<Vec<Cond>>) -> Cond {
    Cond::Any(c.into())
}

pub fn negate(c: Cond) -> Cond {
    Cond::Not(Box::new(c))
}

/// The value of a condition and, when it is unknown, the questions that left it open;
/// when it is known, the answered questions that decided it (so a "no" can be explained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub value: Answer,
    pub open: BTreeSet<Q>,
    pub decided_by: BTreeSet<Q>,
}

impl Outcome {
    fn known(value: Answer, decided_by: BTreeSet<Q>) -> Self {
        Self {
            value,
            open: BTreeSet::new(),
            decided_by,
        }
    }
}

impl Cond {
    pub fn eval(&self, a: &Answers) -> Outcome {
        match self {
            Cond::Is(q) => {
                let value = a.get(*q);
                if value == Answer::Unknown {
                    Outcome {
                        value,
                        open: BTreeSet::from([*q]),
                        decided_by: BTreeSet::new(),
                    }
                } else {
                    Outcome::known(value, BTreeSet::from([*q]))
                }
            }
            Cond::Not(c) => {
                let mut o = c.eval(a);
                o.value = !o.value;
                o
            }
            // A single definite "no" decides a conjunction; a single "yes" a disjunction.
            Cond::All(cs) => combine(cs, a, Answer::No),
            Cond::Any(cs) => combine(cs, a, Answer::Yes),
        }
    }
}

fn combine(cs: &[Cond], a: &Answers, decisive: Answer) -> Outcome {
    let mut open = BTreeSet::new();
    let mut all_of = BTreeSet::new();
    for c in cs {
        let o = c.eval(a);
        if o.value == decisive {
            return Outcome::known(decisive, o.decided_by);
        }
        open.extend(o.open);
        all_of.extend(o.decided_by);
    }
    if open.is_empty() {
        // Every member was needed to reach the other value.
        Outcome::known(!decisive, all_of)
    } else {
        Outcome {
            value: Answer::Unknown,
            open,
            decided_by: BTreeSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kleene_logic_with_open_questions() {
        let c = all([is(Q::RealTime), not(Q::LawEnforcementException)]);
        let a = Answers::default().yes(Q::RealTime);
        let o = c.eval(&a);
        assert_eq!(o.value, Answer::Unknown);
        assert_eq!(
            o.open.into_iter().collect::<Vec<_>>(),
            [Q::LawEnforcementException]
        );
        // A definite "no" anywhere decides a conjunction; nothing is left open.
        let o = c.eval(&Answers::default().no(Q::RealTime));
        assert_eq!((o.value, o.open.len()), (Answer::No, 0));
        assert_eq!(o.decided_by.into_iter().collect::<Vec<_>>(), [Q::RealTime]);
        let o = c.eval(&a.clone().no(Q::LawEnforcementException));
        assert_eq!(o.value, Answer::Yes);
        let d = any([is(Q::RealTime), is(Q::SocialScoring)]);
        assert_eq!(
            d.eval(&Answers::default().yes(Q::SocialScoring)).value,
            Answer::Yes
        );
        assert_eq!(d.eval(&Answers::default()).open.len(), 2);
        assert_eq!(
            d.eval(&Answers::default().no(Q::RealTime).no(Q::SocialScoring))
                .value,
            Answer::No
        );
    }
}
