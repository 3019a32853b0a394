//! Chapter V: general-purpose AI models (Articles 51-56). A model is not an AI system and
//! has no risk level of its own; its provider owes the Article 53 duties, and Article 55
//! on top when the model has systemic risk: presumed above 10^25 FLOP of training
//! compute (Article 51(2)) or designated by the Commission (Article 51(1)(b)).
use serde::{Deserialize, Serialize};

use super::article50::Addressee;
use super::obligations::{Obligation, ob};
use super::questionnaire::{Answer, Answers, Q};
use super::rule::{Cite, from_gpai, from_gpai_legacy};
use super::{Effect, Reason, ReasonKind};

/// What the questionnaire establishes about a general-purpose AI model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpaiAssessment {
    /// `true`, `false`, or `null` while it cannot be told.
    pub systemic_risk: Answer,
    /// The Article 53(2) open-source exemption from Article 53(1)(a)-(b) and 54 holds.
    pub open_source_exemption: bool,
}

pub struct GpaiOutcome {
    pub assessment: GpaiAssessment,
    pub obligations: Vec<Obligation>,
    pub reasons: Vec<Reason>,
    pub open: Vec<(Q, Effect)>,
}

fn note(kind: ReasonKind, rule: &str, article: &'static str, summary: &str) -> Reason {
    Reason {
        kind,
        rule: rule.into(),
        citation: Cite::article(article).citation(),
        summary: summary.into(),
        unsettled_exceptions: vec![],
        assumed_answers: vec![],
    }
}

