//! Table-driven tests: every Article 5 practice, every Annex III point, the exclusions,
//! the derogation, Article 50 and the boundaries between levels.
use chrono::NaiveDate;

use super::*;

/// Every question answered "no": the baseline each case changes.
pub(super) fn none() -> Answers {
    Q::ALL
        .iter()
        .fold(Answers::default(), |a, q| a.with(*q, Answer::No))
}

pub(super) fn with(yes: &[Q]) -> Answers {
    yes.iter().fold(none(), |a, q| a.yes(*q))
}

pub(super) fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(super) fn at(a: &Answers) -> Classification {
    classify(a, day("2026-09-01"))
}

pub(super) fn cites(c: &Classification, kind: ReasonKind) -> Vec<String> {
    c.reasons
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.citation.reference.clone())
        .collect()
}

const HIGH_RISK_OBLIGATIONS: [(&str, &str); 11] = [
    ("risk_management", "9"),
    ("data_governance", "10"),
    ("technical_documentation", "11"),
    ("record_keeping", "12"),
    ("transparency_to_deployers", "13"),
    ("human_oversight", "14"),
    ("accuracy_robustness_cybersecurity", "15"),
    ("quality_management", "17"),
    ("conformity_assessment", "43"),
    ("registration", "49"),
    ("post_market_monitoring", "72"),
];

fn assert_high_risk_obligations(c: &Classification, ctx: &str) {
    for (id, article) in HIGH_RISK_OBLIGATIONS {
        let o = c
            .obligations
            .iter()
            .find(|o| o.id == id)
            .unwrap_or_else(|| panic!("{ctx}: obligation {id} missing: {:#?}", c.obligations));
        assert!(
            o.citation.article.starts_with(article),
            "{ctx}: {id} cites Article {} not {article}",
            o.citation.article
        );
    }
}

#[test]
fn every_article_5_practice_is_unacceptable_with_its_citation() {
    use Q::*;
    let cases: &[(&[Q], &str)] = &[
        (
            &[ManipulativeTechniques, MateriallyDistortsBehaviour],
            "Article 5(1)(a)",
        ),
        (
            &[ExploitsVulnerabilities, MateriallyDistortsBehaviour],
            "Article 5(1)(b)",
        ),
        (
            &[SocialScoring, SocialScoreDetrimentalTreatment],
            "Article 5(1)(c)",
        ),
        (&[PredictsCrimeFromProfiling], "Article 5(1)(d)"),
        (&[UntargetedFacialScraping], "Article 5(1)(e)"),
        (
            &[EmotionRecognition, WorkplaceOrEducation],
            "Article 5(1)(f)",
        ),
        (
            &[BiometricCategorisation, InfersSensitiveAttributes],
            "Article 5(1)(g)",
        ),
        (
            &[
                RemoteBiometricIdentification,
                RealTime,
                PubliclyAccessibleSpaces,
                ForLawEnforcement,
            ],
            "Article 5(1)(h)",
        ),
    ];
    for (yes, cite) in cases {
        let c = at(&with(yes));
        assert_eq!(c.level, RiskLevel::Unacceptable, "{cite}");
        assert_eq!(c.status, ComplianceStatus::Prohibited, "{cite}");
        assert_eq!(
            cites(&c, ReasonKind::ProhibitedPractice),
            [cite.to_string()]
        );
        assert_eq!(c.obligations[0].id, "prohibited_practice", "{cite}");
        assert_eq!(c.confidence, Confidence::High, "{cite}");
    }
}

