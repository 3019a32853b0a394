//! `infra/env.local.json` (SAM's `--env-vars` file for `sam local`) stays in step with
//! the code and the template: every variable in it is one `Config` reads (or `RUST_LOG`), every function
//! key is a function's logical id in `template.yaml`, and every variable is declared for
//! the functions it is meant for (SAM ignores the others), `AWS_ENDPOINT_URL` through
//! the copy `infra/sam-local-template.sh` writes.
use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::Value;
use vigil_shared::config::Config;

fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every variable name `Config::from_lookup` asks for, with and without an LLM set.
fn config_names() -> BTreeSet<String> {
    let names = RefCell::new(BTreeSet::new());
    for llm in [false, true] {
        let lookup = |k: &str| {
            names.borrow_mut().insert(k.to_string());
            (llm && k == "VIGIL_LLM_URL").then(|| "http://127.0.0.1:9/v1".to_string())
        };
        Config::from_lookup(&lookup).expect("config from an almost empty environment");
    }
    names.into_inner()
}

/// The top-level blocks of the template (two-space indented keys), by name.
fn blocks(template: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in template.lines() {
        let top = line.len() > 2
            && line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':');
        if top {
            out.push((line.trim().trim_end_matches(':').to_string(), String::new()));
        } else if !line.starts_with(' ') && !line.is_empty() {
            out.push((String::new(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

fn declares(block: &str, var: &str) -> bool {
    block
        .lines()
        .any(|l| l.trim_start().starts_with(&format!("{var}:")))
}

#[test]
fn env_local_matches_config_and_template() {
    let env: Value = serde_json::from_str(&repo_file("infra/env.local.json")).expect("JSON");
    let read = config_names();
    let template = repo_file("template.yaml");
    let blocks = blocks(&template);
    let globals = &blocks
        .iter()
        .find(|(name, _)| name == "Function")
        .expect("Globals: Function")
        .1;
    let functions: Vec<&(String, String)> = blocks
        .iter()
        .filter(|(_, body)| body.contains("Type: AWS::Serverless::Function"))
        .collect();
    assert_eq!(functions.len(), 10, "the template's functions");

    let local_only = ["AWS_ENDPOINT_URL"];
    let env = env.as_object().expect("an object");
    for (key, vars) in env {
        let vars = vars.as_object().expect("each key maps variables to values");
        let scope: Vec<&str> = if key == "Parameters" {
            functions.iter().map(|(_, b)| b.as_str()).collect()
        } else {
            let f = functions
                .iter()
                .find(|(name, _)| name == key)
                .unwrap_or_else(|| panic!("{key} is no function's logical id in template.yaml"));
            vec![f.1.as_str()]
        };
        for (var, value) in vars {
            assert!(value.is_string(), "{key}.{var} must be a string");
            // RUST_LOG is read by `telemetry::init` (tracing's EnvFilter), not by Config.
            let known = read.contains(var) || var == "RUST_LOG";
            assert!(known, "{key}.{var} is not read by Config: {read:?}");
            let declared = local_only.contains(&var.as_str())
                || declares(globals, var)
                || scope.iter().any(|b| declares(b, var));
            assert!(
                declared,
                "{key}.{var} is declared for no function it targets, so SAM drops it"
            );
        }
    }
    // The local copy declares the endpoint in Globals.
    let script = repo_file("infra/sam-local-template.sh");
    assert!(
        script.contains("AWS_ENDPOINT_URL: \\\"\\\""),
        "the overlay adds AWS_ENDPOINT_URL"
    );
}
