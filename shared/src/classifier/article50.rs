//! Article 50: transparency duties of providers and deployers. They stack on top of any
//! level, high-risk included.
use serde::{Deserialize, Serialize};

use super::logic::{all, any, is, not};
use super::questionnaire::Q;
use super::rule::{Cite, Exception, Rule, from_general};

/// Who owes a duty: the operator roles of Article 3(3)-(7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressee {
    Provider,
    Deployer,
    Importer,
    Distributor,
}

impl Addressee {
    pub const ALL: [Addressee; 4] = [
        Addressee::Provider,
        Addressee::Deployer,
        Addressee::Importer,
        Addressee::Distributor,
    ];
}

/// A transparency duty with who owes it.
pub struct DutyRule {
    pub rule: Rule,
    pub addressee: Addressee,
}

pub fn duties() -> Vec<DutyRule> {
    let duty = |id, article, summary, trigger, exceptions: Vec<Exception>, addressee| DutyRule {
        rule: Rule {
            exceptions,
            ..Rule::new(id, Cite::article(article), summary, trigger, from_general())
        },
        addressee,
    };
    vec![
        duty(
            "art50_1",
            "50(1)",
            "Inform natural persons that they are interacting with an AI system",
            is(Q::InteractsWithHumans),
            vec![Exception::scope(
                is(Q::InteractionObvious),
                "Article 50(1) does not apply where the interaction with an AI system is obvious from the point of view of a reasonably well-informed person",
            )],
            Addressee::Provider,
        ),
        duty(
            "art50_2",
            "50(2)",
            "Mark synthetic audio, image, video or text outputs in a machine-readable format detectable as artificially generated",
            is(Q::GeneratesSyntheticContent),
            vec![Exception::scope(
                is(Q::AssistiveEditingOnly),
                "Article 50(2) does not apply to assistive standard editing or where the input is not substantially altered",
            )],
            Addressee::Provider,
        ),
        duty(
            "art50_3",
            "50(3)",
            "Inform exposed natural persons of the operation of the emotion recognition or biometric categorisation system",
            any([is(Q::EmotionRecognition), is(Q::BiometricCategorisation)]),
            // Only the categorisation is lifted by Article 3(40); emotion recognition keeps the duty.
            vec![Exception {
                when: all([is(Q::CategorisationAncillary), not(Q::EmotionRecognition)]),
                ..super::article5::ancillary()
            }],
            Addressee::Deployer,
        ),
        duty(
            "art50_4_deepfake",
            "50(4)",
            "Disclose that image, audio or video content constituting a deep fake has been artificially generated or manipulated",
            is(Q::GeneratesDeepfakes),
            vec![],
            Addressee::Deployer,
        ),
        duty(
            "art50_4_text",
            "50(4)",
            "Disclose that text published to inform the public on matters of public interest has been artificially generated or manipulated",
            all([is(Q::PublicInterestText)]),
            vec![Exception::scope(
                is(Q::HumanEditorialControl),
                "Article 50(4) second subparagraph does not apply where the text underwent human review or editorial control with editorial responsibility",
            )],
            Addressee::Deployer,
        ),
    ]
}
