//! The obligations each level brings, by role, each with the article that imposes it.
//! Every path to high-risk (Article 6(1) / Annex I and Article 6(2) / Annex III) carries
//! the provider's full set; the conformity-assessment and registration routes differ,
//! and the deployer's Article 26(8)-(11), 27, 49(3) and 86 duties follow the Annex III
//! point and who the deployer is.
use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::article50::Addressee;
use super::questionnaire::{Answer, Answers, Q};
use super::rule::{Citation, Cite, from_annex_i, from_general, from_prohibitions};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    /// Stable id, e.g. `risk_management`.
    pub id: String,
    pub title: String,
    pub citation: Citation,
    /// Who owes it: provider, deployer, importer or distributor.
    pub addressee: Addressee,
    pub applies_from: NaiveDate,
    /// Whether it applies on the classification's `as_of` date (Article 113); a result
    /// stored by an earlier classifier version reads false until re-classified.
    #[serde(default)]
    pub applies_on_as_of: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub(super) fn ob(
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
        applies_on_as_of: false,
        note,
    }
}

/// Ids of the Article 4 duty, which binds everyone whatever the level and so never
/// makes a level's obligations apply.
pub const AI_LITERACY: [&str; 2] = ["ai_literacy", "deployer_ai_literacy"];

/// Article 4 applies to every provider and deployer, whatever the level.
pub fn ai_literacy() -> Vec<Obligation> {
    let title = "Ensure a sufficient level of AI literacy of staff dealing with the system";
    vec![
        ob(
            AI_LITERACY[0],
            title,
            "4",
            Addressee::Provider,
            from_prohibitions(),
            None,
        ),
        ob(
            AI_LITERACY[1],
            title,
            "4",
            Addressee::Deployer,
            from_prohibitions(),
            None,
        ),
    ]
}

/// Article 5(1) forbids placing on the market, putting into service and use: each role
/// is told what it may not do.
pub fn prohibition() -> Vec<Obligation> {
    let from = from_prohibitions();
    let fine = || {
        Some("Infringements are subject to fines of up to EUR 35 000 000 or 7 % of worldwide annual turnover (Article 99(3))".to_string())
    };
    vec![
        ob(
            "prohibited_practice",
            "Do not place on the market or put into service the system for the prohibited practice",
            "5(1)",
            Addressee::Provider,
            from,
            fine(),
        ),
        ob(
            "prohibited_use",
            "Do not use the system for the prohibited practice",
            "5(1)",
            Addressee::Deployer,
            from,
            fine(),
        ),
        ob(
            "prohibited_import",
            "Do not place the system on the Union market",
            "5(1)",
            Addressee::Importer,
            from,
            fine(),
        ),
        ob(
            "prohibited_distribution",
            "Do not make the system available: a prohibited practice may not be placed on the market",
            "5(1)",
            Addressee::Distributor,
            from,
            fine(),
        ),
    ]
}

/// The conditions Article 5(2)-(7) set on real-time remote biometric identification in
/// publicly accessible spaces for law enforcement that one of the Article 5(1)(h)
/// objectives permits.
pub fn excepted_identification() -> Vec<Obligation> {
    let d = Addressee::Deployer;
    let from = from_prohibitions();
    vec![
        ob(
            "rbi_strict_necessity",
            "Use it only to confirm the identity of the specifically targeted individual, considering the seriousness, probability and scale of the harm avoided and the consequences for rights and freedoms, with necessary and proportionate limits in time, geography and persons",
            "5(2)",
            d,
            from,
            None,
        ),
        ob(
            "rbi_fria_and_registration",
            "Complete a fundamental rights impact assessment (Article 27) and register the system in the EU database (Article 49) before use",
            "5(2)",
            d,
            from,
            Some("In duly justified urgency use may start without registration, provided it is registered without undue delay".into()),
        ),
        ob(
            "rbi_prior_authorisation",
            "Obtain prior authorisation for each use from a judicial authority or an independent administrative authority whose decision is binding",
            "5(3)",
            d,
            from,
            Some("In duly justified urgency request it within 24 hours; if refused, stop at once and discard the data, results and outputs. No decision with an adverse legal effect on a person may be taken based solely on the output".into()),
        ),
        ob(
            "rbi_notify_authorities",
            "Notify each use to the market surveillance authority and the national data protection authority",
            "5(4)",
            d,
            from,
            Some("Those authorities report annually to the Commission (Article 5(6)), which publishes annual reports (Article 5(7))".into()),
        ),
        ob(
            "rbi_national_law",
            "Use it only where and as far as the national law of the Member State provides for it, under its detailed rules",
            "5(5)",
            d,
            from,
            None,
        ),
    ]
}

