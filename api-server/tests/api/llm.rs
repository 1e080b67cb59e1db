//! The metered LLM fallback of scenario generation, against a local server that speaks the
//! OpenAI chat-completions protocol with fixed, malformed, slow and failing answers: what
//! the model may fill, the checks its values must pass, failures that never fail a
//! generation, the monthly cap, `usage(month)`, and tenant isolation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::automation::scenario_count;
use crate::support::{Backend, TestApp};

mod cases {
    #[tokio::test]
    async fn sqlite() {
        super::the_llm_fills_what_rules_cannot_and_is_metered(super::Backend::Sqlite).await
    }
    #[tokio::test]
    async fn postgres() {
        super::the_llm_fills_what_rules_cannot_and_is_metered(super::Backend::Postgres).await
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Fixed,
    Malformed,
    Slow,
    Failing,
}

#[derive(Clone)]
struct ChatServer {
    mode: Arc<Mutex<Mode>>,
    /// Each request: its Authorization header and body.
    requests: Arc<Mutex<Vec<Seen>>>,
}

type Seen = (Option<String>, Value);

async fn completions(
    State(s): State<ChatServer>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.requests.lock().unwrap().push((auth, body.clone()));
    let mode = *s.mode.lock().unwrap();
    let reply = |content: String, prompt: i64, completion: i64| {
        Json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{ "index": 0, "finish_reason": "stop",
                          "message": { "role": "assistant", "content": content } }],
            "usage": { "prompt_tokens": prompt, "completion_tokens": completion,
                       "total_tokens": prompt + completion },
        }))
        .into_response()
    };
    match mode {
        Mode::Fixed => {
            let values = json!({ "values": {
                "regNo": ["HRB 12345", "HRB 99999", "far too long for ten"],
                "code": ["ééé", "abc"],
            } });
            reply(values.to_string(), 100, 20)
        }
        Mode::Malformed => reply("Sure! Here are some values: HRB 1".into(), 40, 10),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            reply(json!({ "values": {} }).to_string(), 1, 1)
        }
        Mode::Failing => (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
    }
}

