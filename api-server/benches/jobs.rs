//! B6: enqueue → handler-start latency of a no-op job (a `fleet_probe` of 0 ms), including
//! the outbox and the relay: after an idle period (20 samples), and at 50, 200 and 500
//! jobs/s (200/s: under this machine's ceiling for the job's statements, which B7 measures).
//! B7: a burst of 10,000 no-op jobs through 2 worker processes: jobs/s against pgbench
//! running the same statements per job (enqueue, relay mark, claim, finish), with 0 lost and
//! 0 duplicated. B10: B6's idle pickup on the embedded SQLite queue, in one process.
//!
//!     scripts/with-components cargo bench --workspace --bench jobs
//!
//! Knobs: BENCH_IDLE_SECS (60), BENCH_SECONDS (10), BENCH_BURST (10000), BENCH_RATES (50,200,500),
//! BENCH_DB_MIN_CONNECTIONS (connections the pools keep open; the product default when unset).
//! PostgreSQL runs in the benches' own database `opsdeck_bench`; Redis is the test Redis.
//! Worker processes are this binary again, started with OPSDECK_BENCH_ROLE=worker.

#[path = "support/bench_db.rs"]
mod bench_db;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench_db::{bench_db, ensure_bench_database, env, knob, knob_text, phase_selected};
use domain::config::Config;
use domain::db::{Db, Scope};
use domain::entity::{job, job_attempt};
use domain::jobs::contracts::{FleetProbe, ProbeBehaviour};
use domain::jobs::store::Policy;
use domain::org::OrgCtx;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

const SAMPLES: usize = 20;

/// The allocator the binaries use.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    domain::install_crypto_provider();
    #[allow(clippy::disallowed_methods)]
    if std::env::var("OPSDECK_BENCH_ROLE").as_deref() == Ok("worker") {
        // The worker binary's own start-up: its runtime, its settings.
        let config = Config::load().expect("worker configuration");
        worker::telemetry(&config);
        let rt = worker::runtime_for(&config).unwrap();
        rt.block_on(worker::serve(config)).expect("worker");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}

fn production_vars(dir: &std::path::Path, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = [
        ("OPSDECK_DATA_DIR", dir.to_str().unwrap().to_owned()),
        (
            "OPSDECK_DATABASE_URL",
            bench_db(&env("OPSDECK_TEST_APP_URL")),
        ),
        ("OPSDECK_SECRETS_KEY", "ab".repeat(32)),
        (
            "OPSDECK_MIGRATION_DATABASE_URL",
            bench_db(&env("OPSDECK_TEST_MIGRATE_URL")),
        ),
        ("OPSDECK_REDIS_URL", env("OPSDECK_TEST_REDIS_URL")),
        ("OPSDECK_DATABASE_MAX_CONNECTIONS", "16".to_owned()),
        // The cap would otherwise hold one org's no-op burst to 2 running at a time.
        ("OPSDECK_JOBS_ORG_CONCURRENCY", "16".to_owned()),
        ("OPSDECK_WORKER_LISTEN", "127.0.0.1:0".to_owned()),
        // The benches' database holds the incidents bench's 100,000 open incidents: their
        // SLA sweep is not what is measured here.
        ("OPSDECK_SLA_SWEEP_SECS", "3600".to_owned()),
        ("OPSDECK_LOG", knob_text("BENCH_LOG", "warn")),
        ("OPSDECK_LOG_FORMAT", "text".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // Unset, the pools keep the product's default number of connections open.
    let min_connections = knob_text("BENCH_DB_MIN_CONNECTIONS", "");
    if !min_connections.is_empty() {
        vars.insert(
            "OPSDECK_DATABASE_MIN_CONNECTIONS".to_owned(),
            min_connections,
        );
    }
    // Unset, workers run the product's default concurrency per queue.
    let concurrency = knob_text("BENCH_WORKER_CONCURRENCY", "");
    if !concurrency.is_empty() {
        vars.insert("OPSDECK_WORKER_CONCURRENCY".to_owned(), concurrency);
    }
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    vars
}

async fn spawn_worker(vars: &BTreeMap<String, String>) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
    cmd.env_clear()
        .env("OPSDECK_BENCH_ROLE", "worker")
        .envs(vars)
        .env("OPSDECK_LOG", knob_text("BENCH_WORKER_LOG", "info"))
        .env(
            "OPSDECK_WORKER_THREADS",
            knob_text("BENCH_WORKER_THREADS", "1"),
        )
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("consuming") {
                return;
            }
        }
        panic!("the worker exited before consuming");
    })
    .await
    .expect("worker start-up");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

