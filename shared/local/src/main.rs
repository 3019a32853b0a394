//! `vigil`: run Vigil locally, manage keys, generate events, benchmark.
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use vigil_local::cli::{AuditCommand, Cli, Command, DlqCommand, KeysCommand, RoleArg};
use vigil_local::generator::{GeneratorOptions, generate_events};
use vigil_local::{LocalSystem, bench, reclassify, serve};
use vigil_shared::config::{Config, LogFormat};
use vigil_shared::domain::{Role, TenantId};
use vigil_shared::ports::{Queue, QueueName};
use vigil_shared::service::api_keys;
use vigil_shared::telemetry;

type Failure = Box<dyn std::error::Error>;

fn queues(name: Option<&str>) -> Result<Vec<QueueName>, Failure> {
    match name {
        None => Ok(QueueName::ALL.to_vec()),
        Some(n) => QueueName::parse(n).map(|q| vec![q]).ok_or_else(|| {
            let names: Vec<&str> = QueueName::ALL.iter().map(|q| q.as_str()).collect();
            format!("unknown queue '{n}': use one of {}", names.join(", ")).into()
        }),
    }
}

async fn run(cli: Cli, config: Config) -> Result<(), Failure> {
    match cli.command {
        Command::Serve {
            addr,
            data,
            demo,
            bootstrap_admin,
        } => {
            let options = serve::ServeOptions {
                demo,
                bootstrap_admin: bootstrap_admin
                    .as_deref()
                    .map(TenantId::parse)
                    .transpose()?,
            };
            let system = LocalSystem::open(&data, config)?;
            serve::run(system, addr, &data, options).await?;
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&vigil_api::openapi_document())?
            );
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    tenant,
                    role,
                    name,
                    data,
                    aws,
                },
        } => {
            let tenant = TenantId::parse(&tenant)?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Approver => Role::Approver,
                RoleArg::Analyst => Role::Analyst,
                RoleArg::Viewer => Role::Viewer,
            };
            let now = chrono::Utc::now();
            let origin = vigil_shared::service::Origin::system(tenant.clone(), "cli");
            let (record, key) = if aws {
                let ports = vigil_shared::wiring::aws_ports(&config).await?;
                api_keys::create(ports.store.as_ref(), &origin, role, name, now).await?
            } else {
                let system = LocalSystem::open(&data, config)?;
                api_keys::create(system.store.as_ref(), &origin, role, name, now).await?
            };
            eprintln!(
                "created {} key {} for tenant {tenant}; it is shown only now:",
                role.as_str(),
                record.id
            );
            println!("{key}");
        }
        Command::GenerateEvents { count, seed, days } => {
            let end = chrono::Utc::now();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for e in generate_events(&GeneratorOptions {
                count,
                seed,
                days,
                end,
            }) {
                serde_json::to_writer(&mut out, &e)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        Command::Dlq { command } => {
            let (queue, data, redrive) = match command {
                DlqCommand::List { queue, data } => (queue, data, false),
                DlqCommand::Redrive { queue, data } => (queue, data, true),
            };
            let system = LocalSystem::open(&data, config)?;
            for q in queues(queue.as_deref())? {
                if redrive {
                    let n = system.queue.redrive(q).await?;
                    println!("{q}: {n} message(s) moved back for another try");
                } else {
                    let dead = system.queue.dead_letters(q, 1000).await?;
                    println!("{q}: {} dead letter(s)", dead.len());
                    for d in dead {
                        println!(
                            "  {} (received {} times): {}",
                            d.id, d.receive_count, d.body
                        );
                    }
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { file, public_key },
        } => {
            let report = vigil_local::audit::verify_file(&file, public_key.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.ok {
                return Err("the export does not verify".into());
            }
            if public_key.is_none() {
                eprintln!(
                    "note: signature checked against the key inside the export; pass --public-key to check who signed it"
                );
            }
        }
        Command::Audit {
            command:
                AuditCommand::Bench {
                    entries,
                    writers,
                    data,
                },
        } => {
            println!(
                "{}",
                vigil_local::audit::bench(entries, writers, data).await?
            );
        }
        Command::BenchDrift {
            rows,
            features,
            data,
        } => {
            println!(
                "{}",
                vigil_local::drift::bench(rows, features, data)
                    .await
                    .map_err(std::io::Error::other)?
            );
        }
        Command::BenchReclassify { systems, data } => {
            println!("{}", reclassify::bench(systems, data).await?);
        }
        Command::Bench {
            events,
            days,
            aws: Some(endpoint),
            ..
        } => {
            println!(
                "{}",
                vigil_local::aws_bench::run(events, days, &endpoint).await?
            );
        }
        Command::Bench {
            events, days, data, ..
        } => {
            let report = bench::run(events, days, data).await?;
            println!("{report}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let format = if config.log_format == LogFormat::Json {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    let level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    telemetry::init(format, level);
    match run(cli, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
