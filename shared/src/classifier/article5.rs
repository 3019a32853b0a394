//! Article 5(1)(a)-(h): the prohibited practices, each with its conditions and the
//! exceptions the Article itself makes.
use super::logic::{all, is};
use super::questionnaire::Q;
use super::rule::{Cite, Exception, Rule, from_prohibitions};

/// Article 3(40): a categorisation ancillary to another commercial service and strictly
/// necessary for objective technical reasons is not a biometric categorisation system,
/// so neither Article 5(1)(g), Annex III point 1(b) nor Article 50(3) reaches it.
pub fn ancillary() -> Exception {
    Exception::scope(
        is(Q::CategorisationAncillary),
        "Under Article 3(40) a categorisation ancillary to another commercial service and strictly necessary for objective technical reasons is not a biometric categorisation system",
    )
    .citing(Cite::article("3(40)"))
}

pub fn practices() -> Vec<Rule> {
    let rule = |id, article, summary, trigger, exceptions: Vec<Exception>| Rule {
        exceptions,
        ..Rule::new(
            id,
            Cite::article(article),
            summary,
            trigger,
            from_prohibitions(),
        )
    };
    vec![
        rule(
            "art5_1_a",
            "5(1)(a)",
            "Subliminal, purposefully manipulative or deceptive techniques that materially distort behaviour and cause or are reasonably likely to cause significant harm",
            all([
                is(Q::ManipulativeTechniques),
                is(Q::MateriallyDistortsBehaviour),
            ]),
            vec![],
        ),
        rule(
            "art5_1_b",
            "5(1)(b)",
            "Exploitation of vulnerabilities due to age, disability or a specific social or economic situation that materially distorts behaviour and causes or is reasonably likely to cause significant harm",
            all([
                is(Q::ExploitsVulnerabilities),
                is(Q::MateriallyDistortsBehaviour),
            ]),
            vec![],
        ),
        rule(
            "art5_1_c",
            "5(1)(c)",
            "Social scoring of natural persons or groups leading to detrimental treatment in unrelated contexts or treatment unjustified or disproportionate to their behaviour, by any operator",
            all([is(Q::SocialScoring), is(Q::SocialScoreDetrimentalTreatment)]),
            vec![],
        ),
        rule(
            "art5_1_d",
            "5(1)(d)",
            "Assessing or predicting the risk of a natural person committing a criminal offence based solely on profiling or personality traits",
            is(Q::PredictsCrimeFromProfiling),
            vec![Exception::scope(
                is(Q::SupportsHumanAssessmentOnFacts),
                "Article 5(1)(d) does not apply to systems supporting a human assessment already based on objective and verifiable facts directly linked to a criminal activity",
            )],
        ),
        rule(
            "art5_1_e",
            "5(1)(e)",
            "Creating or expanding facial recognition databases through untargeted scraping of facial images from the internet or CCTV footage",
            is(Q::UntargetedFacialScraping),
            vec![],
        ),
        rule(
            "art5_1_f",
            "5(1)(f)",
            "Emotion recognition in the areas of the workplace and education institutions",
            all([is(Q::EmotionRecognition), is(Q::WorkplaceOrEducation)]),
            vec![Exception::scope(
                is(Q::MedicalOrSafetyReasons),
                "Article 5(1)(f) does not apply to emotion recognition put in place for medical or safety reasons",
            )],
        ),
        rule(
            "art5_1_g",
            "5(1)(g)",
            "Biometric categorisation of natural persons to deduce or infer race, political opinions, trade union membership, religious or philosophical beliefs, sex life or sexual orientation",
            all([
                is(Q::BiometricCategorisation),
                is(Q::InfersSensitiveAttributes),
            ]),
            vec![
                ancillary(),
                Exception::scope(
                    is(Q::LawfulDatasetLabelling),
                    "Article 5(1)(g) does not cover labelling or filtering of lawfully acquired biometric datasets, or categorising biometric data in the area of law enforcement",
                ),
            ],
        ),
        rule(
            "art5_1_h",
            "5(1)(h)",
            "Real-time remote biometric identification in publicly accessible spaces for the purpose of law enforcement",
            all([
                is(Q::RemoteBiometricIdentification),
                is(Q::RealTime),
                is(Q::PubliclyAccessibleSpaces),
                is(Q::ForLawEnforcement),
            ]),
            vec![Exception::permission(
                is(Q::LawEnforcementException),
                "Article 5(1)(h)(i)-(iii) allow the use where strictly necessary for a listed objective and authorised under Article 5(2)-(7); it remains high-risk under Annex III point 1(a)",
            )],
        ),
    ]
}
