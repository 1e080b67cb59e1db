//! The audit log: every mutation writes a row in its own transaction, secrets never
//! appear in it, and rows cannot be updated or deleted.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::both_backends;
use crate::support::TestApp;

both_backends!(mutations_are_audited, audit_rows_are_append_only);

async fn mutations_are_audited(app: TestApp) {
    let (key_id, secret) = app.create_key(&app.admin_a, "ENGINEER").await;
    let admin = app.admin_a.caller();
    app.gql(
        &admin,
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
        json!({ "id": key_id }),
    )
    .await
    .data();
    app.gql(
        &admin,
        "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: MANAGER }) { role } }",
        json!({ "id": app.viewer_a.user_id.to_string() }),
    )
    .await
    .data();

    let r = app
        .gql(&admin, "{ auditLog(first: 10) { edges { node { action actorType actorId targetType targetId before after requestId } } } }", json!({}))
        .await;
    let text = r.body.to_string();
    assert!(!text.contains(&secret), "no secret in the audit log");
    assert!(!text.contains("secretHash") && !text.contains("secret_hash"));
    let nodes: Vec<_> = r.data()["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let actions: Vec<&str> = nodes
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    // Newest first; the personas' set-up (member.added by the system) comes last.
    assert_eq!(
        &actions[..3],
        ["member.role_changed", "api_key.revoked", "api_key.created"]
    );
    let role_change = &nodes[0];
    assert_eq!(role_change["actorType"], "user");
    assert_eq!(role_change["actorId"], app.admin_a.user_id.to_string());
    assert_eq!(role_change["before"]["role"], "VIEWER");
    assert_eq!(role_change["after"]["role"], "MANAGER");
    assert!(role_change["requestId"].is_string());
    assert_eq!(nodes[1]["targetId"], key_id);
    assert!(
        nodes[1]["before"]["revokedAt"].is_null() && nodes[1]["after"]["revokedAt"].is_string()
    );

    let filtered = app
        .gql(
            &admin,
            "{ auditLog(filter: { action: \"api_key.created\" }) { edges { node { targetId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        filtered.data()["auditLog"]["edges"],
        json!([{ "node": { "targetId": key_id } }])
    );
    let by_actor = app
        .gql(
            &admin,
            "query($a: ID!) { auditLog(filter: { actorId: $a }) { edges { node { action } } } }",
            json!({ "a": app.admin_b.user_id.to_string() }),
        )
        .await;
    assert_eq!(by_actor.data()["auditLog"]["edges"], json!([]));
    let future = app
        .gql(&admin, "{ auditLog(filter: { since: \"2999-01-01T00:00:00Z\" }) { edges { node { action } } } }", json!({}))
        .await;
    assert_eq!(future.data()["auditLog"]["edges"], json!([]));

    // Org B's log holds none of A's rows.
    let b = app
        .gql(
            &app.admin_b.caller(),
            "{ auditLog { edges { node { action targetId } } } }",
            json!({}),
        )
        .await;
    assert!(!b.body.to_string().contains(&key_id));

    // Pagination: two pages of one, then the cursor continues where it stopped.
    let p1 = app.gql(&admin, "{ auditLog(first: 1) { edges { cursor node { action } } pageInfo { hasNextPage endCursor } } }", json!({})).await;
    let page = &p1.data()["auditLog"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let p2 = app
        .gql(
            &admin,
            "query($c: String!) { auditLog(first: 1, after: $c) { edges { node { action } } } }",
            json!({ "c": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        p2.data()["auditLog"]["edges"][0]["node"]["action"],
        "api_key.revoked"
    );
    let bad = app
        .gql(
            &admin,
            "{ auditLog(after: \"bm90LWEtY3Vyc29y\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
}

async fn audit_rows_are_append_only(app: TestApp) {
    let (_, _) = app.create_key(&app.admin_a, "VIEWER").await;
    let tx = domain::db::begin(&app.app.db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let update = tx
        .execute_unprepared("UPDATE audit_log SET action = 'forged'")
        .await;
    assert!(update.is_err(), "UPDATE must be refused");
    drop(tx);
    let tx = domain::db::begin(&app.app.db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let delete = tx.execute_unprepared("DELETE FROM audit_log").await;
    assert!(delete.is_err(), "DELETE must be refused");
    let msg = delete.unwrap_err().to_string();
    assert!(msg.contains("append-only"), "{msg}");
    drop(tx);
    let r = app
        .gql(
            &app.admin_a.caller(),
            "{ auditLog { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.data()["auditLog"]["edges"][0]["node"]["action"],
        "api_key.created"
    );
}
