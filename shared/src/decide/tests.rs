use super::*;

fn clean(level: RiskLevel) -> Retrieved {
    Retrieved {
        level: Some(level),
        obligations: Vec::new(),
        human_oversight: Some(true),
        findings: OpenFindings::default(),
        drift: DriftLevel::None,
        model_state: Some(RegistryState::Approved),
        prompt_state: Some(RegistryState::Approved),
    }
}

#[test]
fn transitions_follow_the_lifecycle_and_refuse_the_rest() {
    use Status::*;
    let mut s = Received;
    for m in [
        Move::Validate,
        Move::Start,
        Move::Conclude(Outcome::NeedsHuman),
    ] {
        s = transition(s, m).unwrap();
    }
    assert_eq!(s, RequiresApproval);
    assert_eq!(transition(s, Move::HumanApprove), Ok(Approved));
    assert_eq!(transition(s, Move::HumanReject), Ok(Rejected));
    // Humans decide only what waits for them; final states never move.
    assert!(transition(Processing, Move::HumanApprove).is_err());
    for f in [Approved, Rejected, Failed] {
        assert!(f.is_final());
        for m in [Move::Validate, Move::Start, Move::Fail, Move::HumanReject] {
            assert!(transition(f, m).is_err(), "{f:?} {m:?}");
        }
    }
    assert!(transition(Received, Move::Start).is_err());
    for st in Status::ALL {
        assert_eq!(Status::parse(st.as_str()), Some(st));
    }
}

#[test]
fn resume_starts_at_the_first_unfinished_step() {
    assert_eq!(StepName::first_unfinished(&[]), Some(StepName::Retrieval));
    assert_eq!(
        StepName::first_unfinished(&[StepName::Retrieval, StepName::Policy]),
        Some(StepName::Scoring)
    );
    assert_eq!(StepName::first_unfinished(&StepName::ORDER), None);
}

#[test]
fn policy_refuses_prohibited_unapproved_and_unsupervised_high_risk() {
    assert!(policy(&clean(RiskLevel::High)).is_empty());
    assert_eq!(
        policy(&clean(RiskLevel::Unacceptable)),
        vec![Refusal::ProhibitedSystem]
    );
    let mut r = clean(RiskLevel::Minimal);
    r.model_state = Some(RegistryState::Retired);
    r.prompt_state = None;
    let got = policy(&r);
    assert_eq!(
        got,
        vec![Refusal::ModelNotApproved, Refusal::PromptNotApproved]
    );
    assert!(got.iter().all(|x| x.is_governance()));
    let mut h = clean(RiskLevel::High);
    h.human_oversight = None;
    assert_eq!(policy(&h), vec![Refusal::NoHumanOversight]);
    // Oversight matters only for high-risk systems.
    let mut l = clean(RiskLevel::Limited);
    l.human_oversight = Some(false);
    assert!(policy(&l).is_empty());
}

#[test]
fn score_adds_level_findings_and_drift_with_caps() {
    assert_eq!(score(&clean(RiskLevel::Minimal)), 0);
    assert_eq!(score(&clean(RiskLevel::Limited)), 20);
    let mut r = clean(RiskLevel::High);
    r.findings = OpenFindings {
        low: 2,
        medium: 1,
        high: 1,
        critical: 0,
    };
    assert_eq!(score(&r), 50 + 2 + 3 + 8);
    r.findings.critical = 10;
    assert_eq!(score(&r), 90, "findings capped at 40");
    r.drift = DriftLevel::Critical;
    assert_eq!(score(&r), 100, "total capped at 100");
    let mut u = clean(RiskLevel::Minimal);
    u.level = None;
    u.drift = DriftLevel::Warning;
    assert_eq!(score(&u), 60, "unclassified scores as high");
}

#[test]
fn guardrails_route_scores_and_validate() {
    let g = Guardrails::default();
    assert_eq!(g.decide(60), Outcome::Approve);
    assert_eq!(g.decide(61), Outcome::NeedsHuman);
    assert_eq!(g.decide(91), Outcome::Reject);
    assert_eq!(Guardrails::new(70, 50), Err(GuardrailsError::Inverted));
    assert_eq!(
        Guardrails::new(101, 101),
        Err(GuardrailsError::OutOfRange("review_above"))
    );
    assert!(Guardrails::new(0, 100).is_ok());
}

