//! Deny by default: every mutation is in the role catalog, and each persona below a
//! mutation's minimum role is refused with FORBIDDEN before anything is looked up.

use api_server::graphql::authz::{MUTATION_ROLES, Need, mutation_need};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::support::{Caller, TestApp};

/// A well-formed call of each mutation. Ids are fresh, so an allowed caller gets
/// NOT_FOUND (or succeeds) and never changes the personas.
fn sample(name: &str) -> (&'static str, Value) {
    let id = Uuid::now_v7().to_string();
    match name {
        "createOrganization" => (
            "mutation($s: String!) { createOrganization(input: { slug: $s, name: \"X\" }) { id } }",
            json!({ "s": format!("s-{}", &id[id.len() - 12..]) }),
        ),
        "updateOrganization" => (
            "mutation { updateOrganization(input: { retentionDays: 30 }) { retentionDays } }",
            json!({}),
        ),
        "addMember" => (
            "mutation($e: String!) { addMember(input: { email: $e, role: VIEWER }) { role } }",
            json!({ "e": format!("new-{id}@example.test") }),
        ),
        "setMemberRole" => (
            "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: VIEWER }) { role } }",
            json!({ "id": id }),
        ),
        "removeMember" => (
            "mutation($id: ID!) { removeMember(userId: $id) { role } }",
            json!({ "id": id }),
        ),
        "createApiKey" => (
            "mutation { createApiKey(input: { name: \"k\", role: VIEWER }) { secret } }",
            json!({}),
        ),
        "revokeApiKey" => (
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "createIncident" => (
            "mutation { createIncident(input: { title: \"t\", severity: SEV3 }) { id } }",
            json!({}),
        ),
        "updateIncident" => (
            "mutation($id: ID!) { updateIncident(input: { id: $id, expectedVersion: 1, title: \"x\" }) { id } }",
            json!({ "id": id }),
        ),
        "transitionIncident" => (
            "mutation($id: ID!) { transitionIncident(input: { id: $id, to: INVESTIGATING, expectedVersion: 1 }) { id } }",
            json!({ "id": id }),
        ),
        "markIncidentDuplicate" => (
            "mutation($id: ID!, $of: ID!) { markIncidentDuplicate(input: { id: $id, duplicateOfId: $of, expectedVersion: 1 }) { id } }",
            json!({ "id": id, "of": Uuid::now_v7().to_string() }),
        ),
        "assignIncident" => (
            "mutation($id: ID!) { assignIncident(input: { id: $id, assigneeIds: [], expectedVersion: 1 }) { id } }",
            json!({ "id": id }),
        ),
        "addIncidentComment" => (
            "mutation($id: ID!) { addIncidentComment(input: { incidentId: $id, body: \"hi\" }) { id } }",
            json!({ "id": id }),
        ),
        "upsertSlaPolicy" => (
            "mutation { upsertSlaPolicy(input: { severity: SEV4, ackMinutes: 300, resolveMinutes: 5000 }) { severity } }",
            json!({}),
        ),
        "correctIncidentTimestamps" => (
            "mutation($id: ID!) { correctIncidentTimestamps(input: { id: $id, expectedVersion: 1, impactStartedAt: \"2026-01-01T00:00:00Z\" }) { id } }",
            json!({ "id": id }),
        ),
        "createActionItem" => (
            "mutation($id: ID!) { createActionItem(input: { incidentId: $id, title: \"t\" }) { id } }",
            json!({ "id": id }),
        ),
        "completeActionItem" => (
            "mutation($id: ID!) { completeActionItem(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "requestIncidentReport" => (
            "mutation { requestIncidentReport(input: { format: CSV, from: \"2026-01-01T00:00:00Z\", to: \"2026-02-01T00:00:00Z\" }) { id } }",
            json!({}),
        ),
        "cancelJob" => (
            "mutation($id: ID!) { cancelJob(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "retryJob" => (
            "mutation($id: ID!) { retryJob(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "runFleetProbe" => ("mutation { runFleetProbe(input: {}) { id } }", json!({})),
        "createSavedView" => (
            "mutation { createSavedView(input: { name: \"v\", filter: {} }) { id } }",
            json!({}),
        ),
        "createIncidentAttachmentUpload" => (
            "mutation($id: ID!) { createIncidentAttachmentUpload(input: { incidentId: $id, filename: \"a.txt\", contentType: \"text/plain\", sizeBytes: 3 }) { uploadUrl } }",
            json!({ "id": id }),
        ),
        "completeIncidentAttachment" => (
            "mutation($id: ID!) { completeIncidentAttachment(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "createTarget" => (
            "mutation($n: String!) { createTarget(input: { name: $n, baseUrl: \"https://example.com\" }) { id } }",
            json!({ "n": format!("t-{id}") }),
        ),
        "updateTarget" => (
            "mutation($id: ID!) { updateTarget(input: { id: $id, name: \"x\" }) { id } }",
            json!({ "id": id }),
        ),
        "archiveTarget" => (
            "mutation($id: ID!) { archiveTarget(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "setTargetSecret" => (
            "mutation($id: ID!) { setTargetSecret(input: { targetId: $id, name: \"pw\", value: \"v\" }) { id } }",
            json!({ "id": id }),
        ),
        "deleteTargetSecret" => (
            "mutation($id: ID!) { deleteTargetSecret(input: { targetId: $id, name: \"pw\" }) { id } }",
            json!({ "id": id }),
        ),
        "createWorkflow" => (
            "mutation($id: ID!) { createWorkflow(input: { name: \"w\", targetId: $id }) { id } }",
            json!({ "id": id }),
        ),
        "updateWorkflowDraft" => (
            "mutation($id: ID!) { updateWorkflowDraft(input: { id: $id, expectedVersion: 1, name: \"x\" }) { id } }",
            json!({ "id": id }),
        ),
        "publishWorkflow" => (
            "mutation($id: ID!) { publishWorkflow(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "archiveWorkflow" => (
            "mutation($id: ID!) { archiveWorkflow(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "createScenario" => (
            "mutation($id: ID!) { createScenario(input: { workflowId: $id, name: \"s\", inputs: {} }) { id } }",
            json!({ "id": id }),
        ),
        "updateScenario" => (
            "mutation($id: ID!) { updateScenario(input: { id: $id, name: \"x\" }) { id } }",
            json!({ "id": id }),
        ),
        "deleteScenario" => (
            "mutation($id: ID!) { deleteScenario(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "generateScenarios" => (
            "mutation($id: ID!) { generateScenarios(input: { workflowId: $id, count: 1 }) { id } }",
            json!({ "id": id }),
        ),
        "analyzeForm" => (
            "mutation($id: ID!) { analyzeForm(input: { targetId: $id, url: \"/\" }) { id } }",
            json!({ "id": id }),
        ),
        "createWorkflowFromAnalysis" => (
            "mutation($id: ID!) { createWorkflowFromAnalysis(input: { analysisId: $id, name: \"w\" }) { id } }",
            json!({ "id": id }),
        ),
        "importScenarios" => (
            "mutation($id: ID!) { importScenarios(workflowId: $id, csv: \"a\\n1\") { id } }",
            json!({ "id": id }),
        ),
        "launchRun" => (
            "mutation($id: ID!) { launchRun(input: { workflowId: $id }) { id } }",
            json!({ "id": id }),
        ),
        "launchRuns" => (
            "mutation($id: ID!) { launchRuns(input: { workflowId: $id, scenarioIds: [$id] }) { id } }",
            json!({ "id": id }),
        ),
        "cancelRun" => (
            "mutation($id: ID!) { cancelRun(id: $id) { id } }",
            json!({ "id": id }),
        ),
        "retryRun" => (
            "mutation($id: ID!) { retryRun(id: $id) { id } }",
            json!({ "id": id }),
        ),
        other => panic!("no sample call for mutation {other}: add one here"),
    }
}

fn schema_mutations() -> Vec<String> {
    let sdl = api_server::graphql::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).unwrap();
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            async_graphql::parser::types::TypeSystemDefinition::Type(t)
                if t.node.name.node == "Mutation" =>
            {
                match &t.node.kind {
                    async_graphql::parser::types::TypeKind::Object(o) => Some(
                        o.fields
                            .iter()
                            .map(|f| f.node.name.node.to_string())
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                }
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn every_mutation_has_a_minimum_role_and_a_sample() {
    let mutations = schema_mutations();
    assert!(mutations.len() >= 17, "{mutations:?}");
    for m in &mutations {
        assert!(
            mutation_need(m).is_some(),
            "mutation {m} is missing from authz::MUTATION_ROLES"
        );
        let _ = sample(m);
    }
    for (name, _) in MUTATION_ROLES {
        assert!(
            mutations.iter().any(|m| m == name),
            "MUTATION_ROLES names {name}, which the schema lacks"
        );
    }
}

both_backends!(each_role_boundary_holds, field_roles_hold);

async fn each_role_boundary_holds(app: TestApp) {
    for (name, need) in MUTATION_ROLES {
        let (query, vars) = sample(name);
        let anonymous = app.gql(&Caller::anonymous(), query, vars.clone()).await;
        assert_eq!(
            anonymous.code(),
            "UNAUTHENTICATED",
            "{name} anonymous: {}",
            anonymous.body
        );
        match need {
            Need::Role(min) => {
                for p in app.personas_a() {
                    let (query, vars) = sample(name);
                    let r = app.gql(&p.caller(), query, vars).await;
                    if p.role < *min {
                        assert_eq!(r.code(), "FORBIDDEN", "{name} as {:?}: {}", p.role, r.body);
                    } else {
                        let code = r.body["errors"][0]["extensions"]["code"].as_str();
                        assert!(
                            code.is_none() || code == Some("NOT_FOUND"),
                            "{name} as {:?}: {}",
                            p.role,
                            r.body
                        );
                    }
                }
                // An API key is bounded by its own role the same way.
                if *min > domain::role::Role::Viewer {
                    let (_, viewer_key) = app.create_key(&app.admin_a, "VIEWER").await;
                    let r = app
                        .gql(&Caller::key(&viewer_key), query, vars.clone())
                        .await;
                    assert_eq!(
                        r.code(),
                        "FORBIDDEN",
                        "{name} with a VIEWER key: {}",
                        r.body
                    );
                }
            }
            Need::User => {
                let (_, admin_key) = app.create_key(&app.admin_a, "ADMIN").await;
                let r = app.gql(&Caller::key(&admin_key), query, vars.clone()).await;
                assert_eq!(r.code(), "FORBIDDEN", "{name} with an API key: {}", r.body);
                let r = app.gql(&app.viewer_a.caller(), query, vars.clone()).await;
                r.data();
            }
        }
    }
}

async fn field_roles_hold(app: TestApp) {
    let keys = "{ organization { apiKeys { edges { node { id } } } } }";
    let audit = "{ auditLog { edges { node { action } } } }";
    let members = "{ organization { members { edges { node { role } } } } }";
    for p in app.personas_a() {
        let admin = p.role == domain::role::Role::Admin;
        for q in [keys, audit] {
            let r = app.gql(&p.caller(), q, json!({})).await;
            if admin {
                r.data();
            } else {
                assert_eq!(r.code(), "FORBIDDEN", "{q} as {:?}", p.role);
            }
        }
        app.gql(&p.caller(), members, json!({})).await.data();
    }
    for q in [keys, audit, members] {
        let r = app.gql(&Caller::anonymous(), q, json!({})).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{q}");
    }
}
