//! Deterministic generator of realistic security audit events.
//!
//! Demos, load tests and rule tests need traffic that looks like a real
//! organisation's audit trail: a fixed team of about 30 identities doing mostly
//! benign, working-hours weighted work (logins, MFA, pull requests,
//! deployments), with attack scenarios injected at seeded-random times so the
//! detection rules have something to catch. The output is a pure function of
//! [`GeneratorOptions`], so a seed that exposes a bug can be replayed exactly.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Map, Value};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratorOptions {
    /// Exact number of events returned, injected scenario events included.
    pub count: usize,
    /// Seeds the RNG: the same options always produce the same events.
    pub seed: u64,
    /// Width of the time window, in days, that ends at `end`.
    pub days: u32,
    /// Latest possible timestamp. Passed in rather than read from the clock
    /// so that output stays reproducible.
    pub end: DateTime<Utc>,
}

/// Yields `count` events as JSON objects ready to POST to /events, ordered by timestamp ascending.
///
/// Scenarios are planned first (about 3% of `count` for attacks, 2% for busy
/// hours) so that they are present even when `count` is modest, then benign
/// traffic fills the rest. Small batches cannot hold everything: attacks
/// start at 34 events, and a busy hour (at least 60 events) needs about
/// 3,000. Ids are `gen-<seed>-<index>` in output
/// order, so re-posting the same batch is idempotent for an ingest that dedups
/// on client ids.
pub fn generate_events(opts: &GeneratorOptions) -> Vec<Value> {
    let mut g = Gen::new(opts);
    let mut out: Vec<Draft> = Vec::with_capacity(opts.count);
    g.inject_attacks(opts.count.saturating_mul(3) / 100, &mut out);
    g.inject_busy_hours(opts, opts.count.saturating_mul(2) / 100, &mut out);
    let full = g.full_window();
    while out.len() < opts.count {
        g.benign(full, &mut out);
    }
    out.truncate(opts.count);
    // Stable sort: events sharing a second keep their causal order (e.g. the
    // MFA challenge before its success).
    out.sort_by_key(|d| d.ts);
    out.into_iter()
        .enumerate()
        .map(|(i, d)| d.into_json(opts.seed, i, opts.end))
        .collect()
}

const LOGIN_SUCCESS: &str = "login_success";
const LOGIN_FAILED: &str = "login_failed";
const MFA_CHALLENGE: &str = "mfa_challenge";
const MFA_FAILED: &str = "mfa_failed";
const MFA_SUCCESS: &str = "mfa_success";
const PR_OPENED: &str = "pull_request_opened";
const PR_MERGED: &str = "pull_request_merged";
const PERMISSION_CHANGED: &str = "permission_changed";
const TOKEN_CREATED: &str = "api_token_created";
const TOKEN_REVOKED: &str = "api_token_revoked";
const DEPLOY_STARTED: &str = "deployment_started";
const DEPLOY_SUCCEEDED: &str = "deployment_succeeded";
const DEPLOY_FAILED: &str = "deployment_failed";
const BUCKET_CREATED: &str = "storage_bucket_created";
const BUCKET_PERMISSION_CHANGED: &str = "storage_bucket_permission_changed";

const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Smallest busy hour worth injecting: below this it drowns in normal peaks.
const MIN_BUSY_HOUR: usize = 60;

/// A place logins come from; the first octets make IPs look plausible per country.
#[derive(Clone, Copy)]
struct Country {
    name: &'static str,
    first_octets: [u8; 2],
}

const fn country(name: &'static str, first_octets: [u8; 2]) -> Country {
    Country { name, first_octets }
}

const USA: Country = country("USA", [73, 98]);
const UK: Country = country("UK", [81, 86]);
const GERMANY: Country = country("Germany", [91, 84]);
const ISRAEL: Country = country("Israel", [79, 109]);
const INDIA: Country = country("India", [49, 117]);
const CANADA: Country = country("Canada", [99, 142]);
const FRANCE: Country = country("France", [90, 176]);
const JAPAN: Country = country("Japan", [126, 153]);
const RUSSIA: Country = country("Russia", [95, 178]);
const CHINA: Country = country("China", [116, 223]);
const OTHER: Country = country("Other", [185, 45]);
/// Where the company has staff; travel logins come from here too.
const USUAL: [Country; 8] = [USA, UK, GERMANY, ISRAEL, INDIA, CANADA, FRANCE, JAPAN];
/// Where the geo rules expect trouble; benign logins land here only rarely (VPNs).
const UNUSUAL: [Country; 3] = [RUSSIA, CHINA, OTHER];

const VIEWER: u8 = 0;
const DEVELOPER: u8 = 1;
const MAINTAINER: u8 = 2;
const ADMIN: u8 = 3;

/// Role names in privilege order, so escalations are "one step up".
fn role_name(rank: u8) -> &'static str {
    match rank {
        VIEWER => "viewer",
        DEVELOPER => "developer",
        MAINTAINER => "maintainer",
        _ => "admin",
    }
}

/// One identity of the simulated company.
struct User {
    name: &'static str,
    home: Country,
    /// Offset from UTC in minutes, so activity peaks in the user's own working day.
    tz_min: i16,
    rank: u8,
    /// Relative activity: a few people generate most of the traffic, as in real teams.
    weight: u32,
    /// Service accounts work around the clock and never log in interactively.
    service: bool,
    /// Stable host part of the home address, so most logins share one IP.
    host: u8,
}

impl User {
    /// Working-hours weighting only makes sense for people.
    fn tz(&self) -> Option<i16> {
        (!self.service).then_some(self.tz_min)
    }
}

const fn human(
    name: &'static str,
    home: Country,
    tz_min: i16,
    rank: u8,
    weight: u32,
    host: u8,
) -> User {
    User {
        name,
        home,
        tz_min,
        rank,
        weight,
        service: false,
        host,
    }
}

const fn service(name: &'static str, weight: u32, host: u8) -> User {
    User {
        name,
        home: USA,
        tz_min: 0,
        rank: MAINTAINER,
        weight,
        service: true,
        host,
    }
}

/// About 30 identities: enough for per-user baselines, few enough to read.
static USERS: [User; 30] = [
    human("alice.chen@acme.io", USA, -300, DEVELOPER, 10, 11),
    human("bob.martinez@acme.io", USA, -480, MAINTAINER, 8, 23),
    human("carol.jones@acme.io", USA, -300, ADMIN, 5, 37),
    human("david.kim@acme.io", USA, -480, DEVELOPER, 9, 41),
    human("sofia.rossi@acme.io", USA, -300, DEVELOPER, 6, 52),
    human("liam.murphy@acme.io", USA, -360, ADMIN, 4, 64),
    human("zoe.nguyen@acme.io", USA, -480, DEVELOPER, 7, 71),
    human("ethan.brooks@acme.io", USA, -300, VIEWER, 2, 88),
    human("emma.wilson@acme.io", UK, 0, DEVELOPER, 8, 19),
    human("frank.oconnor@acme.io", UK, 0, MAINTAINER, 6, 27),
    human("grace.patel@acme.io", UK, 0, VIEWER, 2, 133),
    human("hannah.schmidt@acme.io", GERMANY, 60, DEVELOPER, 7, 45),
    human("jonas.becker@acme.io", GERMANY, 60, DEVELOPER, 5, 58),
    human("julia.weber@acme.io", GERMANY, 60, ADMIN, 4, 93),
    human("mia.fischer@acme.io", GERMANY, 60, DEVELOPER, 6, 102),
    human("lior.cohen@acme.io", ISRAEL, 120, MAINTAINER, 7, 14),
    human("maya.friedman@acme.io", ISRAEL, 120, DEVELOPER, 8, 66),
    human("noam.levi@acme.io", ISRAEL, 120, DEVELOPER, 6, 121),
    human("arjun.sharma@acme.io", INDIA, 330, DEVELOPER, 9, 31),
    human("priya.nair@acme.io", INDIA, 330, DEVELOPER, 7, 77),
    human("rahul.gupta@acme.io", INDIA, 330, VIEWER, 3, 144),
    human("sanjay.iyer@acme.io", INDIA, 330, MAINTAINER, 5, 159),
    human("olivia.tremblay@acme.io", CANADA, -300, DEVELOPER, 6, 62),
    human("noah.roy@acme.io", CANADA, -300, DEVELOPER, 5, 171),
    human("chloe.dubois@acme.io", FRANCE, 60, DEVELOPER, 6, 83),
    human("lucas.bernard@acme.io", FRANCE, 60, MAINTAINER, 4, 97),
    human("yuki.tanaka@acme.io", JAPAN, 540, DEVELOPER, 6, 36),
    human("haruto.sato@acme.io", JAPAN, 540, VIEWER, 2, 188),
    service("svc-ci@acme.io", 12, 201),
    service("svc-terraform@acme.io", 6, 214),
];

