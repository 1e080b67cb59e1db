//! B1: `incidents(first: 50) { id number title severity status version createdAt }` through
//! the API (API key, per-request RLS transaction on PostgreSQL) against `pgbench` running the
//! same SQL in the same kind of transaction at the same concurrency. Prints both and the
//! ratio. Needs the PostgreSQL that scripts/test starts:
//!
//!     scripts/with-components cargo bench --workspace --bench incidents
//!
//! Seeds 100 organizations × 1,000 incidents once, in its own database `opsdeck_bench` beside
//! the test database (kept between runs; the tests never see it). `BENCH_ONLY=b1,b2,b3`
//! picks phases.

#[path = "support/bench_db.rs"]
mod bench_db;
#[path = "support/closed_loop.rs"]
mod closed_loop;
#[path = "../tests/api/issuer.rs"]
#[allow(dead_code)]
mod issuer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use api_server::app::AppState;
use bench_db::{bench_db, ensure_bench_database, env, knob, phase_selected};
use closed_loop::closed_loop;
use domain::config::Config;
use domain::role::Role;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

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

/// The allocator the binaries use.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    domain::install_crypto_provider();
    let seconds = knob("BENCH_SECONDS", 5);
    let concurrency = knob("BENCH_CONCURRENCY", 16);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, key, org, work) = rt.block_on(async {
        ensure_bench_database(&env("OPSDECK_TEST_MIGRATE_URL"), &env("OPSDECK_TEST_APP_URL")).await;
        let dir = std::env::temp_dir().join(format!("opsdeck-bench-{}", uuid::Uuid::now_v7()));
        let vars: BTreeMap<String, String> = [
            ("OPSDECK_DATA_DIR", dir.to_str().unwrap().to_owned()),
            ("OPSDECK_DATABASE_URL", bench_db(&env("OPSDECK_TEST_APP_URL"))),
            ("OPSDECK_SECRETS_KEY", "ab".repeat(32)),
            ("OPSDECK_MIGRATION_DATABASE_URL", bench_db(&env("OPSDECK_TEST_MIGRATE_URL"))),
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
        let work = if phase_selected("b3", EVERY_PHASE) {
            transition_work(&app.db, &orgs[1..]).await
        } else {
            Vec::new()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/graphql", listener.local_addr().unwrap());
        tokio::spawn(async move { api_server::serve::run(listener, app).await.unwrap() });
        (url, key, org, work)
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
    let b1 = phase_selected("b1", EVERY_PHASE).then(|| {
        run.measure(
            "{ incidents(first: 50) { edges { node { id number title severity status version createdAt } } } }",
            &format!("BEGIN;\n{tenant}\n{page}\nCOMMIT;\n"),
        )
    });
    let b2 = phase_selected("b2", EVERY_PHASE).then(|| {
        run.measure(
            "{ incidents(first: 50) { edges { node { id number title severity status version createdAt \
             timeline(first: 10) { edges { node { kind createdAt } } } } } } }",
            &format!("BEGIN;\n{tenant}\n{page}\n{timeline}\nCOMMIT;\n"),
        )
    });
    let b3 = phase_selected("b3", EVERY_PHASE).then(|| {
        run.transitions(
            &work,
            &format!("BEGIN;\n{tenant}\n{}COMMIT;\n", TRANSITION_SQL),
        )
    });
    println!("{ORGS} orgs x {PER_ORG} incidents, {concurrency} connections, {seconds} s each");
    println!(
        "{:<46} {:>9} {:>12} {:>7}",
        "", "api rps", "pgbench tps", "ratio"
    );
    for (name, figures, goal) in [
        ("B1 incidents(first: 50)", b1, 0.35),
        ("B2 ... and timeline(first: 10) of each", b2, 0.7),
        ("B3 transitionIncident", b3.map(|b| (b.0, b.1)), 0.6),
    ] {
        if let Some((api, pgbench)) = figures {
            println!(
                "{name:<46} {api:>9.0} {pgbench:>12.0} {:>7.2}  (goal >= {goal})",
                api / pgbench
            );
        }
    }
    if let Some(b3) = b3 {
        println!(
            "B3 at a fixed {} mutations/s for {seconds} s: {} answered, p50 {:.1} ms, p99 {:.1} ms",
            b3.2, b3.3, b3.4, b3.5
        );
    }
}

/// The phases `BENCH_ONLY` may name.
const EVERY_PHASE: &str = "b1,b2,b3";

/// What `transitionIncident` does, as SQL: read, versioned update, timeline, audit, outbox,
/// assignees (pgbench picks a random incident of the org).
const TRANSITION_SQL: &str = "\\set n random(1, 1000)
SELECT id, version FROM incidents WHERE org_id = :org::uuid AND number = :n;
UPDATE incidents SET status = 'INVESTIGATING', version = version + 1, acknowledged_at = now(), updated_at = now(), title = title, description = description, severity = severity, tags = tags WHERE org_id = :org::uuid AND number = :n;
INSERT INTO incident_timeline (id, org_id, incident_id, kind, actor_type, data, created_at) SELECT gen_random_uuid(), :org::uuid, id, 'status_changed', 'api_key', '{\"from\": \"DETECTED\", \"to\": \"INVESTIGATING\"}'::jsonb, now() FROM incidents WHERE org_id = :org::uuid AND number = :n;
INSERT INTO audit_log (id, org_id, actor_type, action, target_type, before, after, created_at) VALUES (gen_random_uuid(), :org::uuid, 'api_key', 'incident.status_changed', 'incident', '{}'::jsonb, '{}'::jsonb, now());
INSERT INTO outbox (id, org_id, event, payload, created_at) VALUES (gen_random_uuid(), :org::uuid, 'incident.status_changed', '{}'::jsonb, now());
SELECT incident_id, user_id FROM incident_assignees WHERE incident_id IN (SELECT id FROM incidents WHERE org_id = :org::uuid AND number = :n);
";

/// Every seeded incident back in DETECTED at version 1, with an API key per org: a queue
/// of (key, incident id) for B3, interleaved across orgs. Not the first org: pgbench
/// transitions its incidents at random.
async fn transition_work(db: &domain::db::Db, orgs: &[uuid::Uuid]) -> Vec<(String, uuid::Uuid)> {
    let mut per_org = Vec::new();
    for org in orgs {
        let tx = domain::db::begin(db, domain::db::Scope::org(*org))
            .await
            .unwrap();
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE incidents SET status = 'DETECTED', version = 1, acknowledged_at = NULL WHERE org_id = $1",
            [(*org).into()],
        ))
        .await
        .unwrap();
        let ids: Vec<uuid::Uuid> = tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM incidents WHERE org_id = $1",
                [(*org).into()],
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.try_get_by_index::<uuid::Uuid>(0).unwrap())
            .collect();
        tx.commit().await.unwrap();
        let key = domain::api_keys::create_system(
            db,
            *org,
            domain::api_keys::NewApiKey {
                name: "bench b3".into(),
                role: Role::Engineer,
                expires_at: None,
            },
            None,
        )
        .await
        .unwrap()
        .secret;
        per_org.push((key, ids));
    }
    let mut work = Vec::new();
    for i in 0..PER_ORG {
        for (key, ids) in &per_org {
            if let Some(id) = ids.get(i) {
                work.push((key.clone(), *id));
            }
        }
    }
    work
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
    /// B3: closed-loop throughput of `transitionIncident`, pgbench's for the same
    /// transaction, then a fixed-rate run for latency: (rps, tps, rate, sent, p50 ms, p99 ms).
    fn transitions(
        &self,
        work: &[(String, uuid::Uuid)],
        script: &str,
    ) -> (f64, f64, u64, usize, f64, f64) {
        let work = Arc::new(work.to_vec());
        let next = Arc::new(AtomicU64::new(0));
        let send = |client: reqwest::Client,
                    url: String,
                    work: Arc<Vec<(String, uuid::Uuid)>>,
                    next: Arc<AtomicU64>| async move {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
            let Some((key, id)) = work.get(i) else {
                return false;
            };
            let body = json!({ "query": "mutation($id: ID!) { transitionIncident(input: { id: $id, to: INVESTIGATING, expectedVersion: 1 }) { version } }", "variables": { "id": id } }).to_string();
            let text = client
                .post(&url)
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(text.contains("\"version\":2"), "{text}");
            true
        };
        let rps = self.rt.block_on({
            let (client, url, work, next) = (
                reqwest::Client::new(),
                self.url.to_owned(),
                work.clone(),
                next.clone(),
            );
            closed_loop(self.concurrency, self.seconds, move || {
                send(client.clone(), url.clone(), work.clone(), next.clone())
            })
        });
        let tps = self.pgbench(script);
        // Open loop: one request every 1/rate s, whatever the answers do.
        let rate = knob("BENCH_B3_RATE", 1000);
        let (sent, p50, p99) = self.rt.block_on(async {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap();
            let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let end = Instant::now() + Duration::from_secs(self.seconds);
            let mut tasks = Vec::new();
            while Instant::now() < end {
                tick.tick().await;
                let (client, url, work, next, latencies) = (
                    client.clone(),
                    self.url.to_owned(),
                    work.clone(),
                    next.clone(),
                    latencies.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let start = Instant::now();
                    if send(client, url, work, next).await {
                        latencies.lock().unwrap().push(start.elapsed());
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let mut l = latencies.lock().unwrap().clone();
            l.sort();
            let pct = |p: f64| {
                l.get(((l.len() as f64 - 1.0) * p) as usize)
                    .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
            };
            (l.len(), pct(0.5), pct(0.99))
        });
        (rps, tps, rate, sent, p50, p99)
    }

    /// The API at `query`, then pgbench at `script`: (rps, tps).
    fn measure(&self, query: &str, script: &str) -> (f64, f64) {
        (self.api(query), self.pgbench(script))
    }

    fn api(&self, query: &str) -> f64 {
        let body = json!({ "query": query }).to_string();
        let client = reqwest::Client::new();
        let (url, key) = (self.url.to_owned(), self.key.to_owned());
        let request = move || {
            let req = client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(body.clone());
            async move {
                let text = req.send().await.unwrap().text().await.unwrap();
                assert!(
                    text.contains("\"edges\"") && !text.contains("\"errors\""),
                    "{text}"
                );
                true
            }
        };
        self.rt.block_on(async {
            closed_loop(self.concurrency, 1, request.clone()).await; // warm-up
            closed_loop(self.concurrency, self.seconds, request).await
        })
    }

    fn pgbench(&self, script: &str) -> f64 {
        bench_db::pgbench(
            script,
            self.concurrency,
            self.seconds,
            &[("org", format!("'{}'", self.org))],
        )
    }
}
