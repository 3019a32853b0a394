//! The questionnaire: one typed three-valued answer per question the Act distinguishes.
//!
//! Answers travel as JSON `true` / `false`; `null` or a missing key is "unknown", which
//! the classifier reports and never reads as yes. A string such as `"false"` is rejected
//! with the question's field name, so a client bug cannot turn into a "yes".
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::domain::FieldError;

/// One answer in Kleene's three-valued logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Answer {
    Yes,
    No,
    #[default]
    Unknown,
}

impl Answer {
    pub fn from_bool(b: bool) -> Self {
        if b { Answer::Yes } else { Answer::No }
    }

    pub fn is_yes(self) -> bool {
        self == Answer::Yes
    }

    pub fn is_no(self) -> bool {
        self == Answer::No
    }

    fn to_json(self) -> Value {
        match self {
            Answer::Yes => Value::Bool(true),
            Answer::No => Value::Bool(false),
            Answer::Unknown => Value::Null,
        }
    }
}

impl std::ops::Not for Answer {
    type Output = Answer;

    fn not(self) -> Answer {
        match self {
            Answer::Yes => Answer::No,
            Answer::No => Answer::Yes,
            Answer::Unknown => Answer::Unknown,
        }
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<bool>::deserialize(d)? {
            Some(b) => Answer::from_bool(b),
            None => Answer::Unknown,
        })
    }
}

/// Declares every question once: the enum of ids, its wire names, the question text, the
/// provision it serves and its default. Tables elsewhere refer to questions by `Q`.
macro_rules! questions {
    ($( $variant:ident = $id:literal, $cite:literal, $default:ident, $text:literal; )*) => {
        /// A question of the questionnaire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Q { $( $variant, )* }

        impl Q {
            pub const ALL: &'static [Q] = &[ $( Q::$variant, )* ];

            /// The wire name (a JSON key of `answers`).
            pub fn id(self) -> &'static str {
                match self { $( Q::$variant => $id, )* }
            }

            pub fn text(self) -> &'static str {
                match self { $( Q::$variant => $text, )* }
            }

            /// The provision of Regulation (EU) 2024/1689 the question serves.
            pub fn cite(self) -> &'static str {
                match self { $( Q::$variant => $cite, )* }
            }

            /// The answer assumed when a new questionnaire leaves the question out.
            pub fn default_answer(self) -> Answer {
                match self { $( Q::$variant => Answer::$default, )* }
            }

            pub fn parse(id: &str) -> Option<Q> {
                match id { $( $id => Some(Q::$variant), )* _ => None }
            }
        }
    };
}

