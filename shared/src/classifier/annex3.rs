//! Annex III (via Article 6(2)): the high-risk use cases, points 1-8 with every
//! sub-point, and the exclusions the Annex itself makes.
use super::logic::{all, any, is, not};
use super::questionnaire::Q;
use super::rule::{Cite, Exception, Rule, from_general};

/// `point` and `sub_point` as the Annex numbers them; point 2 has no sub-points.
fn rule(
    id: &'static str,
    point: &'static str,
    sub_point: Option<&'static str>,
    summary: &'static str,
    trigger: super::logic::Cond,
) -> Rule {
    Rule::new(
        id,
        Cite::annex("6(2)", "III", point, sub_point),
        summary,
        trigger,
        from_general(),
    )
}

fn except(mut r: Rule, q: Q, summary: &'static str) -> Rule {
    r.exceptions.push(Exception::scope(is(q), summary));
    r
}

pub fn use_cases() -> Vec<Rule> {
    let mut biometric_categorisation = rule(
        "annex3_1_b",
        "1",
        Some("b"),
        "Biometric categorisation according to sensitive or protected attributes or characteristics inferred from biometric data",
        all([
            is(Q::BiometricCategorisation),
            any([is(Q::InfersSensitiveAttributes), is(Q::ProtectedAttributes)]),
        ]),
    );
    biometric_categorisation
        .exceptions
        .push(super::article5::ancillary());
    biometric_categorisation.out_of_scope = Some((
        all([
            is(Q::BiometricCategorisation),
            not(Q::InfersSensitiveAttributes),
            not(Q::ProtectedAttributes),
        ]),
        "Annex III point 1(b) covers categorisation by sensitive or protected attributes only",
    ));
    let mut insurance = rule(
        "annex3_5_c",
        "5",
        Some("c"),
        "Risk assessment and pricing in relation to natural persons for life and health insurance",
        all([is(Q::InsuranceRiskPricing), is(Q::LifeOrHealthInsurance)]),
    );
    insurance.out_of_scope = Some((
        all([is(Q::InsuranceRiskPricing), not(Q::LifeOrHealthInsurance)]),
        "Annex III point 5(c) covers life and health insurance only",
    ));
    vec![
        except(
            rule(
                "annex3_1_a",
                "1",
                Some("a"),
                "Remote biometric identification",
                is(Q::RemoteBiometricIdentification),
            ),
            Q::BiometricVerificationOnly,
            "Annex III point 1(a) excludes biometric verification whose sole purpose is to confirm that a person is who they claim to be",
        ),
        biometric_categorisation,
        rule(
            "annex3_1_c",
            "1",
            Some("c"),
            "Emotion recognition",
            is(Q::EmotionRecognition),
        ),
        rule(
            "annex3_2",
            "2",
            None,
            "Safety component in the management and operation of critical digital infrastructure, road traffic, or the supply of water, gas, heating or electricity",
            is(Q::CriticalInfrastructureSafety),
        ),
        rule(
            "annex3_3_a",
            "3",
            Some("a"),
            "Determining access or admission to, or assigning persons to, educational and vocational training institutions",
            is(Q::EducationAccessAdmission),
        ),
        rule(
            "annex3_3_b",
            "3",
            Some("b"),
            "Evaluating learning outcomes, including steering the learning process",
            is(Q::EducationEvaluatesOutcomes),
        ),
        rule(
            "annex3_3_c",
            "3",
            Some("c"),
            "Assessing the appropriate level of education a person will receive or be able to access",
            is(Q::EducationAssessesLevel),
        ),
        rule(
            "annex3_3_d",
            "3",
            Some("d"),
            "Monitoring and detecting prohibited behaviour of students during tests",
            is(Q::EducationMonitorsTests),
        ),
        rule(
            "annex3_4_a",
            "4",
            Some("a"),
            "Recruitment or selection: targeted job advertisements, analysing and filtering applications, evaluating candidates",
            is(Q::EmploymentRecruitment),
        ),
        rule(
            "annex3_4_b",
            "4",
            Some("b"),
            "Decisions on terms of work relationships, promotion or termination, task allocation on individual behaviour or traits, monitoring and evaluating workers",
            is(Q::EmploymentWorkDecisions),
        ),
        rule(
            "annex3_5_a",
            "5",
            Some("a"),
            "Evaluating eligibility for essential public assistance benefits and services, or granting, reducing, revoking or reclaiming them, by or on behalf of public authorities",
            is(Q::PublicBenefitsEligibility),
        ),
        except(
            rule(
                "annex3_5_b",
                "5",
                Some("b"),
                "Evaluating the creditworthiness of natural persons or establishing their credit score",
                is(Q::Creditworthiness),
            ),
            Q::FinancialFraudDetectionOnly,
            "Annex III point 5(b) excludes systems used for the purpose of detecting financial fraud",
        ),
        insurance,
        rule(
            "annex3_5_d",
            "5",
            Some("d"),
            "Evaluating and classifying emergency calls, dispatching or prioritising emergency first response, emergency healthcare patient triage",
            is(Q::EmergencyTriage),
        ),
        rule(
            "annex3_6_a",
            "6",
            Some("a"),
            "Law enforcement: assessing the risk of a natural person becoming the victim of criminal offences",
            is(Q::LeVictimRisk),
        ),
        rule(
            "annex3_6_b",
            "6",
            Some("b"),
            "Law enforcement: polygraphs or similar tools",
            is(Q::LePolygraph),
        ),
        rule(
            "annex3_6_c",
            "6",
            Some("c"),
            "Law enforcement: evaluating the reliability of evidence",
            is(Q::LeEvidenceReliability),
        ),
        rule(
            "annex3_6_d",
            "6",
            Some("d"),
            "Law enforcement: assessing the risk of offending or re-offending not solely on profiling, or personality traits and past criminal behaviour",
            is(Q::LeOffendingRisk),
        ),
        rule(
            "annex3_6_e",
            "6",
            Some("e"),
            "Law enforcement: profiling natural persons in the detection, investigation or prosecution of criminal offences",
            is(Q::LeProfiling),
        ),
        rule(
            "annex3_7_a",
            "7",
            Some("a"),
            "Migration, asylum and border control: polygraphs or similar tools",
            is(Q::MigrationPolygraph),
        ),
        rule(
            "annex3_7_b",
            "7",
            Some("b"),
            "Migration, asylum and border control: assessing a security, irregular-migration or health risk posed by a person",
            is(Q::MigrationRiskAssessment),
        ),
        rule(
            "annex3_7_c",
            "7",
            Some("c"),
            "Migration, asylum and border control: examining applications for asylum, visa or residence permits and associated complaints",
            is(Q::MigrationApplications),
        ),
        except(
            rule(
                "annex3_7_d",
                "7",
                Some("d"),
                "Migration, asylum and border control: detecting, recognising or identifying natural persons",
                is(Q::MigrationIdentification),
            ),
            Q::TravelDocumentVerificationOnly,
            "Annex III point 7(d) excludes the verification of travel documents",
        ),
        rule(
            "annex3_8_a",
            "8",
            Some("a"),
            "Administration of justice: assisting a judicial authority (or alternative dispute resolution) in researching and interpreting facts and law and applying the law",
            is(Q::JusticeAssistance),
        ),
        except(
            rule(
                "annex3_8_b",
                "8",
                Some("b"),
                "Influencing the outcome of an election or referendum or the voting behaviour of natural persons",
                is(Q::InfluencesElections),
            ),
            Q::CampaignLogisticsOnly,
            "Annex III point 8(b) excludes tools organising, optimising or structuring political campaigns whose output natural persons are not directly exposed to",
        ),
    ]
}
