//! Every key the domain stores, in one place. Each starts with the tenant id, so no
//! query can reach another tenant's items.
use chrono::{DateTime, Utc};

use crate::domain::TenantId;
use crate::domain::event::time_key;

pub fn event_pk(t: &TenantId, id: &str) -> String {
    format!("{t}#EVENT#{id}")
}
pub const EVENT_SK: &str = "EVENT";
pub fn events_by_time(t: &TenantId) -> String {
    format!("{t}#EV")
}
pub fn events_by_user(t: &TenantId, user: &str) -> String {
    format!("{t}#EVU#{user}")
}
pub fn events_by_type(t: &TenantId, kind: &str) -> String {
    format!("{t}#EVT#{kind}")
}
/// Sort key of event and finding listings: time, then id for uniqueness.
pub fn timed(at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", time_key(at))
}
/// Inclusive sort-key bounds for a time range.
pub fn time_bounds(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Option<(String, String)> {
    if from.is_none() && to.is_none() {
        return None;
    }
    Some((
        from.map(time_key).unwrap_or_default(),
        to.map(|t| format!("{}#\u{10FFFF}", time_key(t)))
            .unwrap_or_else(|| "\u{10FFFF}".to_string()),
    ))
}

/// The sort-key condition for a time range on a time-ordered listing.
pub fn time_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> crate::ports::KeyRange {
    time_bounds(from, to)
        .map(|(a, b)| crate::ports::KeyRange::Between(a, b))
        .unwrap_or(crate::ports::KeyRange::All)
}

pub fn finding_pk(t: &TenantId, id: &str) -> String {
    format!("{t}#FINDING#{id}")
}
pub const FINDING_SK: &str = "FINDING";
/// The sessions of one rule on one subject, by first evidence time; plus their lock.
pub fn sessions_pk(t: &TenantId, rule: &str, subject: &str) -> String {
    format!("{t}#FSES#{rule}#{subject}")
}
/// Every writer of a subject's sessions moves this item's version, so two writers
/// never decide from the same state (sorts after the time-keyed sessions).
pub const SESSION_LOCK_SK: &str = "LOCK";
/// Evidence of one rule on one subject: one item per event, by time.
pub fn evidence_pk(t: &TenantId, rule: &str, subject: &str) -> String {
    format!("{t}#FEV#{rule}#{subject}")
}
pub fn findings_by_time(t: &TenantId) -> String {
    format!("{t}#FD")
}
pub fn findings_by_severity(t: &TenantId, sev: &str) -> String {
    format!("{t}#FDS#{sev}")
}
pub fn findings_by_user(t: &TenantId, user: &str) -> String {
    format!("{t}#FDU#{user}")
}
pub fn findings_by_status(t: &TenantId, status: &str) -> String {
    format!("{t}#FDST#{status}")
}
pub fn findings_by_rule(t: &TenantId, rule: &str) -> String {
    format!("{t}#FDR#{rule}")
}
pub fn findings_by_status_rule(t: &TenantId, status: &str, rule: &str) -> String {
    format!("{t}#FDSR#{status}#{rule}")
}

pub fn stats_pk(t: &TenantId) -> String {
    format!("{t}#STATS")
}

pub fn apikeys_pk(t: &TenantId) -> String {
    format!("{t}#APIKEY")
}

pub fn idempotency_pk(t: &TenantId) -> String {
    format!("{t}#IDEM")
}

/// Counter sort keys within [`stats_pk`].
pub mod counter {
    use chrono::{DateTime, Utc};

    pub const EVENTS: &str = "events";
    pub const FINDINGS: &str = "findings";
    pub fn events_day(at: DateTime<Utc>) -> String {
        format!("events_day#{}", at.format("%Y-%m-%d"))
    }
    pub const EVENTS_MINUTE_PREFIX: &str = "events_min#";
    /// Shifts unix minutes positive (back to year -188,000), so keys sort as numbers.
    const MINUTE_OFFSET: i64 = 100_000_000_000;
    /// Events per minute of event time (unix minutes, zero-padded so they sort).
    pub fn events_minute(minute: i64) -> String {
        format!("{EVENTS_MINUTE_PREFIX}{:012}", minute + MINUTE_OFFSET)
    }
    pub fn minute_of_key(key: &str) -> Option<i64> {
        let n: i64 = key.strip_prefix(EVENTS_MINUTE_PREFIX)?.parse().ok()?;
        Some(n - MINUTE_OFFSET)
    }
    pub fn events_hour(at: DateTime<Utc>) -> String {
        format!("events_hour#{}", at.format("%Y-%m-%dT%H"))
    }
    pub fn events_type(kind: &str) -> String {
        format!("events_type#{kind}")
    }
    pub fn user_events(user: &str) -> String {
        format!("user_events#{user}")
    }
    pub fn findings_severity(sev: &str) -> String {
        format!("findings_sev#{sev}")
    }
    pub fn open_by_rule(rule: &str) -> String {
        format!("open_rule#{rule}")
    }
    /// Active (open or acknowledged) findings by severity; counted from the version that
    /// added it on, so findings stored before it are not in it.
    pub fn open_by_severity(sev: &str) -> String {
        format!("open_sev#{sev}")
    }
    pub fn findings_status(status: &str) -> String {
        format!("findings_st#{status}")
    }
    pub fn findings_rule(rule: &str) -> String {
        format!("findings_rule#{rule}")
    }
    pub fn findings_status_rule(status: &str, rule: &str) -> String {
        format!("findings_st_rule#{status}#{rule}")
    }
    pub fn user_findings(user: &str) -> String {
        format!("user_findings#{user}")
    }
}

/// Keys of the audit ledger (issue 6). Entries and the chain head share one partition.
pub mod audit {
    use crate::domain::TenantId;

    pub fn ledger_pk(t: &TenantId) -> String {
        format!("{t}#AUDIT")
    }
    /// The chain head: sequence number and hash of the last entry.
    pub const HEAD_SK: &str = "HEAD";
    /// Result of the last full verification.
    pub const VERIFIED_SK: &str = "VERIFIED";
    pub const ENTRY_PREFIX: &str = "E#";
    pub fn entry_sk(seq: u64) -> String {
        format!("E#{seq:020}")
    }
    pub fn seq_of(sk: &str) -> Option<u64> {
        sk.strip_prefix(ENTRY_PREFIX)?.parse().ok()
    }
    pub fn by_actor(t: &TenantId, actor: &str) -> String {
        format!("{t}#AUDA#{actor}")
    }
    pub fn by_resource(t: &TenantId, kind: &str, id: &str) -> String {
        format!("{t}#AUDR#{kind}/{id}")
    }
    pub fn by_action(t: &TenantId, action: &str) -> String {
        format!("{t}#AUDX#{action}")
    }
    pub fn checkpoints_pk(t: &TenantId) -> String {
        format!("{t}#AUDCP")
    }
    pub fn checkpoint_sk(size: u64) -> String {
        format!("{size:020}")
    }
    pub fn stats_pk(t: &TenantId) -> String {
        format!("{t}#AUDSTATS")
    }
    /// GSI1 partition listing every tenant's chain head (sort key: tenant id), so the
    /// periodic checkpointer can find the ledgers; it holds no tenant data but the head.
    pub const HEADS_INDEX: &str = "AUDIT#HEADS";
}

/// Keys of webhook endpoints, their messages and delivery attempts (issue 5).
pub mod webhooks {
    use crate::domain::TenantId;

    /// Every endpoint of a tenant, sort key: endpoint id.
    pub fn endpoints_pk(t: &TenantId) -> String {
        format!("{t}#WEBHOOK")
    }
    /// One message to one endpoint: the message item and its attempts.
    pub fn message_pk(t: &TenantId, msg_id: &str) -> String {
        format!("{t}#WHMSG#{msg_id}")
    }
    pub const MESSAGE_SK: &str = "MSG";
    pub const ATTEMPT_PREFIX: &str = "ATT#";
    pub fn attempt_sk(n: u32) -> String {
        format!("ATT#{n:06}")
    }
    /// GSI1: an endpoint's messages by time.
    pub fn messages_by_endpoint(t: &TenantId, endpoint: &str) -> String {
        format!("{t}#WHMSGS#{endpoint}")
    }
    /// GSI2: the tenant's dead-lettered messages by time.
    pub fn dead_letters(t: &TenantId) -> String {
        format!("{t}#WHDLQ")
    }
    /// Where the local fan-out has read the embedded bus to. System state, not tenant
    /// data: `_` cannot start a tenant id, so no tenant partition can collide.
    pub const FANOUT_CURSOR_PK: &str = "_vigil#BUS_CURSOR";
    pub const FANOUT_CURSOR_SK: &str = "webhook-fanout";
}

/// Keys of in-app notifications.
pub mod notifications {
    use crate::domain::TenantId;

    /// Sort key: time then id, so listings come newest first.
    pub fn pk(t: &TenantId) -> String {
        format!("{t}#NOTIFY")
    }
    /// GSI1: unread (`1#`) before read (`0#`), each newest first when read backwards.
    pub fn unread_first(t: &TenantId) -> String {
        format!("{t}#NOTIFYQ")
    }
    /// GSI2: lookup by notification id.
    pub fn by_id(t: &TenantId) -> String {
        format!("{t}#NOTIFYID")
    }
}

/// Keys of the AI-system registry, drift events and re-classification runs (issue 4).
pub mod ai_systems {
    use crate::domain::TenantId;

    pub fn system_pk(t: &TenantId, id: &str) -> String {
        format!("{t}#AISYS#{id}")
    }
    pub const SYSTEM_SK: &str = "SYSTEM";
    /// Reserves a name within the tenant (case-insensitive).
    pub fn name_pk(t: &TenantId, name: &str) -> String {
        format!("{t}#AISNAME#{}", name.trim().to_lowercase())
    }
    pub const NAME_SK: &str = "NAME";
    /// GSI1: every live system, by id (ids are time-ordered).
    pub fn all(t: &TenantId) -> String {
        format!("{t}#AIS")
    }
    /// GSI2: live systems at one risk level.
    pub fn by_level(t: &TenantId, level: &str) -> String {
        format!("{t}#AISL#{level}")
    }
    /// GSI3: systems a re-classification run scans (monitored, with answers, live).
    pub fn monitored(t: &TenantId) -> String {
        format!("{t}#AISM")
    }
    /// Marks a tenant as having AI systems, for the scheduled sweep over tenants.
    pub fn tenant_pk(t: &TenantId) -> String {
        format!("{t}#AITENANT")
    }
    pub const TENANT_SK: &str = "TENANT";
    /// GSI1 partition listing tenants with AI systems; holds only tenant ids. `_`
    /// cannot start a tenant id, so no tenant partition can collide.
    pub const TENANTS_INDEX: &str = "_vigil#AI_TENANTS";
    /// A system's drift events; sort key `{run id}#{event id}` (run ids are time-ordered).
    pub fn drift_pk(t: &TenantId, system_id: &str) -> String {
        format!("{t}#AISDRIFT#{system_id}")
    }
    /// The run record, its counters and its batch markers share one partition.
    pub fn run_pk(t: &TenantId, run_id: &str) -> String {
        format!("{t}#RCRUN#{run_id}")
    }
    pub const RUN_SK: &str = "RUN";
    pub const COUNTER_PREFIX: &str = "n#";
    pub fn page_marker(page: u64) -> String {
        format!("p#{page:010}")
    }
    pub fn batch_marker(batch: &str) -> String {
        format!("b#{batch}")
    }
    /// GSI1: a tenant's runs by id.
    pub fn runs(t: &TenantId) -> String {
        format!("{t}#RCRUNS")
    }
    /// The lease that keeps a tenant to one run at a time.
    pub fn lease_pk(t: &TenantId) -> String {
        format!("{t}#RCLEASE")
    }
    pub const LEASE_SK: &str = "LEASE";
    pub mod counter {
        pub const SCANNED: &str = "n#scanned";
        pub const SKIPPED: &str = "n#skipped";
        pub const DRIFT: &str = "n#drift_events";
        pub const FAILURES: &str = "n#failures";
        pub const BATCHES_TOTAL: &str = "n#batches_total";
        pub const BATCHES_DONE: &str = "n#batches_done";
        pub const SCAN_DONE: &str = "n#scan_done";
    }
}

/// Keys of model drift monitoring (issue 12). A model's baselines, windows and checks
/// are keyed by its `uid`, so a model registered again under a deleted one's id starts
/// clean.
pub mod drift {
    use chrono::{DateTime, Utc};

    use crate::domain::TenantId;
    use crate::domain::event::time_key;

    pub fn model_pk(t: &TenantId, id: &str) -> String {
        format!("{t}#DMODEL#{id}")
    }
    pub const MODEL_SK: &str = "MODEL";
    /// The model's schedule state (next run), apart so checks never move the model's ETag.
    pub const SCHEDULE_SK: &str = "SCHED";
    /// GSI1: every model of a tenant, by id.
    pub fn models(t: &TenantId) -> String {
        format!("{t}#DMODELS")
    }
    /// GSI2: the enabled ones.
    pub fn enabled_models(t: &TenantId) -> String {
        format!("{t}#DMODELSON")
    }
    /// GSI1 of schedule items: every tenant's enabled models by next run. Holds only
    /// tenant and model ids. `_` cannot start a tenant id, so no tenant partition collides.
    pub const DUE_INDEX: &str = "_vigil#DRIFT_DUE";
    pub fn due_sk(next: DateTime<Utc>, t: &TenantId, id: &str) -> String {
        format!("{}#{t}#{id}", time_key(next))
    }
    /// Baseline headers (`V#{version}`) and reference samples (`S#{baseline uid}#{feature}`).
    pub fn baseline_pk(t: &TenantId, model_uid: &str) -> String {
        format!("{t}#DBASE#{model_uid}")
    }
    pub fn baseline_sk(version: u64) -> String {
        format!("V#{version:010}")
    }
    pub fn sample_sk(baseline_uid: &str, feature: &str) -> String {
        format!("S#{baseline_uid}#{feature}")
    }
    /// Windows of one baseline version: sort key `{slot}#{window start}`.
    pub fn windows_pk(t: &TenantId, model_uid: &str, baseline_version: u64) -> String {
        format!("{t}#DWIN#{model_uid}#{baseline_version}")
    }
    pub fn window_sk(slot: &str, window: DateTime<Utc>) -> String {
        format!("{slot}#{}", time_key(window))
    }
    /// Which request folded into which window and slot, so a redelivery adds nothing.
    pub fn fold_marker_pk(t: &TenantId, model_uid: &str) -> String {
        format!("{t}#DFOLD#{model_uid}")
    }
    pub fn fold_marker_sk(batch: &str, window_sk: &str, baseline_version: u64) -> String {
        format!("{batch}#{baseline_version}#{window_sk}")
    }
    pub fn check_pk(t: &TenantId, check_id: &str) -> String {
        format!("{t}#DCHECK#{check_id}")
    }
    pub const CHECK_SK: &str = "CHECK";
    /// GSI1: a model incarnation's checks by time.
    pub fn checks(t: &TenantId, model_uid: &str) -> String {
        format!("{t}#DCHECKS#{model_uid}")
    }
    /// Execution counters (`GET /drift/stats`).
    pub fn stats_pk(t: &TenantId) -> String {
        format!("{t}#DSTATS")
    }
    pub mod counter {
        pub const EXECUTIONS: &str = "executions";
        pub const COMPLETED: &str = "completed";
        pub const FAILED: &str = "failed";
        pub const SKIPPED: &str = "skipped";
        pub const ALERTS: &str = "alerts";
    }
}

/// Keys of log sources (issue 16).
pub mod sources {
    use crate::domain::TenantId;

    /// Every source of a tenant (sort key: the source id, `src_...`) and each source's
    /// last-received marker (`SEEN#<id>`).
    pub fn pk(t: &TenantId) -> String {
        format!("{t}#SOURCE")
    }
    pub const SOURCE_PREFIX: &str = "src_";
    pub fn seen_sk(id: &str) -> String {
        format!("SEEN#{id}")
    }
    /// The messages of a source queue that went to its dead-letter queue, by time.
    pub fn dead_letters_pk(t: &TenantId, id: &str) -> String {
        format!("{t}#SRCDLQ#{id}")
    }
    /// Counter (in the stats partition) of one source's stored events of one type.
    pub fn type_counter(id: &str, event_type: &str) -> String {
        format!("{}{event_type}", type_counter_prefix(id))
    }
    pub fn type_counter_prefix(id: &str) -> String {
        format!("source_type#{id}#")
    }
    /// Counter (in the stats partition) of one source's records dropped as unmapped;
    /// outside the type prefix, so it is no mapped type.
    pub fn dropped_counter(id: &str) -> String {
        format!("source_dropped#{id}")
    }
    /// One marker per dropped record (sort key: its dedup key), so a redelivered record
    /// is counted once.
    pub fn dropped_pk(t: &TenantId, id: &str) -> String {
        format!("{t}#SRCDROP#{id}")
    }
}

/// The model and prompt registries, and the failure counters.
pub mod governance {
    use crate::domain::TenantId;

    /// One version: its own partition, so reads by id are one get.
    pub fn version_pk(t: &TenantId, kind: &str, id: &str) -> String {
        format!("{t}#GOV#{kind}#{id}")
    }
    pub const VERSION_SK: &str = "VERSION";
    /// Reserves `(name, version)` within the tenant and kind.
    pub fn name_pk(t: &TenantId, kind: &str, name: &str, version: &str) -> String {
        format!(
            "{t}#GOVN#{kind}#{}#{}",
            name.to_lowercase(),
            version.to_lowercase()
        )
    }
    pub const NAME_SK: &str = "NAME";
    /// GSI1: every version of a kind, by id (ids are time-ordered).
    pub fn all(t: &TenantId, kind: &str) -> String {
        format!("{t}#GOVL#{kind}")
    }
    /// GSI2: the versions of a kind in one state, by id.
    pub fn by_state(t: &TenantId, kind: &str, state: &str) -> String {
        format!("{t}#GOVS#{kind}#{state}")
    }
    /// GSI3: every version of a kind for one purpose, by id: the newest names why the
    /// gate blocks when none is approved.
    pub fn by_purpose(t: &TenantId, kind: &str, purpose: &str) -> String {
        format!("{t}#GOVP#{kind}#{purpose}")
    }
    /// GSI4: the approved versions of a kind for one purpose, by approval time: the gate
    /// reads the newest.
    pub fn approved(t: &TenantId, kind: &str, purpose: &str) -> String {
        format!("{t}#GOVA#{kind}#{purpose}")
    }
    /// Marks that the built-in versions were registered for the tenant (once, ever).
    pub fn builtin_pk(t: &TenantId) -> String {
        format!("{t}#GOVBUILTIN")
    }
    pub const BUILTIN_SK: &str = "SEEDED";
    /// Failure counters by class live in the tenant's statistics partition under this
    /// prefix.
    pub const FAILURE_PREFIX: &str = "failure#";
    /// One item per stage message already counted as failed, so redelivery never counts
    /// it twice (expires after SQS's longest retention).
    pub fn failed_messages_pk(t: &TenantId) -> String {
        format!("{t}#FAILMSG")
    }
}

pub mod decide {
    use crate::domain::TenantId;

    /// One risk or compliance request: its own partition, so reads by id are one get.
    pub fn decision_pk(t: &TenantId, id: &str) -> String {
        format!("{t}#DEC#{id}")
    }
    pub const DECISION_SK: &str = "DECISION";
    /// GSI1: every request, by id (ids are time-ordered).
    pub fn all(t: &TenantId) -> String {
        format!("{t}#DECL")
    }
    /// GSI2: the requests in one status, by id.
    pub fn by_status(t: &TenantId, status: &str) -> String {
        format!("{t}#DECS#{status}")
    }
    /// The tenant's guardrails (`GET/PUT /risk/policy`).
    pub fn guardrails_pk(t: &TenantId) -> String {
        format!("{t}#DECPOLICY")
    }
    pub const GUARDRAILS_SK: &str = "GUARDRAILS";
}
