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
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run through scripts/with-components"))
}

fn knob(name: &str, default: u64) -> u64 {
    #[allow(clippy::disallowed_methods)]
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const ORGS: usize = 100;
const PER_ORG: usize = 1000;

async fn seed(db: &domain::db::Db) -> Vec<uuid::Uuid> {
    let mut orgs = Vec::new();
    for i in 0..ORGS {
        let slug = format!("bench-{i:03}");
        let org = match domain::organizations::find_by_id_or_slug(db, &slug)
            .await
            .unwrap()
        {
            Some(o) => o,
            None => domain::organizations::create_system(
                db,
                domain::organizations::NewOrganization {
                    slug,
                    name: "Bench".into(),
                },
            )
            .await
            .unwrap(),
        };
        let tx = domain::db::begin(db, domain::db::Scope::org(org.id))
            .await
            .unwrap();
        let have = tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT count(*) FROM incidents WHERE org_id = $1",
                [org.id.into()],
            ))
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, key, org) = rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("opsdeck-bench-{}", uuid::Uuid::now_v7()));
        let vars: BTreeMap<String, String> = [
            ("OPSDECK_DATA_DIR", dir.to_str().unwrap().to_owned()),
            ("OPSDECK_DATABASE_URL", env("OPSDECK_TEST_APP_URL")),
            ("OPSDECK_MIGRATION_DATABASE_URL", env("OPSDECK_TEST_MIGRATE_URL")),
            ("OPSDECK_DATABASE_MAX_CONNECTIONS", concurrency.to_string()),
            ("OPSDECK_LOG", "error".to_owned()),
            // B2's shape (50 incidents × 10 timeline entries) costs ~2,400 under the default
            // complexity limit of 1,000: a deployment serving such pages raises the limit.
            ("OPSDECK_GRAPHQL_MAX_COMPLEXITY", "5000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = Config::from_env_map(vars).unwrap();
        domain::db::migrate(&config).await.unwrap();
        let app = AppState::new(config).await.unwrap();
        let orgs = seed(&app.db).await;
        let org = orgs[0];
        // Three timeline entries per incident of the measured org, for B2.
        let tx = domain::db::begin(&app.db, domain::db::Scope::org(org)).await.unwrap();
        let entries = tx
            .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, "SELECT count(*) FROM incident_timeline WHERE org_id = $1", [org.into()]))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        if entries == 0 {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO incident_timeline (id, org_id, incident_id, kind, actor_type, body, data, created_at) \
                 SELECT gen_random_uuid(), i.org_id, i.id, k, 'system', NULL, '{}'::jsonb, i.created_at \
                 FROM incidents i, unnest(ARRAY['created', 'status_changed', 'comment']) k WHERE i.org_id = $1",
                [org.into()],
            ))
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
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

    let columns = "id, org_id, number, title, description, severity, status, version, commander_id, service, tags, \
        impact_started_at, detected_at, acknowledged_at, mitigated_at, resolved_at, closed_at, duplicate_of_id, \
        created_by_type, created_by_id, created_at, updated_at";
    let page = format!(
        "SELECT {columns} FROM incidents WHERE org_id = :org::uuid ORDER BY created_at DESC, id DESC LIMIT 51;"
    );
    let tenant = "SELECT set_config('app.org_id', :org, true), set_config('app.user_id', '', true), \
        set_config('app.api_key_prefix', '', true);";
    let timeline = "SELECT id, org_id, incident_id, kind, actor_type, actor_id, body, data, created_at FROM \
        (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.incident_id ORDER BY t.id) AS rn FROM incident_timeline t \
        WHERE t.org_id = :org::uuid AND t.incident_id IN (SELECT id FROM incidents WHERE org_id = :org::uuid \
        ORDER BY created_at DESC, id DESC LIMIT 50)) s WHERE rn <= 11 ORDER BY incident_id, id;";
    let run = Run {
        rt: &rt,
        url: &url,
        key: &key,
        org,
        concurrency,
        seconds,
    };
    let b1 = run.measure(
        "{ incidents(first: 50) { edges { node { id number title severity status version createdAt } } } }",
        &format!("BEGIN;\n{tenant}\n{page}\nCOMMIT;\n"),
    );
    let b2 = run.measure(
        "{ incidents(first: 50) { edges { node { id number title severity status version createdAt \
         timeline(first: 10) { edges { node { kind createdAt } } } } } } }",
        &format!("BEGIN;\n{tenant}\n{page}\n{timeline}\nCOMMIT;\n"),
    );
    println!("{ORGS} orgs x {PER_ORG} incidents, {concurrency} connections, {seconds} s each");
    println!(
        "{:<46} {:>9} {:>12} {:>7}",
        "", "api rps", "pgbench tps", "ratio"
    );
    println!(
        "{:<46} {:>9.0} {:>12.0} {:>7.2}  (goal >= 0.35)",
        "B1 incidents(first: 50)",
        b1.0,
        b1.1,
        b1.0 / b1.1
    );
    println!(
        "{:<46} {:>9.0} {:>12.0} {:>7.2}  (goal >= 0.7)",
        "B2 ... and timeline(first: 10) of each",
        b2.0,
        b2.1,
        b2.0 / b2.1
    );
}

