//! The model and prompt registries' use cases: register a version, move it through its
//! states (each move one conditional write with its audit entry), and the four-eyes
//! rule: nobody approves or rejects a version they registered or submitted. A refused
//! decision is audited too (outcome `denied`).
use chrono::{DateTime, Utc};

use super::{Origin, ServiceError, commit};
use crate::audit::Outcome;
use crate::domain::{FieldError, Role};
use crate::governance::registry::{Action, Kind, Registered, Spec, State, Step, transition};
use crate::ports::{ItemStore, StoreError};
use crate::repo::governance::{self as repo, Versioned};
use crate::retry::on_conflict;

/// Longest reason accepted on a transition.
pub const MAX_REASON: usize = 2000;

/// The role an action needs: analysts register and submit; approvers (and admins)
/// decide and retire.
pub fn required_role(action: Action) -> Role {
    match action {
        Action::Register | Action::Submit => Role::Analyst,
        Action::Approve | Action::Reject | Action::Retire => Role::Approver,
    }
}

/// Parses a transition's optional reason; a rejection must give one.
pub fn parse_reason(action: Action, reason: Option<&str>) -> Result<Option<String>, ServiceError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        None if action == Action::Reject => {
            Err(ServiceError::field("reason", "is required to reject"))
        }
        Some(r)
            if r.chars().count() > MAX_REASON || r.chars().any(|c| c.is_control() && c != '\n') =>
        {
            Err(ServiceError::field(
                "reason",
                format!("must be at most {MAX_REASON} characters without control characters"),
            ))
        }
        r => Ok(r.map(str::to_string)),
    }
}

fn audit_action(kind: Kind, action: Action) -> String {
    format!("governance.{}.{}", kind.as_str(), action.as_str())
}

fn resource_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Model => "model_version",
        Kind::Prompt => "prompt_version",
    }
}

/// Registers a new version as a draft (`governance.<kind>.register`), then, with
/// `submit`, submits it (`governance.<kind>.submit`, its own entry). `(name, version)`
/// must be new to the tenant's registry of that kind.
pub async fn register(
    store: &dyn ItemStore,
    origin: &Origin,
    spec: Spec,
    submit: bool,
    now: DateTime<Utc>,
) -> Result<Versioned, ServiceError> {
    let kind = spec.kind();
    let tenant = &origin.tenant;
    let record = Registered {
        id: kind.new_id(),
        spec,
        state: State::Draft,
        created_by: origin.actor.to_string(),
        created_at: now,
        submitted_by: None,
        approved_at: None,
        history: vec![Step {
            action: Action::Register,
            state: State::Draft,
            actor: origin.actor.to_string(),
            at: now,
            reason: None,
        }],
    };
    let record = &record;
    on_conflict(move || async move {
        let draft = origin
            .draft(
                &audit_action(kind, Action::Register),
                resource_type(kind),
                &record.id,
            )
            .after(record);
        match commit(
            store,
            tenant,
            &draft,
            repo::create_ops(tenant, record)?,
            now,
        )
        .await
        {
            Err(StoreError::ConditionFailed { op }) if op == repo::RESERVATION_OP => {
                let (name, version) = record.spec.name_version();
                Err(ServiceError::Taken(FieldError::new(
                    "version",
                    format!("{} {name} {version} is already registered", kind.as_str()),
                )))
            }
            Err(e) => Err(e.into()),
            Ok(_) => Ok(()),
        }
    })
    .await?;
    if submit {
        return act(store, origin, kind, &record.id, Action::Submit, None, now).await;
    }
    Ok(Versioned {
        record: record.clone(),
        version: 1,
    })
}