const BROWSER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
];
const CLI_AGENTS: [&str; 4] = [
    "aws-cli/2.15.40 Python/3.11.8 Darwin/23.4.0 source/arm64",
    "google-cloud-sdk gcloud/472.0.0",
    "git/2.44.0",
    "okta-aws-cli/2.1.2",
];
const ATTACK_AGENTS: [&str; 4] = [
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
];

const LOGIN_SOURCES: [(&str, u32); 4] = [("okta", 80), ("aws", 8), ("gcp", 6), ("github", 6)];
const MFA_METHODS: [(&str, u32); 4] = [("push", 45), ("totp", 30), ("webauthn", 15), ("sms", 10)];
const LOGIN_FAILURE_REASONS: [(&str, u32); 3] = [
    ("invalid_password", 85),
    ("account_locked", 5),
    ("password_expired", 10),
];

const REPOS: [&str; 8] = [
    "acme/payments-api",
    "acme/web-app",
    "acme/auth-service",
    "acme/infra-terraform",
    "acme/data-pipeline",
    "acme/mobile-app",
    "acme/vigil",
    "acme/docs",
];
const BRANCH_KINDS: [&str; 5] = ["feature", "fix", "chore", "refactor", "hotfix"];
const BRANCH_TOPICS: [&str; 10] = [
    "login-flow",
    "rate-limit",
    "billing-export",
    "k8s-upgrade",
    "audit-log",
    "deps",
    "cache",
    "sso",
    "retry-policy",
    "metrics",
];

const SERVICES: [&str; 8] = [
    "payments-api",
    "web-app",
    "auth-service",
    "notification-worker",
    "search-api",
    "billing-service",
    "data-pipeline",
    "gateway",
];
/// Both spellings of production appear, so rules must normalise them.
const ENVIRONMENTS: [(&str, u32); 4] = [
    ("production", 22),
    ("prod", 8),
    ("staging", 40),
    ("dev", 30),
];
const PRODUCTION: [&str; 2] = ["production", "prod"];
const DEPLOY_SOURCES: [(&str, u32); 3] = [("argo", 70), ("github", 20), ("aws", 10)];
const DEPLOY_ERRORS: [&str; 6] = [
    "health check timed out after 300s",
    "ImagePullBackOff: manifest unknown",
    "database migration 0042 failed",
    "readiness probe failed",
    "rollout exceeded its progress deadline",
    "container OOMKilled",
];

const TOKEN_SOURCES: [(&str, u32); 4] = [("github", 45), ("vault", 25), ("okta", 15), ("gcp", 15)];
const TOKEN_NAMES: [&str; 8] = [
    "ci-deploy",
    "terraform-runner",
    "local-dev",
    "grafana-readonly",
    "backup-job",
    "release-bot",
    "metrics-exporter",
    "data-sync",
];
const ADMIN_TOKEN_NAMES: [&str; 4] = ["org-admin", "break-glass", "automation-admin", "temp-admin"];
const SCOPES: [&str; 8] = [
    "repo:read",
    "repo:write",
    "deploy:read",
    "deploy:write",
    "read:org",
    "logs:read",
    "secrets:read",
    "packages:write",
];
const REVOKE_REASONS: [(&str, u32); 4] = [
    ("rotated", 50),
    ("expired", 25),
    ("unused", 15),
    ("offboarding", 10),
];
const EXPIRY_DAYS: [i64; 4] = [30, 60, 90, 365];

const PERMISSION_SOURCES: [(&str, u32); 4] =
    [("okta", 40), ("github", 35), ("aws", 15), ("gcp", 10)];

const BUCKET_PURPOSES: [&str; 8] = [
    "logs",
    "backups",
    "exports",
    "assets",
    "ml-datasets",
    "terraform-state",
    "reports",
    "uploads",
];
const BUCKET_ENVS: [&str; 3] = ["prod", "staging", "dev"];
const AWS_REGIONS: [&str; 5] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
];
const GCP_REGIONS: [&str; 3] = ["us-central1", "europe-west3", "asia-northeast1"];
const PRIVATE_GRANTEES: [&str; 3] = [
    "group:data-team@acme.io",
    "serviceAccount:etl@acme-prod.iam.gserviceaccount.com",
    "arn:aws:iam::441200913377:role/analytics-reader",
];

/// Benign activity comes in episodes (a login with its MFA, a PR and its
/// merge, a rollout and its outcome) so related events share fields and
/// follow each other in time, as they would in a real log.
#[derive(Clone, Copy)]
enum Episode {
    Login,
    PullRequest,
    Deploy,
    TokenCreated,
    TokenRevoked,
    Permission,
    BucketCreated,
    BucketPermission,
}

/// Weighted towards logins, MFA and PRs, like a real engineering org.
const EPISODE_MIX: [(Episode, u32); 8] = [
    (Episode::Login, 450),
    (Episode::PullRequest, 250),
    (Episode::Deploy, 100),
    (Episode::TokenCreated, 20),
    (Episode::TokenRevoked, 15),
    (Episode::Permission, 20),
    (Episode::BucketCreated, 10),
    (Episode::BucketPermission, 8),
];

/// Attacks the detection rules are expected to catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    BruteForce,
    MfaFatigue,
    Escalation,
    AdminToken,
    PublicBucket,
    FailedProdDeploy,
}

/// Cheap scenarios first, so that a small budget still covers every kind.
const ALL_SCENARIOS: [Scenario; 6] = [
    Scenario::Escalation,
    Scenario::AdminToken,
    Scenario::PublicBucket,
    Scenario::FailedProdDeploy,
    Scenario::MfaFatigue,
    Scenario::BruteForce,
];

const SCENARIO_MIX: [(Scenario, u32); 6] = [
    (Scenario::BruteForce, 30),
    (Scenario::MfaFatigue, 20),
    (Scenario::Escalation, 10),
    (Scenario::AdminToken, 10),
    (Scenario::PublicBucket, 10),
    (Scenario::FailedProdDeploy, 15),
];

/// Which identities an event may come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Human,
    Service,
    Anyone,
}

impl Who {
    fn admits(self, u: &User) -> bool {
        match self {
            Who::Human => !u.service,
            Who::Service => u.service,
            Who::Anyone => true,
        }
    }
}

/// An inclusive range of epoch seconds that events are placed in.
#[derive(Clone, Copy)]
struct Window {
    lo: i64,
    hi: i64,
    /// Off for busy hours and attacks, whose timing ignores office hours.
    working_hours: bool,
}

impl Window {
    /// Never empty, so sampling inside it cannot fail.
    fn new(lo: i64, hi: i64, working_hours: bool) -> Self {
        Self {
            lo,
            hi: hi.max(lo),
            working_hours,
        }
    }
}

/// An event before ids and timestamps are rendered; keeping `ts` numeric
/// makes the final sort cheap.
struct Draft {
    ts: i64,
    event_type: &'static str,
    user: &'static str,
    source: &'static str,
    raw: Map<String, Value>,
}

impl Draft {
    fn new(
        ts: i64,
        event_type: &'static str,
        user: &'static str,
        source: &'static str,
        raw: Map<String, Value>,
    ) -> Self {
        Self {
            ts,
            event_type,
            user,
            source,
            raw,
        }
    }

    fn into_json(self, seed: u64, index: usize, fallback: DateTime<Utc>) -> Value {
        // Out of chrono's range only for absurd `days`; clamp rather than fail.
        let timestamp = DateTime::from_timestamp(self.ts, 0)
            .unwrap_or(fallback)
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut m = Map::new();
        m.insert("id".into(), Value::String(format!("gen-{seed}-{index}")));
        m.insert("event_type".into(), Value::from(self.event_type));
        m.insert("timestamp".into(), Value::String(timestamp));
        m.insert("user".into(), Value::from(self.user));
        m.insert("source".into(), Value::from(self.source));
        m.insert("raw_data".into(), Value::Object(self.raw));
        Value::Object(m)
    }
}

