//! Article 6(3): an Annex III system is not high-risk when it poses no significant risk
//! of harm because it meets one of conditions (a)-(d), but never when it profiles
//! natural persons. Not established while unanswered: the provider carries the burden
//! of documenting it (Article 6(4)).
//!
//! The second subparagraph makes the conditions sufficient ("shall apply where any of
//! the following conditions is fulfilled"), so an unanswered "materially influences the
//! outcome" does not block it; a yes contradicts the first subparagraph and refuses it,
//! and while unanswered it is reported as a question that could make the system high-risk.
use super::logic::{Cond, all, any, is, not};
use super::questionnaire::{Answer, Answers, Q};

pub const CONDITIONS: [(Q, &str); 4] = [
    (Q::NarrowProceduralTask, "a"),
    (Q::ImprovesCompletedHumanActivity, "b"),
    (Q::DetectsPatternsWithoutReplacingHumans, "c"),
    (Q::PreparatoryTask, "d"),
];

fn conditions() -> Cond {
    any(CONDITIONS.iter().map(|(q, _)| is(*q)).collect::<Vec<_>>())
}

fn derogation() -> Cond {
    all([conditions(), not(Q::ProfilesNaturalPersons)])
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Derogation {
    /// A condition holds and the system does not profile: not high-risk under Annex III.
    /// `influence_open`: whether it materially influences the outcome is unanswered.
    Applies {
        conditions: Vec<&'static str>,
        influence_open: bool,
    },
    /// A condition is claimed but the system profiles natural persons.
    RefusedForProfiling,
    /// A condition is claimed but the system materially influences the outcome of
    /// decision-making (Article 6(3), first subparagraph).
    RefusedForInfluence,
    /// Not established; these questions could establish it.
    Unsettled {
        open: Vec<Q>,
    },
    NotClaimed,
}

pub fn assess(a: &Answers) -> Derogation {
    let held: Vec<&'static str> = CONDITIONS
        .iter()
        .filter(|(q, _)| a.get(*q).is_yes())
        .map(|(_, s)| *s)
        .collect();
    let o = derogation().eval(a);
    let influence = a.get(Q::MateriallyInfluencesOutcome);
    match o.value {
        Answer::Yes if influence.is_yes() => Derogation::RefusedForInfluence,
        Answer::Yes => Derogation::Applies {
            conditions: held,
            influence_open: influence == Answer::Unknown,
        },
        Answer::Unknown => Derogation::Unsettled {
            open: o.open.into_iter().collect(),
        },
        Answer::No if !held.is_empty() && a.get(Q::ProfilesNaturalPersons).is_yes() => {
            Derogation::RefusedForProfiling
        }
        Answer::No => Derogation::NotClaimed,
    }
}