struct Run<'a> {
    rt: &'a tokio::runtime::Runtime,
    url: &'a str,
    key: &'a str,
    org: uuid::Uuid,
    concurrency: u64,
    seconds: u64,
}

impl Run<'_> {
    /// The API at `query`, then pgbench at `script`: (rps, tps).
    fn measure(&self, query: &str, script: &str) -> (f64, f64) {
        (self.api(query), self.pgbench(script))
    }

    fn api(&self, query: &str) -> f64 {
        let body = json!({ "query": query }).to_string();
        self.rt.block_on(async {
            let client = reqwest::Client::new();
            let mut rps = 0.0;
            for (measure, secs) in [(false, 1), (true, self.seconds)] {
                let done = Arc::new(AtomicU64::new(0));
                let stop = Arc::new(AtomicBool::new(false));
                let mut tasks = Vec::new();
                for _ in 0..self.concurrency {
                    let (client, done, stop) = (client.clone(), done.clone(), stop.clone());
                    let (url, key, body) = (self.url.to_owned(), self.key.to_owned(), body.clone());
                    tasks.push(tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            let r = client
                                .post(&url)
                                .bearer_auth(&key)
                                .header("content-type", "application/json")
                                .body(body.clone())
                                .send()
                                .await
                                .unwrap();
                            let text = r.text().await.unwrap();
                            assert!(
                                text.contains("\"edges\"") && !text.contains("\"errors\""),
                                "{text}"
                            );
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }));
                }
                let start = Instant::now();
                tokio::time::sleep(Duration::from_secs(secs)).await;
                stop.store(true, Ordering::Relaxed);
                let n = done.load(Ordering::Relaxed);
                let elapsed = start.elapsed().as_secs_f64();
                for t in tasks {
                    t.await.unwrap();
                }
                if measure {
                    rps = n as f64 / elapsed;
                }
            }
            rps
        })
    }

    fn pgbench(&self, script: &str) -> f64 {
        let path = std::env::temp_dir().join(format!("opsdeck-bench-{}.sql", uuid::Uuid::now_v7()));
        std::fs::write(&path, script).unwrap();
        let out = std::process::Command::new("pgbench")
            .args([
                "-n",
                "-c",
                &self.concurrency.to_string(),
                "-j",
                "1",
                "-T",
                &self.seconds.to_string(),
                "-f",
            ])
            .arg(&path)
            .arg("-D")
            .arg(format!("org='{}'", self.org))
            .arg(env("OPSDECK_TEST_APP_URL"))
            .output()
            .expect("pgbench");
        let _ = std::fs::remove_file(&path);
        let report = String::from_utf8_lossy(&out.stdout);
        report
            .lines()
            .find(|l| l.starts_with("tps"))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("pgbench: {report} {}", String::from_utf8_lossy(&out.stderr)))
    }
}