/// Collects one episode's events. The first is always kept so every episode
/// makes progress; follow-ups past the window are dropped (a PR merged after
/// `end` simply has not happened yet), which avoids piling events up at `end`.
struct Sink<'a> {
    out: &'a mut Vec<Draft>,
    hi: i64,
    pushed: bool,
}

impl<'a> Sink<'a> {
    fn new(out: &'a mut Vec<Draft>, hi: i64) -> Self {
        Self {
            out,
            hi,
            pushed: false,
        }
    }

    fn push(&mut self, mut d: Draft) {
        if !self.pushed {
            d.ts = d.ts.min(self.hi);
        } else if d.ts > self.hi {
            return;
        }
        self.out.push(d);
        self.pushed = true;
    }
}

/// Builds a JSON object from a fixed list of fields.
fn obj<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Relative chance (percent) that a person is active at `t`: office hours on
/// weekdays dominate, evenings and weekends are quiet.
fn activity_pct(t: i64, tz_min: i16) -> u32 {
    let local = t + i64::from(tz_min) * MINUTE;
    let hour = local.rem_euclid(DAY) / HOUR;
    // 1970-01-01 was a Thursday; 0 = Sunday.
    let weekday = (local.div_euclid(DAY) + 4).rem_euclid(7);
    let base = match hour {
        9..=17 => 100,
        7 | 8 | 18..=20 => 35,
        _ => 6,
    };
    if weekday == 0 || weekday == 6 {
        base / 4
    } else {
        base
    }
}

/// Generator state: one seeded RNG drives every choice, in a fixed order.
struct Gen {
    rng: StdRng,
    start: i64,
    end: i64,
    next_pr: u64,
}

impl Gen {
    fn new(opts: &GeneratorOptions) -> Self {
        let end = opts.end.timestamp();
        // Timestamps have second precision: round the start up so it stays
        // inside [end - days, end] when `end` has a fractional part.
        let round_up = i64::from(opts.end.timestamp_subsec_nanos() > 0);
        let start = (end - i64::from(opts.days) * DAY + round_up).min(end);
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let next_pr = rng.gen_range(100..2_000);
        Self {
            rng,
            start,
            end,
            next_pr,
        }
    }

    fn full_window(&self) -> Window {
        Window::new(self.start, self.end, true)
    }

    // ----- random helpers (none can panic: ranges and tables are never empty) -----