async fn start_chat() -> (String, ChatServer) {
    let server = ChatServer {
        mode: Arc::new(Mutex::new(Mode::Fixed)),
        requests: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/v1",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, server)
}

const GENERATE: &str =
    "mutation($i: GenerateScenariosInput!) { generateScenarios(input: $i) { id kind inputs } }";
const USAGE: &str = "{ usage { month calls failures promptTokens completionTokens totalTokens tokenCap enabled configured } }";

async fn workflow(app: &TestApp, schema: Value) -> String {
    let t = app
        .gql(
            &app.manager_a.caller(),
            "mutation($i: CreateTargetInput!) { createTarget(input: $i) { id } }",
            json!({ "i": { "name": format!("llm {}", Uuid::now_v7()), "baseUrl": "https://forms.example" } }),
        )
        .await;
    let target = t.data()["createTarget"]["id"].as_str().unwrap().to_owned();
    let w = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }",
            json!({ "i": { "name": "Company", "targetId": target, "inputSchema": schema,
                           "steps": [{ "kind": "GOTO", "url": "/" }] } }),
        )
        .await;
    w.data()["createWorkflow"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn the_llm_fills_what_rules_cannot_and_is_metered(backend: Backend) {
    let (url, chat) = start_chat().await;
    let app = TestApp::builder(backend)
        .env("OPSDECK_LLM_BASE_URL", &url)
        .env("OPSDECK_LLM_API_KEY", "sk-test-key")
        .env("OPSDECK_LLM_MODEL", "test-model")
        .env("OPSDECK_LLM_TIMEOUT_MS", "500")
        .start()
        .await;
    let admin = app.admin_a.caller();
    let eng = app.engineer_a.caller();
    // A label the rules do not know, and a pattern the sampler cannot satisfy.
    let company = workflow(
        &app,
        json!([
            { "name": "regNo", "type": "TEXT", "label": "Company registration number", "required": true, "maxLength": 10 },
            { "name": "email", "type": "EMAIL", "required": true },
        ]),
    )
    .await;
    let accents = workflow(
        &app,
        json!([{ "name": "code", "type": "TEXT", "label": "Code", "required": true, "pattern": "[é]{3}" }]),
    )
    .await;
    let calls = || chat.requests.lock().unwrap().len();

    // Off until the organization enables it: no call, and the rules alone decide.
    let r = app
        .gql(
            &eng,
            GENERATE,
            json!({ "i": { "workflowId": accents, "seed": 1 } }),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(
        r.body["errors"][0]["extensions"]["fields"][0]["field"],
        "inputSchema.code"
    );
    let generated = app
        .gql(
            &eng,
            GENERATE,
            json!({ "i": { "workflowId": company, "kinds": ["VALID"], "count": 2, "seed": 1 } }),
        )
        .await;
    assert_eq!(
        generated.data()["generateScenarios"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(calls(), 0);
    let u = app.gql(&admin, USAGE, json!({})).await;
    assert_eq!(
        (
            u.data()["usage"]["enabled"].as_bool(),
            u.data()["usage"]["configured"].as_bool()
        ),
        (Some(false), Some(true))
    );
    let r = app
        .gql(&admin, "mutation { updateOrganization(input: { llmEnabled: true, llmMonthlyTokenCap: 1000 }) { llmEnabled llmMonthlyTokenCap } }", json!({}))
        .await;
    assert_eq!(
        r.data()["updateOrganization"],
        json!({ "llmEnabled": true, "llmMonthlyTokenCap": 1000 })
    );
    let r = app
        .gql(
            &eng,
            "mutation { updateOrganization(input: { llmEnabled: false }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN", "only an ADMIN turns it on or off");

    // Fixed answers: values that pass are used, the one too long is refused.
    let wid2 = workflow(
        &app,
        json!([
            { "name": "regNo", "type": "TEXT", "label": "Company registration number", "required": true, "maxLength": 10 },
            { "name": "email", "type": "EMAIL", "required": true },
        ]),
    )
    .await;
    let r = app
        .gql(
            &eng,
            GENERATE,
            json!({ "i": { "workflowId": wid2, "kinds": ["VALID"], "count": 4, "seed": 7 } }),
        )
        .await;
    let made = r.data()["generateScenarios"].as_array().unwrap().clone();
    assert_eq!(made.len(), 4);
    for s in &made {
        let reg = s["inputs"]["regNo"].as_str().unwrap();
        assert!(["HRB 12345", "HRB 99999"].contains(&reg), "{reg}");
    }
    assert_eq!(calls(), 1);
    let (auth, body) = chat.requests.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-key"));
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Company registration number")
    );
    assert!(
        !body.to_string().contains("email\""),
        "only undecided fields are asked about: {body}"
    );
    // A pattern the sampler cannot read: the model's value passes the pattern.
    let r = app
        .gql(
            &eng,
            GENERATE,
            json!({ "i": { "workflowId": accents, "kinds": ["VALID"], "count": 1, "seed": 2 } }),
        )
        .await;
    assert_eq!(r.data()["generateScenarios"][0]["inputs"]["code"], "ééé");
    assert_eq!(calls(), 2);
    // The same seed again: the saved scenarios, and no call.
    let again = app
        .gql(
            &eng,
            GENERATE,
            json!({ "i": { "workflowId": wid2, "kinds": ["VALID"], "count": 4, "seed": 7 } }),
        )
        .await;
    assert_eq!(again.data()["generateScenarios"], json!(made));
    assert_eq!(calls(), 2);
    let u = app.gql(&admin, USAGE, json!({})).await;
    let u = &u.data()["usage"];
    assert_eq!(
        (
            u["calls"].as_i64(),
            u["failures"].as_i64(),
            u["totalTokens"].as_i64()
        ),
        (Some(2), Some(0), Some(240)),
        "{u}"
    );
    assert_eq!(u["tokenCap"], 1000);

    // Malformed, slow and failing answers: the generation goes on with its rules.
    for (seed, mode) in [(11, Mode::Malformed), (12, Mode::Slow), (13, Mode::Failing)] {
        *chat.mode.lock().unwrap() = mode;
        let t0 = Instant::now();
        let r = app.gql(&eng, GENERATE, json!({ "i": { "workflowId": wid2, "kinds": ["VALID"], "count": 2, "seed": seed } })).await;
        let made = r.data()["generateScenarios"].as_array().unwrap().clone();
        assert_eq!(made.len(), 2, "{mode:?}");
        for s in &made {
            let reg = s["inputs"]["regNo"].as_str().unwrap();
            assert!(
                !reg.is_empty() && reg.chars().count() <= 10,
                "{mode:?}: rules fill {reg:?}"
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "{mode:?}: bounded by the timeout"
        );
        // Where rules cannot help, the field is named rather than guessed.
        let r = app.gql(&eng, GENERATE, json!({ "i": { "workflowId": accents, "kinds": ["VALID"], "count": 1, "seed": seed } })).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{mode:?}");
    }
    let u = app.gql(&admin, USAGE, json!({})).await;
    let u = &u.data()["usage"];
    assert_eq!(
        (u["calls"].as_i64(), u["failures"].as_i64()),
        (Some(8), Some(6)),
        "{u}"
    );
    assert_eq!(
        u["totalTokens"],
        240 + 2 * 50,
        "a malformed answer's tokens count too"
    );

    // The cap: once reached, generation that needs the model writes nothing.
    app.gql(
        &admin,
        "mutation { updateOrganization(input: { llmMonthlyTokenCap: 340 }) { id } }",
        json!({}),
    )
    .await
    .data();
    *chat.mode.lock().unwrap() = Mode::Fixed;
    let before = scenario_count(&app, &wid2).await;
    let r = app
        .gql(
            &eng,
            GENERATE,
            json!({ "i": { "workflowId": wid2, "count": 2, "seed": 99 } }),
        )
        .await;
    assert_eq!(r.code(), "QUOTA_EXCEEDED", "{}", r.body);
    assert_eq!(scenario_count(&app, &wid2).await, before);
    assert_eq!(calls(), 8);
    let r = app
        .gql(&admin, "{ usage(month: \"2026-13\") { calls } }", json!({}))
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app
        .gql(
            &admin,
            "{ usage(month: \"1999-01\") { calls totalTokens } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["usage"], json!({ "calls": 0, "totalTokens": 0 }));

    // One audit row per generation says what the model was asked, not the values.
    let audit = app
        .gql(&admin, "{ auditLog(filter: { action: \"scenario.generated\" }, first: 50) { edges { node { after } } } }", json!({}))
        .await;
    let rows = audit.data()["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        rows.iter()
            .any(|r| r["node"]["after"]["llm"]["asked"] == json!(["regNo"])),
        "{rows:?}"
    );
    assert!(
        !audit.body.to_string().contains("HRB"),
        "no values in the audit log"
    );

    // Roles and tenants: usage is ADMIN-only and per organization.
    for p in app.personas_a() {
        let r = app.gql(&p.caller(), USAGE, json!({})).await;
        if p.role == domain::role::Role::Admin {
            r.data();
        } else {
            assert_eq!(r.code(), "FORBIDDEN", "{:?}", p.role);
        }
    }
    let b = app.gql(&app.admin_b.caller(), USAGE, json!({})).await;
    let b = &b.data()["usage"];
    assert_eq!(
        (b["calls"].as_i64(), b["enabled"].as_bool()),
        (Some(0), Some(false))
    );
}
