//! API keys: shown once, stored as prefix + hash, bounded by role, revocable, expiring.

use chrono::{Duration, Utc};
use domain::db::{self, Scope};
use domain::entity::api_key;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::json;
use uuid::Uuid;

use crate::both_backends;
use crate::support::{Caller, TestApp};

both_backends!(key_lifecycle, revoked_and_expired_keys_are_refused);

async fn key_lifecycle(app: TestApp) {
    let admin = app.admin_a.caller();
    let r = app
        .gql(&admin, "mutation { createApiKey(input: { name: \" ci \", role: ENGINEER }) { apiKey { id name role prefix lastUsedAt revokedAt } secret } }", json!({}))
        .await;
    let p = &r.data()["createApiKey"];
    let secret = p["secret"].as_str().unwrap();
    assert!(secret.starts_with(p["apiKey"]["prefix"].as_str().unwrap()));
    assert_eq!(p["apiKey"]["name"], "ci");
    assert_eq!(p["apiKey"]["role"], "ENGINEER");
    assert!(p["apiKey"]["lastUsedAt"].is_null());
    let id: Uuid = p["apiKey"]["id"].as_str().unwrap().parse().unwrap();

    let who = app
        .gql(
            &Caller::key(secret),
            "{ viewer { user { id } apiKey { id role } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        who.data()["viewer"],
        json!({ "user": null, "apiKey": { "id": id.to_string(), "role": "ENGINEER" } })
    );

    // Stored as a hash, never the secret; lastUsedAt was recorded by the use above.
    let tx = db::begin(&app.app.db, Scope::org(app.org_a.id))
        .await
        .unwrap();
    let row = api_key::Entity::find_by_id(id)
        .one(&tx)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(row.secret_hash.len(), 32);
    assert_ne!(row.secret_hash, secret.as_bytes());
    assert!(row.last_used_at.is_some());

    let list = app
        .gql(
            &admin,
            "{ organization { apiKeys { edges { node { id prefix } } } } }",
            json!({}),
        )
        .await;
    let ids: Vec<&str> = list.data()["organization"]["apiKeys"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id.to_string()]);
    let text = list.body.to_string();
    assert!(!text.contains(secret), "a listing never shows a secret");

    // A key may not outrank its creator; names and expiry are validated.
    let bad = app
        .gql(
            &admin,
            "mutation { createApiKey(input: { name: \"\", role: VIEWER }) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
    let past = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let bad = app.gql(&admin, "mutation($t: DateTime!) { createApiKey(input: { name: \"x\", role: VIEWER, expiresAt: $t }) { secret } }", json!({ "t": past })).await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
    assert_eq!(
        bad.body["errors"][0]["extensions"]["fields"][0]["field"],
        "expiresAt"
    );
}

async fn revoked_and_expired_keys_are_refused(app: TestApp) {
    let (id, secret) = app.create_key(&app.admin_a, "VIEWER").await;
    let q = "{ organization { slug } }";
    app.gql(&Caller::key(&secret), q, json!({})).await.data();
    let r = app
        .gql(
            &app.admin_a.caller(),
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(r.data()["revokeApiKey"]["revokedAt"].is_string());
    let after = app.gql(&Caller::key(&secret), q, json!({})).await;
    assert_eq!(after.status, 401);
    assert_eq!(after.code(), "UNAUTHENTICATED");
    assert_eq!(after.message(), "API key has been revoked");
    assert!(after.body.get("data").is_none());

    let (id, secret) = app.create_key(&app.admin_a, "VIEWER").await;
    let tx = db::begin(&app.app.db, Scope::org(app.org_a.id))
        .await
        .unwrap();
    api_key::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(id.parse().unwrap()),
        expires_at: Set(Some(Utc::now() - Duration::seconds(1))),
        ..Default::default()
    }
    .update(&tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let expired = app.gql(&Caller::key(&secret), q, json!({})).await;
    assert_eq!((expired.status, expired.code()), (401, "UNAUTHENTICATED"));
    assert_eq!(expired.message(), "API key has expired");

    for garbage in [
        "odk_not-a-real-key-at-all-0000000000000000000",
        "short",
        &secret[..secret.len() - 1],
    ] {
        let r = app.gql(&Caller::key(garbage), q, json!({})).await;
        assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"), "{garbage}");
    }
}