    fn chance(&mut self, pct: u32) -> bool {
        self.rng.gen_range(0..100) < pct
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.rng.gen_range(lo..=hi)
        }
    }

    /// Samples through u32 rather than usize so output is the same on 32- and 64-bit targets.
    fn index(&mut self, len: usize) -> usize {
        let n = u32::try_from(len).unwrap_or(u32::MAX).max(1);
        self.rng.gen_range(0..n) as usize
    }

    fn pick<T: Copy, const N: usize>(&mut self, items: &[T; N]) -> T {
        const { assert!(N > 0) };
        items[self.index(N)]
    }

    fn weighted<T: Copy, const N: usize>(&mut self, items: &[(T, u32); N]) -> T {
        const { assert!(N > 0) };
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.rng.gen_range(0..total.max(1));
        let mut chosen = items[0].0;
        for &(item, w) in items {
            chosen = item;
            if r < w {
                break;
            }
            r -= w;
        }
        chosen
    }

    fn pick_user(&mut self, who: Who) -> &'static User {
        let total: u32 = USERS
            .iter()
            .filter(|u| who.admits(u))
            .map(|u| u.weight)
            .sum();
        let mut r = self.rng.gen_range(0..total.max(1));
        let mut chosen = &USERS[0];
        for u in USERS.iter().filter(|u| who.admits(u)) {
            chosen = u;
            if r < u.weight {
                break;
            }
            r -= u.weight;
        }
        chosen
    }

    /// Someone other than `not`: reviewers, approvers and targets are never the actor.
    fn other_user(&mut self, not: &User, who: Who) -> &'static User {
        for _ in 0..16 {
            let u = self.pick_user(who);
            if u.name != not.name {
                return u;
            }
        }
        USERS
            .iter()
            .find(|u| u.name != not.name && who.admits(u))
            .unwrap_or(&USERS[0])
    }

    /// A person of at least `min_rank`, e.g. an admin to approve a change.
    fn pick_ranked(&mut self, min_rank: u8, not: &str) -> &'static User {
        let pool: Vec<&'static User> = USERS
            .iter()
            .filter(|u| !u.service && u.rank >= min_rank && u.name != not)
            .collect();
        if pool.is_empty() {
            return self.pick_user(Who::Human);
        }
        pool[self.index(pool.len())]
    }

    /// Deployments come from CI half the time and from people the rest.
    fn deployer(&mut self) -> &'static User {
        let who = if self.chance(50) {
            Who::Service
        } else {
            Who::Human
        };
        self.pick_user(who)
    }

    fn time_in(&mut self, w: Window, tz_min: Option<i16>) -> i64 {
        let Some(tz) = tz_min.filter(|_| w.working_hours) else {
            return self.between(w.lo, w.hi);
        };
        // Rejection sampling against the activity curve; bounded so tiny
        // windows that fall entirely at night still terminate.
        let mut t = w.lo;
        for _ in 0..64 {
            t = self.between(w.lo, w.hi);
            if self.rng.gen_range(0..100) < activity_pct(t, tz) {
                break;
            }
        }
        t
    }

    fn ip_in(&mut self, c: Country) -> String {
        let a = self.pick(&c.first_octets);
        let b = self.rng.gen_range(0..=255u8);
        let d = self.rng.gen_range(0..=255u8);
        let e = self.rng.gen_range(1..=254u8);
        format!("{a}.{b}.{d}.{e}")
    }

    /// Mostly the user's stable home address, sometimes a new one (mobile, DHCP).
    fn home_ip(&mut self, u: &User) -> String {
        if self.chance(85) {
            let h = u16::from(u.host);
            format!(
                "{}.{}.{}.{}",
                u.home.first_octets[0],
                h,
                h * 7 % 256,
                h * 13 % 250 + 2
            )
        } else {
            self.ip_in(u.home)
        }
    }

    /// Where a benign login comes from: home, travel, or rarely a VPN exit in
    /// an unusual country (so geo rules see some noise).
    fn login_origin(&mut self, u: &User) -> (String, &'static str) {
        let country = match self.rng.gen_range(0..100) {
            0..92 => return (self.home_ip(u), u.home.name),
            92..99 => self.pick(&USUAL),
            _ => self.pick(&UNUSUAL),
        };
        (self.ip_in(country), country.name)
    }

    fn agent(&mut self, u: &User) -> &'static str {
        match self.rng.gen_range(0..100) {
            0..85 => BROWSER_AGENTS[usize::from(u.host) % BROWSER_AGENTS.len()],
            85..95 => self.pick(&BROWSER_AGENTS),
            _ => self.pick(&CLI_AGENTS),
        }
    }

    /// Sources disagree on the key name; rules must accept both.
    fn put_location(&mut self, raw: &mut Map<String, Value>, country: &str) {
        let key = if self.chance(80) {
            "location"
        } else {
            "country"
        };
        raw.insert(key.to_owned(), Value::from(country));
    }

    /// Visibility comes either as a boolean or as a string, depending on the tool.
    fn put_visibility(&mut self, raw: &mut Map<String, Value>, public: bool) {
        if self.chance(50) {
            raw.insert("public".into(), Value::Bool(public));
        } else {
            let v = if public { "public" } else { "private" };
            raw.insert("visibility".into(), Value::from(v));
        }
    }

    fn rfc3339(t: i64) -> Value {
        DateTime::from_timestamp(t, 0).map_or(Value::Null, |d| {
            Value::String(d.to_rfc3339_opts(SecondsFormat::Secs, true))
        })
    }

    /// Expiring tokens carry `expires_at`; others use one of two spellings for "never".
    fn put_expiry(&mut self, raw: &mut Map<String, Value>, ts: i64) {
        match self.rng.gen_range(0..100) {
            0..65 => {
                let days = self.pick(&EXPIRY_DAYS);
                raw.insert("expires_at".into(), Self::rfc3339(ts + days * DAY));
            }
            65..80 => {
                raw.insert("expires_at".into(), Value::Null);
            }
            _ => {
                raw.insert("has_expiry".into(), Value::Bool(false));
            }
        }
    }

    fn hex4(&mut self) -> String {
        format!("{:04x}", self.rng.gen_range(0..=0xffffu32))
    }

    fn commit(&mut self) -> String {
        let (a, b, c) = (
            self.rng.next_u64(),
            self.rng.next_u64(),
            self.rng.next_u32(),
        );
        format!("{a:016x}{b:016x}{c:08x}")
    }

    fn scopes(&mut self, k: usize) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::with_capacity(k);
        for _ in 0..k * 4 {
            if v.len() >= k {
                break;
            }
            let s = self.pick(&SCOPES);
            if !v.contains(&s) {
                v.push(s);
            }
        }
        v
    }

    fn login_raw(
        &mut self,
        ip: &str,
        agent: &str,
        country: &str,
        success: bool,
    ) -> Map<String, Value> {
        let mut raw = obj([
            ("ip", Value::from(ip)),
            ("user_agent", Value::from(agent)),
            ("success", Value::Bool(success)),
        ]);
        self.put_location(&mut raw, country);
        if !success {
            raw.insert(
                "reason".into(),
                Value::from(self.weighted(&LOGIN_FAILURE_REASONS)),
            );
        }
        raw
    }

    fn mfa_raw(method: &str, ip: &str) -> Map<String, Value> {
        obj([("method", Value::from(method)), ("ip", Value::from(ip))])
    }

    fn deploy_raw(&mut self, env: &str) -> Map<String, Value> {
        let version = format!(
            "v{}.{}.{}",
            self.rng.gen_range(1..=3u32),
            self.rng.gen_range(0..=42u32),
            self.rng.gen_range(0..=19u32)
        );
        obj([
            ("service", Value::from(self.pick(&SERVICES))),
            ("environment", Value::from(env)),
            ("version", Value::String(version)),
            ("commit", Value::String(self.commit())),
        ])
    }

    fn bucket_raw(&mut self, source: &str, public: bool) -> Map<String, Value> {
        let region = if source == "aws" {
            self.pick(&AWS_REGIONS)
        } else {
            self.pick(&GCP_REGIONS)
        };
        let name = format!(
            "acme-{}-{}-{}",
            self.pick(&BUCKET_PURPOSES),
            self.pick(&BUCKET_ENVS),
            self.hex4()
        );
        let mut raw = obj([
            ("bucket_name", Value::String(name)),
            ("region", Value::from(region)),
        ]);
        self.put_visibility(&mut raw, public);
        raw
    }

    fn token_raw(&mut self, name: &str, ts: i64, scopes: &[&str]) -> Map<String, Value> {
        let token_name = format!("{name}-{}", self.hex4());
        let token_id = format!("tok_{:012x}", self.rng.next_u64() >> 16);
        let mut raw = obj([
            ("token_name", Value::String(token_name)),
            ("token_id", Value::String(token_id)),
            ("scopes", Value::from(scopes.to_vec())),
        ]);
        self.put_expiry(&mut raw, ts);
        raw
    }

    fn permission_resource(source: &str) -> &'static str {
        match source {
            "okta" => "okta:group/engineering",
            "github" => "github:org/acme",
            "aws" => "aws:account/441200913377",
            _ => "gcp:project/acme-prod",
        }
    }

    // ----- benign episodes -----

    fn benign(&mut self, w: Window, out: &mut Vec<Draft>) {
        match self.weighted(&EPISODE_MIX) {
            Episode::Login => self.login_episode(w, out),
            Episode::PullRequest => self.pr_episode(w, out),
            Episode::Deploy => self.deploy_episode(w, out),
            Episode::TokenCreated => self.token_episode(w, TOKEN_CREATED, out),
            Episode::TokenRevoked => self.token_episode(w, TOKEN_REVOKED, out),
            Episode::Permission => self.permission_episode(w, out),
            Episode::BucketCreated => self.bucket_episode(w, BUCKET_CREATED, out),
            Episode::BucketPermission => self.bucket_episode(w, BUCKET_PERMISSION_CHANGED, out),
        }
    }

    /// Password, then usually MFA, then the session: the order an IdP logs them.
    fn login_episode(&mut self, w: Window, out: &mut Vec<Draft>) {
        let user = self.pick_user(Who::Human);
        let mut ts = self.time_in(w, user.tz());
        let (ip, country) = self.login_origin(user);
        let agent = self.agent(user);
        let source = self.weighted(&LOGIN_SOURCES);
        let mut sink = Sink::new(out, w.hi);
        if self.chance(3) {
            // Gave up after one failure: benign noise the brute-force rule must tolerate.
            let raw = self.login_raw(&ip, agent, country, false);
            sink.push(Draft::new(ts, LOGIN_FAILED, user.name, source, raw));
            return;
        }
        if self.chance(8) {
            // A typo before the real attempt.
            let raw = self.login_raw(&ip, agent, country, false);
            sink.push(Draft::new(ts, LOGIN_FAILED, user.name, source, raw));
            ts += self.between(5, 90);
        }
        if self.chance(75) {
            let method = self.weighted(&MFA_METHODS);
            sink.push(Draft::new(
                ts,
                MFA_CHALLENGE,
                user.name,
                source,
                Self::mfa_raw(method, &ip),
            ));
            ts += self.between(2, 40);
            if self.chance(4) {
                let mut raw = Self::mfa_raw(method, &ip);
                let reason = if self.chance(60) {
                    "invalid_code"
                } else {
                    "timeout"
                };
                raw.insert("reason".into(), Value::from(reason));
                sink.push(Draft::new(ts, MFA_FAILED, user.name, source, raw));
                ts += self.between(10, 90);
            }
            sink.push(Draft::new(
                ts,
                MFA_SUCCESS,
                user.name,
                source,
                Self::mfa_raw(method, &ip),
            ));
            ts += self.between(1, 5);
        }
        let raw = self.login_raw(&ip, agent, country, true);
        sink.push(Draft::new(ts, LOGIN_SUCCESS, user.name, source, raw));
    }

    fn pr_episode(&mut self, w: Window, out: &mut Vec<Draft>) {
        let user = self.pick_user(Who::Human);
        let ts = self.time_in(w, user.tz());
        let repo_key = if self.chance(80) {
            "repo"
        } else {
            "repository"
        };
        let branch = format!(
            "{}/{}-{}",
            self.pick(&BRANCH_KINDS),
            self.pick(&BRANCH_TOPICS),
            self.rng.gen_range(100..=4_999u32)
        );
        // Mostly small changes with a long tail of big ones, which size rules key on.
        let lines = if self.chance(85) {
            self.between(5, 200)
        } else {
            self.between(201, 1_200)
        };
        let wanted = self.weighted(&[(0usize, 10), (1, 45), (2, 35), (3, 10)]);
        let mut reviewers: Vec<&'static str> = Vec::with_capacity(wanted);
        for _ in 0..wanted * 4 {
            if reviewers.len() >= wanted {
                break;
            }
            let r = self.other_user(user, Who::Human).name;
            if !reviewers.contains(&r) {
                reviewers.push(r);
            }
        }
        let pr_number = self.next_pr;
        self.next_pr += 1;
        let merged_by = reviewers.first().copied().unwrap_or(user.name);
        let raw = obj([
            (repo_key, Value::from(self.pick(&REPOS))),
            ("branch", Value::String(branch)),
            ("base_branch", Value::from("main")),
            ("lines_changed", Value::from(lines)),
            ("reviewers", Value::from(reviewers)),
            ("pr_number", Value::from(pr_number)),
        ]);
        let mut sink = Sink::new(out, w.hi);
        let merge = self.chance(70);
        let delay = self.between(20 * MINUTE, 3 * DAY);
        if merge {
            let mut merged = raw.clone();
            merged.insert("merged_by".into(), Value::from(merged_by));
            sink.push(Draft::new(ts, PR_OPENED, user.name, "github", raw));
            sink.push(Draft::new(
                ts + delay,
                PR_MERGED,
                merged_by,
                "github",
                merged,
            ));
        } else {
            sink.push(Draft::new(ts, PR_OPENED, user.name, "github", raw));
        }
    }

    fn deploy_episode(&mut self, w: Window, out: &mut Vec<Draft>) {
        let user = self.deployer();
        let ts = self.time_in(w, user.tz());
        let env = self.weighted(&ENVIRONMENTS);
        let source = self.weighted(&DEPLOY_SOURCES);
        let raw = self.deploy_raw(env);
        let took = self.between(45, 15 * MINUTE);
        let mut done = raw.clone();
        done.insert("duration_seconds".into(), Value::from(took));
        // Benign failures stay out of production: a failed production
        // rollout is an injected scenario the rules must flag.
        let failed = !PRODUCTION.contains(&env) && self.chance(8);
        let outcome = if failed {
            done.insert("error".into(), Value::from(self.pick(&DEPLOY_ERRORS)));
            DEPLOY_FAILED
        } else {
            DEPLOY_SUCCEEDED
        };
        let mut sink = Sink::new(out, w.hi);
        sink.push(Draft::new(ts, DEPLOY_STARTED, user.name, source, raw));
        sink.push(Draft::new(ts + took, outcome, user.name, source, done));
    }

    fn token_episode(&mut self, w: Window, event_type: &'static str, out: &mut Vec<Draft>) {
        let user = self.pick_user(Who::Anyone);
        let ts = self.time_in(w, user.tz());
        let source = self.weighted(&TOKEN_SOURCES);
        let k = self.rng.gen_range(1..=3usize);
        let scopes = self.scopes(k);
        let name = self.pick(&TOKEN_NAMES);
        let mut raw = self.token_raw(name, ts, &scopes);
        if event_type == TOKEN_REVOKED {
            raw.insert("reason".into(), Value::from(self.weighted(&REVOKE_REASONS)));
        }
        Sink::new(out, w.hi).push(Draft::new(ts, event_type, user.name, source, raw));
    }

    /// Role changes move one step; grants of admin always carry an approver
    /// here, so only the injected escalation lacks one.
    fn permission_episode(&mut self, w: Window, out: &mut Vec<Draft>) {
        let actor = self.pick_ranked(MAINTAINER, "");
        let target = self.other_user(actor, Who::Human);
        let ts = self.time_in(w, actor.tz());
        let old = target.rank;
        let new = match old {
            VIEWER => DEVELOPER,
            ADMIN => MAINTAINER,
            r if self.chance(65) => r + 1,
            r => r - 1,
        };
        let source = self.weighted(&PERMISSION_SOURCES);
        let mut raw = obj([
            ("old_role", Value::from(role_name(old))),
            ("new_role", Value::from(role_name(new))),
            ("target_user", Value::from(target.name)),
            ("resource", Value::from(Self::permission_resource(source))),
        ]);
        let approval = if new == ADMIN {
            0
        } else {
            self.rng.gen_range(0..100)
        };
        match approval {
            0..85 => {
                let approver = self.pick_ranked(ADMIN, actor.name);
                raw.insert("approved_by".into(), Value::from(approver.name));
            }
            85..95 => {}
            _ => {
                raw.insert("approved_by".into(), Value::Null);
            }
        }
        Sink::new(out, w.hi).push(Draft::new(ts, PERMISSION_CHANGED, actor.name, source, raw));
    }

    fn bucket_episode(&mut self, w: Window, event_type: &'static str, out: &mut Vec<Draft>) {
        let user = self.pick_user(Who::Anyone);
        let ts = self.time_in(w, user.tz());
        let source = if self.chance(65) { "aws" } else { "gcp" };
        let mut raw = self.bucket_raw(source, false);
        if event_type == BUCKET_CREATED {
            let encryption = if source == "aws" {
                "aws:kms"
            } else {
                "google-managed"
            };
            raw.insert("encryption".into(), Value::from(encryption));
            raw.insert("versioning".into(), Value::Bool(self.chance(60)));
        } else {
            raw.insert("grantee".into(), Value::from(self.pick(&PRIVATE_GRANTEES)));
        }
        Sink::new(out, w.hi).push(Draft::new(ts, event_type, user.name, source, raw));
    }

    // ----- injected scenarios -----

    /// One of each scenario first (cheapest first), then random ones until
    /// the budget is spent; a scenario that does not fit is discarded whole.
    fn inject_attacks(&mut self, budget: usize, out: &mut Vec<Draft>) {
        let mut left = budget;
        for kind in ALL_SCENARIOS {
            self.try_scenario(kind, &mut left, out);
        }
        let mut misses = 0;
        while left > 0 && misses < 8 {
            let kind = self.weighted(&SCENARIO_MIX);
            if self.try_scenario(kind, &mut left, out) {
                misses = 0;
            } else {
                misses += 1;
            }
        }
    }

    fn try_scenario(&mut self, kind: Scenario, left: &mut usize, out: &mut Vec<Draft>) -> bool {
        let before = out.len();
        self.scenario(kind, out);
        let used = out.len() - before;
        if used == 0 || used > *left {
            out.truncate(before);
            return false;
        }
        *left -= used;
        true
    }

    fn scenario(&mut self, kind: Scenario, out: &mut Vec<Draft>) {
        match kind {
            Scenario::BruteForce => self.brute_force(out),
            Scenario::MfaFatigue => self.mfa_fatigue(out),
            Scenario::Escalation => self.escalation(out),
            Scenario::AdminToken => self.admin_token(out),
            Scenario::PublicBucket => self.public_bucket(out),
            Scenario::FailedProdDeploy => self.failed_prod_deploy(out),
        }
    }

    /// `n` sorted offsets in [0, span], the first at 0, for bursts.
    fn burst_offsets(&mut self, n: i64, span: i64) -> Vec<i64> {
        let mut offs: Vec<i64> = (0..n)
            .map(|i| if i == 0 { 0 } else { self.between(0, span) })
            .collect();
        offs.sort_unstable();
        offs
    }

    /// 3 to 10 failures within 30 minutes, sometimes followed by a success
    /// from an unusual country: the account was taken over.
    fn brute_force(&mut self, out: &mut Vec<Draft>) {
        let victim = self.pick_user(Who::Human);
        let n = self.between(3, 10);
        let span = self.between(2 * MINUTE, 29 * MINUTE);
        let t0 = self.between(self.start, self.end - span - 15 * MINUTE);
        let attacker = if self.chance(60) {
            self.pick(&UNUSUAL)
        } else {
            self.pick(&USUAL)
        };
        let ip = self.ip_in(attacker);
        let agent = self.pick(&ATTACK_AGENTS);
        let source = self.weighted(&LOGIN_SOURCES);
        let offs = self.burst_offsets(n, span);
        let mut sink = Sink::new(out, self.end);
        for off in offs {
            let mut raw = obj([
                ("ip", Value::from(ip.as_str())),
                ("user_agent", Value::from(agent)),
                ("success", Value::Bool(false)),
                ("reason", Value::from("invalid_password")),
            ]);
            self.put_location(&mut raw, attacker.name);
            sink.push(Draft::new(t0 + off, LOGIN_FAILED, victim.name, source, raw));
        }
        if self.chance(50) {
            let landed = if UNUSUAL.iter().any(|c| c.name == attacker.name) {
                (ip, attacker.name)
            } else {
                let c = self.pick(&UNUSUAL);
                (self.ip_in(c), c.name)
            };
            let ts = t0 + span + self.between(15, 10 * MINUTE);
            let raw = self.login_raw(&landed.0, agent, landed.1, true);
            sink.push(Draft::new(ts, LOGIN_SUCCESS, victim.name, source, raw));
        }
    }

    /// Push bombing: 3 to 6 denied pushes within 10 minutes until the victim
    /// gives in, sometimes followed by the attacker's session.
    fn mfa_fatigue(&mut self, out: &mut Vec<Draft>) {
        let victim = self.pick_user(Who::Human);
        let n = self.between(3, 6);
        let span = self.between(MINUTE, 9 * MINUTE);
        let t0 = self.between(self.start, self.end - span - 10 * MINUTE);
        let origin = if self.chance(70) {
            self.pick(&UNUSUAL)
        } else {
            self.pick(&USUAL)
        };
        let ip = self.ip_in(origin);
        let offs = self.burst_offsets(n, span);
        let mut sink = Sink::new(out, self.end);
        for off in offs {
            let mut raw = Self::mfa_raw("push", &ip);
            let reason = if self.chance(60) { "denied" } else { "timeout" };
            raw.insert("reason".into(), Value::from(reason));
            sink.push(Draft::new(t0 + off, MFA_FAILED, victim.name, "okta", raw));
        }
        let ts = t0 + span + self.between(5, 3 * MINUTE);
        sink.push(Draft::new(
            ts,
            MFA_SUCCESS,
            victim.name,
            "okta",
            Self::mfa_raw("push", &ip),
        ));
        if self.chance(50) {
            let agent = self.pick(&BROWSER_AGENTS);
            let raw = self.login_raw(&ip, agent, origin.name, true);
            let ts = ts + self.between(1, 30);
            sink.push(Draft::new(ts, LOGIN_SUCCESS, victim.name, "okta", raw));
        }
    }

    /// A grant of admin with no approver, sometimes to oneself.
    fn escalation(&mut self, out: &mut Vec<Draft>) {
        // The one promoted is not already an admin, so the grant is a real escalation.
        let mut target = self.pick_user(Who::Human);
        for _ in 0..16 {
            if target.rank < ADMIN {
                break;
            }
            target = self.pick_user(Who::Human);
        }
        let actor = if self.chance(40) {
            target
        } else {
            self.other_user(target, Who::Human)
        };
        let ts = self.time_in(self.full_window(), actor.tz());
        let old = target.rank.min(MAINTAINER);
        let source = self.weighted(&PERMISSION_SOURCES);
        let mut raw = obj([
            ("old_role", Value::from(role_name(old))),
            ("new_role", Value::from(role_name(ADMIN))),
            ("target_user", Value::from(target.name)),
            ("resource", Value::from(Self::permission_resource(source))),
        ]);
        if self.chance(50) {
            raw.insert("approved_by".into(), Value::Null);
        }
        Sink::new(out, self.end).push(Draft::new(ts, PERMISSION_CHANGED, actor.name, source, raw));
    }

    /// A token with `admin:*`, usually without an expiry.
    fn admin_token(&mut self, out: &mut Vec<Draft>) {
        let user = self.pick_user(Who::Anyone);
        let ts = self.time_in(self.full_window(), user.tz());
        let source = self.weighted(&TOKEN_SOURCES);
        let extra = self.rng.gen_range(0..=2usize);
        let mut scopes = vec!["admin:*"];
        scopes.extend(self.scopes(extra));
        let name = self.pick(&ADMIN_TOKEN_NAMES);
        let mut raw = self.token_raw(name, ts, &scopes);
        raw.remove("expires_at");
        raw.remove("has_expiry");
        match self.rng.gen_range(0..100) {
            0..45 => raw.insert("has_expiry".into(), Value::Bool(false)),
            45..75 => raw.insert("expires_at".into(), Value::Null),
            _ => raw.insert("expires_at".into(), Self::rfc3339(ts + 365 * DAY)),
        };
        Sink::new(out, self.end).push(Draft::new(ts, TOKEN_CREATED, user.name, source, raw));
    }

    /// A bucket made public, either at creation or by a later ACL change.
    fn public_bucket(&mut self, out: &mut Vec<Draft>) {
        let user = self.pick_user(Who::Anyone);
        let ts = self.time_in(self.full_window(), user.tz());
        let source = if self.chance(65) { "aws" } else { "gcp" };
        let mut raw = self.bucket_raw(source, true);
        let event_type = if self.chance(60) {
            BUCKET_CREATED
        } else {
            let grantee = if source == "aws" { "*" } else { "allUsers" };
            raw.insert("grantee".into(), Value::from(grantee));
            BUCKET_PERMISSION_CHANGED
        };
        Sink::new(out, self.end).push(Draft::new(ts, event_type, user.name, source, raw));
    }

    /// A production rollout that fails.
    fn failed_prod_deploy(&mut self, out: &mut Vec<Draft>) {
        let user = self.deployer();
        let took = self.between(MINUTE, 20 * MINUTE);
        let window = Window::new(self.start, self.end - took, true);
        let ts = self.time_in(window, user.tz());
        let env = self.pick(&PRODUCTION);
        let source = self.weighted(&DEPLOY_SOURCES);
        let raw = self.deploy_raw(env);
        let mut failed = raw.clone();
        failed.insert("duration_seconds".into(), Value::from(took));
        failed.insert("error".into(), Value::from(self.pick(&DEPLOY_ERRORS)));
        let mut sink = Sink::new(out, self.end);
        sink.push(Draft::new(ts, DEPLOY_STARTED, user.name, source, raw));
        sink.push(Draft::new(
            ts + took,
            DEPLOY_FAILED,
            user.name,
            source,
            failed,
        ));
    }

    /// Occasional hours with several times the usual traffic (an incident, a
    /// release day), so volume rules and dashboards see spikes.
    fn inject_busy_hours(&mut self, opts: &GeneratorOptions, budget: usize, out: &mut Vec<Draft>) {
        let hours = usize::try_from(u64::from(opts.days) * 24)
            .unwrap_or(usize::MAX)
            .max(1);
        let hourly = opts.count / hours;
        let mut left = budget;
        for _ in 0..=opts.days / 10 {
            // Several times the average rate, so the spike stands out above
            // the normal office-hours peak (about 3x the average); the last
            // one may be trimmed to the budget.
            let factor = self.rng.gen_range(4..=8usize);
            let size = hourly.saturating_mul(factor).max(MIN_BUSY_HOUR).min(left);
            if size < MIN_BUSY_HOUR {
                break;
            }
            self.busy_hour(size, out);
            left -= size;
        }
    }

    fn busy_hour(&mut self, size: usize, out: &mut Vec<Draft>) {
        let who = self.pick_user(Who::Human);
        let anchor = Window::new(self.start, self.end - HOUR + 1, true);
        let lo = self.time_in(anchor, who.tz());
        let hour = Window::new(lo, (lo + HOUR - 1).min(self.end), false);
        let before = out.len();
        while out.len() - before < size {
            self.benign(hour, out);
        }
        out.truncate(before + size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeDelta, TimeZone, Timelike};
    use std::collections::{BTreeMap, BTreeSet};

    const ALL_TYPES: [&str; 15] = [
        LOGIN_SUCCESS,
        LOGIN_FAILED,
        MFA_CHALLENGE,
        MFA_FAILED,
        MFA_SUCCESS,
        PR_OPENED,
        PR_MERGED,
        PERMISSION_CHANGED,
        TOKEN_CREATED,
        TOKEN_REVOKED,
        DEPLOY_STARTED,
        DEPLOY_SUCCEEDED,
        DEPLOY_FAILED,
        BUCKET_CREATED,
        BUCKET_PERMISSION_CHANGED,
    ];
    const SOURCES: [&str; 6] = ["okta", "github", "aws", "gcp", "vault", "argo"];
    const ROLES: [&str; 4] = ["viewer", "developer", "maintainer", "admin"];

    fn end() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 30, 12, 0, 0).unwrap()
    }

    fn opts(count: usize, seed: u64) -> GeneratorOptions {
        GeneratorOptions {
            count,
            seed,
            days: 30,
            end: end(),
        }
    }

    fn ts(e: &Value) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    fn raw(e: &Value) -> &Map<String, Value> {
        e["raw_data"].as_object().unwrap()
    }

    fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
        events.iter().filter(|e| e["event_type"] == t).collect()
    }

    fn location_of(e: &Value) -> &str {
        let r = raw(e);
        r.get("location")
            .or_else(|| r.get("country"))
            .and_then(Value::as_str)
            .unwrap()
    }

    fn is_unusual(c: &str) -> bool {
        ["Russia", "China", "Other"].contains(&c)
    }

    /// Per user, the end times of every run of `min` events of `ty` within `within` seconds.
    fn bursts(events: &[Value], ty: &str, min: usize, within: i64) -> Vec<(String, i64)> {
        let mut per_user: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for e in of_type(events, ty) {
            let user = e["user"].as_str().unwrap().to_owned();
            per_user.entry(user).or_default().push(ts(e).timestamp());
        }
        let mut found = Vec::new();
        for (user, times) in per_user {
            for w in times.windows(min) {
                if w[min - 1] - w[0] <= within {
                    found.push((user.clone(), w[min - 1]));
                }
            }
        }
        found
    }

    #[test]
    fn same_seed_gives_identical_output() {
        assert_eq!(
            generate_events(&opts(3_000, 7)),
            generate_events(&opts(3_000, 7))
        );
    }

    #[test]
    fn different_seed_gives_different_output() {
        let a = generate_events(&opts(3_000, 7));
        let b = generate_events(&opts(3_000, 8));
        assert_ne!(a, b);
        let differing = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x["raw_data"] != y["raw_data"])
            .count();
        assert!(differing > 2_900, "only {differing} events differ");
    }

    #[test]
    fn returns_exactly_count_events() {
        for n in [0, 1, 2, 17, 33, 34, 100, 999, 5_000, 12_345] {
            assert_eq!(generate_events(&opts(n, 1)).len(), n, "count {n}");
        }
    }

    #[test]
    fn timestamps_are_in_range_sorted_and_second_precision() {
        let events = generate_events(&opts(5_000, 11));
        let start = end() - TimeDelta::days(30);
        let mut prev = start;
        for (i, e) in events.iter().enumerate() {
            let text = e["timestamp"].as_str().unwrap();
            assert_eq!(text.len(), 20, "{text}");
            assert!(text.ends_with('Z'), "{text}");
            let t = ts(e);
            assert!(t >= start && t <= end(), "{text} out of range");
            assert!(t >= prev, "not sorted at {i}");
            prev = t;
            assert_eq!(e["id"], format!("gen-11-{i}"));
        }
    }

    #[test]
    fn degenerate_windows_stay_in_range() {
        let at_end = generate_events(&GeneratorOptions {
            count: 500,
            seed: 3,
            days: 0,
            end: end(),
        });
        assert_eq!(at_end.len(), 500);
        assert!(at_end.iter().all(|e| ts(e) == end()));

        let fractional = end() + TimeDelta::milliseconds(700);
        let o = GeneratorOptions {
            count: 2_000,
            seed: 3,
            days: 1,
            end: fractional,
        };
        let start = fractional - TimeDelta::days(1);
        for e in generate_events(&o) {
            let t = ts(&e);
            assert!(t >= start && t <= fractional, "{t} out of range");
        }
    }

    #[test]
    fn every_event_type_appears_in_5000_events() {
        let events = generate_events(&opts(5_000, 42));
        let seen: BTreeSet<&str> = events
            .iter()
            .map(|e| e["event_type"].as_str().unwrap())
            .collect();
        for t in ALL_TYPES {
            assert!(seen.contains(t), "{t} missing");
        }
        assert_eq!(seen.len(), 15);
        // Weighted towards logins, MFA and PRs.
        let common = events
            .iter()
            .filter(|e| {
                let t = e["event_type"].as_str().unwrap();
                t.starts_with("login") || t.starts_with("mfa") || t.starts_with("pull_request")
            })
            .count();
        assert!(common > 3_500, "{common}");
    }

    #[test]
    fn about_thirty_distinct_users() {
        let events = generate_events(&opts(5_000, 5));
        let users: BTreeSet<&str> = events.iter().map(|e| e["user"].as_str().unwrap()).collect();
        assert_eq!(users.len(), USERS.len());
        assert_eq!(users.len(), 30);
    }

    #[test]
    fn required_fields_are_present() {
        for e in generate_events(&opts(5_000, 9)) {
            let ty = e["event_type"].as_str().unwrap();
            assert!(ALL_TYPES.contains(&ty));
            assert!(e["id"].as_str().unwrap().starts_with("gen-9-"));
            assert!(!e["user"].as_str().unwrap().is_empty());
            assert!(SOURCES.contains(&e["source"].as_str().unwrap()), "{e}");
            let r = raw(&e);
            let s = |k: &str| {
                r.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.is_empty())
            };
            match ty {
                LOGIN_SUCCESS | LOGIN_FAILED => {
                    assert!(s("ip") && s("user_agent"), "{e}");
                    assert!(s("location") ^ s("country"), "{e}");
                    assert_eq!(r["success"], Value::Bool(ty == LOGIN_SUCCESS), "{e}");
                }
                MFA_CHALLENGE | MFA_FAILED | MFA_SUCCESS => {
                    let m = r["method"].as_str().unwrap();
                    assert!(["totp", "push", "sms", "webauthn"].contains(&m), "{e}");
                    assert!(s("ip"), "{e}");
                }
                PR_OPENED | PR_MERGED => {
                    assert!(s("repo") ^ s("repository"), "{e}");
                    assert!(s("branch"), "{e}");
                    let lines = r["lines_changed"].as_u64().unwrap();
                    assert!((5..=1_200).contains(&lines), "{e}");
                    assert!(r["reviewers"].is_array(), "{e}");
                    assert!(r["pr_number"].is_u64(), "{e}");
                }
                PERMISSION_CHANGED => {
                    assert!(ROLES.contains(&r["old_role"].as_str().unwrap()), "{e}");
                    assert!(ROLES.contains(&r["new_role"].as_str().unwrap()), "{e}");
                    assert!(s("target_user"), "{e}");
                    if let Some(a) = r.get("approved_by") {
                        assert!(a.is_null() || a.is_string(), "{e}");
                    }
                }
                TOKEN_CREATED | TOKEN_REVOKED => {
                    assert!(s("token_name"), "{e}");
                    let scopes = r["scopes"].as_array().unwrap();
                    assert!(
                        !scopes.is_empty() && scopes.iter().all(Value::is_string),
                        "{e}"
                    );
                    match (r.get("expires_at"), r.get("has_expiry")) {
                        (Some(Value::Null), None) => {}
                        (Some(Value::String(at)), None) => {
                            DateTime::parse_from_rfc3339(at).unwrap();
                        }
                        (None, Some(Value::Bool(false))) => {}
                        other => panic!("bad expiry {other:?} in {e}"),
                    }
                }
                DEPLOY_STARTED | DEPLOY_SUCCEEDED | DEPLOY_FAILED => {
                    assert!(s("service") && s("version") && s("commit"), "{e}");
                    let env = r["environment"].as_str().unwrap();
                    assert!(
                        ["production", "prod", "staging", "dev"].contains(&env),
                        "{e}"
                    );
                }
                _ => {
                    assert!(s("bucket_name") && s("region"), "{e}");
                    match (r.get("public"), r.get("visibility")) {
                        (Some(Value::Bool(_)), None) => {}
                        (None, Some(Value::String(v))) => assert!(v == "public" || v == "private"),
                        other => panic!("bad visibility {other:?} in {e}"),
                    }
                }
            }
        }
    }

    #[test]
    fn alternative_spellings_are_all_exercised() {
        let events = generate_events(&opts(5_000, 13));
        let has = |ty: &[&str], pred: &dyn Fn(&Map<String, Value>) -> bool| {
            events
                .iter()
                .any(|e| ty.contains(&e["event_type"].as_str().unwrap()) && pred(raw(e)))
        };
        let logins = [LOGIN_SUCCESS, LOGIN_FAILED];
        let prs = [PR_OPENED, PR_MERGED];
        let tokens = [TOKEN_CREATED, TOKEN_REVOKED];
        let deploys = [DEPLOY_STARTED, DEPLOY_SUCCEEDED, DEPLOY_FAILED];
        let buckets = [BUCKET_CREATED, BUCKET_PERMISSION_CHANGED];
        let perms = [PERMISSION_CHANGED];
        assert!(has(&logins, &|r| r.contains_key("location")));
        assert!(has(&logins, &|r| r.contains_key("country")));
        assert!(has(&prs, &|r| r.contains_key("repo")));
        assert!(has(&prs, &|r| r.contains_key("repository")));
        assert!(has(&perms, &|r| r
            .get("approved_by")
            .is_some_and(Value::is_string)));
        assert!(has(&perms, &|r| r
            .get("approved_by")
            .is_some_and(Value::is_null)));
        assert!(has(&perms, &|r| !r.contains_key("approved_by")));
        assert!(has(&tokens, &|r| r
            .get("expires_at")
            .is_some_and(Value::is_string)));
        assert!(has(&tokens, &|r| r
            .get("expires_at")
            .is_some_and(Value::is_null)));
        assert!(has(&tokens, &|r| r.contains_key("has_expiry")));
        assert!(has(&buckets, &|r| r.contains_key("public")));
        assert!(has(&buckets, &|r| r.contains_key("visibility")));
        for env in ["production", "prod", "staging", "dev"] {
            assert!(has(&deploys, &|r| r["environment"] == env), "{env}");
        }
        for method in ["totp", "push", "sms", "webauthn"] {
            assert!(has(&[MFA_SUCCESS], &|r| r["method"] == method), "{method}");
        }
    }

    #[test]
    fn every_scenario_is_injected() {
        let events = generate_events(&opts(5_000, 21));

        let brute = bursts(&events, LOGIN_FAILED, 3, 30 * MINUTE);
        assert!(!brute.is_empty(), "no brute force burst");
        let takeover = brute.iter().any(|(user, last)| {
            of_type(&events, LOGIN_SUCCESS).iter().any(|e| {
                let t = ts(e).timestamp();
                e["user"] == user.as_str()
                    && t > *last
                    && t <= last + 30 * MINUTE
                    && is_unusual(location_of(e))
            })
        });
        assert!(takeover, "no success from an unusual country after a burst");

        let fatigue = bursts(&events, MFA_FAILED, 3, 10 * MINUTE);
        let gave_in = fatigue.iter().any(|(user, last)| {
            of_type(&events, MFA_SUCCESS).iter().any(|e| {
                let t = ts(e).timestamp();
                e["user"] == user.as_str() && t >= *last && t <= last + 10 * MINUTE
            })
        });
        assert!(gave_in, "no MFA fatigue");

        let unapproved_admin = of_type(&events, PERMISSION_CHANGED).into_iter().any(|e| {
            let r = raw(e);
            r["new_role"] == "admin" && r.get("approved_by").is_none_or(Value::is_null)
        });
        assert!(unapproved_admin, "no escalation without approver");

        let admin_token = of_type(&events, TOKEN_CREATED).into_iter().any(|e| {
            raw(e)["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "admin:*")
        });
        assert!(admin_token, "no admin:* token");

        let public = events.iter().any(|e| {
            let r = raw(e);
            r.get("public") == Some(&Value::Bool(true))
                || r.get("visibility").is_some_and(|v| v == "public")
        });
        assert!(public, "no public bucket");

        let prod_failure = of_type(&events, DEPLOY_FAILED)
            .into_iter()
            .any(|e| PRODUCTION.contains(&raw(e)["environment"].as_str().unwrap()));
        assert!(prod_failure, "no failed production deployment");

        let times: Vec<i64> = events.iter().map(|e| ts(e).timestamp()).collect();
        let busiest = (0..times.len())
            .map(|i| times[i..].partition_point(|t| *t < times[i] + HOUR))
            .max()
            .unwrap();
        assert!(
            busiest >= MIN_BUSY_HOUR,
            "busiest hour has only {busiest} events"
        );
    }

    #[test]
    fn benign_traffic_does_not_trip_the_rules() {
        let mut g = Gen::new(&opts(0, 17));
        let w = g.full_window();
        let mut out = Vec::new();
        while out.len() < 20_000 {
            g.benign(w, &mut out);
        }
        for d in &out {
            let r = &d.raw;
            if d.event_type == PERMISSION_CHANGED && r["new_role"] == "admin" {
                assert!(r.get("approved_by").is_some_and(Value::is_string));
            }
            if let Some(scopes) = r.get("scopes").and_then(Value::as_array) {
                assert!(scopes.iter().all(|s| s != "admin:*"));
            }
            assert_ne!(r.get("public"), Some(&Value::Bool(true)));
            assert!(r.get("visibility").is_none_or(|v| v == "private"));
            if d.event_type == DEPLOY_FAILED {
                assert!(!PRODUCTION.contains(&r["environment"].as_str().unwrap()));
            }
        }
    }

    #[test]
    fn pull_request_sizes_have_a_tail() {
        let events = generate_events(&opts(5_000, 2));
        let sizes: Vec<u64> = of_type(&events, PR_OPENED)
            .iter()
            .map(|e| raw(e)["lines_changed"].as_u64().unwrap())
            .collect();
        let small = sizes.iter().filter(|n| **n <= 200).count();
        assert!(small * 100 > sizes.len() * 75, "{small} of {}", sizes.len());
        assert!(sizes.iter().any(|n| *n > 600));
    }

    #[test]
    fn human_activity_peaks_in_local_working_hours() {
        let events = generate_events(&opts(5_000, 4));
        let logins = of_type(&events, LOGIN_SUCCESS);
        let in_office = logins
            .iter()
            .filter(|e| {
                let user = USERS.iter().find(|u| e["user"] == u.name).unwrap();
                let local = ts(e) + TimeDelta::minutes(i64::from(user.tz_min));
                let weekday = local.weekday().num_days_from_monday() < 5;
                weekday && (9..=17).contains(&local.hour())
            })
            .count();
        assert!(
            in_office * 100 > logins.len() * 60,
            "{in_office} of {}",
            logins.len()
        );
    }
}