/// Each practice needs all of its conditions; without one the system falls to the level
/// the rest of the Act gives it.
#[test]
fn article_5_conditions_and_exceptions() {
    use Q::*;
    let cases: &[(&str, &[Q], RiskLevel, &str)] = &[
        (
            "manipulation without material distortion",
            &[ManipulativeTechniques],
            RiskLevel::Minimal,
            "",
        ),
        (
            "vulnerabilities without material distortion",
            &[ExploitsVulnerabilities],
            RiskLevel::Minimal,
            "",
        ),
        (
            "scoring without detrimental treatment",
            &[SocialScoring],
            RiskLevel::Minimal,
            "",
        ),
        (
            "crime prediction supporting a fact-based human assessment",
            &[PredictsCrimeFromProfiling, SupportsHumanAssessmentOnFacts],
            RiskLevel::Minimal,
            "Article 5(1)(d)",
        ),
        (
            "emotion recognition outside work and education",
            &[EmotionRecognition],
            RiskLevel::High,
            "Article 6(2), Annex III point 1(c)",
        ),
        (
            "emotion recognition at work for safety reasons",
            &[
                EmotionRecognition,
                WorkplaceOrEducation,
                MedicalOrSafetyReasons,
            ],
            RiskLevel::High,
            "Article 5(1)(f)",
        ),
        (
            "categorisation labelling lawful datasets",
            &[
                BiometricCategorisation,
                InfersSensitiveAttributes,
                LawfulDatasetLabelling,
            ],
            RiskLevel::High,
            "Article 5(1)(g)",
        ),
        (
            "real-time RBI in public not for law enforcement",
            &[
                RemoteBiometricIdentification,
                RealTime,
                PubliclyAccessibleSpaces,
            ],
            RiskLevel::High,
            "Article 6(2), Annex III point 1(a)",
        ),
        (
            "post (not real-time) RBI for law enforcement",
            &[
                RemoteBiometricIdentification,
                PubliclyAccessibleSpaces,
                ForLawEnforcement,
            ],
            RiskLevel::High,
            "Article 6(2), Annex III point 1(a)",
        ),
        (
            "real-time RBI for law enforcement under an authorised exception",
            &[
                RemoteBiometricIdentification,
                RealTime,
                PubliclyAccessibleSpaces,
                ForLawEnforcement,
                LawEnforcementException,
            ],
            RiskLevel::High,
            "Article 5(1)(h)",
        ),
    ];
    for (name, yes, level, cite) in cases {
        let c = at(&with(yes));
        assert_eq!(c.level, *level, "{name}: {:#?}", c.reasons);
        if !cite.is_empty() {
            assert!(
                c.reasons.iter().any(|r| r.citation.reference == *cite),
                "{name}: no reason cites {cite}: {:#?}",
                c.reasons
            );
        }
        if *level == RiskLevel::High {
            assert_high_risk_obligations(&c, name);
        }
    }
}

/// One questionnaire per Annex III sub-point: the answers that trigger it, its point and
/// sub-point.
pub(super) const ANNEX_III_CASES: &[(&[Q], &str, Option<&str>)] = {
    use Q::*;
    &[
        (&[RemoteBiometricIdentification], "1", Some("a")),
        (
            &[BiometricCategorisation, ProtectedAttributes],
            "1",
            Some("b"),
        ),
        (&[EmotionRecognition], "1", Some("c")),
        (&[CriticalInfrastructureSafety], "2", None),
        (&[EducationAccessAdmission], "3", Some("a")),
        (&[EducationEvaluatesOutcomes], "3", Some("b")),
        (&[EducationAssessesLevel], "3", Some("c")),
        (&[EducationMonitorsTests], "3", Some("d")),
        (&[EmploymentRecruitment], "4", Some("a")),
        (&[EmploymentWorkDecisions], "4", Some("b")),
        (&[PublicBenefitsEligibility], "5", Some("a")),
        (&[Creditworthiness], "5", Some("b")),
        (
            &[InsuranceRiskPricing, LifeOrHealthInsurance],
            "5",
            Some("c"),
        ),
        (&[EmergencyTriage], "5", Some("d")),
        (&[LeVictimRisk], "6", Some("a")),
        (&[LePolygraph], "6", Some("b")),
        (&[LeEvidenceReliability], "6", Some("c")),
        (&[LeOffendingRisk], "6", Some("d")),
        (&[LeProfiling], "6", Some("e")),
        (&[MigrationPolygraph], "7", Some("a")),
        (&[MigrationRiskAssessment], "7", Some("b")),
        (&[MigrationApplications], "7", Some("c")),
        (&[MigrationIdentification], "7", Some("d")),
        (&[JusticeAssistance], "8", Some("a")),
        (&[InfluencesElections], "8", Some("b")),
    ]
};