/// What the high-risk obligations depend on.
#[derive(Debug, Clone, Default)]
pub struct HighRiskPaths {
    /// Article 6(1): an Annex I product requiring third-party conformity assessment.
    pub annex_i: bool,
    /// Article 6(2): the Annex III points (e.g. "1", "4") that apply.
    pub annex_iii_points: BTreeSet<String>,
    /// The Annex III points with their sub-points, e.g. "5(b)".
    pub annex_iii_sub_points: BTreeSet<String>,
}

impl HighRiskPaths {
    fn has(&self, point: &str) -> bool {
        self.annex_iii_points.contains(point)
    }

    /// Annex III apart from point 2, where Articles 26(8), 27, 49(3) and 86 reach.
    fn beyond_point_2(&self) -> bool {
        self.annex_iii_points.iter().any(|p| p != "2")
    }
}

/// A duty that holds only for some deployers: listed with a note while the question
/// that decides it is unanswered, left out once it is answered no.
fn conditional(o: Obligation, answer: Answer, unless_known: &str) -> Option<Obligation> {
    match answer {
        Answer::Yes => Some(o),
        Answer::Unknown => Some(Obligation {
            note: Some(match o.note {
                Some(n) => format!("{unless_known}. {n}"),
                None => unless_known.to_string(),
            }),
            ..o
        }),
        Answer::No => None,
    }
}

pub fn high_risk(paths: &HighRiskPaths, a: &Answers) -> Vec<Obligation> {
    let from = if paths.annex_iii_points.is_empty() {
        from_annex_i()
    } else {
        from_general()
    };
    let mut out = provider_high_risk(paths, a, from);
    out.extend(deployer_high_risk(paths, a, from));
    out.extend(importer_and_distributor(from));
    out
}

fn provider_high_risk(paths: &HighRiskPaths, a: &Answers, from: NaiveDate) -> Vec<Obligation> {
    let iii = &paths.annex_iii_points;
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
            "provider_obligations",
            "Ensure the system meets Section 2; indicate your name, registered trade name or mark and address on it, its packaging or documentation; meet the accessibility requirements and the other duties of Article 16(a)-(l)",
            "16",
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
        ob(
            "documentation_keeping",
            "Keep the technical documentation, the quality management documentation, notified-body decisions and the EU declaration of conformity at the authorities' disposal for 10 years",
            "18",
            p,
            from,
            None,
        ),
        ob(
            "automatically_generated_logs",
            "Keep the logs the system generates automatically, as far as they are under your control, for at least six months",
            "19",
            p,
            from,
            None,
        ),
        ob(
            "corrective_actions",
            "Take corrective action at once when the system is not in conformity (bring it into conformity, withdraw, disable or recall it), inform distributors, deployers, importers and the authorised representative, and inform the authorities of any risk",
            "20",
            p,
            from,
            None,
        ),
        ob(
            "cooperation_with_authorities",
            "Give competent authorities on request the information and documentation showing conformity, and access to the logs",
            "21",
            p,
            from,
            None,
        ),
    ];
    if let Some(o) = conditional(
        ob(
            "authorised_representative",
            "Appoint by written mandate an authorised representative established in the Union before making the system available",
            "22",
            p,
            from,
            None,
        ),
        a.get(Q::EstablishedOutsideUnion),
        "Applies if the provider is established in a third country",
    ) {
        out.push(o);
    }
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
    out.extend([
        ob(
            "conformity_assessment",
            "Undergo the conformity assessment procedure before placing on the market or putting into service",
            article,
            p,
            from,
            Some(note.into()),
        ),
        ob(
            "eu_declaration_of_conformity",
            "Draw up a written EU declaration of conformity (Annex V) and keep it for 10 years",
            "47",
            p,
            from,
            None,
        ),
        ob(
            "ce_marking",
            "Affix the CE marking visibly, legibly and indelibly (digitally for a digital-only system)",
            "48",
            p,
            from,
            None,
        ),
    ]);
    out.push(provider_registration(paths, a, from));
    out.extend([
        ob(
            "post_market_monitoring",
            "Establish and document a post-market monitoring system",
            "72",
            p,
            from,
            None,
        ),
        ob(
            "serious_incident_reporting",
            "Report any serious incident to the market surveillance authorities of the Member States where it occurred, at the latest 15 days after becoming aware of it (2 days for a widespread infringement or critical infrastructure, 10 days after a death)",
            "73",
            p,
            from,
            None,
        ),
    ]);
    out
}