/// One demo model: its registration, baseline and observations.
#[derive(Debug, Clone)]
pub struct DemoModel {
    pub spec: Value,
    pub baseline: Value,
    /// `{"rows": [...]}` bodies, in API-sized batches.
    pub observations: Vec<Value>,
}

/// A normal draw (Box-Muller).
fn normal(rng: &mut StdRng, mean: f64, sd: f64) -> f64 {
    let u1: f64 = rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.r#gen();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Two monitored models for the demo tenant, deterministic in `seed`: `credit-scorer`,
/// whose incomes have shifted and whose approvals now favour one group (it alerts), and
/// `churn-predictor`, whose traffic matches its baseline. Observations span the six
/// hours before `end`.
pub fn drift_demo(seed: u64, end: DateTime<Utc>) -> Vec<DemoModel> {
    let mut rng = StdRng::seed_from_u64(seed);
    let regions = ["north", "south", "east", "west"];
    let mut models = Vec::new();
    for (id, drifted) in [("credit-scorer", true), ("churn-predictor", false)] {
        let spec = serde_json::json!({
            "model_id": id,
            "model_version": "2.1.0",
            "features": [
                {"name": "income", "type": "numeric"},
                {"name": "age", "type": "numeric"},
                {"name": "region", "type": "categorical"},
            ],
            "schedule_interval": "hourly",
        });
        let n = 5_000;
        let income: Vec<f64> = (0..n)
            .map(|_| normal(&mut rng, 52_000.0, 12_000.0).round())
            .collect();
        let age: Vec<f64> = (0..n)
            .map(|_| normal(&mut rng, 41.0, 11.0).round().clamp(18.0, 90.0))
            .collect();
        let region: Vec<&str> = (0..n)
            .map(|_| regions[rng.gen_range(0..regions.len())])
            .collect();
        let preds: Vec<f64> = (0..n).map(|_| rng.r#gen::<f64>()).collect();
        let baseline = serde_json::json!({
            "baseline_data": {"income": income, "age": age, "region": region},
            "reference_predictions": preds,
        });
        let mut rows = Vec::new();
        for i in 0..6_000 {
            let at = end - chrono::Duration::seconds(i64::from(i) * 3_600 * 6 / 6_000);
            let shift = if drifted { 9_000.0 } else { 0.0 };
            let sex = if rng.gen_bool(0.5) { "f" } else { "m" };
            let p_approve = match (drifted, sex) {
                (true, "f") => 0.35,
                _ => 0.55,
            };
            let region = if drifted && rng.gen_bool(0.3) {
                "north"
            } else {
                regions[rng.gen_range(0..regions.len())]
            };
            rows.push(serde_json::json!({
                "observation_id": format!("{id}-{seed}-{i}"),
                "timestamp": at.to_rfc3339_opts(SecondsFormat::Secs, true),
                "features": {
                    "income": (normal(&mut rng, 52_000.0, 12_000.0) + shift).round(),
                    "age": normal(&mut rng, 41.0, 11.0).round().clamp(18.0, 90.0),
                    "region": region,
                },
                "prediction": rng.gen_bool(p_approve),
                "label": rng.gen_bool(0.5),
                "groups": {"sex": sex},
            }));
        }
        let observations = rows
            .chunks(2_000)
            .map(|c| serde_json::json!({"rows": c}))
            .collect();
        models.push(DemoModel {
            spec,
            baseline,
            observations,
        });
    }
    models
}
