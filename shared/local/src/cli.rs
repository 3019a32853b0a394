//! The `vigil` command line.
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "Vigil compliance monitor: run it locally, manage keys, generate events, benchmark"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API and every pipeline stage over the embedded store.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[arg(long, default_value = ".vigil", env = "VIGIL_DATA")]
        data: PathBuf,
        /// Create tenant `demo`, load generated events and print an admin API key.
        #[arg(long)]
        demo: bool,
        /// Create an admin API key for this tenant and print it on stdout.
        #[arg(long, value_name = "TENANT")]
        bootstrap_admin: Option<String>,
    },
    /// Print the API's OpenAPI 3.1 document.
    Openapi,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print realistic generated events as NDJSON.
    GenerateEvents {
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Inspect or redrive messages that exhausted their retries.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Verify an audit export offline, or benchmark the audit ledger.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Time a re-classification run over generated AI systems and price it on AWS.
    BenchReclassify {
        #[arg(long, default_value_t = 100_000)]
        systems: usize,
        /// Where the benchmark database goes (a fresh temporary directory by default).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Time model drift ingest and checks locally and price the ingest on AWS.
    BenchDrift {
        /// Observations in the big window.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 50)]
        features: usize,
        /// Where the benchmark database goes (a fresh temporary directory by default).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Measure the local pipeline end to end through the HTTP API.
    Bench {
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        /// The span the events are spread over; grow it with `--events` to keep the
        /// per-user density the same.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Run over the AWS adapters on this emulator endpoint (moto) instead, count
        /// every request and price them per million events.
        #[arg(long, value_name = "ENDPOINT")]
        aws: Option<String>,
        /// Where the benchmark database goes (a fresh temporary directory by default).
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (the only time it is shown).
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = ".vigil", env = "VIGIL_DATA")]
        data: PathBuf,
        /// Store the key in the deployed DynamoDB table (VIGIL_TABLE and the usual AWS
        /// credentials) instead of the local data directory.
        #[arg(long)]
        aws: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check an export (`GET /audit/export`, NDJSON or CSV) with no access to the server.
    Verify {
        file: PathBuf,
        /// The trusted checkpoint public key (base64); without it only integrity is shown.
        #[arg(long, env = "VIGIL_AUDIT_PUBLIC_KEY")]
        public_key: Option<String>,
    },
    /// Appends per second per tenant and verification throughput, locally.
    Bench {
        #[arg(long, default_value_t = 5_000)]
        entries: usize,
        #[arg(long, default_value_t = 8)]
        writers: usize,
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Approver,
    Analyst,
    Viewer,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters.
    List {
        /// One queue (ingest, rules, enrich, webhook, reclassify); all by default.
        #[arg(long)]
        queue: Option<String>,
        #[arg(long, default_value = ".vigil", env = "VIGIL_DATA")]
        data: PathBuf,
    },
    /// Put dead letters back on their queue.
    Redrive {
        #[arg(long)]
        queue: Option<String>,
        #[arg(long, default_value = ".vigil", env = "VIGIL_DATA")]
        data: PathBuf,
    },
}
