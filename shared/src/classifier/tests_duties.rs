//! Table-driven tests of who owes what (roles, Articles 16-27, 49, 73, 86, 5(2)-(7)),
//! the reasons for what does not apply, uncertainty, defaults, general-purpose AI models
//! and the Article 113 dates.
#![allow(clippy::type_complexity)] // case tables are tuples, one row per case
use super::tests::{ANNEX_III_CASES, at, day, none, with};
use super::*;

fn ob<'a>(c: &'a Classification, id: &str) -> Option<&'a Obligation> {
    c.obligations.iter().find(|o| o.id == id)
}

fn ob_ids(c: &Classification) -> Vec<&str> {
    c.obligations.iter().map(|o| o.id.as_str()).collect()
}

/// Asserts that each `(id, article)` is listed with that article and each id of
/// `absent` is not.
fn assert_obligations(c: &Classification, ctx: &str, present: &[(&str, &str)], absent: &[&str]) {
    for (id, article) in present {
        let o = ob(c, id).unwrap_or_else(|| panic!("{ctx}: {id} missing from {:?}", ob_ids(c)));
        assert_eq!(o.citation.article, *article, "{ctx}: {id}");
    }
    for id in absent {
        assert!(ob(c, id).is_none(), "{ctx}: {id} should not be listed");
    }
}

const PROVIDER_DUTIES: &[(&str, &str)] = &[
    ("provider_obligations", "16"),
    ("quality_management", "17"),
    ("documentation_keeping", "18"),
    ("automatically_generated_logs", "19"),
    ("corrective_actions", "20"),
    ("cooperation_with_authorities", "21"),
    ("eu_declaration_of_conformity", "47"),
    ("ce_marking", "48"),
    ("post_market_monitoring", "72"),
    ("serious_incident_reporting", "73"),
];

const DEPLOYER_DUTIES: &[(&str, &str)] = &[
    ("deployer_use_per_instructions", "26(1)"),
    ("deployer_human_oversight", "26(2)"),
    ("deployer_input_data", "26(4)"),
    ("deployer_monitoring", "26(5)"),
    ("deployer_logs", "26(6)"),
    ("deployer_dpia", "26(9)"),
    ("deployer_cooperation", "26(12)"),
];

const IMPORTER_DUTIES: &[(&str, &str)] = &[
    ("importer_verification", "23(1)"),
    ("importer_non_conformity", "23(2)"),
    ("importer_identification", "23(3)"),
    ("importer_storage_transport", "23(4)"),
    ("importer_keep_documents", "23(5)"),
    ("importer_cooperation", "23(6)-(7)"),
];

const DISTRIBUTOR_DUTIES: &[(&str, &str)] = &[
    ("distributor_verification", "24(1)"),
    ("distributor_non_conformity", "24(2)"),
    ("distributor_storage_transport", "24(3)"),
    ("distributor_corrective_actions", "24(4)"),
    ("distributor_cooperation", "24(5)-(6)"),
];

fn first_ids<'a>(duties: &[(&'a str, &str)]) -> Vec<&'a str> {
    duties.iter().map(|(id, _)| *id).collect()
}