questions! {
    // ---- Article 5(1): prohibited practices
    ManipulativeTechniques = "manipulative_techniques", "Article 5(1)(a)", Unknown,
        "Does the system deploy subliminal techniques beyond a person's consciousness, or purposefully manipulative or deceptive techniques?";
    MateriallyDistortsBehaviour = "materially_distorts_behaviour", "Article 5(1)(a)-(b)", Unknown,
        "Does it (by objective or effect) materially distort behaviour by appreciably impairing informed decisions, causing or being reasonably likely to cause significant harm?";
    ExploitsVulnerabilities = "exploits_vulnerabilities", "Article 5(1)(b)", Unknown,
        "Does it exploit vulnerabilities of persons due to their age, disability or a specific social or economic situation?";
    SocialScoring = "social_scoring", "Article 5(1)(c)", Unknown,
        "Does it evaluate or classify natural persons or groups over time based on their social behaviour or known, inferred or predicted personal characteristics (by any operator, public or private)?";
    SocialScoreDetrimentalTreatment = "social_score_detrimental_treatment", "Article 5(1)(c)(i)-(ii)", Unknown,
        "Does the score lead to detrimental or unfavourable treatment in social contexts unrelated to where the data was collected, or treatment unjustified or disproportionate to the behaviour?";
    PredictsCrimeFromProfiling = "predicts_crime_from_profiling", "Article 5(1)(d)", Unknown,
        "Does it assess or predict the risk of a natural person committing a criminal offence based solely on profiling or on assessing personality traits and characteristics?";
    SupportsHumanAssessmentOnFacts = "supports_human_assessment_on_facts", "Article 5(1)(d)", Unknown,
        "Does it only support a human assessment of a person's involvement in a criminal activity that is already based on objective, verifiable facts directly linked to that activity?";
    UntargetedFacialScraping = "untargeted_facial_scraping", "Article 5(1)(e)", Unknown,
        "Does it create or expand facial recognition databases through untargeted scraping of facial images from the internet or CCTV footage?";
    EmotionRecognition = "emotion_recognition", "Article 5(1)(f); Annex III 1(c); Article 50(3)", Unknown,
        "Does it infer emotions or intentions of natural persons from their biometric data (emotion recognition)?";
    WorkplaceOrEducation = "workplace_or_education", "Article 5(1)(f)", Unknown,
        "Is it used in the areas of the workplace or education institutions?";
    MedicalOrSafetyReasons = "medical_or_safety_reasons", "Article 5(1)(f)", Unknown,
        "Is the emotion recognition intended to be put in place or on the market for medical or safety reasons?";
    BiometricCategorisation = "biometric_categorisation", "Article 5(1)(g); Annex III 1(b); Article 50(3)", Unknown,
        "Does it categorise natural persons individually based on their biometric data?";
    CategorisationAncillary = "categorisation_ancillary", "Article 3(40)", Unknown,
        "Is the categorisation ancillary to another commercial service and strictly necessary for objective technical reasons (for example a virtual try-on or face filter), so that it is not a biometric categorisation system?";
    InfersSensitiveAttributes = "infers_sensitive_attributes", "Article 5(1)(g)", Unknown,
        "Does the categorisation deduce or infer any of the attributes Article 5(1)(g) lists: race, political opinions, trade union membership, religious or philosophical beliefs, sex life or sexual orientation?";
    ProtectedAttributes = "protected_attributes", "Annex III 1(b)", Unknown,
        "Does the categorisation sort persons according to other sensitive or protected attributes or characteristics not listed in Article 5(1)(g) (for example sex, age, disability or health) inferred from their biometric data?";
    LawfulDatasetLabelling = "lawful_dataset_labelling", "Article 5(1)(g)", Unknown,
        "Is it limited to labelling or filtering lawfully acquired biometric datasets, or to categorising biometric data in the area of law enforcement?";
    RemoteBiometricIdentification = "remote_biometric_identification", "Article 5(1)(h); Annex III 1(a)", Unknown,
        "Does it identify natural persons at a distance by comparing their biometric data with a reference database (remote biometric identification)?";
    BiometricVerificationOnly = "biometric_verification_only", "Annex III 1(a)", Unknown,
        "Is its sole purpose biometric verification, confirming that a specific person is who they claim to be (1:1)?";
    RealTime = "real_time", "Article 5(1)(h)", Unknown,
        "Does the identification happen in real time (capture, comparison and identification without significant delay)?";
    PubliclyAccessibleSpaces = "publicly_accessible_spaces", "Article 5(1)(h)", Unknown,
        "Is it used in publicly accessible spaces?";
    ForLawEnforcement = "for_law_enforcement", "Article 5(1)(h)", Unknown,
        "Is it used for the purpose of law enforcement?";
    LawEnforcementException = "law_enforcement_exception", "Article 5(1)(h)(i)-(iii), 5(2)-(7)", Unknown,
        "Is the use strictly necessary and authorised for one of the listed objectives: targeted search for victims of abduction, trafficking or sexual exploitation or missing persons; preventing a specific, substantial and imminent threat to life or a terrorist attack; or locating a suspect of an Annex II offence punishable by at least four years?";

    // ---- Article 6(1) and Annex I
    AnnexIProductOrSafetyComponent = "annex_i_product_or_safety_component", "Article 6(1)(a); Annex I", Unknown,
        "Is the system a product, or a safety component of a product, covered by the Union harmonisation legislation listed in Annex I?";
    ThirdPartyConformityAssessment = "third_party_conformity_assessment", "Article 6(1)(b)", Unknown,
        "Is that product required to undergo a third-party conformity assessment under that legislation?";

    // ---- Annex III
    CriticalInfrastructureSafety = "critical_infrastructure_safety", "Annex III 2", Unknown,
        "Is it a safety component in the management and operation of critical digital infrastructure, road traffic, or the supply of water, gas, heating or electricity?";
    EducationAccessAdmission = "education_access_admission", "Annex III 3(a)", Unknown,
        "Does it determine access or admission, or assign persons, to educational and vocational training institutions at all levels?";
    EducationEvaluatesOutcomes = "education_evaluates_outcomes", "Annex III 3(b)", Unknown,
        "Does it evaluate learning outcomes, including when used to steer the learning process?";
    EducationAssessesLevel = "education_assesses_level", "Annex III 3(c)", Unknown,
        "Does it assess the appropriate level of education a person will receive or be able to access?";
    EducationMonitorsTests = "education_monitors_tests", "Annex III 3(d)", Unknown,
        "Does it monitor and detect prohibited behaviour of students during tests?";
    EmploymentRecruitment = "employment_recruitment", "Annex III 4(a)", Unknown,
        "Is it used to recruit or select persons: placing targeted job advertisements, analysing and filtering applications, evaluating candidates?";
    EmploymentWorkDecisions = "employment_work_decisions", "Annex III 4(b)", Unknown,
        "Does it make decisions affecting terms of work relationships, promotion or termination, allocate tasks based on individual behaviour or traits, or monitor and evaluate performance and behaviour of workers?";
    PublicBenefitsEligibility = "public_benefits_eligibility", "Annex III 5(a)", Unknown,
        "Is it used by or on behalf of public authorities to evaluate eligibility for essential public assistance benefits and services (including healthcare), or to grant, reduce, revoke or reclaim them?";
    Creditworthiness = "creditworthiness", "Annex III 5(b)", Unknown,
        "Does it evaluate the creditworthiness of natural persons or establish their credit score?";
    FinancialFraudDetectionOnly = "financial_fraud_detection_only", "Annex III 5(b)", Unknown,
        "Is it used only to detect financial fraud?";
    InsuranceRiskPricing = "insurance_risk_pricing", "Annex III 5(c)", Unknown,
        "Is it used for risk assessment and pricing in relation to natural persons for insurance?";
    LifeOrHealthInsurance = "life_or_health_insurance", "Annex III 5(c)", Unknown,
        "Is that insurance life or health insurance?";
    EmergencyTriage = "emergency_triage", "Annex III 5(d)", Unknown,
        "Does it evaluate and classify emergency calls, dispatch or prioritise emergency first response services, or triage patients in emergency healthcare?";
    LeVictimRisk = "le_victim_risk", "Annex III 6(a)", Unknown,
        "Is it used by or on behalf of law enforcement to assess the risk of a natural person becoming the victim of criminal offences?";
    LePolygraph = "le_polygraph", "Annex III 6(b)", Unknown,
        "Is it used by or on behalf of law enforcement as a polygraph or similar tool?";
    LeEvidenceReliability = "le_evidence_reliability", "Annex III 6(c)", Unknown,
        "Is it used by or on behalf of law enforcement to evaluate the reliability of evidence in investigating or prosecuting criminal offences?";
    LeOffendingRisk = "le_offending_risk", "Annex III 6(d)", Unknown,
        "Is it used by or on behalf of law enforcement to assess the risk of offending or re-offending (not solely on profiling), or to assess personality traits or past criminal behaviour?";
    LeProfiling = "le_profiling", "Annex III 6(e)", Unknown,
        "Is it used by or on behalf of law enforcement to profile natural persons in the detection, investigation or prosecution of criminal offences?";
    MigrationPolygraph = "migration_polygraph", "Annex III 7(a)", Unknown,
        "Is it used by or on behalf of competent public authorities in migration, asylum or border control as a polygraph or similar tool?";
    MigrationRiskAssessment = "migration_risk_assessment", "Annex III 7(b)", Unknown,
        "Is it used by or on behalf of competent public authorities (or by Union institutions, bodies, offices or agencies) to assess a security, irregular-migration or health risk posed by a person who intends to enter or has entered a Member State?";
    MigrationApplications = "migration_applications", "Annex III 7(c)", Unknown,
        "Is it used by or on behalf of competent public authorities (or by Union institutions, bodies, offices or agencies) to assist the examination of applications for asylum, visa or residence permits and associated complaints, including assessing the reliability of evidence?";
    MigrationIdentification = "migration_identification", "Annex III 7(d)", Unknown,
        "Is it used by or on behalf of competent public authorities (or by Union institutions, bodies, offices or agencies) in migration, asylum or border control management to detect, recognise or identify natural persons?";
    TravelDocumentVerificationOnly = "travel_document_verification_only", "Annex III 7(d)", Unknown,
        "Is that identification limited to verifying travel documents?";
    JusticeAssistance = "justice_assistance", "Annex III 8(a)", Unknown,
        "Is it used by or on behalf of a judicial authority (or in alternative dispute resolution) to research and interpret facts and the law and apply the law to a concrete set of facts?";
    InfluencesElections = "influences_elections", "Annex III 8(b)", Unknown,
        "Is it intended to influence the outcome of an election or referendum or the voting behaviour of natural persons?";
    CampaignLogisticsOnly = "campaign_logistics_only", "Annex III 8(b)", Unknown,
        "Is it only a tool to organise, optimise or structure political campaigns administratively or logistically, whose output natural persons are not directly exposed to?";

    // ---- Article 6(3) derogation
    NarrowProceduralTask = "narrow_procedural_task", "Article 6(3)(a)", Unknown,
        "Is it intended only to perform a narrow procedural task?";
    ImprovesCompletedHumanActivity = "improves_completed_human_activity", "Article 6(3)(b)", Unknown,
        "Is it intended only to improve the result of a previously completed human activity?";
    DetectsPatternsWithoutReplacingHumans = "detects_patterns_without_replacing_humans", "Article 6(3)(c)", Unknown,
        "Does it only detect decision-making patterns or deviations from prior patterns, without replacing or influencing the completed human assessment without proper human review?";
    PreparatoryTask = "preparatory_task", "Article 6(3)(d)", Unknown,
        "Does it only perform a preparatory task to an assessment relevant for the Annex III use cases?";
    ProfilesNaturalPersons = "profiles_natural_persons", "Article 6(3), third subparagraph", Unknown,
        "Does it perform profiling of natural persons (Article 4(4) GDPR)?";
    MateriallyInfluencesOutcome = "materially_influences_outcome", "Article 6(3), first subparagraph", Unknown,
        "Does it nevertheless materially influence the outcome of decision-making, or otherwise pose a significant risk of harm to the health, safety or fundamental rights of natural persons?";

    // ---- Article 50 transparency
    InteractsWithHumans = "interacts_with_humans", "Article 50(1)", Yes,
        "Is it intended to interact directly with natural persons?";
    InteractionObvious = "interaction_obvious", "Article 50(1)", Unknown,
        "Is it obvious to a reasonably well-informed, observant and circumspect person that they interact with an AI system?";
    GeneratesSyntheticContent = "generates_synthetic_content", "Article 50(2)", Unknown,
        "Does it generate synthetic audio, image, video or text content?";
    AssistiveEditingOnly = "assistive_editing_only", "Article 50(2)", Unknown,
        "Does it only perform an assistive function for standard editing, or not substantially alter the input data?";
    GeneratesDeepfakes = "generates_deepfakes", "Article 50(4), first subparagraph", Unknown,
        "Does it generate or manipulate image, audio or video content constituting a deep fake?";
    PublicInterestText = "public_interest_text", "Article 50(4), second subparagraph", Unknown,
        "Does it generate or manipulate text published to inform the public on matters of public interest?";
    HumanEditorialControl = "human_editorial_control", "Article 50(4), second subparagraph", Unknown,
        "Has that text undergone human review or editorial control, with a person holding editorial responsibility?";

    // ---- Context that never raises the level by itself
    MakesAutomatedDecisions = "makes_automated_decisions", "Article 6; Article 22 GDPR", Yes,
        "Does it make or substantially support decisions about natural persons without a human taking them?";

    // ---- General-purpose AI models (Chapter V)
    GpaiModel = "gpai_model", "Article 3(63); Articles 51-55", Unknown,
        "Do you provide a general-purpose AI model: trained with a large amount of data, displaying significant generality, competently performing a wide range of distinct tasks and able to be integrated into downstream systems?";
    GpaiComputeAbove1e25 = "gpai_compute_above_1e25", "Article 51(2)", Unknown,
        "Was the cumulative amount of computation used to train the model greater than 10^25 floating-point operations?";
    GpaiDesignatedSystemicRisk = "gpai_designated_systemic_risk", "Article 51(1)(b); Article 52(4)", Unknown,
        "Has the Commission designated the model as a general-purpose AI model with systemic risk (ex officio or following a qualified alert of the scientific panel)?";
    GpaiOpenSource = "gpai_open_source", "Article 53(2); Article 54(6)", Unknown,
        "Is the model released under a free and open-source licence allowing its access, use, modification and distribution, with its parameters, architecture and usage information made publicly available?";
    GpaiPlacedBefore2025_08_02 = "gpai_placed_before_2025_08_02", "Article 111(3)", Unknown,
        "Was the model placed on the market before 2 August 2025?";

    // ---- Who is asking: the operator's role decides which obligations are theirs
    RoleProvider = "role_provider", "Article 3(3)", Unknown,
        "Do you develop the system or model (or have it developed) and place it on the market or put it into service under your own name or trademark (provider)?";
    RoleDeployer = "role_deployer", "Article 3(4)", Unknown,
        "Do you use the system under your authority in the course of a professional activity (deployer)?";
    RoleImporter = "role_importer", "Article 3(6)", Unknown,
        "Are you established in the Union and place on the market a system bearing the name or trademark of a person established in a third country (importer)?";
    RoleDistributor = "role_distributor", "Article 3(7)", Unknown,
        "Do you make the system available on the Union market in the supply chain, other than as its provider or importer (distributor)?";
    BecameProvider = "became_provider", "Article 25(1)", Unknown,
        "As a deployer, importer or distributor, have you put your name or trademark on a high-risk system already on the market, made a substantial modification to one, or changed a system's intended purpose so that it becomes high-risk?";
    PublicAuthority = "public_authority", "Articles 26(8), 27(1), 49(3)", Unknown,
        "Are you a public authority or body governed by public law, or a Union institution, body, office or agency, or acting on behalf of one?";
    PrivatePublicServices = "private_public_services", "Article 27(1)", Unknown,
        "Are you a private entity providing public services?";
    EstablishedOutsideUnion = "established_outside_union", "Articles 22, 54", Unknown,
        "Is the provider established in a third country, outside the Union?";
}