#[test]
fn conclude_rejects_on_refusal_before_scoring() {
    let g = Guardrails::default();
    let (o, refusals, s) = conclude(&clean(RiskLevel::Unacceptable), &g);
    assert_eq!((o, s), (Outcome::Reject, None));
    assert_eq!(refusals, vec![Refusal::ProhibitedSystem]);
    let (o, _, s) = conclude(&clean(RiskLevel::Limited), &g);
    assert_eq!((o, s), (Outcome::Approve, Some(20)));
    let mut r = clean(RiskLevel::High);
    r.drift = DriftLevel::Critical;
    assert_eq!(conclude(&r, &g).0, Outcome::NeedsHuman);
}

fn body() -> serde_json::Value {
    serde_json::json!({
        "ai_system_id": "sys_1", "model_id": "mdl_1", "prompt_id": "prm_1",
        "purpose": "credit scoring", "decision": "loan approval",
        "data_categories": ["financial", "financial", "identity"]
    })
}

#[test]
fn ask_parses_and_names_every_bad_field() {
    let a = Ask::parse(DecisionKind::Risk, &body()).unwrap();
    assert_eq!(a.data_categories, vec!["financial", "identity"]);
    assert_eq!(a.regulation, None);
    // Compliance needs its two extra fields; risk refuses them.
    let errs = Ask::parse(DecisionKind::Compliance, &body()).unwrap_err();
    let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["regulation", "compliance_type"]);
    let mut b = body();
    b["regulation"] = "EU AI Act Art. 26".into();
    b["model_id"] = serde_json::Value::from(7);
    b["data_categories"] = serde_json::json!([""]);
    let errs = Ask::parse(DecisionKind::Risk, &b).unwrap_err();
    let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["regulation", "model_id", "data_categories"]);
    b["compliance_type"] = "deployer".into();
    b["model_id"] = "mdl_1".into();
    b["data_categories"] = serde_json::json!([]);
    let c = Ask::parse(DecisionKind::Compliance, &b).unwrap();
    assert_eq!(c.regulation.as_deref(), Some("EU AI Act Art. 26"));
}

#[test]
fn steps_are_recorded_once_in_order_while_processing() {
    let at = chrono::DateTime::UNIX_EPOCH;
    let ask = Ask::parse(DecisionKind::Risk, &body()).unwrap();
    let mut d = Decision::new("dec_1".into(), ask, "req_1".into(), "key:a".into(), at);
    let rec = |step| StepRecord {
        step,
        inputs: serde_json::json!({}),
        outputs: serde_json::json!({}),
        at,
    };
    assert_eq!(
        d.record_step(rec(StepName::Retrieval)),
        Err(StepError::NotProcessing(Status::Received))
    );
    d.apply(Move::Validate, at).unwrap();
    d.apply(Move::Start, at).unwrap();
    d.record_step(rec(StepName::Retrieval)).unwrap();
    assert_eq!(
        d.record_step(rec(StepName::Retrieval)),
        Err(StepError::AlreadyDone(StepName::Retrieval))
    );
    assert!(matches!(
        d.record_step(rec(StepName::Scoring)),
        Err(StepError::OutOfTurn { .. })
    ));
    assert_eq!(d.next_step(), Some(StepName::Policy));
    let round: Decision = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
    assert_eq!(round, d);
    assert!(d.apply(Move::HumanApprove, at).is_err());
}

fn fresh() -> Decision {
    let ask = Ask::parse(DecisionKind::Risk, &body()).unwrap();
    Decision::new(
        "dec_1".into(),
        ask,
        "req_1".into(),
        "key:requester".into(),
        chrono::DateTime::UNIX_EPOCH,
    )
}

