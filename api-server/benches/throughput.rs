//! Throughput, side by side in one process and one run: a plain axum handler, `{ __typename }`,
//! and `viewer` anonymous, with an API key and with a JWT. Prints requests per second and the
//! ratio to its baseline. Run on demand (not a test):
//!
//!     cargo bench --workspace --bench throughput            # SQLite (embedded)
//!     BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONCURRENCY=32 cargo bench --workspace --bench throughput
//!
//! The load generator shares the machine with the server, so absolute figures understate
//! the server; the ratios are what the goals are stated in.

#[path = "support/closed_loop.rs"]
mod closed_loop;
#[path = "../tests/api/issuer.rs"]
#[allow(dead_code)]
mod issuer;

use std::collections::BTreeMap;

use api_server::app::AppState;
use closed_loop::closed_loop;
use domain::config::Config;
use domain::org::OrgCtx;
use domain::role::Role;
use serde_json::json;

fn setting(name: &str, default: u64) -> u64 {
    #[allow(clippy::disallowed_methods)] // bench knobs, not product configuration
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Scenario {
    name: &'static str,
    url: String,
    body: String,
    bearer: Option<String>,
    org: Option<String>,
}

async fn load(s: &Scenario, client: &reqwest::Client, seconds: u64, concurrency: u64) -> f64 {
    let (client, url, body, bearer, org) = (
        client.clone(),
        s.url.clone(),
        s.body.clone(),
        s.bearer.clone(),
        s.org.clone(),
    );
    closed_loop(concurrency, seconds, move || {
        let mut req = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(b) = &bearer {
            req = req.bearer_auth(b);
        }
        if let Some(o) = &org {
            req = req.header("x-opsdeck-org", o);
        }
        async move {
            let resp = req.send().await.expect("request");
            assert!(resp.status().is_success(), "{}", resp.status());
            let text = resp.bytes().await.expect("body");
            assert!(
                !text.windows(8).any(|w| w == b"\"errors\""),
                "{}",
                String::from_utf8_lossy(&text)
            );
            true
        }
    })
    .await
}

/// The allocator the binaries use.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    domain::install_crypto_provider();
    let seconds = setting("BENCH_SECONDS", 5);
    let rounds = setting("BENCH_ROUNDS", 3);
    let concurrency = setting("BENCH_CONCURRENCY", 32);
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (plain, app_url, key, jwt, org) = server.block_on(async {
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_url = format!("http://{}/plain", plain.local_addr().unwrap());
        let router = axum::Router::new().route(
            "/plain",
            axum::routing::post(|| async { axum::Json(json!({ "data": { "ok": true } })) }),
        );
        tokio::spawn(async move { axum::serve(plain, router).await.unwrap() });

        let issuer = issuer::TestIssuer::start().await;
        let dir = std::env::temp_dir().join(format!("opsdeck-bench-{}", uuid::Uuid::now_v7()));
        let vars: BTreeMap<String, String> = [
            ("OPSDECK_DATA_DIR", dir.to_str().unwrap().to_owned()),
            ("OPSDECK_OIDC_ISSUER", issuer.issuer.clone()),
            ("OPSDECK_OIDC_AUDIENCE", issuer::AUDIENCE.to_owned()),
            ("OPSDECK_LOG", "error".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = Config::from_env_map(vars).unwrap();
        domain::db::migrate(&config).await.unwrap();
        let app = AppState::new(config).await.unwrap();
        let org = domain::organizations::create_system(
            &app.db,
            domain::organizations::NewOrganization {
                slug: "bench".into(),
                name: "Bench".into(),
            },
        )
        .await
        .unwrap();
        let key = domain::api_keys::create_system(
            &app.db,
            org.id,
            domain::api_keys::NewApiKey {
                name: "bench".into(),
                role: Role::Viewer,
                expires_at: None,
            },
            None,
        )
        .await
        .unwrap()
        .secret;
        domain::users::find_or_create(
            &app.db,
            &domain::users::Identity {
                issuer: issuer.issuer.clone(),
                subject: "bench-user".into(),
                email: Some("bench@example.test".into()),
                email_verified: true,
                display_name: None,
            },
        )
        .await
        .unwrap();
        domain::members::add(
            &app.db,
            &OrgCtx::system(org.id),
            "bench@example.test",
            Role::Viewer,
        )
        .await
        .unwrap();
        let jwt = issuer.token("bench-user");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app_url = format!("http://{}/graphql", listener.local_addr().unwrap());
        tokio::spawn(async move { api_server::serve::run(listener, app).await.unwrap() });
        std::mem::forget(issuer); // keeps serving the JWKS for the whole run
        (plain_url, app_url, key, jwt, org.slug)
    });

    let gql = |q: &str| json!({ "query": q }).to_string();
    let viewer = "{ viewer { user { id } apiKey { id } memberships { role } } }";
    let scenarios = [
        Scenario {
            name: "plain axum handler",
            url: plain.clone(),
            body: "{}".into(),
            bearer: None,
            org: None,
        },
        Scenario {
            name: "{ __typename }",
            url: app_url.clone(),
            body: gql("{ __typename }"),
            bearer: None,
            org: None,
        },
        Scenario {
            name: "viewer, no auth",
            url: app_url.clone(),
            body: gql(viewer),
            bearer: None,
            org: None,
        },
        Scenario {
            name: "viewer, API key",
            url: app_url.clone(),
            body: gql(viewer),
            bearer: Some(key),
            org: None,
        },
        Scenario {
            name: "viewer, JWT",
            url: app_url.clone(),
            body: gql(viewer),
            bearer: Some(jwt),
            org: Some(org),
        },
    ];
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); scenarios.len()];
    client_rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency as usize)
            .build()
            .unwrap();
        for s in &scenarios {
            load(s, &client, 1, concurrency).await; // warm-up
        }
        // Interleaved rounds, so drift in machine load touches every scenario alike.
        for _ in 0..rounds {
            for (i, s) in scenarios.iter().enumerate() {
                results[i].push(load(s, &client, seconds, concurrency).await);
            }
        }
    });
    let median = |v: &Vec<f64>| {
        let mut v = v.clone();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let m: Vec<f64> = results.iter().map(median).collect();
    println!("throughput: {rounds} rounds x {seconds} s, {concurrency} connections, median rps");
    println!("{:<22} {:>10}  {:>8}", "scenario", "rps", "ratio");
    let baselines = [None, Some(0), None, Some(2), Some(2)];
    for (i, s) in scenarios.iter().enumerate() {
        let ratio = baselines[i]
            .map(|b| format!("{:.2} of {}", m[i] / m[b], scenarios[b].name))
            .unwrap_or_default();
        println!("{:<22} {:>10.0}  {ratio}", s.name, m[i]);
    }
    drop(server);
}