/// Applies `action` to the version `id`: the transition table decides (an invalid
/// move is a conflict), a decision by the version's author or submitter is refused and
/// audited as denied, and the move is written with its audit entry (reason included in
/// the history the entry's snapshot shows). The caller has checked
/// [`required_role`] and parsed the reason with [`parse_reason`].
pub async fn act(
    store: &dyn ItemStore,
    origin: &Origin,
    kind: Kind,
    id: &str,
    action: Action,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Versioned, ServiceError> {
    let tenant = &origin.tenant;
    let actor = origin.actor.to_string();
    let reason = &reason;
    let actor = &actor;
    on_conflict(move || async move {
        let current = repo::get(store, tenant, kind, id)
            .await?
            .ok_or(ServiceError::NotFound(kind.resource()))?;
        let draft = origin
            .draft(&audit_action(kind, action), resource_type(kind), id)
            .before(&current.record);
        if action.is_decision() && current.record.is_authored_by(actor) {
            let denied = draft.outcome(Outcome::Denied);
            crate::repo::audit::append(store, tenant, &denied, now).await?;
            return Err(ServiceError::Denied(format!(
                "four eyes: {actor} registered or submitted this {} and cannot {} it",
                kind.resource(),
                action.as_str()
            )));
        }
        let to = transition(current.record.state, action)
            .map_err(|e| ServiceError::Conflict(e.to_string()))?;
        let mut next = current.record.clone();
        next.state = to;
        next.history.push(Step {
            action,
            state: to,
            actor: actor.clone(),
            at: now,
            reason: reason.clone(),
        });
        match action {
            Action::Submit => next.submitted_by = Some(actor.clone()),
            Action::Approve => next.approved_at = Some(now),
            _ => {}
        }
        let draft = draft.after(&next);
        let op = repo::replace_op(tenant, &current, &next)?;
        commit(store, tenant, &draft, vec![op], now).await?;
        Ok(Versioned {
            record: next,
            version: current.version + 1,
        })
    })
    .await
}

/// Registers `spec` as approved in one write, by the system itself: for the built-in
/// versions a tenant starts with (the audit entry is `governance.<kind>.approve` by
/// `system:governance`, with the whole history). `extra` ops join the write.
pub(crate) async fn register_approved(
    store: &dyn ItemStore,
    origin: &Origin,
    spec: Spec,
    extra: Vec<crate::ports::WriteOp>,
    now: DateTime<Utc>,
) -> Result<Registered, StoreError> {
    let kind = spec.kind();
    let actor = origin.actor.to_string();
    let step = |action, state| Step {
        action,
        state,
        actor: actor.clone(),
        at: now,
        reason: Some("built in".into()),
    };
    let record = Registered {
        id: kind.new_id(),
        spec,
        state: State::Approved,
        created_by: actor.clone(),
        created_at: now,
        submitted_by: Some(actor.clone()),
        approved_at: Some(now),
        history: vec![
            step(Action::Register, State::Draft),
            step(Action::Submit, State::PendingApproval),
            step(Action::Approve, State::Approved),
        ],
    };
    let tenant = &origin.tenant;
    let mut ops = repo::create_ops(tenant, &record)?;
    ops.extend(extra);
    let draft = origin
        .draft(
            &audit_action(kind, Action::Approve),
            resource_type(kind),
            &record.id,
        )
        .after(&record);
    commit(store, tenant, &draft, ops, now).await?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_action() {
        assert_eq!(required_role(Action::Submit), Role::Analyst);
        assert_eq!(required_role(Action::Approve), Role::Approver);
        assert_eq!(required_role(Action::Retire), Role::Approver);
        assert!(Role::Admin.allows(required_role(Action::Reject)));
        assert!(!Role::Analyst.allows(required_role(Action::Approve)));
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        let e = parse_reason(Action::Reject, Some("  ")).unwrap_err();
        assert!(matches!(e, ServiceError::Invalid(f) if f[0].field == "reason"));
        assert_eq!(parse_reason(Action::Approve, None).unwrap(), None);
        assert_eq!(
            parse_reason(Action::Reject, Some(" too vague ")).unwrap(),
            Some("too vague".into())
        );
        assert!(parse_reason(Action::Retire, Some("a\u{7}b")).is_err());
    }
}