/// Article 49(4): only points 1, 6 and 7 in law enforcement, migration, asylum and
/// border control management go to the secure non-public section. Points 6 and 7 are
/// those areas by definition; point 1 only when used there.
fn secure_section(paths: &HighRiskPaths, a: &Answers) -> Option<String> {
    let secure = "Registered in the secure non-public section of the EU database (Article 49(4)): Annex III points 1, 6 and 7 in law enforcement, migration, asylum and border control management";
    if paths.has("6") || paths.has("7") {
        return Some(secure.into());
    }
    if !paths.has("1") {
        return None;
    }
    match a.get(Q::ForLawEnforcement) {
        Answer::Yes => Some(secure.into()),
        Answer::Unknown => Some(
            "If used in law enforcement, migration, asylum or border control management, it is registered in the secure non-public section of the EU database (Article 49(4))".into(),
        ),
        Answer::No => None,
    }
}

fn provider_registration(paths: &HighRiskPaths, a: &Answers, from: NaiveDate) -> Obligation {
    let iii = &paths.annex_iii_points;
    let p = Addressee::Provider;
    if iii.is_empty() {
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
        ob(
            "registration",
            "Register the provider and the system in the EU database before placing it on the market",
            "49(1)",
            p,
            from,
            secure_section(paths, a),
        )
    }
}

fn deployer_high_risk(paths: &HighRiskPaths, a: &Answers, from: NaiveDate) -> Vec<Obligation> {
    let d = Addressee::Deployer;
    let mut out = vec![
        ob(
            "deployer_use_per_instructions",
            "Take technical and organisational measures to use the system in accordance with its instructions for use",
            "26(1)",
            d,
            from,
            None,
        ),
        ob(
            "deployer_human_oversight",
            "Assign human oversight to natural persons with the necessary competence, training, authority and support",
            "26(2)",
            d,
            from,
            None,
        ),
        ob(
            "deployer_input_data",
            "Ensure input data under your control is relevant and sufficiently representative for the intended purpose",
            "26(4)",
            d,
            from,
            None,
        ),
        ob(
            "deployer_monitoring",
            "Monitor the operation; where it presents a risk, inform the provider and the market surveillance authority and suspend use; report serious incidents",
            "26(5)",
            d,
            from,
            None,
        ),
        ob(
            "deployer_logs",
            "Keep the logs the system generates automatically, as far as they are under your control, for at least six months",
            "26(6)",
            d,
            from,
            None,
        ),
    ];
    let workplace = if paths.has("4") {
        Answer::Yes
    } else {
        a.get(Q::WorkplaceOrEducation)
    };
    out.extend(conditional(
        ob(
            "deployer_inform_workers",
            "Before putting the system into service or using it at the workplace, inform workers' representatives and the affected workers",
            "26(7)",
            d,
            from,
            None,
        ),
        workplace,
        "Applies where the system is used at the workplace",
    ));
    let public = a.get(Q::PublicAuthority);
    if paths.beyond_point_2() {
        out.extend(conditional(
            ob(
                "deployer_registration",
                "Register yourself, select the system and register its use in the EU database before using it; do not use a high-risk system that is not registered there",
                "49(3)",
                d,
                from,
                secure_section(paths, a),
            ),
            public,
            "Applies to deployers that are public authorities, Union institutions, bodies, offices or agencies or act on their behalf (Article 26(8))",
        ));
    }
    out.push(ob(
        "deployer_dpia",
        "Use the information given under Article 13 to carry out a data protection impact assessment where Article 35 GDPR or Article 27 of Directive (EU) 2016/680 requires one",
        "26(9)",
        d,
        from,
        None,
    ));
    if paths.has("1")
        && a.get(Q::RemoteBiometricIdentification).is_yes()
        && !a.get(Q::RealTime).is_yes()
    {
        out.extend(conditional(
            ob(
                "post_remote_biometric_identification",
                "In a criminal investigation, request authorisation from a judicial or administrative authority before (or within 48 hours of) using post-remote biometric identification, use it only for the targeted search linked to a criminal offence, and document each use in the police file",
                "26(10)",
                d,
                from,
                None,
            ),
            a.get(Q::ForLawEnforcement),
            "Applies to post-remote biometric identification used for law enforcement",
        ));
    }
    if paths.beyond_point_2() {
        out.push(ob(
            "deployer_inform_affected_persons",
            "Inform natural persons that they are subject to the use of the system when it makes, or assists in making, decisions related to them",
            "26(11)",
            d,
            from,
            None,
        ));
    }
    out.push(ob(
        "deployer_cooperation",
        "Cooperate with the competent authorities in any action they take in relation to the system",
        "26(12)",
        d,
        from,
        None,
    ));
    if paths.beyond_point_2() {
        let credit_or_insurance = ["5(b)", "5(c)"]
            .iter()
            .any(|s| paths.annex_iii_sub_points.contains(*s));
        let public_character = if credit_or_insurance {
            Answer::Yes
        } else {
            match (public, a.get(Q::PrivatePublicServices)) {
                (Answer::Yes, _) | (_, Answer::Yes) => Answer::Yes,
                (Answer::No, Answer::No) => Answer::No,
                _ => Answer::Unknown,
            }
        };
        out.extend(conditional(
            ob(
                "fundamental_rights_impact_assessment",
                "Before first use, assess the impact on fundamental rights (processes, period and frequency of use, persons affected, risks of harm, human oversight, measures if risks materialise) and notify the market surveillance authority of the results",
                "27",
                d,
                from,
                None,
            ),
            public_character,
            "Applies to deployers that are bodies governed by public law or private entities providing public services, and to every deployer of an Annex III point 5(b) or 5(c) system",
        ));
        // Article 86(1) covers any decision taken on the basis of the output, automated or not.
        out.push(ob(
            "right_to_explanation",
            "Give affected persons, on request, a clear and meaningful explanation of the role of the system in decisions taken on the basis of its output that produce legal or similarly significant effects",
            "86",
            d,
            from,
            None,
        ));
    }
    out
}