#[test]
fn each_role_gets_its_own_high_risk_obligations() {
    use Q::*;
    let cv = [EmploymentRecruitment];
    let cases: &[(
        &str,
        &[Q],
        &[Addressee],
        &[&[(&str, &str)]],
        &[&[(&str, &str)]],
    )] = &[
        (
            "provider",
            &[RoleProvider],
            &[Addressee::Provider],
            &[PROVIDER_DUTIES],
            &[DEPLOYER_DUTIES, IMPORTER_DUTIES, DISTRIBUTOR_DUTIES],
        ),
        (
            "deployer",
            &[RoleDeployer],
            &[Addressee::Deployer],
            &[DEPLOYER_DUTIES],
            &[PROVIDER_DUTIES, IMPORTER_DUTIES, DISTRIBUTOR_DUTIES],
        ),
        (
            "importer",
            &[RoleImporter],
            &[Addressee::Importer],
            &[IMPORTER_DUTIES],
            &[PROVIDER_DUTIES, DEPLOYER_DUTIES, DISTRIBUTOR_DUTIES],
        ),
        (
            "distributor",
            &[RoleDistributor],
            &[Addressee::Distributor],
            &[DISTRIBUTOR_DUTIES],
            &[PROVIDER_DUTIES, DEPLOYER_DUTIES, IMPORTER_DUTIES],
        ),
        (
            "deployer that became the provider (Article 25(1))",
            &[RoleDeployer, BecameProvider],
            &[Addressee::Provider, Addressee::Deployer],
            &[PROVIDER_DUTIES, DEPLOYER_DUTIES],
            &[IMPORTER_DUTIES, DISTRIBUTOR_DUTIES],
        ),
        (
            "distributor that rebranded the system (Article 25(1)(a))",
            &[RoleDistributor, BecameProvider],
            &[Addressee::Provider, Addressee::Distributor],
            &[PROVIDER_DUTIES, DISTRIBUTOR_DUTIES],
            &[DEPLOYER_DUTIES, IMPORTER_DUTIES],
        ),
        (
            "no role answered: every role's duties",
            &[],
            &Addressee::ALL,
            &[
                PROVIDER_DUTIES,
                DEPLOYER_DUTIES,
                IMPORTER_DUTIES,
                DISTRIBUTOR_DUTIES,
            ],
            &[],
        ),
    ];
    for (name, roles, want_roles, present, absent) in cases {
        let yes: Vec<Q> = cv.iter().chain(roles.iter()).copied().collect();
        let c = at(&with(&yes));
        assert_eq!(c.level, RiskLevel::High, "{name}");
        assert_eq!(c.roles, *want_roles, "{name}");
        for set in *present {
            assert_obligations(&c, name, set, &[]);
        }
        for set in *absent {
            assert_obligations(&c, name, &[], &first_ids(set));
        }
        assert!(
            c.obligations
                .iter()
                .all(|o| want_roles.contains(&o.addressee)),
            "{name}: an obligation of another role is listed"
        );
        let art25 = c.reasons.iter().any(|r| r.rule == "art25_1");
        assert_eq!(art25, roles.contains(&BecameProvider), "{name}");
        let unanswered_note = c.reasons.iter().any(|r| r.rule == "roles_unanswered");
        assert_eq!(unanswered_note, roles.is_empty(), "{name}");
    }
    // Article 25 only turns a deployer into a provider of a high-risk system.
    let c = at(&with(&[RoleDeployer, BecameProvider, InteractsWithHumans]));
    assert_eq!(c.level, RiskLevel::Limited);
    assert_eq!(c.roles, [Addressee::Deployer]);
}

#[test]
fn every_level_lists_obligations_by_role() {
    use Q::*;
    // (case, answers, role, ids that must be listed with their article)
    let cases: &[(&str, &[Q], Q, &[(&str, &str)])] = &[
        (
            "prohibited, provider",
            &[UntargetedFacialScraping],
            RoleProvider,
            &[("prohibited_practice", "5(1)")],
        ),
        (
            "prohibited, deployer",
            &[UntargetedFacialScraping],
            RoleDeployer,
            &[("prohibited_use", "5(1)")],
        ),
        (
            "prohibited, importer",
            &[UntargetedFacialScraping],
            RoleImporter,
            &[("prohibited_import", "5(1)")],
        ),
        (
            "prohibited, distributor",
            &[UntargetedFacialScraping],
            RoleDistributor,
            &[("prohibited_distribution", "5(1)")],
        ),
        (
            "chatbot, provider",
            &[InteractsWithHumans],
            RoleProvider,
            &[("art50_1", "50(1)"), ("ai_literacy", "4")],
        ),
        (
            "deep fakes, deployer",
            &[GeneratesDeepfakes],
            RoleDeployer,
            &[("art50_4_deepfake", "50(4)"), ("deployer_ai_literacy", "4")],
        ),
        (
            "minimal, deployer",
            &[],
            RoleDeployer,
            &[("deployer_ai_literacy", "4")],
        ),
        (
            "derogation, provider",
            &[EmploymentRecruitment, PreparatoryTask],
            RoleProvider,
            &[("derogation_assessment", "6(4)"), ("registration", "49(2)")],
        ),
    ];
    for (name, yes, role, present) in cases {
        let mut all: Vec<Q> = yes.to_vec();
        all.push(*role);
        let c = at(&with(&all));
        assert_obligations(&c, name, present, &[]);
        assert_eq!(c.roles.len(), 1, "{name}");
        assert!(
            c.obligations.iter().all(|o| o.addressee == c.roles[0]),
            "{name}: {:?}",
            c.obligations
        );
    }
    // A chatbot deployer owes none of the provider's Article 50(1) duty.
    let c = at(&with(&[InteractsWithHumans, RoleDeployer]));
    assert!(ob(&c, "art50_1").is_none());
    assert_eq!(
        c.article50_duties.len(),
        1,
        "the system's duty is still reported"
    );
}

