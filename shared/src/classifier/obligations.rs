//! The obligations each level brings, each with the article that imposes it. Every path
//! to high-risk (Article 6(1) / Annex I and Article 6(2) / Annex III) carries the full
//! set; only the conformity-assessment route and the registration route differ.
use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::article50::Addressee;
use super::rule::{Citation, Cite, from_annex_i, from_general, from_prohibitions};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    /// Stable id, e.g. `risk_management`.
    pub id: String,
    pub title: String,
    pub citation: Citation,
    pub addressee: Addressee,
    pub applies_from: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn ob(
    id: &str,
    title: &str,
    article: &'static str,
    addressee: Addressee,
    applies_from: NaiveDate,
    note: Option<String>,
) -> Obligation {
    Obligation {
        id: id.to_string(),
        title: title.to_string(),
        citation: Cite::article(article).citation(),
        addressee,
        applies_from,
        note,
    }
}

/// Article 4 applies to every provider and deployer, whatever the level.
pub fn ai_literacy() -> Obligation {
    ob(
        "ai_literacy",
        "Ensure a sufficient level of AI literacy of staff dealing with the system",
        "4",
        Addressee::Provider,
        from_prohibitions(),
        None,
    )
}

pub fn prohibition() -> Obligation {
    ob(
        "prohibited_practice",
        "Do not place on the market, put into service or use the system for the prohibited practice",
        "5(1)",
        Addressee::Provider,
        from_prohibitions(),
        Some("Infringements are subject to fines of up to EUR 35 000 000 or 7 % of worldwide annual turnover (Article 99(3))".into()),
    )
}

/// Which high-risk routes apply.
#[derive(Debug, Clone, Default)]
pub struct HighRiskPaths {
    /// Article 6(1): an Annex I product requiring third-party conformity assessment.
    pub annex_i: bool,
    /// Article 6(2): the Annex III points (e.g. "1", "4") that apply.
    pub annex_iii_points: BTreeSet<String>,
    /// The system makes decisions about natural persons (Article 86).
    pub automated_decisions: bool,
}

pub fn high_risk(paths: &HighRiskPaths) -> Vec<Obligation> {
    let iii = &paths.annex_iii_points;
    let from = if iii.is_empty() {
        from_annex_i()
    } else {
        from_general()
    };
    let p = Addressee::Provider;
    let mut out = vec![
        ob(
            "risk_management",
            "Establish, implement, document and maintain a risk management system across the lifecycle",
            "9",
            p,
            from,
            None,
        ),
        ob(
            "data_governance",
            "Train, validate and test on data sets meeting the data and data governance criteria",
            "10",
            p,
            from,
            None,
        ),
        ob(
            "technical_documentation",
            "Draw up and keep up to date the technical documentation (Annex IV)",
            "11",
            p,
            from,
            None,
        ),
        ob(
            "record_keeping",
            "Allow the automatic recording of events (logs) over the system's lifetime",
            "12",
            p,
            from,
            None,
        ),
        ob(
            "transparency_to_deployers",
            "Design for transparency and provide deployers with instructions for use",
            "13",
            p,
            from,
            None,
        ),
        ob(
            "human_oversight",
            "Design so that natural persons can effectively oversee the system",
            "14",
            p,
            from,
            None,
        ),
        ob(
            "accuracy_robustness_cybersecurity",
            "Achieve appropriate accuracy, robustness and cybersecurity",
            "15",
            p,
            from,
            None,
        ),
        ob(
            "quality_management",
            "Put a quality management system in place",
            "17",
            p,
            from,
            None,
        ),
    ];
    // Conformity assessment: Annex I products follow their sectoral procedure; Annex III
    // point 1 may need a notified body; points 2-8 use internal control.
    let (article, note) = if paths.annex_i {
        (
            "43(3)",
            "Follow the conformity assessment of the Annex I legislation, covering the requirements of Chapter III Section 2",
        )
    } else if iii.contains("1") {
        (
            "43(1)",
            "Internal control (Annex VI) where harmonised standards are applied in full, otherwise assessment with a notified body (Annex VII)",
        )
    } else {
        ("43(2)", "Internal control (Annex VI)")
    };
    out.push(ob(
        "conformity_assessment",
        "Undergo the conformity assessment procedure before placing on the market or putting into service",
        article,
        p,
        from,
        Some(note.into()),
    ));
    let registration = if iii.is_empty() {
        ob(
            "registration",
            "Registration",
            "49",
            p,
            from,
            Some("Article 49(1) database registration covers Annex III systems; an Annex I product is registered as its sectoral legislation requires".into()),
        )
    } else if iii.iter().all(|x| x == "2") {
        ob(
            "registration",
            "Register the system at national level",
            "49(5)",
            p,
            from,
            Some("Critical infrastructure systems (Annex III point 2) are registered at national level".into()),
        )
    } else {
        let secure = ["1", "6", "7"].iter().any(|x| iii.contains(*x));
        ob(
            "registration",
            "Register the provider and the system in the EU database before placing it on the market",
            "49(1)",
            p,
            from,
            secure.then(|| "Law enforcement, migration and biometrics systems are registered in the secure non-public section (Article 49(4))".into()),
        )
    };
    out.push(registration);
    out.push(ob(
        "post_market_monitoring",
        "Establish and document a post-market monitoring system",
        "72",
        p,
        from,
        None,
    ));
    if paths.automated_decisions && iii.iter().any(|x| x != "2") {
        out.push(ob(
            "right_to_explanation",
            "Give affected persons a clear and meaningful explanation of decisions taken on the basis of the system's output",
            "86",
            Addressee::Deployer,
            from_general(),
            None,
        ));
    }
    out.push(ai_literacy());
    out
}

/// What a provider owes when it relies on the Article 6(3) derogation.
pub fn derogation() -> Vec<Obligation> {
    vec![
        ob(
            "derogation_assessment",
            "Document the assessment that the Annex III system is not high-risk before placing it on the market, and provide it to authorities on request",
            "6(4)",
            Addressee::Provider,
            from_general(),
            None,
        ),
        ob(
            "registration",
            "Register the system in the EU database although it is considered not high-risk",
            "49(2)",
            Addressee::Provider,
            from_general(),
            None,
        ),
    ]
}
