//! What the database benches share: their knobs, their own database `opsdeck_bench` beside
//! the test database, and pgbench as the ceiling to compare with.

#![allow(dead_code)] // each bench uses its own part of this

use sea_orm::{ConnectionTrait, DbBackend, Statement};

pub fn env(name: &str) -> String {
    #[allow(clippy::disallowed_methods)] // bench knobs, set by scripts/with-components
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run through scripts/with-components"))
}

pub fn knob(name: &str, default: u64) -> u64 {
    #[allow(clippy::disallowed_methods)]
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn knob_text(name: &str, default: &str) -> String {
    #[allow(clippy::disallowed_methods)]
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Whether `phase` is among `BENCH_ONLY`'s comma-separated names (every phase by default).
pub fn phase_selected(phase: &str, every: &str) -> bool {
    knob_text("BENCH_ONLY", every)
        .split(',')
        .any(|o| o.trim() == phase)
}

/// `url` with its database replaced by `opsdeck_bench`.
pub fn bench_db(url: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a database URL");
    format!("{base}/opsdeck_bench")
}

/// Creates `opsdeck_bench` (as the owner, who may create databases) with the same grants
/// the test database has for the app role.
pub async fn ensure_bench_database(owner_url: &str, app_url: &str) {
    let app_role = app_url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .expect("app role in the URL");
    let owner = domain::db::connect_url(owner_url, 1).await.unwrap();
    let exists = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = 'opsdeck_bench'",
        ))
        .await
        .unwrap()
        .is_some();
    if !exists {
        owner
            .execute_unprepared("CREATE DATABASE opsdeck_bench")
            .await
            .unwrap();
    }
    owner.close().await.unwrap();
    let bench = domain::db::connect_url(&bench_db(owner_url), 1)
        .await
        .unwrap();
    for grant in [
        format!("GRANT USAGE ON SCHEMA public TO {app_role}"),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app_role}"
        ),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app_role}"
        ),
    ] {
        bench.execute_unprepared(&grant).await.unwrap();
    }
    bench.close().await.unwrap();
}

/// pgbench running `script` at `concurrency` clients for `seconds` against the bench
/// database (as the app role), with `-D` variables: its transactions per second.
pub fn pgbench(script: &str, concurrency: u64, seconds: u64, vars: &[(&str, String)]) -> f64 {
    let path = std::env::temp_dir().join(format!("opsdeck-bench-{}.sql", uuid::Uuid::now_v7()));
    std::fs::write(&path, script).unwrap();
    let mut cmd = std::process::Command::new("pgbench");
    cmd.args([
        "-n",
        "-c",
        &concurrency.to_string(),
        "-j",
        "1",
        "-T",
        &seconds.to_string(),
        "-f",
    ])
    .arg(&path);
    for (k, v) in vars {
        cmd.arg("-D").arg(format!("{k}={v}"));
    }
    let out = cmd
        .arg(bench_db(&env("OPSDECK_TEST_APP_URL")))
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