#[test]
fn deployer_duties_follow_the_annex_iii_point_and_who_deploys() {
    use Q::*;
    // (case, yes, unknown, present, absent)
    let cases: &[(&str, &[Q], &[Q], &[(&str, &str)], &[&str])] = &[
        (
            "private employer screening CVs",
            &[EmploymentRecruitment, RoleDeployer],
            &[],
            &[
                ("deployer_inform_workers", "26(7)"),
                ("right_to_explanation", "86"),
                ("deployer_inform_affected_persons", "26(11)"),
            ],
            &[
                "fundamental_rights_impact_assessment",
                "deployer_registration",
            ],
        ),
        (
            "public authority granting benefits",
            &[PublicBenefitsEligibility, RoleDeployer, PublicAuthority],
            &[],
            &[
                ("fundamental_rights_impact_assessment", "27"),
                ("deployer_registration", "49(3)"),
                ("right_to_explanation", "86"),
            ],
            &["deployer_inform_workers"],
        ),
        (
            "private entity providing public services (education)",
            &[
                EducationAccessAdmission,
                RoleDeployer,
                PrivatePublicServices,
            ],
            &[],
            &[("fundamental_rights_impact_assessment", "27")],
            &["deployer_registration"],
        ),
        (
            "private bank scoring credit (Annex III 5(b))",
            &[Creditworthiness, RoleDeployer],
            &[],
            &[("fundamental_rights_impact_assessment", "27")],
            &["deployer_registration"],
        ),
        (
            "private life insurer pricing (Annex III 5(c))",
            &[InsuranceRiskPricing, LifeOrHealthInsurance, RoleDeployer],
            &[],
            &[("fundamental_rights_impact_assessment", "27")],
            &[],
        ),
        (
            "public character unanswered: listed with a note",
            &[EmploymentRecruitment, RoleDeployer],
            &[PublicAuthority, PrivatePublicServices],
            &[
                ("fundamental_rights_impact_assessment", "27"),
                ("deployer_registration", "49(3)"),
            ],
            &[],
        ),
        (
            "public critical infrastructure operator (point 2 only)",
            &[CriticalInfrastructureSafety, RoleDeployer, PublicAuthority],
            &[],
            &[("deployer_use_per_instructions", "26(1)")],
            &[
                "fundamental_rights_impact_assessment",
                "deployer_registration",
                "right_to_explanation",
                "deployer_inform_affected_persons",
            ],
        ),
        (
            "post-remote biometric identification by the police",
            &[
                RemoteBiometricIdentification,
                RoleDeployer,
                ForLawEnforcement,
            ],
            &[],
            &[("post_remote_biometric_identification", "26(10)")],
            &[],
        ),
        (
            "post-remote biometric identification in retail",
            &[RemoteBiometricIdentification, RoleDeployer],
            &[],
            &[],
            &["post_remote_biometric_identification"],
        ),
        (
            "Annex I product: no Annex III deployer duties",
            &[
                AnnexIProductOrSafetyComponent,
                ThirdPartyConformityAssessment,
                RoleDeployer,
                PublicAuthority,
            ],
            &[],
            &[("deployer_use_per_instructions", "26(1)")],
            &[
                "fundamental_rights_impact_assessment",
                "deployer_registration",
                "right_to_explanation",
            ],
        ),
    ];
    for (name, yes, unknown, present, absent) in cases {
        let a = unknown
            .iter()
            .fold(with(yes), |a, q| a.with(*q, Answer::Unknown));
        let c = at(&a);
        assert_eq!(c.level, RiskLevel::High, "{name}");
        assert_obligations(&c, name, present, absent);
        if !unknown.is_empty() {
            for (id, _) in *present {
                assert!(
                    ob(&c, id)
                        .unwrap()
                        .note
                        .as_deref()
                        .unwrap_or("")
                        .starts_with("Applies to"),
                    "{name}: {id} has no conditional note"
                );
            }
        }
    }
}

#[test]
fn article_86_on_every_annex_iii_point_but_2_whatever_the_automation_answer() {
    for automated in [Answer::No, Answer::Yes, Answer::Unknown] {
        for (yes, point, sub) in ANNEX_III_CASES {
            let c = at(&with(yes).with(Q::MakesAutomatedDecisions, automated));
            let ctx = format!(
                "Annex III {point}{} automated={automated:?}",
                sub.unwrap_or("")
            );
            assert_eq!(c.level, RiskLevel::High, "{ctx}");
            let art86 = ob(&c, "right_to_explanation");
            assert_eq!(art86.is_some(), *point != "2", "{ctx}");
            if let Some(o) = art86 {
                assert_eq!(
                    (o.citation.article.as_str(), o.addressee),
                    ("86", Addressee::Deployer),
                    "{ctx}"
                );
            }
        }
    }
    let c = at(&with(&[
        Q::AnnexIProductOrSafetyComponent,
        Q::ThirdPartyConformityAssessment,
    ]));
    assert!(ob(&c, "right_to_explanation").is_none(), "Annex I only");
}