/// Advances until the request leaves PROCESSING; returns it and what each call did.
fn run(mut d: Decision, r: &Retrieved, g: &Guardrails) -> (Decision, Vec<Advanced>) {
    let at = chrono::DateTime::UNIX_EPOCH;
    let mut did = Vec::new();
    while matches!(
        d.status,
        Status::Received | Status::Validated | Status::Processing
    ) {
        let (next, a) = advance(&d, Some(r), g, at).unwrap();
        d = next;
        did.push(a);
    }
    (d, did)
}

#[test]
fn workflow_reaches_each_outcome() {
    let g = Guardrails::default();
    let (d, did) = run(fresh(), &clean(RiskLevel::Limited), &g);
    assert_eq!(d.status, Status::Approved);
    assert_eq!(did.len(), 2 + 5);
    assert_eq!(d.done(), StepName::ORDER.to_vec());
    assert_eq!(d.step(StepName::Scoring).unwrap().outputs["score"], 20);
    assert_eq!(workflow::failure_class(&d), None);

    let mut refused = clean(RiskLevel::Minimal);
    refused.model_state = Some(RegistryState::Rejected);
    let (d, _) = run(fresh(), &refused, &g);
    assert_eq!(d.status, Status::Rejected);
    assert_eq!(
        d.step(StepName::Policy).unwrap().outputs["refusals"][0],
        "model_not_approved"
    );
    assert_eq!(
        workflow::failure_class(&d),
        Some(crate::governance::FailureClass::PolicyViolation)
    );

    let mut risky = clean(RiskLevel::High);
    risky.drift = DriftLevel::Critical;
    let (d, _) = run(fresh(), &risky, &g);
    assert_eq!(d.status, Status::RequiresApproval);
    assert_eq!(
        workflow::failure_class(&d),
        Some(crate::governance::FailureClass::HighRisk)
    );
    let at = chrono::DateTime::UNIX_EPOCH;
    assert_eq!(
        review(&d, "key:requester", true, None, at),
        Err(ReviewError::FourEyes)
    );
    assert_eq!(
        review(&d, "key:approver", false, Some("  ".into()), at),
        Err(ReviewError::ReasonRequired)
    );
    let approved = review(&d, "key:approver", true, None, at).unwrap();
    assert_eq!(approved.status, Status::Approved);
    assert_eq!(approved.review.as_ref().unwrap().actor, "key:approver");
    assert_eq!(workflow::failure_class(&approved), None);
    // Decided once: a second decision is an invalid transition.
    assert!(matches!(
        review(&approved, "key:other", false, Some("late".into()), at),
        Err(ReviewError::Transition(_))
    ));
    assert!(matches!(
        advance(&approved, None, &g, at),
        Err(AdvanceError::Finished("APPROVED"))
    ));
}

#[test]
fn a_crash_between_steps_resumes_without_redoing_one() {
    let g = Guardrails::default();
    let at = chrono::DateTime::UNIX_EPOCH;
    let first = clean(RiskLevel::Limited);
    // Each write is what the store keeps; a crash loses only the work after the last.
    let mut stored = fresh();
    for _ in 0..3 {
        stored = advance(&stored, Some(&first), &g, at).unwrap().0;
    }
    assert_eq!(stored.done(), vec![StepName::Retrieval]);
    // The redelivered message sees a changed world: retrieval is not redone, so the
    // rest of the workflow reads what the finished step recorded.
    let later = clean(RiskLevel::Unacceptable);
    let (d, did) = run(stored, &later, &g);
    assert_eq!(
        did,
        vec![
            Advanced::Step(StepName::Policy),
            Advanced::Step(StepName::Scoring),
            Advanced::Step(StepName::Guardrails),
            Advanced::Concluded(Outcome::Approve),
        ]
    );
    for s in StepName::ORDER {
        assert_eq!(d.steps.iter().filter(|r| r.step == s).count(), 1, "{s:?}");
    }
    assert_eq!(d.status, Status::Approved);
    // Retrieval needs the worker's reads; later steps do not.
    let mut p = fresh();
    p.apply(Move::Validate, at).unwrap();
    p.apply(Move::Start, at).unwrap();
    assert_eq!(advance(&p, None, &g, at), Err(AdvanceError::NeedsRetrieval));
}