#[test]
fn every_annex_iii_point_is_high_risk_with_point_and_sub_point() {
    let cases = ANNEX_III_CASES;
    assert_eq!(
        cases.len(),
        annex3::use_cases().len(),
        "a case per sub-point"
    );
    for (yes, point, sub) in cases {
        let ctx = format!("Annex III {point}{}", sub.unwrap_or(""));
        let c = at(&with(yes));
        assert_eq!(c.level, RiskLevel::High, "{ctx}");
        let r = c
            .reasons
            .iter()
            .find(|r| r.kind == ReasonKind::HighRisk)
            .unwrap_or_else(|| panic!("{ctx}: no high-risk reason"));
        assert_eq!(r.citation.article, "6(2)");
        assert_eq!(r.citation.annex.as_deref(), Some("III"));
        assert_eq!(r.citation.point.as_deref(), Some(*point));
        assert_eq!(r.citation.sub_point.as_deref(), *sub);
        assert_high_risk_obligations(&c, &ctx);
        assert_eq!(c.status, ComplianceStatus::ObligationsApply, "{ctx}");
    }
}

#[test]
fn annex_iii_exclusions() {
    use Q::*;
    let cases: &[(&str, &[Q], &str)] = &[
        (
            "1:1 biometric verification",
            &[RemoteBiometricIdentification, BiometricVerificationOnly],
            "annex3_1_a",
        ),
        (
            "categorisation by non-protected features",
            &[BiometricCategorisation],
            "annex3_1_b",
        ),
        (
            "credit scoring only for fraud detection",
            &[Creditworthiness, FinancialFraudDetectionOnly],
            "annex3_5_b",
        ),
        (
            "pricing of car insurance",
            &[InsuranceRiskPricing],
            "annex3_5_c",
        ),
        (
            "travel document verification",
            &[MigrationIdentification, TravelDocumentVerificationOnly],
            "annex3_7_d",
        ),
        (
            "campaign logistics",
            &[InfluencesElections, CampaignLogisticsOnly],
            "annex3_8_b",
        ),
    ];
    for (name, yes, rule) in cases {
        let c = at(&with(yes));
        assert_ne!(c.level, RiskLevel::High, "{name}");
        assert!(
            c.reasons
                .iter()
                .any(|r| r.kind == ReasonKind::Exclusion && r.rule == *rule),
            "{name}: {:#?}",
            c.reasons
        );
    }
}

#[test]
fn unsettled_exclusion_keeps_high_risk_and_names_the_question() {
    let c = at(&with(&[Q::Creditworthiness]).with(Q::FinancialFraudDetectionOnly, Answer::Unknown));
    assert_eq!(c.level, RiskLevel::High);
    assert_eq!(c.confidence, Confidence::Medium);
    assert_eq!(c.status, ComplianceStatus::Incomplete);
    assert_eq!(c.unanswered.len(), 1);
    assert_eq!(c.unanswered[0].question, "financial_fraud_detection_only");
    assert_eq!(c.unanswered[0].effects, [Effect::CouldLiftHighRisk]);
}

#[test]
fn article_6_3_derogation() {
    use Q::*;
    for (cond, sub) in derogation::CONDITIONS {
        let c = at(&with(&[EmploymentRecruitment, cond]));
        assert_eq!(c.level, RiskLevel::Minimal, "6(3)({sub})");
        assert!(
            c.reasons.iter().any(|r| r.kind == ReasonKind::Derogation
                && r.citation.reference == format!("Article 6(3)({sub})")),
            "6(3)({sub}): {:#?}",
            c.reasons
        );
        let ids: Vec<&str> = c.obligations.iter().map(|o| o.id.as_str()).collect();
        assert!(ids.contains(&"derogation_assessment") && ids.contains(&"registration"));
        assert_eq!(
            c.obligations
                .iter()
                .find(|o| o.id == "registration")
                .unwrap()
                .citation
                .article,
            "49(2)"
        );

        // Never when the system profiles natural persons.
        let c = at(&with(&[
            EmploymentRecruitment,
            cond,
            ProfilesNaturalPersons,
        ]));
        assert_eq!(c.level, RiskLevel::High, "6(3)({sub}) with profiling");
        assert_eq!(
            cites(&c, ReasonKind::DerogationRefused),
            ["Article 6(3), third subparagraph"]
        );
        assert_high_risk_obligations(&c, "profiling");

        // Not established while profiling is unanswered.
        let c =
            at(&with(&[EmploymentRecruitment, cond]).with(ProfilesNaturalPersons, Answer::Unknown));
        assert_eq!(c.level, RiskLevel::High);
        assert_eq!(c.unanswered[0].question, "profiles_natural_persons");
        assert_eq!(c.unanswered[0].effects, [Effect::CouldLiftHighRisk]);
    }
    // The derogation keeps Article 50 duties and does not reach Annex I products.
    let c = at(&with(&[
        EmploymentRecruitment,
        NarrowProceduralTask,
        InteractsWithHumans,
    ]));
    assert_eq!(c.level, RiskLevel::Limited);
    let c = at(&with(&[
        AnnexIProductOrSafetyComponent,
        ThirdPartyConformityAssessment,
        NarrowProceduralTask,
    ]));
    assert_eq!(c.level, RiskLevel::High);
}

