//! Targets, workflows and scenarios through the API: validation with every problem listed,
//! role boundaries beyond the catalog, secrets that never come back, versions that stay
//! frozen, and tenant isolation of every id-taking field.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::support::{Caller, Gql, TestApp};

both_backends!(
    targets_say_where_browsers_may_go,
    secrets_are_write_only,
    workflows_validate_and_versions_stay_frozen,
    scenarios_are_checked_against_the_schema,
    scenarios_import_from_csv_all_or_nothing,
    automation_is_org_scoped,
);

const TARGET: &str = "id name baseUrl allowedHosts allowPrivateNetwork concurrency version archivedAt secrets { name }";
const WORKFLOW: &str = "id name description targetId latestVersion archivedAt \
    draft { version inputSchema { name type required min max step minLength maxLength pattern options } \
            steps { kind url locator { css xpath text label } value text timeoutMs name } } \
    versions { number steps { kind url value } inputSchema { name } }";

fn fields_of(r: &Gql) -> Vec<String> {
    r.body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no extensions.fields in {}", r.body))
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_target(app: &TestApp, caller: &Caller, input: Value) -> Gql {
    app.gql(
        caller,
        &format!("mutation($i: CreateTargetInput!) {{ createTarget(input: $i) {{ {TARGET} }} }}"),
        json!({ "i": input }),
    )
    .await
}

/// A local target (ADMIN: private network) and a workflow with a 3-field schema.
pub async fn local_workflow(app: &TestApp, base_url: &str) -> (String, Value) {
    let t = create_target(
        app,
        &app.admin_a.caller(),
        json!({ "name": format!("local {}", Uuid::now_v7()), "baseUrl": base_url, "allowPrivateNetwork": true }),
    )
    .await;
    let target_id = t.data()["createTarget"]["id"].as_str().unwrap().to_owned();
    let w = app
        .gql(
            &app.engineer_a.caller(),
            &format!("mutation($i: CreateWorkflowInput!) {{ createWorkflow(input: $i) {{ {WORKFLOW} }} }}"),
            json!({ "i": {
                "name": "Sign-up",
                "targetId": target_id,
                "inputSchema": [
                    { "name": "email", "type": "EMAIL", "required": true },
                    { "name": "age", "type": "NUMBER", "required": true, "min": "18", "max": "99" },
                    { "name": "code", "type": "TEXT", "pattern": "[A-Z]{2}[0-9]{3}", "maxLength": 5 },
                    { "name": "plan", "type": "SELECT", "options": ["free", "pro"] },
                ],
                "steps": [
                    { "kind": "GOTO", "url": "/signup" },
                    { "kind": "FILL", "locator": { "label": "E-mail" }, "value": "{{input.email}}" },
                    { "kind": "FILL", "locator": { "css": "#age" }, "value": "{{input.age}}" },
                    { "kind": "SUBMIT" },
                    { "kind": "WAIT_FOR", "text": "Welcome", "timeoutMs": 5000 },
                ],
            } }),
        )
        .await;
    (target_id, w.data()["createWorkflow"].clone())
}

async fn targets_say_where_browsers_may_go(app: TestApp) {
    let manager = app.manager_a.caller();
    // Defaults: the base URL's host, 2 at once, no private network.
    let r = create_target(
        &app,
        &manager,
        json!({ "name": "Shop", "baseUrl": "https://shop.example.com/app" }),
    )
    .await;
    let t = &r.data()["createTarget"];
    assert_eq!(t["allowedHosts"], json!(["shop.example.com"]));
    assert_eq!(t["concurrency"], 2);
    assert_eq!(t["allowPrivateNetwork"], false);
    let id = t["id"].as_str().unwrap().to_owned();

    // Every problem at once.
    let r = create_target(
        &app,
        &manager,
        json!({ "name": " ", "baseUrl": "ftp://x", "allowedHosts": ["https://a.com", "*.ok.com"], "concurrency": 0 }),
    )
    .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let fields = fields_of(&r);
    for f in ["name", "baseUrl", "allowedHosts[0]", "concurrency"] {
        assert!(fields.contains(&f.to_owned()), "{f} in {fields:?}");
    }
    // The base URL must be reachable under the target's own rules.
    let r = create_target(
        &app,
        &manager,
        json!({ "name": "X", "baseUrl": "https://a.com", "allowedHosts": ["b.com"] }),
    )
    .await;
    assert_eq!(fields_of(&r), vec!["baseUrl"]);
    // Private addresses: refused for a MANAGER, named; FORBIDDEN to ask; fine for an ADMIN.
    for base in [
        "http://127.0.0.1:8080",
        "http://169.254.169.254/latest",
        "http://localhost:3000",
        "http://[::1]/",
    ] {
        let r = create_target(&app, &manager, json!({ "name": "Local", "baseUrl": base })).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{base}");
        assert!(
            r.message().contains("allowPrivateNetwork"),
            "{}",
            r.message()
        );
    }
    let r = create_target(
        &app,
        &manager,
        json!({ "name": "Local", "baseUrl": "http://127.0.0.1", "allowPrivateNetwork": true }),
    )
    .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = create_target(
        &app,
        &app.admin_a.caller(),
        json!({ "name": "Local", "baseUrl": "http://127.0.0.1", "allowPrivateNetwork": true }),
    )
    .await;
    assert_eq!(r.data()["createTarget"]["allowPrivateNetwork"], true);
    // Names are unique among active targets, case-insensitively.
    let r = create_target(
        &app,
        &manager,
        json!({ "name": "shop", "baseUrl": "https://shop.example.com" }),
    )
    .await;
    assert_eq!(fields_of(&r), vec!["name"]);

    // Updates: partial, versioned, and the private-network rule again.
    let update =
        format!("mutation($i: UpdateTargetInput!) {{ updateTarget(input: $i) {{ {TARGET} }} }}");
    let r = app
        .gql(&manager, &update, json!({ "i": { "id": id, "expectedVersion": 1, "allowedHosts": ["shop.example.com", "*.cdn.example.com"], "concurrency": 5 } }))
        .await;
    let t = &r.data()["updateTarget"];
    assert_eq!(
        t["allowedHosts"],
        json!(["shop.example.com", "*.cdn.example.com"])
    );
    assert_eq!(
        (
            t["concurrency"].as_i64(),
            t["version"].as_i64(),
            t["name"].as_str()
        ),
        (Some(5), Some(2), Some("Shop"))
    );
    let r = app
        .gql(
            &manager,
            &update,
            json!({ "i": { "id": id, "expectedVersion": 1, "name": "Old" } }),
        )
        .await;
    assert_eq!(r.code(), "CONFLICT");
    assert_eq!(r.body["errors"][0]["extensions"]["currentVersion"], 2);
    let r = app
        .gql(
            &manager,
            &update,
            json!({ "i": { "id": id, "allowPrivateNetwork": true } }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(
            &app.engineer_a.caller(),
            &update,
            json!({ "i": { "id": id, "name": "E" } }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");

    // Listing, archiving.
    let list = "query($all: Boolean!) { targets(includeArchived: $all) { edges { node { id name archivedAt } } } }";
    let names = |r: &Gql| -> Vec<String> {
        r.data()["targets"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app
        .gql(&app.viewer_a.caller(), list, json!({ "all": false }))
        .await;
    assert_eq!(names(&r), vec!["Shop", "Local"]);
    let r = app
        .gql(
            &manager,
            "mutation($id: ID!) { archiveTarget(id: $id) { archivedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(r.data()["archiveTarget"]["archivedAt"].is_string());
    let r = app
        .gql(&app.viewer_a.caller(), list, json!({ "all": false }))
        .await;
    assert_eq!(names(&r), vec!["Local"]);
    let r = app
        .gql(&app.viewer_a.caller(), list, json!({ "all": true }))
        .await;
    assert_eq!(names(&r), vec!["Shop", "Local"]);
    let r = app
        .gql(
            &manager,
            &update,
            json!({ "i": { "id": id, "name": "Again" } }),
        )
        .await;
    assert_eq!(r.code(), "CONFLICT", "an archived target is not edited");
    // Its name is free again.
    let r = create_target(
        &app,
        &manager,
        json!({ "name": "Shop", "baseUrl": "https://shop.example.com" }),
    )
    .await;
    r.data();
}

async fn secrets_are_write_only(app: TestApp) {
    let manager = app.manager_a.caller();
    let r = create_target(
        &app,
        &manager,
        json!({ "name": "Bank", "baseUrl": "https://bank.example.com" }),
    )
    .await;
    let id = r.data()["createTarget"]["id"].as_str().unwrap().to_owned();
    let set = "mutation($i: SetTargetSecretInput!) { setTargetSecret(input: $i) { secrets { name createdAt updatedAt } } }";
    let value = "s3cr3t-Value-7d1f";
    let r = app
        .gql(
            &manager,
            set,
            json!({ "i": { "targetId": id, "name": "password", "value": value } }),
        )
        .await;
    assert_eq!(
        r.data()["setTargetSecret"]["secrets"][0]["name"],
        "password"
    );
    let r = app
        .gql(
            &manager,
            set,
            json!({ "i": { "targetId": id, "name": "password", "value": "replaced-9c2e" } }),
        )
        .await;
    r.data();
    let r = app
        .gql(
            &manager,
            set,
            json!({ "i": { "targetId": id, "name": "api_token", "value": "tok-1" } }),
        )
        .await;
    let names: Vec<&str> = r.data()["setTargetSecret"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["api_token", "password"]);
    // Bad names and values, an engineer.
    let r = app
        .gql(
            &manager,
            set,
            json!({ "i": { "targetId": id, "name": "has space", "value": "" } }),
        )
        .await;
    let mut fields = fields_of(&r);
    fields.sort();
    assert_eq!(fields, vec!["name", "value"]);
    let r = app
        .gql(
            &app.engineer_a.caller(),
            set,
            json!({ "i": { "targetId": id, "name": "x", "value": "y" } }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");

    // Never returned, never in the audit log, not stored in clear.
    let r = app
        .gql(
            &app.admin_a.caller(),
            &format!("query($id: ID!) {{ target(id: $id) {{ {TARGET} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert!(!r.body.to_string().contains(value));
    let r = app
        .gql(
            &app.admin_a.caller(),
            "{ auditLog(first: 50) { edges { node { action before after } } } }",
            json!({}),
        )
        .await;
    let audit = r.data().to_string();
    assert!(audit.contains("target.secret_set") && audit.contains("target.secret_replaced"));
    assert!(!audit.contains(value) && !audit.contains("replaced-9c2e"));
    use sea_orm::EntityTrait;
    // Read as the app role in org A's scope (RLS on PostgreSQL).
    let tx = domain::db::begin_read(&app.app.db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let rows = domain::entity::target_secret::Entity::find()
        .all(&tx)
        .await
        .unwrap();
    let sealed = rows
        .iter()
        .find(|r| r.name == "password")
        .expect("the sealed row");
    assert!(
        !sealed.sealed.windows(8).any(|w| w == b"replaced"),
        "sealed, not plain"
    );
    let opened = domain::automation::targets::open_secrets(
        &tx,
        &app.app.sealer,
        app.org_a.id,
        Uuid::parse_str(&id).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(opened["password"], "replaced-9c2e");

    // Deleting.
    let del = "mutation($i: DeleteTargetSecretInput!) { deleteTargetSecret(input: $i) { secrets { name } } }";
    let r = app
        .gql(
            &manager,
            del,
            json!({ "i": { "targetId": id, "name": "api_token" } }),
        )
        .await;
    assert_eq!(
        r.data()["deleteTargetSecret"]["secrets"],
        json!([{ "name": "password" }])
    );
    let r = app
        .gql(
            &manager,
            del,
            json!({ "i": { "targetId": id, "name": "api_token" } }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
}

async fn workflows_validate_and_versions_stay_frozen(app: TestApp) {
    let (target_id, w) = local_workflow(&app, "http://127.0.0.1:9").await;
    let id = w["id"].as_str().unwrap().to_owned();
    assert_eq!(w["latestVersion"], 0);
    assert_eq!(w["draft"]["version"], 1);
    assert_eq!(w["draft"]["inputSchema"][1]["min"], "18");
    assert_eq!(w["draft"]["steps"][1]["locator"]["label"], "E-mail");
    assert_eq!(w["versions"], json!([]));
    let engineer = app.engineer_a.caller();

    // A broken definition: every problem, by path.
    let r = app
        .gql(
            &engineer,
            "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }",
            json!({ "i": {
                "name": "Broken",
                "targetId": target_id,
                "inputSchema": [
                    { "name": "a", "type": "NUMBER", "min": "ten", "maxLength": 3 },
                    { "name": "a", "type": "TEXT", "pattern": "(" },
                    { "name": "pick", "type": "SELECT" },
                    { "name": "n", "type": "NUMBER", "min": "5", "max": "1" },
                ],
                "steps": [
                    { "kind": "GOTO" },
                    { "kind": "FILL", "locator": { "css": "#a", "label": "A" }, "value": "{{input.missing}}" },
                    { "kind": "CLICK", "locator": { "text": "Go" }, "value": "x" },
                    { "kind": "WAIT_FOR", "text": "x", "url": "y" },
                    { "kind": "ASSERT", "locator": { "css": "#a" }, "value": "SHINY" },
                    { "kind": "GOTO", "url": "https://elsewhere.example.org/" },
                    { "kind": "EXIT_FRAME" },
                    { "kind": "FILL", "locator": { "css": "#a" }, "value": "{{env.HOME}}", "timeoutMs": 0 },
                ],
            } }),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let fields = fields_of(&r);
    for f in [
        "inputSchema[0].min",
        "inputSchema[0].maxLength",
        "inputSchema[1].name",
        "inputSchema[1].pattern",
        "inputSchema[2].options",
        "inputSchema[3].max",
        "steps[0].url",
        "steps[1].locator",
        "steps[2].value",
        "steps[3].kind",
        "steps[4].value",
        "steps[5].url",
        "steps[6].kind",
        "steps[7].value",
    ] {
        assert!(
            fields.contains(&f.to_owned()),
            "{f} missing from {fields:?}"
        );
    }
    assert!(
        fields.contains(&"steps[1].value".to_owned()),
        "{{{{input.missing}}}}"
    );

    // Publishing freezes the draft; edits after it change the draft only.
    let publish = format!("mutation($id: ID!) {{ publishWorkflow(id: $id) {{ {WORKFLOW} }} }}");
    let r = app.gql(&engineer, &publish, json!({ "id": id })).await;
    let w = &r.data()["publishWorkflow"];
    assert_eq!(w["latestVersion"], 1);
    assert_eq!(w["versions"][0]["number"], 1);
    let update = format!(
        "mutation($i: UpdateWorkflowDraftInput!) {{ updateWorkflowDraft(input: $i) {{ {WORKFLOW} }} }}"
    );
    let r = app
        .gql(&engineer, &update, json!({ "i": { "id": id, "expectedVersion": 1, "steps": [ { "kind": "GOTO", "url": "/v2" } ] } }))
        .await;
    let w = &r.data()["updateWorkflowDraft"];
    assert_eq!(w["draft"]["version"], 2);
    assert_eq!(
        w["draft"]["steps"],
        json!([{ "kind": "GOTO", "url": "/v2", "locator": null, "value": null, "text": null, "timeoutMs": null, "name": null }])
    );
    assert_eq!(
        w["versions"][0]["steps"][0]["url"], "/signup",
        "version 1 is frozen"
    );
    assert_eq!(
        w["draft"]["inputSchema"].as_array().unwrap().len(),
        4,
        "untouched parts stay"
    );
    // A stale draft version is refused with the current one.
    let r = app
        .gql(
            &engineer,
            &update,
            json!({ "i": { "id": id, "expectedVersion": 1, "name": "Late" } }),
        )
        .await;
    assert_eq!(r.code(), "CONFLICT");
    assert_eq!(r.body["errors"][0]["extensions"]["currentVersion"], 2);
    // Publish again: version 2; publishing an unchanged draft adds nothing.
    let r = app.gql(&engineer, &publish, json!({ "id": id })).await;
    assert_eq!(r.data()["publishWorkflow"]["latestVersion"], 2);
    let r = app.gql(&engineer, &publish, json!({ "id": id })).await;
    let w = &r.data()["publishWorkflow"];
    assert_eq!(w["latestVersion"], 2);
    let numbers: Vec<i64> = w["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    assert_eq!(w["versions"][1]["steps"][0]["url"], "/signup");

    // An empty workflow cannot be published.
    let r = app
        .gql(
            &engineer,
            "mutation($t: ID!) { createWorkflow(input: { name: \"Empty\", targetId: $t }) { id } }",
            json!({ "t": target_id }),
        )
        .await;
    let empty = r.data()["createWorkflow"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.gql(&engineer, &publish, json!({ "id": empty })).await;
    assert_eq!(fields_of(&r), vec!["steps"]);

    // Reading: by id, by target, as a viewer; a viewer cannot edit.
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "query($t: ID!) { workflows(targetId: $t) { edges { node { name target { id } } } } }",
            json!({ "t": target_id }),
        )
        .await;
    let names: Vec<&str> = r.data()["workflows"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Sign-up", "Empty"]);
    assert_eq!(
        r.data()["workflows"]["edges"][0]["node"]["target"]["id"],
        target_id.as_str()
    );
    let r = app
        .gql(
            &app.viewer_a.caller(),
            &update,
            json!({ "i": { "id": id, "expectedVersion": 2, "name": "V" } }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");

    // Archived: kept, not edited or published; an engineer may not archive.
    let archive = "mutation($id: ID!) { archiveWorkflow(id: $id) { archivedAt } }";
    let r = app.gql(&engineer, archive, json!({ "id": id })).await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(&app.manager_a.caller(), archive, json!({ "id": id }))
        .await;
    assert!(r.data()["archiveWorkflow"]["archivedAt"].is_string());
    let r = app
        .gql(
            &engineer,
            &update,
            json!({ "i": { "id": id, "expectedVersion": 2, "name": "V" } }),
        )
        .await;
    assert_eq!(r.code(), "CONFLICT");
    let r = app.gql(&engineer, &publish, json!({ "id": id })).await;
    assert_eq!(r.code(), "CONFLICT");
}

async fn scenarios_are_checked_against_the_schema(app: TestApp) {
    let (_, w) = local_workflow(&app, "http://127.0.0.1:9").await;
    let wid = w["id"].as_str().unwrap().to_owned();
    let engineer = app.engineer_a.caller();
    let create = "mutation($i: CreateScenarioInput!) { createScenario(input: $i) { id name kind expectedOutcome inputs tags version } }";
    let r = app
        .gql(&engineer, create, json!({ "i": { "workflowId": wid, "name": "happy", "inputs": { "email": "a@example.com", "age": 30, "code": "AB123", "plan": "pro" }, "tags": ["smoke", "smoke", "eu"] } }))
        .await;
    let s = &r.data()["createScenario"];
    assert_eq!(
        (s["kind"].as_str(), s["expectedOutcome"].as_str()),
        (Some("VALID"), Some("SUCCESS"))
    );
    assert_eq!(s["tags"], json!(["smoke", "eu"]));
    let sid = s["id"].as_str().unwrap().to_owned();

    // A VALID scenario must satisfy every constraint: each problem named.
    let r = app
        .gql(&engineer, create, json!({ "i": { "workflowId": wid, "name": "bad", "inputs": { "email": "nope", "age": 17, "code": "ab123", "plan": "gold", "ghost": 1 } } }))
        .await;
    let mut fields = fields_of(&r);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "inputs.age",
            "inputs.code",
            "inputs.email",
            "inputs.ghost",
            "inputs.plan"
        ]
    );
    let r = app.gql(&engineer, create, json!({ "i": { "workflowId": wid, "name": "missing", "kind": "BOUNDARY", "inputs": { "age": "18" } } })).await;
    assert_eq!(fields_of(&r), vec!["inputs.email"]);
    let r = app.gql(&engineer, create, json!({ "i": { "workflowId": wid, "name": "edge", "kind": "BOUNDARY", "inputs": { "email": "b@example.com", "age": "99" } } })).await;
    r.data();
    let r = app
        .gql(
            &engineer,
            create,
            json!({ "i": { "workflowId": wid, "name": "list", "inputs": [1, 2] } }),
        )
        .await;
    assert_eq!(fields_of(&r), vec!["inputs"]);
    // INVALID may break constraints, but only names real fields; it expects refusal.
    let r = app.gql(&engineer, create, json!({ "i": { "workflowId": wid, "name": "too young", "kind": "INVALID", "inputs": { "email": "c@example.com", "age": 17 } } })).await;
    assert_eq!(
        r.data()["createScenario"]["expectedOutcome"],
        "VALIDATION_ERROR"
    );
    let r = app.gql(&engineer, create, json!({ "i": { "workflowId": wid, "name": "ghost", "kind": "INVALID", "inputs": { "ghost": 1 } } })).await;
    assert_eq!(fields_of(&r), vec!["inputs.ghost"]);
    // Names are unique per workflow.
    let r = app.gql(&engineer, create, json!({ "i": { "workflowId": wid, "name": "happy", "inputs": { "email": "a@example.com", "age": 30 } } })).await;
    assert_eq!(fields_of(&r), vec!["name"]);

    // Updating: versioned, re-checked, kind changes carry their default outcome.
    let update = "mutation($i: UpdateScenarioInput!) { updateScenario(input: $i) { name kind expectedOutcome inputs version } }";
    let r = app.gql(&engineer, update, json!({ "i": { "id": sid, "expectedVersion": 1, "inputs": { "email": "a@example.com", "age": 101 } } })).await;
    assert_eq!(fields_of(&r), vec!["inputs.age"]);
    let r = app.gql(&engineer, update, json!({ "i": { "id": sid, "expectedVersion": 1, "kind": "INVALID", "inputs": { "email": "a@example.com", "age": 101 } } })).await;
    let s = &r.data()["updateScenario"];
    assert_eq!(
        (
            s["kind"].as_str(),
            s["expectedOutcome"].as_str(),
            s["version"].as_i64()
        ),
        (Some("INVALID"), Some("VALIDATION_ERROR"), Some(2))
    );
    let r = app
        .gql(
            &engineer,
            update,
            json!({ "i": { "id": sid, "expectedVersion": 1, "name": "late" } }),
        )
        .await;
    assert_eq!(r.code(), "CONFLICT");

    // Listing and deleting.
    let list = "query($w: ID!) { scenarios(workflowId: $w) { edges { node { name } } } }";
    let names = |r: &Gql| -> Vec<String> {
        r.data()["scenarios"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app
        .gql(&app.viewer_a.caller(), list, json!({ "w": wid }))
        .await;
    assert_eq!(names(&r), vec!["happy", "edge", "too young"]);
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "mutation($id: ID!) { deleteScenario(id: $id) { id } }",
            json!({ "id": sid }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(
            &engineer,
            "mutation($id: ID!) { deleteScenario(id: $id) { deletedAt } }",
            json!({ "id": sid }),
        )
        .await;
    assert!(r.data()["deleteScenario"]["deletedAt"].is_string());
    let r = app
        .gql(&app.viewer_a.caller(), list, json!({ "w": wid }))
        .await;
    assert_eq!(names(&r), vec!["edge", "too young"]);
    let r = app
        .gql(
            &engineer,
            "mutation($id: ID!) { deleteScenario(id: $id) { id } }",
            json!({ "id": sid }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND", "deleted once");
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "query($id: ID!) { scenario(id: $id) { name deletedAt } }",
            json!({ "id": sid }),
        )
        .await;
    assert_eq!(
        r.data()["scenario"]["name"],
        "happy",
        "kept for the runs that used it"
    );
}

async fn scenarios_import_from_csv_all_or_nothing(app: TestApp) {
    let (_, w) = local_workflow(&app, "http://127.0.0.1:9").await;
    let wid = w["id"].as_str().unwrap().to_owned();
    let engineer = app.engineer_a.caller();
    let import = "mutation($w: ID!, $csv: String!) { importScenarios(workflowId: $w, csv: $csv) { name kind expectedOutcome inputs tags } }";
    // Bad rows: every problem by row and column, nothing created.
    let bad = "email,age,_kind,_name\n\
               ok@example.com,30,,first\n\
               nope,17,VALID,second\n\
               x@example.com,abc,WEIRD,third\n\
               y@example.com,16,INVALID,first\n";
    let r = app
        .gql(&engineer, import, json!({ "w": wid, "csv": bad }))
        .await;
    let mut fields = fields_of(&r);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "rows[2].age",
            "rows[2].email",
            "rows[3]._kind",
            "rows[3].age",
            "rows[4]._name"
        ]
    );
    assert_eq!(scenario_count(&app, &wid).await, 0);
    let r = app
        .gql(
            &engineer,
            import,
            json!({ "w": wid, "csv": "email,salary\na@b.c,1\n" }),
        )
        .await;
    assert_eq!(fields_of(&r), vec!["header[1]"]);
    let r = app
        .gql(&engineer, import, json!({ "w": wid, "csv": "email,age\n" }))
        .await;
    assert_eq!(fields_of(&r), vec!["csv"]);
    let r = app
        .gql(
            &engineer,
            import,
            json!({ "w": wid, "csv": "email,age\n\"unclosed,1\n" }),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");

    // Good rows: created with their kinds, outcomes and tags; quoted cells stay whole.
    let good = "email,age,plan,_kind,_name,_tags\n\
                a@example.com,30,pro,,Alice,smoke|eu\n\
                b@example.com,18,,BOUNDARY,\"Youngest, by a day\",\n\
                c@example.com,17,,INVALID,Too young,\n";
    let r = app
        .gql(&engineer, import, json!({ "w": wid, "csv": good }))
        .await;
    let made = r.data()["importScenarios"].as_array().unwrap().clone();
    assert_eq!(made.len(), 3);
    assert_eq!(
        made[0]["inputs"],
        json!({ "email": "a@example.com", "age": "30", "plan": "pro" })
    );
    assert_eq!(made[0]["tags"], json!(["smoke", "eu"]));
    assert_eq!(
        (made[1]["name"].as_str(), made[1]["kind"].as_str()),
        (Some("Youngest, by a day"), Some("BOUNDARY"))
    );
    assert_eq!(made[2]["expectedOutcome"], "VALIDATION_ERROR");
    assert_eq!(scenario_count(&app, &wid).await, 3);
    // A name already taken refuses the whole import.
    let r = app.gql(&engineer, import, json!({ "w": wid, "csv": "email,age,_name\nz@example.com,40,New\nq@example.com,40,Alice\n" })).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(scenario_count(&app, &wid).await, 3);
}

async fn automation_is_org_scoped(app: TestApp) {
    let (target_id, w) = local_workflow(&app, "http://127.0.0.1:9").await;
    let wid = w["id"].as_str().unwrap().to_owned();
    let r = app
        .gql(&app.engineer_a.caller(), "mutation($w: ID!) { createScenario(input: { workflowId: $w, name: \"s\", inputs: { email: \"a@example.com\", age: 20 } }) { id } }", json!({ "w": wid }))
        .await;
    let sid = r.data()["createScenario"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .gql(&app.manager_a.caller(), "mutation($t: ID!) { setTargetSecret(input: { targetId: $t, name: \"pw\", value: \"v\" }) { id } }", json!({ "t": target_id }))
        .await;
    r.data();

    let b = app.admin_b.caller();
    let probes: Vec<(&str, Value)> = vec![
        ("query($id: ID!) { target(id: $id) { id } }", json!({})),
        ("query($id: ID!) { workflow(id: $id) { id } }", json!({})),
        ("query($id: ID!) { scenario(id: $id) { id } }", json!({})),
        (
            "query($id: ID!) { scenarios(workflowId: $id) { edges { node { id } } } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { updateTarget(input: { id: $id, name: \"x\" }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { archiveTarget(id: $id) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { setTargetSecret(input: { targetId: $id, name: \"pw\", value: \"stolen\" }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { deleteTargetSecret(input: { targetId: $id, name: \"pw\" }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { createWorkflow(input: { name: \"w\", targetId: $id }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { updateWorkflowDraft(input: { id: $id, expectedVersion: 1, name: \"x\" }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { publishWorkflow(id: $id) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { archiveWorkflow(id: $id) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { createScenario(input: { workflowId: $id, name: \"s\", inputs: {} }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { importScenarios(workflowId: $id, csv: \"email\\nx@y.z\") { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { generateScenarios(input: { workflowId: $id }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { updateScenario(input: { id: $id, name: \"x\" }) { id } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { deleteScenario(id: $id) { id } }",
            json!({}),
        ),
    ];
    for (query, _) in &probes {
        let id = if query.contains("Scenario(input: { id")
            || query.contains("scenario(id")
            || query.contains("deleteScenario")
        {
            sid.clone()
        } else if query.contains("target") || query.contains("Target") || query.contains("targetId")
        {
            target_id.clone()
        } else {
            wid.clone()
        };
        let as_b = app.gql(&b, query, json!({ "id": id })).await;
        let never = app
            .gql(&b, query, json!({ "id": Uuid::now_v7().to_string() }))
            .await;
        assert_eq!(as_b.code(), "NOT_FOUND", "{query}: {}", as_b.body);
        assert_eq!(
            as_b.message(),
            never.message(),
            "{query}: another org's id reads like a missing one"
        );
    }
    // B's lists are empty; `workflows(targetId:)` with A's target shows nothing.
    let r = app
        .gql(
            &b,
            "{ targets { edges { node { id } } } workflows { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["targets"]["edges"], json!([]));
    assert_eq!(r.data()["workflows"]["edges"], json!([]));
    let r = app
        .gql(
            &b,
            "query($t: ID!) { workflows(targetId: $t) { edges { node { id } } } }",
            json!({ "t": target_id }),
        )
        .await;
    assert_eq!(r.data()["workflows"]["edges"], json!([]));
    // Nothing of A's changed.
    let r = app
        .gql(&app.viewer_a.caller(), "query($t: ID!, $w: ID!) { target(id: $t) { name archivedAt secrets { name } } workflow(id: $w) { name archivedAt latestVersion } }", json!({ "t": target_id, "w": wid }))
        .await;
    let d = r.data();
    assert!(d["target"]["archivedAt"].is_null() && d["workflow"]["archivedAt"].is_null());
    assert_eq!(d["target"]["secrets"], json!([{ "name": "pw" }]));
    assert_eq!(d["workflow"]["latestVersion"], 0);
}

pub async fn scenario_count(app: &TestApp, wid: &str) -> usize {
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "query($w: ID!) { scenarios(workflowId: $w, first: 100) { edges { node { id } } } }",
            json!({ "w": wid }),
        )
        .await;
    r.data()["scenarios"]["edges"].as_array().unwrap().len()
}
