//! The GraphQL-over-HTTP contract and the request limits, each refused before execution.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::{Backend, Caller, TestApp};

async fn post_raw(
    app: &TestApp,
    content_type: &str,
    accept: &str,
    body: String,
) -> (u16, String, Value) {
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, content_type)
        .header(ACCEPT, accept)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    (
        status,
        ct,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn media_types_status_codes_and_csrf() {
    let app = TestApp::new(Backend::Sqlite).await;
    let q = json!({ "query": "{ __typename }" }).to_string();
    let (s, ct, b) = post_raw(
        &app,
        "application/json",
        "application/graphql-response+json",
        q.clone(),
    )
    .await;
    assert_eq!(
        (s, ct.as_str()),
        (200, "application/graphql-response+json; charset=utf-8")
    );
    assert_eq!(b, json!({ "data": { "__typename": "Query" } }));
    let (s, ct, _) = post_raw(&app, "application/json; charset=utf-8", "*/*", q.clone()).await;
    assert_eq!((s, ct.as_str()), (200, "application/json; charset=utf-8"));

    // Cross-site forms and simple requests: refused, never executed.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
    ] {
        let (s, _, b) = post_raw(&app, ct, "application/json", q.clone()).await;
        assert_eq!((s, code(&b)), (415, "BAD_USER_INPUT"), "{ct}");
        assert!(b.get("data").is_none());
    }
    let (s, _, _) = post_raw(&app, "application/json", "text/html", q.clone()).await;
    assert_eq!(s, 406);

    // Document errors: 400 without data under graphql-response+json, 200 under json.
    let broken = json!({ "query": "{ viewer { " }).to_string();
    let (s, _, b) = post_raw(
        &app,
        "application/json",
        "application/graphql-response+json",
        broken.clone(),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BAD_USER_INPUT"));
    assert!(b.get("data").is_none() && b["errors"][0]["extensions"]["requestId"].is_string());
    let (s, _, b) = post_raw(&app, "application/json", "application/json", broken).await;
    assert_eq!((s, code(&b)), (200, "BAD_USER_INPUT"));
    let invalid = json!({ "query": "{ noSuchField }" }).to_string();
    let (s, _, b) = post_raw(
        &app,
        "application/json",
        "application/graphql-response+json",
        invalid,
    )
    .await;
    assert_eq!((s, code(&b)), (400, "BAD_USER_INPUT"));

    for (body, why) in [
        ("{not json".to_owned(), "malformed JSON"),
        (json!({ "variables": {} }).to_string(), "no query"),
        (json!({ "query": 1 }).to_string(), "query not a string"),
        (
            json!({ "query": "{ __typename }", "variables": [1] }).to_string(),
            "variables not an object",
        ),
        (
            json!({ "query": "{ __typename }", "operationName": 3 }).to_string(),
            "operationName not a string",
        ),
        ("\"just a string\"".to_owned(), "not an object"),
    ] {
        let (s, _, b) = post_raw(&app, "application/json", "application/json", body).await;
        assert_eq!((s, code(&b)), (400, "BAD_USER_INPUT"), "{why}");
    }
}

#[tokio::test]
async fn response_fields_keep_the_documents_order() {
    let app = TestApp::new(Backend::Sqlite).await;
    let text = app
        .http
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .body(json!({ "query": "{ zeta: __typename alpha: __typename }" }).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, r#"{"data":{"zeta":"Query","alpha":"Query"}}"#);
}

#[tokio::test]
async fn get_runs_queries_only() {
    let app = TestApp::new(Backend::Sqlite).await;
    let get = |query: &str| {
        app.http
            .get(app.url("/graphql"))
            .query(&[("query", query)])
            .header(ACCEPT, "application/graphql-response+json")
            .send()
    };
    let r = TestApp::read(get("{ __typename }").await.unwrap()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({ "data": { "__typename": "Query" } }))
    );
    for m in [
        "mutation { __typename }",
        "mutation M { createApiKey(input: { name: \"x\", role: VIEWER }) { secret } }",
    ] {
        let resp = get(m).await.unwrap();
        assert_eq!(resp.headers()["allow"], "POST");
        let r = TestApp::read(resp).await;
        assert_eq!((r.status, r.code()), (405, "BAD_USER_INPUT"), "{m}");
    }
    let r = TestApp::read(app.http.put(app.url("/graphql")).send().await.unwrap()).await;
    assert_eq!(r.status, 405);
    // Browsers get GraphiQL (on by default only in the embedded deployment).
    let page = app
        .http
        .get(app.url("/graphql"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
}

#[tokio::test]
async fn limits_are_enforced_before_execution() {
    let app = TestApp::new(Backend::Sqlite).await;
    let admin = app.admin_a.caller();
    let refused = async |query: String| {
        let r = app.gql(&admin, &query, json!({})).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "BAD_USER_INPUT"),
            "{query}: {}",
            r.body
        );
        assert!(r.body.get("data").is_none());
        r.message().to_owned()
    };
    // Depth 13.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(9),
        " }".repeat(9)
    );
    refused(deep).await;
    // Complexity: 100 members × 100 keys' worth of fields.
    let complex = "{ organization { members(first: 100) { edges { cursor node { role joinedAt user { id email displayName } } } } apiKeys(first: 100) { edges { cursor node { id name role prefix createdAt } } } } }";
    let m = refused(complex.to_owned()).await;
    assert!(m.contains("complex"), "{m}");
    let aliases: String = (0..31).map(|i| format!("a{i}: user {{ id }} ")).collect();
    let m = refused(format!("{{ viewer {{ {aliases} }} }}")).await;
    assert!(m.contains("aliases"), "{m}");
    let roots: String = (0..21).map(|_| "__typename ").collect();
    let m = refused(format!("{{ {roots} }}")).await;
    assert!(m.contains("root fields"), "{m}");
    // Within every limit, the same shapes run.
    let aliases: String = (0..30).map(|i| format!("a{i}: user {{ id }} ")).collect();
    app.gql(&admin, &format!("{{ viewer {{ {aliases} }} }}"), json!({}))
        .await
        .data();
    let roots: String = (0..20).map(|_| "__typename ").collect();
    app.gql(&admin, &format!("{{ {roots} }}"), json!({}))
        .await
        .data();

    let r = app
        .gql(
            &admin,
            "{ organization { members(first: 101) { edges { cursor } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app
        .gql(
            &admin,
            "{ organization { members(first: -1) { edges { cursor } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");

    // Body over 1 MiB: 413 before anything is parsed.
    let big = json!({ "query": format!("{{ __typename }} # {}", "x".repeat(1 << 20)) }).to_string();
    let (s, _, b) = post_raw(&app, "application/json", "application/json", big).await;
    assert_eq!((s, code(&b)), (413, "PAYLOAD_TOO_LARGE"));

    // Batches are off by default.
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]).to_string();
    let (s, _, b) = post_raw(&app, "application/json", "application/json", batch).await;
    assert_eq!((s, code(&b)), (400, "BAD_USER_INPUT"));
}

