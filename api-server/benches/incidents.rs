//! B1: `incidents(first: 50) { id number title severity status version createdAt }` through
//! the API (API key, per-request RLS transaction on PostgreSQL) against `pgbench` running the
//! same SQL in the same kind of transaction at the same concurrency. Prints both and the
//! ratio. Needs the PostgreSQL that scripts/test starts:
//!
//!     scripts/with-components cargo bench --workspace --bench incidents
//!
//! Seeds 100 organizations × 1,000 incidents once (kept between runs).

#[path = "../tests/api/issuer.rs"]
#[allow(dead_code)]
mod issuer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use api_server::app::AppState;
use domain::config::Config;
use domain::role::Role;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

fn env(name: &str) -> String {
    #[allow(clippy::disallowed_methods)] // bench knobs, set by scripts/with-components
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run through scripts/with-components"))
}

fn knob(name: &str, default: u64) -> u64 {
    #[allow(clippy::disallowed_methods)]
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const ORGS: usize = 100;
const PER_ORG: usize = 1000;

async fn seed(db: &domain::db::Db) -> Vec<uuid::Uuid> {
    let mut orgs = Vec::new();
    for i in 0..ORGS {
        let slug = format!("bench-{i:03}");
        let org = match domain::organizations::find_by_id_or_slug(db, &slug).await.unwrap() {
            Some(o) => o,
            None => domain::organizations::create_system(db, domain::organizations::NewOrganization { slug, name: "Bench".into() })
                .await
                .unwrap(),
        };
        let tx = domain::db::begin(db, domain::db::Scope::org(org.id)).await.unwrap();
        let have = tx
            .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, "SELECT count(*) FROM incidents WHERE org_id = $1", [org.id.into()]))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        if have == 0 {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO incidents (id, org_id, number, title, description, severity, status, version, tags, \
                 detected_at, created_by_type, created_at, updated_at) \
                 SELECT gen_random_uuid(), $1, g, 'Incident ' || g, 'Something broke in service ' || (g % 17), \
                 'SEV' || (1 + g % 4), 'DETECTED', 1, '[]'::jsonb, now() - g * interval '1 minute', 'system', \
                 now() - g * interval '1 minute', now() - g * interval '1 minute' FROM generate_series(1, $2) g",
                [org.id.into(), (PER_ORG as i64).into()],
            ))
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        orgs.push(org.id);
    }
    orgs
}

fn main() {
    domain::install_crypto_provider();
    let seconds = knob("BENCH_SECONDS", 5);
    let concurrency = knob("BENCH_CONCURRENCY", 16);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (url, key, org) = rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("opsdeck-bench-{}", uuid::Uuid::now_v7()));
        let vars: BTreeMap<String, String> = [
            ("OPSDECK_DATA_DIR", dir.to_str().unwrap().to_owned()),
            ("OPSDECK_DATABASE_URL", env("OPSDECK_TEST_APP_URL")),
            ("OPSDECK_MIGRATION_DATABASE_URL", env("OPSDECK_TEST_MIGRATE_URL")),
            ("OPSDECK_DATABASE_MAX_CONNECTIONS", concurrency.to_string()),
            ("OPSDECK_LOG", "error".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = Config::from_env_map(vars).unwrap();
        domain::db::migrate(&config).await.unwrap();
        let app = AppState::new(config).await.unwrap();
        let orgs = seed(&app.db).await;
        let org = orgs[0];
        let key = domain::api_keys::create_system(
            &app.db,
            org,
            domain::api_keys::NewApiKey { name: "bench".into(), role: Role::Viewer, expires_at: None },
            None,
        )
        .await
        .unwrap()
        .secret;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/graphql", listener.local_addr().unwrap());
        tokio::spawn(async move { api_server::serve::run(listener, app).await.unwrap() });
        (url, key, org)
    });

    // The API, C keep-alive connections for the whole period.
    let body = json!({ "query": "{ incidents(first: 50) { edges { node { id number title severity status version createdAt } } } }" }).to_string();
    let api_rps = rt.block_on(async {
        let client = reqwest::Client::new();
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let run = |measure: bool| {
            let mut tasks = Vec::new();
            for _ in 0..concurrency {
                let (client, done, stop, url, key, body) = (client.clone(), done.clone(), stop.clone(), url.clone(), key.clone(), body.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let r = client.post(&url).bearer_auth(&key).header("content-type", "application/json").body(body.clone()).send().await.unwrap();
                        let text = r.text().await.unwrap();
                        assert!(text.contains("\"edges\"") && !text.contains("\"errors\""), "{text}");
                        if measure {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            tasks
        };
        for (measure, secs) in [(false, 1), (true, seconds)] {
            stop.store(false, Ordering::Relaxed);
            let tasks = run(measure);
            let start = Instant::now();
            tokio::time::sleep(Duration::from_secs(secs)).await;
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                t.await.unwrap();
            }
            if measure {
                return done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
            }
        }
        unreachable!()
    });

    // pgbench: the same statements in the same transaction shape, as the same app role.
    let script = std::env::temp_dir().join("opsdeck-b1.sql");
    std::fs::write(
        &script,
        "BEGIN;\n\
         SELECT set_config('app.org_id', :org, true), set_config('app.user_id', '', true), set_config('app.api_key_prefix', '', true);\n\
         SELECT id, org_id, number, title, description, severity, status, version, commander_id, service, tags, impact_started_at, detected_at, acknowledged_at, mitigated_at, resolved_at, closed_at, duplicate_of_id, created_by_type, created_by_id, created_at, updated_at FROM incidents WHERE org_id = :org::uuid ORDER BY created_at DESC, id DESC LIMIT 51;\n\
         COMMIT;\n",
    )
    .unwrap();
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-c", &concurrency.to_string(), "-j", "1", "-T", &seconds.to_string(), "-f"])
        .arg(&script)
        .arg("-D")
        .arg(format!("org='{org}'"))
        .arg(env("OPSDECK_TEST_APP_URL"))
        .output()
        .expect("pgbench");
    let report = String::from_utf8_lossy(&out.stdout);
    let tps: f64 = report
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("pgbench: {report} {}", String::from_utf8_lossy(&out.stderr)));
    println!("B1: incidents(first: 50), {ORGS} orgs x {PER_ORG} incidents, {concurrency} connections, {seconds} s");
    println!("api (API key, RLS transaction)  {api_rps:>10.0} rps");
    println!("pgbench (same SQL and tx)       {tps:>10.0} tps");
    println!("ratio                           {:>10.2}  (goal >= 0.35)", api_rps / tps);
}