/// A full set of answers; absent questions are unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answers(BTreeMap<Q, Answer>);

impl Answers {
    /// These answers with each unanswered question that has a default
    /// (`interacts_with_humans`, `makes_automated_decisions`: yes) taking it, and the
    /// questions that did. Defaults are the classifier's assumption, not the client's
    /// answer, so they are applied here rather than stored.
    pub fn with_defaults_applied(&self) -> (Answers, BTreeSet<Q>) {
        let mut a = self.clone();
        let mut assumed = BTreeSet::new();
        for q in Q::ALL {
            let d = q.default_answer();
            if d != Answer::Unknown && self.get(*q) == Answer::Unknown {
                a.0.insert(*q, d);
                assumed.insert(*q);
            }
        }
        (a, assumed)
    }

    pub fn get(&self, q: Q) -> Answer {
        self.0.get(&q).copied().unwrap_or(Answer::Unknown)
    }

    pub fn set(&mut self, q: Q, a: Answer) -> &mut Self {
        if a == Answer::Unknown {
            self.0.remove(&q);
        } else {
            self.0.insert(q, a);
        }
        self
    }

    /// Builder form of [`Answers::set`] for tests and tables.
    pub fn with(mut self, q: Q, a: Answer) -> Self {
        self.set(q, a);
        self
    }

