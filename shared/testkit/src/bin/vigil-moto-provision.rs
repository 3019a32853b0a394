//! Creates Vigil's AWS resources on a moto server (or any endpoint) and prints the
//! environment the functions need, for `sam local` and manual runs:
//!
//! ```sh
//! cargo run -p vigil-testkit --bin vigil-moto-provision -- \
//!     --endpoint http://127.0.0.1:5000 [--name vigil-local] [--container-endpoint URL]
//! ```
//!
//! It creates table `{name}`, bus `{name}`, queues `{name}-{queue}` with their
//! `-dlq`s (the shapes of `vigil_shared::adapters::aws::provision`), and Secrets Manager
//! secrets `{name}-sealing-key` and `{name}-audit-signing-key` holding random strings
//! (the functions derive their keys from them, as from the template's generated
//! secrets). Existing resources are kept. It prints a SAM `--env-vars` document whose
//! `Parameters` apply to every function (SAM drops the variables a function's template
//! entry does not declare, such as the DLQ URLs); `--container-endpoint` (e.g.
//! `http://host.docker.internal:5000`) replaces the endpoint in the printed values, for
//! functions that run in containers.
use std::process::ExitCode;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde_json::{Map, Value, json};
use vigil_testkit::MotoStack;

const USAGE: &str =
    "usage: vigil-moto-provision --endpoint URL [--name NAME] [--container-endpoint URL]";

struct Args {
    endpoint: String,
    name: String,
    container_endpoint: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut endpoint = None;
    let mut name = "vigil-local".to_string();
    let mut container_endpoint = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--endpoint" => endpoint = Some(value()?),
            "--name" => name = value()?,
            "--container-endpoint" => container_endpoint = Some(value()?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        endpoint: endpoint.ok_or_else(|| USAGE.to_string())?,
        name,
        container_endpoint,
    })
}

/// Creates the secret `name` with a random value unless it exists.
async fn secret(client: &aws_sdk_secretsmanager::Client, name: &str) -> Result<(), String> {
    let value = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    match client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceExistsException") => Ok(()),
        Err(e) => Err(format!("secret {name}: {}", DisplayErrorContext(&e))),
    }
}

async fn run(args: Args) -> Result<Value, String> {
    let stack = MotoStack::provision_named(&args.endpoint, &args.name)
        .await
        .map_err(|e| e.to_string())?;
    let sm = aws_sdk_secretsmanager::Client::new(&stack.sdk);
    // GetSecretValue takes a name as well as an ARN; names keep the output stable.
    let sealing = format!("{}-sealing-key", args.name);
    let audit = format!("{}-audit-signing-key", args.name);
    secret(&sm, &sealing).await?;
    secret(&sm, &audit).await?;
    let rewrite = |v: &str| match &args.container_endpoint {
        Some(to) => v.replace(
            args.endpoint.trim_end_matches('/'),
            to.trim_end_matches('/'),
        ),
        None => v.to_string(),
    };
    let mut vars = Map::new();
    for (k, v) in stack.env() {
        vars.insert(k, Value::String(rewrite(&v)));
    }
    vars.insert("VIGIL_SECRET_KEY_SECRET_ARN".into(), Value::String(sealing));
    vars.insert(
        "VIGIL_AUDIT_SIGNING_KEY_SECRET_ARN".into(),
        Value::String(audit),
    );
    Ok(json!({ "Parameters": vars }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(doc) => {
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vigil-moto-provision: {e}");
            ExitCode::FAILURE
        }
    }
}