#[test]
fn permitted_real_time_identification_carries_the_article_5_2_to_7_conditions() {
    use Q::*;
    let base = [
        RemoteBiometricIdentification,
        RealTime,
        PubliclyAccessibleSpaces,
        ForLawEnforcement,
    ];
    let c = at(&with(&[&base[..], &[LawEnforcementException]].concat()));
    assert_eq!(c.level, RiskLevel::High);
    assert_obligations(
        &c,
        "excepted real-time RBI",
        &[
            ("rbi_strict_necessity", "5(2)"),
            ("rbi_fria_and_registration", "5(2)"),
            ("rbi_prior_authorisation", "5(3)"),
            ("rbi_notify_authorities", "5(4)"),
            ("rbi_national_law", "5(5)"),
            ("deployer_use_per_instructions", "26(1)"),
            ("risk_management", "9"),
        ],
        &["post_remote_biometric_identification"],
    );
    assert!(
        ob(&c, "rbi_notify_authorities")
            .and_then(|o| o.note.as_deref())
            .is_some_and(|n| n.contains("5(6)") && n.contains("5(7)"))
    );
    assert!(
        ob(&c, "registration")
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("49(4)")
    );
    // Without the exception it is prohibited, and no condition can make it lawful.
    let c = at(&with(&base));
    assert_eq!(c.level, RiskLevel::Unacceptable);
    assert!(ob(&c, "rbi_prior_authorisation").is_none());
    // Post-remote identification by the police is no Article 5(1)(h) case.
    let c = at(&with(&[
        RemoteBiometricIdentification,
        ForLawEnforcement,
        LawEnforcementException,
    ]));
    assert!(ob(&c, "rbi_prior_authorisation").is_none());
    assert!(ob(&c, "post_remote_biometric_identification").is_some());
}

#[test]
fn every_answered_exclusion_gives_its_reason_and_citation() {
    use Q::*;
    // (case, yes, level, rule, cited article)
    let cases: &[(&str, &[Q], RiskLevel, &str, &str)] = &[
        (
            "no to identification: the system only verifies (1:1)",
            &[BiometricVerificationOnly],
            RiskLevel::Minimal,
            "annex3_1_a",
            "6(2)",
        ),
        (
            "verification system answering yes to both",
            &[RemoteBiometricIdentification, BiometricVerificationOnly],
            RiskLevel::Minimal,
            "annex3_1_a",
            "6(2)",
        ),
        (
            "no to creditworthiness: fraud detection only",
            &[FinancialFraudDetectionOnly],
            RiskLevel::Minimal,
            "annex3_5_b",
            "6(2)",
        ),
        (
            "Annex I product without third-party assessment",
            &[AnnexIProductOrSafetyComponent],
            RiskLevel::Minimal,
            "art6_1_annex1",
            "6(1)",
        ),
        (
            "travel documents only",
            &[TravelDocumentVerificationOnly],
            RiskLevel::Minimal,
            "annex3_7_d",
            "6(2)",
        ),
        (
            "campaign logistics only",
            &[CampaignLogisticsOnly],
            RiskLevel::Minimal,
            "annex3_8_b",
            "6(2)",
        ),
        (
            "car insurance pricing",
            &[InsuranceRiskPricing],
            RiskLevel::Minimal,
            "annex3_5_c",
            "6(2)",
        ),
        (
            "obvious chatbot",
            &[InteractsWithHumans, InteractionObvious],
            RiskLevel::Minimal,
            "art50_1",
            "50(1)",
        ),
        (
            "virtual try-on categorising by sex (Article 3(40))",
            &[
                BiometricCategorisation,
                ProtectedAttributes,
                CategorisationAncillary,
            ],
            RiskLevel::Minimal,
            "annex3_1_b",
            "3(40)",
        ),
        (
            "ancillary filter inferring a 5(1)(g) attribute",
            &[
                BiometricCategorisation,
                InfersSensitiveAttributes,
                CategorisationAncillary,
            ],
            RiskLevel::Minimal,
            "art5_1_g",
            "3(40)",
        ),
        (
            "ancillary filter: no Article 50(3) duty",
            &[BiometricCategorisation, CategorisationAncillary],
            RiskLevel::Minimal,
            "art50_3",
            "3(40)",
        ),
        (
            "emotion recognition for safety, not workplace",
            &[MedicalOrSafetyReasons],
            RiskLevel::Minimal,
            "art5_1_f",
            "5(1)(f)",
        ),
    ];
    for (name, yes, level, rule, article) in cases {
        let c = at(&with(yes));
        assert_eq!(c.level, *level, "{name}: {:#?}", c.reasons);
        let r = c
            .reasons
            .iter()
            .find(|r| r.kind == ReasonKind::Exclusion && r.rule == *rule)
            .unwrap_or_else(|| panic!("{name}: no exclusion for {rule}: {:#?}", c.reasons));
        assert_eq!(r.citation.article, *article, "{name}");
        assert!(!r.summary.is_empty());
    }
    // Emotion recognition keeps its Article 50(3) duty even beside an ancillary filter.
    let c = at(&with(&[
        EmotionRecognition,
        BiometricCategorisation,
        CategorisationAncillary,
    ]));
    assert!(c.article50_duties.iter().any(|d| d.id == "art50_3"));
    // A permitted use means nothing without its trigger, so it gives no reason.
    let c = at(&with(&[LawEnforcementException]));
    assert!(!c.reasons.iter().any(|r| r.rule == "art5_1_h"));
}