fn importer_and_distributor(from: NaiveDate) -> Vec<Obligation> {
    let (i, d) = (Addressee::Importer, Addressee::Distributor);
    vec![
        ob(
            "importer_verification",
            "Before placing the system on the market, verify that the conformity assessment was carried out, the technical documentation drawn up, the CE marking affixed with the EU declaration of conformity and instructions, and an authorised representative appointed",
            "23(1)",
            i,
            from,
            None,
        ),
        ob(
            "importer_non_conformity",
            "Do not place the system on the market while it is not in conformity, falsified or falsely documented; where it presents a risk, inform the provider, the authorised representative and the market surveillance authorities",
            "23(2)",
            i,
            from,
            None,
        ),
        ob(
            "importer_identification",
            "Indicate your name, registered trade name or mark and address on the system, its packaging or documentation",
            "23(3)",
            i,
            from,
            None,
        ),
        ob(
            "importer_storage_transport",
            "Ensure storage or transport conditions do not jeopardise compliance with Section 2",
            "23(4)",
            i,
            from,
            None,
        ),
        ob(
            "importer_keep_documents",
            "Keep for 10 years a copy of the notified-body certificate, the instructions for use and the EU declaration of conformity",
            "23(5)",
            i,
            from,
            None,
        ),
        ob(
            "importer_cooperation",
            "Give authorities on request the information and documentation showing conformity, and cooperate with them",
            "23(6)-(7)",
            i,
            from,
            None,
        ),
        ob(
            "distributor_verification",
            "Before making the system available, verify that it bears the CE marking, is accompanied by the EU declaration of conformity and instructions, and that the provider and importer met Articles 16(b)-(c) and 23(3)",
            "24(1)",
            d,
            from,
            None,
        ),
        ob(
            "distributor_non_conformity",
            "Do not make the system available while you consider it not in conformity; where it presents a risk, inform the provider or importer",
            "24(2)",
            d,
            from,
            None,
        ),
        ob(
            "distributor_storage_transport",
            "Ensure storage or transport conditions do not jeopardise compliance with Section 2",
            "24(3)",
            d,
            from,
            None,
        ),
        ob(
            "distributor_corrective_actions",
            "Take, or ensure the provider or importer takes, corrective action for a non-conforming system already made available, and inform the authorities where it presents a risk",
            "24(4)",
            d,
            from,
            None,
        ),
        ob(
            "distributor_cooperation",
            "Give authorities on request the information and documentation on your actions, and cooperate with them",
            "24(5)-(6)",
            d,
            from,
            None,
        ),
    ]
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