/// None unless the asker provides a general-purpose AI model.
pub fn assess(a: &Answers) -> Option<GpaiOutcome> {
    if !a.get(Q::GpaiModel).is_yes() {
        return None;
    }
    let mut reasons = vec![note(
        ReasonKind::GeneralPurposeModel,
        "gpai_model",
        "53(1)",
        "Provider of a general-purpose AI model: the Article 53 obligations apply to the model, whatever the level of the systems built on it",
    )];
    let mut open = Vec::new();
    let compute = a.get(Q::GpaiComputeAbove1e25);
    let designated = a.get(Q::GpaiDesignatedSystemicRisk);
    let systemic = match (compute, designated) {
        (Answer::Yes, _) | (_, Answer::Yes) => Answer::Yes,
        (Answer::No, Answer::No) => Answer::No,
        _ => Answer::Unknown,
    };
    if compute.is_yes() {
        reasons.push(note(
            ReasonKind::GeneralPurposeModel,
            "gpai_systemic_risk_presumed",
            "51(2)",
            "Training compute above 10^25 floating-point operations: the model is presumed to have high-impact capabilities and so systemic risk; the provider may argue otherwise under Article 52(2), and the Commission decides",
        ));
    }
    if designated.is_yes() {
        reasons.push(note(
            ReasonKind::GeneralPurposeModel,
            "gpai_systemic_risk_designated",
            "51(1)(b)",
            "Designated by the Commission as a general-purpose AI model with systemic risk",
        ));
    }
    if systemic == Answer::No {
        reasons.push(note(
            ReasonKind::Exclusion,
            "gpai_no_systemic_risk",
            "51",
            "Training compute not above 10^25 floating-point operations and no Commission designation: no systemic risk, so Article 55 does not apply",
        ));
    }
    if systemic == Answer::Unknown {
        for q in [Q::GpaiComputeAbove1e25, Q::GpaiDesignatedSystemicRisk] {
            if a.get(q) == Answer::Unknown {
                open.push((q, Effect::CouldAddGpaiDuties));
            }
        }
    }
    // The open-source exemption never reaches a model with systemic risk; while that is
    // unsettled, the exemption is not established.
    let open_source = a.get(Q::GpaiOpenSource);
    let exempt = open_source.is_yes() && systemic == Answer::No;
    if exempt {
        reasons.push(note(
            ReasonKind::Exclusion,
            "gpai_open_source",
            "53(2)",
            "Released under a free and open-source licence with public parameters: exempt from Article 53(1)(a)-(b) and Article 54, but not from the copyright policy and training-content summary",
        ));
    } else if open_source == Answer::Unknown && systemic != Answer::Yes {
        open.push((Q::GpaiOpenSource, Effect::CouldLiftGpaiDuties));
    }
    let legacy = a.get(Q::GpaiPlacedBefore2025_08_02).is_yes();
    let from = if legacy {
        reasons.push(note(
            ReasonKind::Note,
            "gpai_placed_before_2025_08_02",
            "111(3)",
            "Placed on the market before 2 August 2025: the Chapter V obligations must be met by 2 August 2027",
        ));
        from_gpai_legacy()
    } else {
        from_gpai()
    };
    let p = Addressee::Provider;
    let mut obligations = Vec::new();
    if !exempt {
        obligations.extend([
            ob(
                "gpai_technical_documentation",
                "Draw up and keep up to date the technical documentation of the model, its training and testing (Annex XI), for the AI Office and national authorities on request",
                "53(1)(a)",
                p,
                from,
                None,
            ),
            ob(
                "gpai_downstream_information",
                "Give providers integrating the model the information and documentation they need (Annex XII)",
                "53(1)(b)",
                p,
                from,
                None,
            ),
        ]);
    }
    obligations.extend([
        ob(
            "gpai_copyright_policy",
            "Put in place a policy to comply with Union copyright law, identifying and respecting reservations of rights (Article 4(3) of Directive (EU) 2019/790)",
            "53(1)(c)",
            p,
            from,
            None,
        ),
        ob(
            "gpai_training_content_summary",
            "Publish a sufficiently detailed summary of the content used for training, on the AI Office's template",
            "53(1)(d)",
            p,
            from,
            None,
        ),
    ]);
    if !exempt && a.get(Q::EstablishedOutsideUnion) != Answer::No {
        let mut o = ob(
            "gpai_authorised_representative",
            "Appoint by written mandate an authorised representative established in the Union before placing the model on the market",
            "54(1)",
            p,
            from,
            None,
        );
        if a.get(Q::EstablishedOutsideUnion) == Answer::Unknown {
            o.note = Some("Applies if the provider is established in a third country".into());
        }
        obligations.push(o);
    }
    if systemic != Answer::No {
        let conditional = (systemic == Answer::Unknown)
            .then(|| "Applies if the model has systemic risk (Article 51)".to_string());
        let systemic_duty = |id: &str, title: &str, article: &'static str| {
            ob(id, title, article, p, from, conditional.clone())
        };
        obligations.extend([
            systemic_duty(
                "gpai_notify_commission",
                "Notify the Commission without delay, and within two weeks, once the threshold of Article 51(2) is met or known to be met",
                "52(1)",
            ),
            systemic_duty(
                "gpai_model_evaluation",
                "Evaluate the model with standardised protocols and tools, including documented adversarial testing, to identify and mitigate systemic risks",
                "55(1)(a)",
            ),
            systemic_duty(
                "gpai_systemic_risk_mitigation",
                "Assess and mitigate possible systemic risks at Union level, including their sources",
                "55(1)(b)",
            ),
            systemic_duty(
                "gpai_serious_incidents",
                "Track, document and report without undue delay serious incidents and possible corrective measures to the AI Office and, as appropriate, national authorities",
                "55(1)(c)",
            ),
            systemic_duty(
                "gpai_cybersecurity",
                "Ensure an adequate level of cybersecurity protection for the model and its physical infrastructure",
                "55(1)(d)",
            ),
        ]);
    }
    obligations.push(ob(
        "gpai_codes_of_practice",
        "Demonstrate compliance: adherence to a code of practice (Article 56) is presumed to show it until a harmonised standard is published; otherwise show adequate alternative means for the Commission to assess",
        if systemic == Answer::No { "53(4)" } else { "53(4), 55(2)" },
        p,
        from,
        None,
    ));
    Some(GpaiOutcome {
        assessment: GpaiAssessment {
            systemic_risk: systemic,
            open_source_exemption: exempt,
        },
        obligations,
        reasons,
        open,
    })
}