fn probe() -> FleetProbe {
    FleetProbe {
        sleep_ms: 0,
        behaviour: ProbeBehaviour::Succeed,
    }
}

async fn new_org(db: &Db, name: &str) -> Uuid {
    let suffix = &Uuid::now_v7().simple().to_string()[20..];
    domain::organizations::create_system(
        db,
        domain::organizations::NewOrganization {
            slug: format!("{name}-{suffix}"),
            name: name.to_owned(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn jobs_of(db: &Db, org: Uuid) -> Vec<job::Model> {
    let tx = domain::db::begin_read(db, Scope::org(org)).await.unwrap();
    let rows = job::Entity::find()
        .filter(job::Column::OrgId.eq(org))
        .all(&tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

/// Waits until the org's `n` jobs have all succeeded, then reads them. The wait counts
/// rather than reads: reading thousands of rows every few milliseconds took a core of the
/// database from the jobs being measured.
async fn wait_all_done(db: &Db, org: Uuid, n: usize, within: Duration) -> Vec<job::Model> {
    let start = Instant::now();
    loop {
        let tx = domain::db::begin_read(db, Scope::org(org)).await.unwrap();
        let succeeded = job::Entity::find()
            .filter(job::Column::OrgId.eq(org))
            .filter(job::Column::Status.eq("SUCCEEDED"))
            .count(&tx)
            .await
            .unwrap() as usize;
        tx.commit().await.unwrap();
        if succeeded == n {
            let rows = jobs_of(db, org).await;
            assert_eq!(rows.len(), n, "more jobs than were enqueued");
            return rows;
        }
        assert!(
            start.elapsed() < within,
            "{succeeded} of {n} succeeded after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Enqueue → claim (the handler starts right after), per job, in ms.
fn pickups(rows: &[job::Model]) -> Vec<f64> {
    let mut v: Vec<f64> = rows
        .iter()
        .map(|j| {
            (j.started_at.unwrap() - j.created_at)
                .num_microseconds()
                .unwrap() as f64
                / 1000.0
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One job at a time into an idle fleet, `SAMPLES` times, a second apart.
async fn idle_samples(db: &Db, org: Uuid, policy: &Policy) -> Vec<f64> {
    let ctx = OrgCtx::system(org);
    for _ in 0..SAMPLES {
        let j = domain::jobs::service::probe(db, &ctx, probe(), policy)
            .await
            .unwrap();
        let start = Instant::now();
        loop {
            let row = domain::jobs::service::get(db, &ctx, j.id).await.unwrap();
            if row.status == "SUCCEEDED" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "idle job not done: {row:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    pickups(&jobs_of(db, org).await)
}

/// `rate` jobs/s for `seconds`, each enqueued on its tick.
async fn at_rate(db: &Db, org: Uuid, policy: &Policy, rate: u64, seconds: u64) -> Vec<f64> {
    let n = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(n as usize);
    for _ in 0..n {
        tick.tick().await;
        let (db, policy) = (db.clone(), *policy);
        tasks.push(tokio::spawn(async move {
            domain::jobs::service::probe(&db, &OrgCtx::system(org), probe(), &policy)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    pickups(&wait_all_done(db, org, n as usize, Duration::from_secs(120)).await)
}

async fn bench() {
    let idle = knob("BENCH_IDLE_SECS", 60);
    let seconds = knob("BENCH_SECONDS", 10);
    let burst = knob("BENCH_BURST", 10_000) as usize;
    let run = |name: &str| phase_selected(name, "b6,b7,b10,reports");
    ensure_bench_database(
        &env("OPSDECK_TEST_MIGRATE_URL"),
        &env("OPSDECK_TEST_APP_URL"),
    )
    .await;
    let dir = std::env::temp_dir().join(format!("opsdeck-bench-jobs-{}", Uuid::now_v7()));
    let vars = production_vars(&dir, &[]);
    let config = Config::from_env_map(vars.clone()).unwrap();
    worker::telemetry(&config);
    domain::db::migrate(&config).await.unwrap();
    let app = api_server::app::AppState::new(config.clone())
        .await
        .unwrap();
    // This process is the API side: its relay delivers what it enqueues.
    app.start_jobs(false);
    let db = app.db.clone();
    let policy = Policy::from(&config.jobs);
    let mut report = Vec::new();

    if run("b6") {
        b6(&db, &vars, &policy, idle, seconds, &mut report).await;
    }
    if run("b7") {
        b7(&db, &vars, &policy, seconds, burst, &mut report).await;
    }
    if run("b10") {
        b10(idle, &mut report).await;
    }
    if run("reports") {
        reports(&db, &vars, &policy, &mut report).await;
    }
    println!();
    for line in report {
        println!("{line}");
    }
}

/// B6 with one worker process.
async fn b6(
    db: &Db,
    vars: &BTreeMap<String, String>,
    policy: &Policy,
    idle: u64,
    seconds: u64,
    report: &mut Vec<String>,
) {
    let (db, policy) = (db.clone(), *policy);
    // Earlier runs leave dead rows behind in this long-lived database; start B6 from the
    // steady state autovacuum keeps a deployment in, not from a first scan over them.
    let owner = domain::db::connect_url(&bench_db(&env("OPSDECK_TEST_MIGRATE_URL")), 1)
        .await
        .unwrap();
    for table in ["outbox", "jobs", "job_attempts"] {
        sea_orm::ConnectionTrait::execute_unprepared(&owner, &format!("VACUUM ANALYZE {table}"))
            .await
            .unwrap();
    }
    owner.close().await.unwrap();
    let worker = spawn_worker(vars).await;
    eprintln!("B6: {idle} s idle, then {SAMPLES} samples");
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let org = new_org(&db, "b6-idle").await;
    let v = idle_samples(&db, org, &policy).await;
    report.push(format!(
        "B6 idle (Redis, {SAMPLES} samples)          p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  (goal p99 <= 50)",
        pct(&v, 0.5), pct(&v, 0.99), v[v.len() - 1]
    ));
    let rates = knob_text("BENCH_RATES", "50,200,500");
    for rate in rates
        .split(',')
        .map(|r| r.trim().parse::<u64>().expect("BENCH_RATES"))
    {
        eprintln!("B6: {rate} jobs/s for {seconds} s");
        let org = new_org(&db, &format!("b6-{rate}")).await;
        let v = at_rate(&db, org, &policy, rate, seconds).await;
        report.push(format!(
            "B6 at {rate:>3} jobs/s ({:>5} jobs)             p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  (goal p99 <= 40)",
            v.len(), pct(&v, 0.5), pct(&v, 0.99), v[v.len() - 1]
        ));
    }
    drop(worker);
}

/// B7: a burst through two worker processes.
async fn b7(
    db: &Db,
    vars: &BTreeMap<String, String>,
    policy: &Policy,
    seconds: u64,
    burst: usize,
    report: &mut Vec<String>,
) {
    let (db, policy) = (db.clone(), *policy);
    let workers = [spawn_worker(vars).await, spawn_worker(vars).await];
    eprintln!("B7: burst of {burst}");
    let org = new_org(&db, "b7").await;
    let started = Instant::now();
    let t0 = domain::time::now();
    let next = Arc::new(AtomicU64::new(0));
    let enqueuers: Vec<_> = (0..8)
        .map(|_| {
            let (db, next) = (db.clone(), next.clone());
            tokio::spawn(async move {
                while (next.fetch_add(1, Ordering::Relaxed) as usize) < burst {
                    domain::jobs::service::probe(&db, &OrgCtx::system(org), probe(), &policy)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for e in enqueuers {
        e.await.unwrap();
    }
    let enqueued_in = started.elapsed();
    let rows = wait_all_done(&db, org, burst, Duration::from_secs(600)).await;
    let t1 = rows.iter().filter_map(|j| j.finished_at).max().unwrap();
    let jobs_per_sec = burst as f64 / ((t1 - t0).num_microseconds().unwrap() as f64 / 1e6);
    let tx = domain::db::begin_read(&db, Scope::org(org)).await.unwrap();
    let attempts = job_attempt::Entity::find()
        .filter(job_attempt::Column::OrgId.eq(org))
        .count(&tx)
        .await
        .unwrap();
    let succeeded = job_attempt::Entity::find()
        .filter(job_attempt::Column::OrgId.eq(org))
        .filter(job_attempt::Column::Outcome.eq("SUCCEEDED"))
        .count(&tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let lost = burst - rows.iter().filter(|j| j.status == "SUCCEEDED").count();
    let duplicated = attempts as usize - burst;
    drop(workers);
    let pg_org = new_org(&db, "b7-pgbench").await;
    let tps = bench_db::pgbench(LIFECYCLE_SQL, 8, seconds, &[("org", format!("'{pg_org}'"))]);
    report.push(format!(
        "B7 burst of {burst}, 2 workers x 4: {jobs_per_sec:>7.0} jobs/s; pgbench (same statements, 8 clients) {tps:>7.0}/s; ratio {:.2} (goal >= 0.6); lost {lost}, duplicated {duplicated} ({succeeded} SUCCEEDED attempts); enqueued in {:.1} s",
        jobs_per_sec / tps,
        enqueued_in.as_secs_f64()
    ));
}

/// B10: the embedded deployment, in one process on SQLite.
async fn b10(idle: u64, report: &mut Vec<String>) {
    let dir = std::env::temp_dir().join(format!("opsdeck-bench-embedded-{}", Uuid::now_v7()));
    let embedded = Config::from_env_map(
        [
            ("OPSDECK_DATA_DIR", dir.to_str().unwrap()),
            ("OPSDECK_LOG", "warn"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    )
    .unwrap();
    domain::db::migrate(&embedded).await.unwrap();
    let local = api_server::app::AppState::new(embedded.clone())
        .await
        .unwrap();
    local.start_jobs(true);
    eprintln!("B10: {idle} s idle, then {SAMPLES} samples");
    tokio::time::sleep(Duration::from_secs(idle)).await;
    let org = new_org(&local.db, "b10").await;
    let v = idle_samples(&local.db, org, &Policy::from(&embedded.jobs)).await;
    report.push(format!(
        "B10 idle (embedded SQLite, {SAMPLES} samples)  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  (goal p99 <= 50)",
        pct(&v, 0.5), pct(&v, 0.99), v[v.len() - 1]
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Peak resident memory of a process (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Reports of `BENCH_REPORT_INCIDENTS` (100,000) incidents in each format, each rendered by
/// a fresh worker process: time, size, and that worker's peak RSS (rendering streams page
/// by page; the PDF keeps its summary figures and first 1,000 table rows).
async fn reports(
    db: &Db,
    vars: &BTreeMap<String, String>,
    policy: &Policy,
    report: &mut Vec<String>,
) {
    use domain::reports::{Format, NewReport};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let n = knob("BENCH_REPORT_INCIDENTS", 100_000) as i64;
    let org = new_org(db, "reports").await;
    let tx = domain::db::begin(db, Scope::org(org)).await.unwrap();
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO incidents (id, org_id, number, title, description, severity, status, version, tags, \
         detected_at, acknowledged_at, resolved_at, created_by_type, created_at, updated_at) \
         SELECT gen_random_uuid(), $1, g, 'Incident ' || g || ', checkout =SUM(A1)', 'Something broke', \
         'SEV' || (1 + g % 4), CASE WHEN g % 3 = 0 THEN 'RESOLVED' ELSE 'INVESTIGATING' END, 1, '[\"db\"]'::jsonb, \
         now() - g * interval '1 minute', now() - g * interval '1 minute' + (g % 600) * interval '1 second', \
         CASE WHEN g % 3 = 0 THEN now() - g * interval '1 minute' + (g % 7200) * interval '1 second' END, \
         'system', now() - g * interval '1 minute', now() - g * interval '1 minute' FROM generate_series(1, $2) g",
        [org.into(), n.into()],
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let ctx = OrgCtx::system(org);
    let from = domain::time::now() - chrono::Duration::minutes(n + 60);
    let to = domain::time::now() + chrono::Duration::hours(1);
    for format in [Format::Csv, Format::Json, Format::Pdf] {
        let worker = spawn_worker(vars).await;
        let pid = worker.id().unwrap();
        let base = peak_rss_mib(pid);
        let started = Instant::now();
        let requested = domain::reports::request(
            db,
            &ctx,
            NewReport {
                format,
                filter: Default::default(),
                from,
                to,
            },
            policy,
        )
        .await
        .unwrap();
        let done = loop {
            let r = domain::reports::get(db, &ctx, requested.row.id)
                .await
                .unwrap();
            match r.job.status.as_str() {
                "SUCCEEDED" => break r,
                "QUEUED" | "RUNNING" => {}
                other => panic!("report {other}: {:?}", r.job.last_error),
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "report too slow"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let peak = peak_rss_mib(pid);
        report.push(format!(
            "report {:<4} {n} incidents: {:>6.1} s, {:>6.1} MiB file, {} rows; worker peak RSS {:.0} MiB (idle {:.0} MiB)",
            format.as_str(),
            started.elapsed().as_secs_f64(),
            done.row.size_bytes.unwrap_or(0) as f64 / 1048576.0,
            done.row.row_count.unwrap_or(0),
            peak,
            base,
        ));
        drop(worker);
    }
}

/// One no-op job's statements, in the transactions Opsdeck uses: enqueue (job, outbox,
/// audit), the relay's outbox mark, the claim (`jobs_claim`: the cap's lock and one
/// conditional update that counts the running jobs, in one statement) and the finish
/// (`jobs_finish`: conditional update, attempt row, outbox row, next-in-line lookup, in one
/// statement).
const LIFECYCLE_SQL: &str = r#"
BEGIN;
SELECT set_config('app.org_id', :org, true), set_config('app.user_id', '', true), set_config('app.api_key_prefix', '', true), set_config('app.system', '', true);
INSERT INTO jobs (id, org_id, kind, payload, status, attempt, max_attempts, run_after, fencing_token, progress, delivered_at, created_at, updated_at) VALUES (gen_random_uuid(), :org, 'fleet_probe', '{"sleepMs":0,"behaviour":"SUCCEED"}', 'QUEUED', 0, 3, now(), 0, 0, now(), now(), now()) RETURNING id AS job \gset
INSERT INTO outbox (id, org_id, event, payload, created_at) VALUES (gen_random_uuid(), :org, 'bench.enqueued', '{}', now()) RETURNING id AS ob \gset
INSERT INTO audit_log (id, org_id, actor_type, actor_id, action, target_type, target_id, before, after, request_id, created_at) VALUES (gen_random_uuid(), :org, 'system', NULL, 'job.probe_requested', 'job', ':job', NULL, '{"sleepMs":0}', NULL, now());
COMMIT;
BEGIN;
SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true), set_config('app.api_key_prefix', '', true), set_config('app.system', 'on', true);
UPDATE outbox SET delivered_at = now() WHERE id = ':ob';
COMMIT;
SELECT * FROM jobs_claim(:org, ':job', 'fleet_probe', 'pgbench', now(), now() + interval '30 seconds', 16);
SELECT (f.job).*, f.promoted FROM jobs_finish(:org, ':job', 1, now(), 'SUCCEEDED', NULL, NULL, '{}', NULL, false, gen_random_uuid(), 1, 'pgbench', now(), 'SUCCEEDED', 'FLEET', gen_random_uuid(), gen_random_uuid()) AS f;
"#;
