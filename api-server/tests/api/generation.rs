//! Scenario generation through the API: kinds and counts, the same seed giving the same
//! scenarios, every rejection path, an unsatisfiable field named rather than guessed, and
//! tenant isolation.

use serde_json::{Value, json};

use crate::automation::{local_workflow, scenario_count};
use crate::both_backends;
use crate::support::TestApp;

both_backends!(scenarios_are_generated_from_the_schema);

const GENERATE: &str = "mutation($i: GenerateScenariosInput!) { generateScenarios(input: $i) { id name kind expectedOutcome inputs tags } }";

async fn generate(app: &TestApp, input: Value) -> crate::support::Gql {
    app.gql(&app.engineer_a.caller(), GENERATE, json!({ "i": input }))
        .await
}

async fn scenarios_are_generated_from_the_schema(app: TestApp) {
    let (_, workflow) = local_workflow(&app, "http://127.0.0.1:9/").await;
    let wid = workflow["id"].as_str().unwrap().to_owned();
    let eng = app.engineer_a.caller();

    let r = generate(&app, json!({ "workflowId": wid, "count": 3, "seed": 7 })).await;
    let made = r.data()["generateScenarios"].as_array().unwrap().clone();
    let of = |k: &str| made.iter().filter(|s| s["kind"] == k).collect::<Vec<_>>();
    assert_eq!(of("VALID").len(), 3);
    assert_eq!(of("BOUNDARY").len(), 3);
    assert_eq!(of("INVALID").len(), 3);
    for s in of("VALID") {
        let i = &s["inputs"];
        assert!(i["email"].as_str().unwrap().contains('@'), "{i}");
        let age: i64 = i["age"].as_str().unwrap().parse().unwrap();
        assert!((18..=99).contains(&age), "{i}");
        let code = i["code"].as_str().unwrap();
        assert!(
            code.len() == 5 && code[..2].chars().all(|c| c.is_ascii_uppercase()),
            "{i}"
        );
        assert!(
            ["free", "pro"].contains(&i["plan"].as_str().unwrap()),
            "{i}"
        );
        assert_eq!(s["expectedOutcome"], "SUCCESS");
        assert!(s["tags"].as_array().unwrap().contains(&json!("seed:7")));
    }
    for s in of("INVALID") {
        assert_eq!(s["expectedOutcome"], "VALIDATION_ERROR");
        let tag = s["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t.as_str().unwrap().starts_with("violates:"));
        assert!(tag.is_some(), "{s}");
    }
    // Round robin: the first INVALID breaks the first field.
    assert!(
        of("INVALID")[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("INVALID email missing"),
        "{:?}",
        of("INVALID")[0]
    );
    assert_eq!(
        of("BOUNDARY")[0]["inputs"]["age"],
        json!("18"),
        "age at min"
    );
    assert_eq!(scenario_count(&app, &wid).await, 9);

    // The same seed: the same scenarios, nothing written twice.
    let again = generate(&app, json!({ "workflowId": wid, "count": 3, "seed": 7 })).await;
    assert_eq!(again.data()["generateScenarios"], json!(made));
    assert_eq!(scenario_count(&app, &wid).await, 9);
    // Another seed: other values.
    let other = generate(
        &app,
        json!({ "workflowId": wid, "kinds": ["VALID"], "count": 1, "seed": 8 }),
    )
    .await;
    let other = &other.data()["generateScenarios"][0];
    assert_ne!(other["inputs"], of("VALID")[0]["inputs"]);
    assert_eq!(scenario_count(&app, &wid).await, 10);

    // Rejections, each leaving nothing behind.
    for (input, field) in [
        (json!({ "workflowId": wid, "count": 0 }), "count"),
        (json!({ "workflowId": wid, "count": 1001 }), "count"),
        (json!({ "workflowId": wid, "kinds": [] }), "kinds"),
    ] {
        let r = generate(&app, input).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
        assert_eq!(
            r.body["errors"][0]["extensions"]["fields"][0]["field"],
            field
        );
    }
    let r = app
        .gql(
            &app.viewer_a.caller(),
            GENERATE,
            json!({ "i": { "workflowId": wid } }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = generate(&app, json!({ "workflowId": "nope" })).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");

    // A required field no value satisfies is named, not guessed.
    let draft = app
        .gql(
            &eng,
            "mutation($i: UpdateWorkflowDraftInput!) { updateWorkflowDraft(input: $i) { id } }",
            json!({ "i": { "id": wid, "expectedVersion": workflow["draft"]["version"], "inputSchema": [
                { "name": "email", "type": "EMAIL", "required": true },
                { "name": "code", "type": "TEXT", "required": true, "pattern": "[0-9]{6}", "maxLength": 4 },
            ], "steps": [{ "kind": "GOTO", "url": "/" }] } }),
        )
        .await;
    assert!(draft.body["errors"].is_null(), "{}", draft.body);
    let r = generate(&app, json!({ "workflowId": wid, "seed": 9 })).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(
        r.body["errors"][0]["extensions"]["fields"][0]["field"],
        "inputSchema.code"
    );
    // Seed 7 again under another schema: its names hold other inputs now.
    let draft = app
        .gql(
            &eng,
            "mutation($i: UpdateWorkflowDraftInput!) { updateWorkflowDraft(input: $i) { id } }",
            json!({ "i": { "id": wid, "expectedVersion": workflow["draft"]["version"].as_i64().unwrap() + 1, "inputSchema": [
                { "name": "email", "type": "EMAIL", "required": true, "maxLength": 30 },
            ] } }),
        )
        .await;
    assert!(draft.body["errors"].is_null(), "{}", draft.body);
    let r = generate(
        &app,
        json!({ "workflowId": wid, "kinds": ["VALID"], "count": 1, "seed": 7 }),
    )
    .await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    assert_eq!(
        r.body["errors"][0]["extensions"]["fields"][0]["field"],
        "seed"
    );
    assert_eq!(scenario_count(&app, &wid).await, 10);

    // One audit row per generation, without the values.
    let audit = app
        .gql(
            &app.admin_a.caller(),
            "{ auditLog(filter: { action: \"scenario.generated\" }) { edges { node { targetId after } } } }",
            json!({}),
        )
        .await;
    let rows = audit.data()["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows.iter()
            .filter(|r| r["node"]["after"]["created"] == 9)
            .count(),
        1
    );
    assert!(
        !audit.body.to_string().contains('@'),
        "no generated values in the audit log"
    );

    // Another org: the workflow does not exist.
    let b = app.admin_b.caller();
    let as_b = app
        .gql(&b, GENERATE, json!({ "i": { "workflowId": wid } }))
        .await;
    assert_eq!(as_b.code(), "NOT_FOUND");
    assert_eq!(scenario_count(&app, &wid).await, 10);
}