    pub fn yes(self, q: Q) -> Self {
        self.with(q, Answer::Yes)
    }

    pub fn no(self, q: Q) -> Self {
        self.with(q, Answer::No)
    }

    /// How many questions carry a yes or no.
    pub fn answered(&self) -> usize {
        self.0.len()
    }

    /// Parses a client's `answers` object. Every bad value is reported under
    /// `{prefix}.{question}`. Keys left out keep the value in `base` (nothing for a new
    /// questionnaire, the stored answers for a merge patch).
    pub fn parse(value: &Value, prefix: &str, base: Answers) -> Result<Answers, Vec<FieldError>> {
        let Some(obj) = value.as_object() else {
            return Err(vec![FieldError::new(
                prefix,
                "must be an object of question ids to true, false or null",
            )]);
        };
        let mut out = base;
        let mut errors = Vec::new();
        for (k, v) in obj {
            let field = format!("{prefix}.{k}");
            let Some(q) = Q::parse(k) else {
                errors.push(FieldError::new(
                    field,
                    "is not a question of this classifier",
                ));
                continue;
            };
            match v {
                Value::Bool(b) => {
                    out.set(q, Answer::from_bool(*b));
                }
                Value::Null => {
                    out.set(q, Answer::Unknown);
                }
                _ => errors.push(FieldError::new(
                    field,
                    "must be a JSON boolean (true or false) or null for unknown; strings such as \"false\" are not accepted",
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Every question with its answer (`null` for unknown), in a stable order.
    pub fn to_json(&self) -> Value {
        Value::Object(
            Q::ALL
                .iter()
                .map(|q| (q.id().to_string(), self.get(*q).to_json()))
                .collect(),
        )
    }
}

impl Serialize for Answers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Answers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = Value::deserialize(d)?;
        // Stored answers may name a question a later classifier version dropped; it no
        // longer matters, and must not make the stored system unreadable.
        if let Some(obj) = v.as_object_mut() {
            obj.retain(|k, _| Q::parse(k).is_some());
        }
        Answers::parse(&v, "answers", Answers::default()).map_err(|errs| {
            serde::de::Error::custom(
                errs.into_iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_and_null_parse_and_strings_are_rejected_with_their_field() {
        let a = Answers::parse(
            &json!({"social_scoring": true, "real_time": false, "emotion_recognition": null}),
            "answers",
            Answers::default(),
        )
        .unwrap();
        assert_eq!(a.get(Q::SocialScoring), Answer::Yes);
        assert_eq!(a.get(Q::RealTime), Answer::No);
        assert_eq!(a.get(Q::EmotionRecognition), Answer::Unknown);
        // Defaults are not answers: they stay unknown until the classifier assumes them.
        assert_eq!(a.get(Q::InteractsWithHumans), Answer::Unknown);
        let (effective, assumed) = a.with_defaults_applied();
        assert_eq!(effective.get(Q::InteractsWithHumans), Answer::Yes);
        assert_eq!(effective.get(Q::MakesAutomatedDecisions), Answer::Yes);
        assert_eq!(
            assumed.into_iter().collect::<Vec<_>>(),
            [Q::InteractsWithHumans, Q::MakesAutomatedDecisions]
        );

        let errs = Answers::parse(
            &json!({"social_scoring": "false", "real_time": 0, "nonsense": true}),
            "answers",
            Answers::default(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "answers.nonsense",
                "answers.real_time",
                "answers.social_scoring"
            ]
        );
    }

    #[test]
    fn defaults_can_be_answered_no_and_round_trip() {
        let a = Answers::parse(
            &json!({"interacts_with_humans": false}),
            "answers",
            Answers::default(),
        )
        .unwrap();
        assert_eq!(a.get(Q::InteractsWithHumans), Answer::No);
        let (effective, assumed) = a.with_defaults_applied();
        assert_eq!(effective.get(Q::InteractsWithHumans), Answer::No);
        assert!(!assumed.contains(&Q::InteractsWithHumans));
        let back: Answers = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        // A question retired by a later version is ignored when reading stored answers.
        let stored: Answers =
            serde_json::from_value(json!({"retired_question": true, "real_time": true})).unwrap();
        assert_eq!(stored.get(Q::RealTime), Answer::Yes);
        assert_eq!(stored.answered(), 1);
    }

    #[test]
    fn question_ids_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for q in Q::ALL {
            assert!(seen.insert(q.id()), "duplicate id {}", q.id());
            assert_eq!(Q::parse(q.id()), Some(*q));
            assert!(!q.text().is_empty() && !q.cite().is_empty());
        }
    }
}