#[test]
fn annex_i_products_need_third_party_assessment_and_apply_from_2027() {
    use Q::*;
    let c = at(&with(&[AnnexIProductOrSafetyComponent]));
    assert_eq!(c.level, RiskLevel::Minimal);
    let a = with(&[
        AnnexIProductOrSafetyComponent,
        ThirdPartyConformityAssessment,
    ]);
    let c = at(&a);
    assert_eq!(c.level, RiskLevel::High);
    assert_eq!(cites(&c, ReasonKind::HighRisk), ["Article 6(1), Annex I"]);
    assert_high_risk_obligations(&c, "Annex I");
    let conformity = c
        .obligations
        .iter()
        .find(|o| o.id == "conformity_assessment")
        .unwrap();
    assert_eq!(conformity.citation.article, "43(3)");
    assert_eq!(c.status, ComplianceStatus::ObligationsPending);
    assert_eq!(
        classify(&a, day("2027-08-02")).status,
        ComplianceStatus::ObligationsApply
    );
}

#[test]
fn article_50_duties_and_their_exceptions() {
    use Q::*;
    let cases: &[(&str, &[Q], &[&str])] = &[
        ("chatbot", &[InteractsWithHumans], &["art50_1"]),
        (
            "obvious chatbot",
            &[InteractsWithHumans, InteractionObvious],
            &[],
        ),
        ("generator", &[GeneratesSyntheticContent], &["art50_2"]),
        (
            "editing aid",
            &[GeneratesSyntheticContent, AssistiveEditingOnly],
            &[],
        ),
        ("deep fakes", &[GeneratesDeepfakes], &["art50_4_deepfake"]),
        ("news text", &[PublicInterestText], &["art50_4_text"]),
        (
            "edited news text",
            &[PublicInterestText, HumanEditorialControl],
            &[],
        ),
        (
            "biometric categorisation",
            &[BiometricCategorisation],
            &["art50_3"],
        ),
    ];
    for (name, yes, want) in cases {
        let c = at(&with(yes));
        let got: Vec<&str> = c.article50_duties.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(got, *want, "{name}");
        let expected = if want.is_empty() {
            RiskLevel::Minimal
        } else {
            RiskLevel::Limited
        };
        assert_eq!(c.level, expected, "{name}");
    }
    // Duties stack on high-risk: emotion recognition is Annex III 1(c) and Article 50(3).
    let c = at(&with(&[
        EmotionRecognition,
        InteractsWithHumans,
        GeneratesSyntheticContent,
    ]));
    assert_eq!(c.level, RiskLevel::High);
    let got: Vec<&str> = c.article50_duties.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(got, ["art50_1", "art50_2", "art50_3"]);
    assert_high_risk_obligations(&c, "stacked");
}

#[test]
fn level_boundaries() {
    use Q::*;
    let cases: &[(&str, Answers, RiskLevel)] = &[
        ("nothing applies", none(), RiskLevel::Minimal),
        (
            "automated decisions alone",
            with(&[MakesAutomatedDecisions]),
            RiskLevel::Minimal,
        ),
        (
            "transparency only",
            with(&[InteractsWithHumans]),
            RiskLevel::Limited,
        ),
        (
            "high-risk beats transparency",
            with(&[InteractsWithHumans, EducationMonitorsTests]),
            RiskLevel::High,
        ),
        (
            "prohibition beats high-risk",
            with(&[UntargetedFacialScraping, EmploymentRecruitment]),
            RiskLevel::Unacceptable,
        ),
    ];
    for (name, a, level) in cases {
        assert_eq!(at(a).level, *level, "{name}");
    }
    let c = at(&with(&[MakesAutomatedDecisions]));
    assert!(
        c.reasons
            .iter()
            .any(|r| r.rule == "art6_automated_decisions")
    );
    assert_eq!(c.status, ComplianceStatus::NoObligations);
    // Automated decisions on an Annex III system add the deployer's Article 86 duty.
    let c = at(&with(&[MakesAutomatedDecisions, Creditworthiness]));
    assert!(
        c.obligations
            .iter()
            .any(|o| o.id == "right_to_explanation" && o.citation.article == "86")
    );
}