#[tokio::test]
async fn batches_and_introspection_follow_configuration() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("OPSDECK_GRAPHQL_MAX_BATCH", "2")
        .env("OPSDECK_GRAPHQL_INTROSPECTION", "false")
        .start()
        .await;
    let two = json!([{ "query": "{ __typename }" }, { "query": "{ viewer { user { id } } }" }])
        .to_string();
    let (s, _, b) = post_raw(&app, "application/json", "application/json", two).await;
    assert_eq!(s, 200);
    assert_eq!(b[0], json!({ "data": { "__typename": "Query" } }));
    assert_eq!(b[1], json!({ "data": { "viewer": { "user": null } } }));
    let three = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }, { "query": "{ __typename }" }]).to_string();
    let (s, _, b) = post_raw(&app, "application/json", "application/json", three).await;
    assert_eq!((s, code(&b)), (400, "BAD_USER_INPUT"));
    let r = app
        .gql(
            &Caller::anonymous(),
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (400, "BAD_USER_INPUT", "introspection is disabled"),
        "{}",
        r.body
    );
    let r = app
        .gql(&Caller::anonymous(), "{ viewer { __typename } }", json!({}))
        .await;
    r.data();
}

#[tokio::test]
async fn plain_endpoints_answer_problem_json_with_security_headers() {
    let app = TestApp::new(Backend::Sqlite).await;
    let resp = app
        .http
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let h = resp.headers().clone();
    assert_eq!(h[CONTENT_TYPE], "application/problem+json");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(h.contains_key("x-request-id") && h.contains_key("strict-transport-security"));
    let body: Value = resp.json().await.unwrap();
    insta::assert_json_snapshot!(body, @r#"
    {
      "code": "NOT_FOUND",
      "detail": "no route for /no/such/route",
      "status": 404,
      "title": "Not Found",
      "type": "about:blank"
    }
    "#);

    let health: Value = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    app.gql(
        &app.admin_a.caller(),
        "{ viewer { user { id } } }",
        json!({}),
    )
    .await
    .data();
    let metrics = app.metrics().await;
    assert!(
        metrics
            .contains("opsdeck_graphql_requests_total{operation=\"query.viewer\",outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("opsdeck_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("opsdeck_db_pool_connections"));
}

#[tokio::test]
async fn internal_errors_hide_their_cause_and_readyz_names_what_is_down() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (_, key) = app.create_key(&app.admin_a, "VIEWER").await;
    app.app.db.clone().close().await.unwrap();
    let r = app
        .gql(&Caller::key(&key), "{ organization { slug } }", json!({}))
        .await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (500, "INTERNAL", "internal error")
    );
    assert!(r.body["errors"][0]["extensions"]["requestId"].is_string());
    assert!(
        !r.body.to_string().to_lowercase().contains("pool"),
        "no cause in the body: {}",
        r.body
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()[CONTENT_TYPE], "application/problem+json");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["down"], json!(["database", "queue"]));
}
