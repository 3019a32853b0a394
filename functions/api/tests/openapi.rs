//! The committed `functions/api/openapi.json` is the document the code generates.
use serde_json::Value;

#[test]
fn committed_document_matches_the_generated_one() {
    let generated = serde_json::to_string_pretty(&vigil_api::openapi_document()).unwrap();
    let committed = include_str!("../openapi.json");
    assert!(
        generated.trim() == committed.trim(),
        "functions/api/openapi.json is stale: run `cargo run -p vigil-local -- openapi > functions/api/openapi.json`"
    );
}

#[test]
fn every_operation_names_its_role_and_problem_answers() {
    let doc: Value = vigil_api::openapi_document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            n += 1;
            let what = format!("{method} {path}");
            assert!(
                op["description"].as_str().unwrap().starts_with("Role: "),
                "{what}"
            );
            let problem = &op["responses"]["401"]["content"]["application/problem+json"];
            assert!(problem.is_object(), "{what} documents no 401 problem");
        }
    }
    assert_eq!(n, 92);
    let links = &doc["paths"]["/ai-systems"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["GetAiSystem"]["operationId"], "ai_systems_get");
}