#[test]
fn unknown_is_never_read_as_yes() {
    // A practice whose last condition is unanswered is possible, not found.
    let a = with(&[Q::SocialScoring]).with(Q::SocialScoreDetrimentalTreatment, Answer::Unknown);
    let c = at(&a);
    assert_eq!(c.level, RiskLevel::Minimal);
    assert_eq!(c.confidence, Confidence::Low);
    assert_eq!(c.status, ComplianceStatus::Incomplete);
    assert_eq!(c.unanswered.len(), 1);
    assert_eq!(
        c.unanswered[0].question,
        "social_score_detrimental_treatment"
    );
    assert_eq!(c.unanswered[0].effects, [Effect::CouldMakeUnacceptable]);

    // An empty questionnaire: only the defaults are known; everything else is open.
    let c = at(&Answers::default());
    assert_eq!(
        c.level,
        RiskLevel::Limited,
        "interacts_with_humans defaults to yes"
    );
    assert_eq!(c.confidence, Confidence::Low);
    assert!(c.unanswered.iter().any(
        |u| u.question == "employment_recruitment" && u.effects == [Effect::CouldMakeHighRisk]
    ));
    assert!(
        c.unanswered
            .iter()
            .any(|u| u.question == "interaction_obvious"
                && u.effects == [Effect::CouldLiftTransparencyDuty])
    );

    // Once a prohibition is certain, nothing else matters.
    let c =
        at(&with(&[Q::UntargetedFacialScraping]).with(Q::EmploymentRecruitment, Answer::Unknown));
    assert!(c.unanswered.is_empty());
    assert_eq!(c.confidence, Confidence::High);

    // An unanswered exception to a prohibition leaves it standing but uncertain.
    let c = at(&with(&[Q::PredictsCrimeFromProfiling])
        .with(Q::SupportsHumanAssessmentOnFacts, Answer::Unknown));
    assert_eq!(c.level, RiskLevel::Unacceptable);
    assert_eq!(c.confidence, Confidence::Low);
    assert_eq!(c.unanswered[0].effects, [Effect::CouldLiftProhibition]);
}

#[test]
fn obligations_become_applicable_on_their_dates() {
    let a = with(&[Q::EmploymentRecruitment]);
    assert_eq!(
        classify(&a, day("2026-08-01")).status,
        ComplianceStatus::ObligationsPending
    );
    assert_eq!(
        classify(&a, day("2026-08-02")).status,
        ComplianceStatus::ObligationsApply
    );
    let chatbot = with(&[Q::InteractsWithHumans]);
    assert_eq!(
        classify(&chatbot, day("2026-03-01")).status,
        ComplianceStatus::ObligationsPending
    );
    let prohibited = with(&[Q::UntargetedFacialScraping]);
    assert_eq!(
        classify(&prohibited, day("2025-02-02")).status,
        ComplianceStatus::Prohibited
    );
}

#[test]
fn deterministic_versioned_and_round_trips() {
    let a = with(&[Q::EmotionRecognition, Q::InteractsWithHumans])
        .with(Q::ProfilesNaturalPersons, Answer::Unknown);
    let one = at(&a);
    assert_eq!(one, at(&a));
    assert_eq!(one.classifier_version, CLASSIFIER_VERSION);
    let back: Classification = serde_json::from_value(serde_json::to_value(&one).unwrap()).unwrap();
    assert_eq!(back, one);
    let json = serde_json::to_value(&one).unwrap();
    assert_eq!(json["level"], "high");
    assert_eq!(
        json["reasons"][0]["citation"]["reference"],
        "Article 6(2), Annex III point 1(c)"
    );
}