#[test]
fn why_not_is_answered_for_every_provision_not_triggered() {
    let c = at(&none());
    let t = &*TABLES;
    let rules = t
        .article5
        .iter()
        .chain(&t.annex1)
        .chain(&t.annex3)
        .chain(t.article50.iter().map(|d| &d.rule));
    for r in rules {
        let n = c
            .not_triggered
            .iter()
            .find(|n| n.rule == r.id)
            .unwrap_or_else(|| panic!("{}: no reason it does not apply", r.id));
        assert_eq!(n.kind, ReasonKind::NotTriggered);
        assert_eq!(n.citation, r.cite.citation());
        assert!(n.summary.contains("= no"), "{}: {}", r.id, n.summary);
    }
    // The deciding answer is named: a conjunction needs only the "no" that broke it.
    let c = at(&with(&[Q::SocialScoring]));
    let n = c
        .not_triggered
        .iter()
        .find(|n| n.rule == "art5_1_c")
        .unwrap();
    assert!(
        n.summary
            .contains("social_score_detrimental_treatment = no"),
        "{}",
        n.summary
    );
    assert!(!n.summary.contains("social_scoring = "), "{}", n.summary);
    // What applies is not also listed as not applying.
    let c = at(&with(&[Q::EmploymentRecruitment]));
    assert!(!c.not_triggered.iter().any(|n| n.rule == "annex3_4_a"));
    // Unanswered provisions are open questions, not reasons.
    let c = at(&Answers::default());
    assert!(c.not_triggered.is_empty());
}

