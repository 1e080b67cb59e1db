//! OIDC access tokens: every way a token can be wrong is refused with UNAUTHENTICATED, and
//! the JWKS is refetched once for an unknown `kid`, no more than the configured interval.

use std::time::Duration;

use serde_json::json;

use crate::issuer::{KEY1, KEY2};
use crate::support::{Backend, Caller, TestApp};

const Q: &str = "{ viewer { user { id email } } }";

async fn refused(app: &TestApp, token: &str) -> String {
    let r = app.gql(&Caller::token(token), Q, json!({})).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHENTICATED"), "{}", r.body);
    r.message().to_owned()
}

#[tokio::test]
async fn a_valid_token_signs_the_user_in() {
    let app = TestApp::new(Backend::Sqlite).await;
    let r = app
        .gql(&Caller::token(&app.admin_a.token), Q, json!({}))
        .await;
    assert_eq!(
        r.data()["viewer"]["user"]["id"],
        app.admin_a.user_id.to_string()
    );
    // A new subject becomes a new user, found again on the next request.
    let token = app.issuer.token("brand-new-subject");
    let first = app.gql(&Caller::token(&token), Q, json!({})).await;
    let second = app.gql(&Caller::token(&token), Q, json!({})).await;
    assert!(first.data()["viewer"]["user"]["id"].is_string());
    assert_eq!(
        first.data()["viewer"]["user"]["id"],
        second.data()["viewer"]["user"]["id"]
    );
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let app = TestApp::new(Backend::Sqlite).await;
    let iss = &app.issuer;
    let now = chrono::Utc::now().timestamp();
    let mut c = iss.claims("someone");
    c["exp"] = json!(now - 120);
    assert_eq!(refused(&app, &iss.sign(&c)).await, "invalid token: expired");
    let mut c = iss.claims("someone");
    c["aud"] = json!("urn:someone-else");
    assert_eq!(
        refused(&app, &iss.sign(&c)).await,
        "invalid token: wrong audience"
    );
    let mut c = iss.claims("someone");
    c["iss"] = json!(format!("{}/", iss.issuer));
    assert_eq!(
        refused(&app, &iss.sign(&c)).await,
        "invalid token: wrong issuer"
    );
    let mut c = iss.claims("someone");
    c["nbf"] = json!(now + 600);
    assert_eq!(
        refused(&app, &iss.sign(&c)).await,
        "invalid token: not yet valid"
    );
    let mut c = iss.claims("someone");
    c.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        refused(&app, &iss.sign(&c)).await,
        "invalid token: missing claim"
    );
    let mut c = iss.claims("someone");
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        refused(&app, &iss.sign(&c)).await,
        "invalid token: missing claim"
    );
    refused(&app, &iss.unsigned("someone")).await;
    assert_eq!(
        refused(&app, &iss.hs256_with_public_key("someone")).await,
        "invalid token: algorithm not allowed"
    );
    // Signed by a key the issuer never published, under the published kid.
    assert_eq!(
        refused(
            &app,
            &iss.sign_with(&KEY2, KEY1.kid, &iss.claims("someone"))
        )
        .await,
        "invalid token: bad signature"
    );
    refused(&app, "not.a.jwt").await;
}

#[tokio::test]
async fn unknown_kid_refetches_once_per_interval() {
    let app = TestApp::new(Backend::Sqlite).await;
    let iss = &app.issuer;
    app.gql(&Caller::token(&app.admin_a.token), Q, json!({}))
        .await
        .data();
    // Discovery itself may read the JWKS once; count from here.
    let base = iss.jwks_fetches();
    assert!(base >= 1);
    let stranger = iss.sign_with(&KEY2, "never-published", &iss.claims("x"));
    assert_eq!(
        refused(&app, &stranger).await,
        "invalid token: unknown signing key"
    );
    assert_eq!(
        iss.jwks_fetches(),
        base + 1,
        "one refetch for the unknown kid"
    );
    for _ in 0..5 {
        refused(&app, &stranger).await;
    }
    assert_eq!(
        iss.jwks_fetches(),
        base + 1,
        "no refetch within the interval"
    );
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_refetch() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("OPSDECK_OIDC_JWKS_REFETCH_SECS", "1")
        // A verified token is otherwise trusted for a few seconds without re-verification.
        .env("OPSDECK_AUTH_CACHE_SECS", "0")
        .start()
        .await;
    let iss = &app.issuer;
    app.gql(&Caller::token(&app.admin_a.token), Q, json!({}))
        .await
        .data();
    let base = iss.jwks_fetches();
    iss.publish(&[&KEY2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = iss.sign_with(
        &KEY2,
        KEY2.kid,
        &iss.claims(&format!("rotated-{}", uuid::Uuid::now_v7())),
    );
    app.gql(&Caller::token(&rotated), Q, json!({})).await.data();
    assert_eq!(iss.jwks_fetches(), base + 1);
    // The old key's kid is no longer trusted once it is gone from the set.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    refused(&app, &app.admin_a.token).await;
}