#[test]
fn uncertainty_shows_the_highest_possible_level_and_the_deciding_questions() {
    use Q::*;
    // (case, yes, unknown, level on known answers, highest possible, deciding question)
    let cases: &[(&str, &[Q], &[Q], RiskLevel, RiskLevel, Option<Q>)] = &[
        (
            "insurance pricing, line of insurance unanswered",
            &[InsuranceRiskPricing],
            &[LifeOrHealthInsurance],
            RiskLevel::Minimal,
            RiskLevel::High,
            Some(LifeOrHealthInsurance),
        ),
        (
            "social scoring, detriment unanswered",
            &[SocialScoring, InteractsWithHumans],
            &[SocialScoreDetrimentalTreatment],
            RiskLevel::Limited,
            RiskLevel::Unacceptable,
            Some(SocialScoreDetrimentalTreatment),
        ),
        (
            "derogation claimed, material influence unanswered",
            &[EmploymentRecruitment, NarrowProceduralTask],
            &[MateriallyInfluencesOutcome],
            RiskLevel::Minimal,
            RiskLevel::High,
            Some(MateriallyInfluencesOutcome),
        ),
        (
            "credit scoring, fraud exclusion unanswered",
            &[Creditworthiness],
            &[FinancialFraudDetectionOnly],
            RiskLevel::High,
            RiskLevel::High,
            Some(FinancialFraudDetectionOnly),
        ),
        (
            "chatbot, high-risk use unanswered",
            &[InteractsWithHumans],
            &[EmploymentRecruitment],
            RiskLevel::Limited,
            RiskLevel::High,
            Some(EmploymentRecruitment),
        ),
        (
            "everything answered",
            &[EmploymentRecruitment],
            &[],
            RiskLevel::High,
            RiskLevel::High,
            None,
        ),
    ];
    for (name, yes, unknown, level, highest, deciding) in cases {
        let a = unknown
            .iter()
            .fold(with(yes), |a, q| a.with(*q, Answer::Unknown));
        let c = at(&a);
        assert_eq!(c.level, *level, "{name}");
        assert_eq!(c.highest_possible_level, *highest, "{name}");
        match deciding {
            Some(q) => {
                assert_eq!(c.deciding_questions, [q.id()], "{name}");
                assert_eq!(c.status, ComplianceStatus::Incomplete, "{name}");
                // Answering the deciding question the strict way reaches the highest level.
                let strict = if *highest > *level {
                    Answer::Yes
                } else {
                    Answer::No
                };
                assert_eq!(at(&a.clone().with(*q, strict)).level, *highest, "{name}");
            }
            None => {
                assert!(c.deciding_questions.is_empty(), "{name}");
                assert_ne!(c.status, ComplianceStatus::Incomplete, "{name}");
            }
        }
        assert!(c.highest_possible_level >= c.level, "{name}");
    }
    // The wire form a client reads.
    let json = serde_json::to_value(at(
        &with(&[InsuranceRiskPricing]).with(LifeOrHealthInsurance, Answer::Unknown)
    ))
    .unwrap();
    assert_eq!(json["status"], "incomplete");
    assert_eq!(json["level"], "minimal");
    assert_eq!(json["highest_possible_level"], "high");
    assert_eq!(json["deciding_questions"][0], "life_or_health_insurance");
    // Answering yes to material influence refuses the derogation.
    let c = at(&with(&[
        EmploymentRecruitment,
        NarrowProceduralTask,
        MateriallyInfluencesOutcome,
    ]));
    assert_eq!(c.level, RiskLevel::High);
    assert!(
        c.reasons
            .iter()
            .any(|r| r.kind == ReasonKind::DerogationRefused
                && r.citation.reference == "Article 6(3), first subparagraph")
    );
}

#[test]
fn results_resting_on_a_default_say_so() {
    // (case, answers, assumed questions)
    let cases: &[(&str, Answers, &[&str])] = &[
        (
            "nothing answered",
            Answers::default().no(Q::InteractionObvious),
            &["interacts_with_humans", "makes_automated_decisions"],
        ),
        (
            "both answered yes",
            Answers::default()
                .yes(Q::InteractsWithHumans)
                .yes(Q::MakesAutomatedDecisions)
                .no(Q::InteractionObvious),
            &[],
        ),
        (
            "automation answered, interaction left to its default",
            Answers::default()
                .no(Q::MakesAutomatedDecisions)
                .no(Q::InteractionObvious),
            &["interacts_with_humans"],
        ),
    ];
    for (name, a, assumed) in cases {
        let c = at(a);
        assert_eq!(c.level, RiskLevel::Limited, "{name}");
        assert_eq!(c.assumed, *assumed, "{name}");
        let art50 = c.reasons.iter().find(|r| r.rule == "art50_1").unwrap();
        assert_eq!(
            art50
                .assumed_answers
                .contains(&"interacts_with_humans".to_string()),
            assumed.contains(&"interacts_with_humans"),
            "{name}"
        );
    }
}

#[test]
fn fixes_49_4_scope_prohibited_without_article_50_and_question_wording() {
    use Q::*;
    // (case, yes, secure section note)
    let cases: &[(&str, &[Q], Option<&str>)] = &[
        (
            "retail face identification",
            &[RemoteBiometricIdentification],
            None,
        ),
        (
            "police face identification",
            &[RemoteBiometricIdentification, ForLawEnforcement],
            Some("Registered in the secure non-public section"),
        ),
        (
            "law enforcement polygraph",
            &[LePolygraph],
            Some("Registered in the secure non-public section"),
        ),
        (
            "visa applications",
            &[MigrationApplications],
            Some("Registered in the secure non-public section"),
        ),
        ("CV screening", &[EmploymentRecruitment], None),
        ("emotion recognition in retail", &[EmotionRecognition], None),
    ];
    for (name, yes, note) in cases {
        let c = at(&with(yes));
        let reg = ob(&c, "registration").unwrap();
        assert_eq!(reg.citation.article, "49(1)", "{name}");
        match note {
            Some(n) => assert!(
                reg.note.as_deref().unwrap_or("").starts_with(n),
                "{name}: {:?}",
                reg.note
            ),
            None => assert_eq!(reg.note, None, "{name}"),
        }
    }
    let c = at(&with(&[RemoteBiometricIdentification]).with(ForLawEnforcement, Answer::Unknown));
    assert!(
        ob(&c, "registration")
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .starts_with("If used in law enforcement")
    );

    // A prohibited system has no transparency duties to meet.
    let c = at(&with(&[
        UntargetedFacialScraping,
        InteractsWithHumans,
        GeneratesSyntheticContent,
    ]));
    assert_eq!(c.level, RiskLevel::Unacceptable);
    assert!(c.article50_duties.is_empty());
    assert!(
        !c.obligations
            .iter()
            .any(|o| o.citation.article.starts_with("50"))
    );
    assert!(!c.reasons.iter().any(|r| r.kind == ReasonKind::Transparency));

    for q in [
        MigrationRiskAssessment,
        MigrationApplications,
        MigrationIdentification,
    ] {
        assert!(
            q.text()
                .contains("by or on behalf of competent public authorities"),
            "{}",
            q.id()
        );
    }
    // The two attribute questions are disjoint: 5(1)(g)'s list prohibits, others are 1(b).
    assert!(
        ProtectedAttributes
            .text()
            .contains("not listed in Article 5(1)(g)")
    );
    assert_eq!(
        at(&with(&[BiometricCategorisation, InfersSensitiveAttributes])).level,
        RiskLevel::Unacceptable
    );
    assert_eq!(
        at(&with(&[BiometricCategorisation, ProtectedAttributes])).level,
        RiskLevel::High
    );
}

#[test]
fn general_purpose_models_and_their_systemic_risk() {
    use Q::*;
    let core = [
        ("gpai_copyright_policy", "53(1)(c)"),
        ("gpai_training_content_summary", "53(1)(d)"),
        ("gpai_codes_of_practice", "53(4)"),
    ];
    let documentation = [
        ("gpai_technical_documentation", "53(1)(a)"),
        ("gpai_downstream_information", "53(1)(b)"),
    ];
    let systemic = [
        ("gpai_notify_commission", "52(1)"),
        ("gpai_model_evaluation", "55(1)(a)"),
        ("gpai_systemic_risk_mitigation", "55(1)(b)"),
        ("gpai_serious_incidents", "55(1)(c)"),
        ("gpai_cybersecurity", "55(1)(d)"),
    ];
    let ids = |xs: &[(&'static str, &str)]| xs.iter().map(|(i, _)| *i).collect::<Vec<_>>();
    // (case, yes, unknown, systemic risk, present, absent)
    let cases: Vec<(&str, Vec<Q>, Vec<Q>, Answer, Vec<(&str, &str)>, Vec<&str>)> = vec![
        (
            "small model",
            vec![GpaiModel],
            vec![],
            Answer::No,
            [&core[..], &documentation[..]].concat(),
            ids(&systemic),
        ),
        (
            "above 10^25 FLOP: presumed systemic",
            vec![GpaiModel, GpaiComputeAbove1e25],
            vec![],
            Answer::Yes,
            [&core[..2], &documentation[..], &systemic[..]].concat(),
            vec![],
        ),
        (
            "designated by the Commission",
            vec![GpaiModel, GpaiDesignatedSystemicRisk],
            vec![],
            Answer::Yes,
            systemic.to_vec(),
            vec![],
        ),
        (
            "open source, no systemic risk",
            vec![GpaiModel, GpaiOpenSource, EstablishedOutsideUnion],
            vec![],
            Answer::No,
            core.to_vec(),
            [ids(&documentation), vec!["gpai_authorised_representative"]].concat(),
        ),
        (
            "open source with systemic risk keeps every duty",
            vec![
                GpaiModel,
                GpaiOpenSource,
                GpaiComputeAbove1e25,
                EstablishedOutsideUnion,
            ],
            vec![],
            Answer::Yes,
            [
                &documentation[..],
                &systemic[..],
                &[("gpai_authorised_representative", "54(1)")],
            ]
            .concat(),
            vec![],
        ),
        (
            "compute unanswered",
            vec![GpaiModel],
            vec![GpaiComputeAbove1e25],
            Answer::Unknown,
            systemic.to_vec(),
            vec![],
        ),
    ];
    for (name, yes, unknown, risk, present, absent) in &cases {
        let a = unknown
            .iter()
            .fold(with(yes), |a, q| a.with(*q, Answer::Unknown));
        let c = at(&a);
        let g = c.gpai.as_ref().unwrap_or_else(|| panic!("{name}: no gpai"));
        assert_eq!(g.systemic_risk, *risk, "{name}");
        assert_obligations(&c, name, present, absent);
        assert_eq!(
            c.level,
            RiskLevel::Minimal,
            "{name}: a model has no risk level of its own"
        );
        if *risk == Answer::Unknown {
            assert!(ob(&c, "gpai_model_evaluation").unwrap().note.is_some());
            assert!(
                c.unanswered
                    .iter()
                    .any(|u| u.question == "gpai_compute_above_1e25"
                        && u.effects == [Effect::CouldAddGpaiDuties])
            );
            assert_eq!(c.status, ComplianceStatus::Incomplete);
        }
    }
    let c = at(&with(&[GpaiModel, GpaiComputeAbove1e25]));
    assert!(c.reasons.iter().any(|r| r.citation.article == "51(2)"));
    assert!(at(&none()).gpai.is_none());
    assert!(
        !at(&none())
            .obligations
            .iter()
            .any(|o| o.id.starts_with("gpai"))
    );
}

#[test]
fn article_113_dates_decide_which_duties_apply_on_as_of() {
    use Q::*;
    let a = with(&[
        EmploymentRecruitment,
        InteractsWithHumans,
        GpaiModel,
        RoleProvider,
    ]);
    let product = with(&[
        AnnexIProductOrSafetyComponent,
        ThirdPartyConformityAssessment,
        RoleProvider,
    ]);
    let prohibited = with(&[UntargetedFacialScraping, RoleProvider]);
    // (answers, as_of, obligation, applies on as_of)
    let cases: &[(&Answers, &str, &str, bool)] = &[
        (&prohibited, "2025-02-01", "prohibited_practice", false),
        (&prohibited, "2025-02-02", "prohibited_practice", true),
        (&a, "2025-02-02", "ai_literacy", true),
        (&a, "2025-08-01", "gpai_copyright_policy", false),
        (&a, "2025-08-02", "gpai_copyright_policy", true),
        (&a, "2026-08-01", "risk_management", false),
        (&a, "2026-08-01", "art50_1", false),
        (&a, "2026-08-02", "risk_management", true),
        (&a, "2026-08-02", "art50_1", true),
        (&product, "2027-08-01", "risk_management", false),
        (&product, "2027-08-02", "risk_management", true),
        (
            &with(&[GpaiModel, GpaiPlacedBefore2025_08_02]),
            "2026-01-01",
            "gpai_copyright_policy",
            false,
        ),
        (
            &with(&[GpaiModel, GpaiPlacedBefore2025_08_02]),
            "2027-08-02",
            "gpai_copyright_policy",
            true,
        ),
    ];
    for (answers, as_of, id, applies) in cases {
        let c = classify(answers, day(as_of));
        let o = ob(&c, id).unwrap_or_else(|| panic!("{id} on {as_of} missing"));
        assert_eq!(o.applies_on_as_of, *applies, "{id} on {as_of}");
    }
    let d = classify(&with(&[InteractsWithHumans]), day("2026-01-01"));
    assert!(!d.article50_duties[0].applies_on_as_of);
}

#[test]
fn a_result_stored_by_the_previous_version_still_reads() {
    // The shape version 2024-1689.1 stored: none of the later fields, the old status name.
    let mut old = serde_json::to_value(at(
        &with(&[Q::InsuranceRiskPricing]).with(Q::LifeOrHealthInsurance, Answer::Unknown)
    ))
    .unwrap();
    let obj = old.as_object_mut().unwrap();
    for k in [
        "highest_possible_level",
        "deciding_questions",
        "roles",
        "assumed",
        "gpai",
        "not_triggered",
    ] {
        obj.remove(k);
    }
    obj.insert("status".into(), "assessment_incomplete".into());
    obj.insert("classifier_version".into(), "2024-1689.1".into());
    for o in obj["obligations"].as_array_mut().unwrap() {
        o.as_object_mut().unwrap().remove("applies_on_as_of");
    }
    let back: Classification = serde_json::from_value(old).unwrap();
    assert_eq!(back.status, ComplianceStatus::Incomplete);
    assert_eq!(
        back.highest_possible_level,
        RiskLevel::High,
        "derived from unanswered"
    );
    assert_eq!(back.deciding_questions, ["life_or_health_insurance"]);
    assert_ne!(back.classifier_version, CLASSIFIER_VERSION);
}
