//! A PostgreSQL database of each test's own. Work that spans every organization (the SLA
//! sweep evaluated an hour ahead, the outbox relay, the reconciler) then never reaches into
//! a test running beside it: in one shared database, one test's sweep recorded SLA breaches
//! and outbox rows for every other test's incidents, and waited on their transactions.
//!
//! Each database is cloned from `opsdeck_template`, which the test that arrives first after a
//! change migrates (clones are taken one at a time, under an advisory lock, since PostgreSQL
//! clones only a database nobody is connected to). It is dropped with the test; one left by a
//! killed test is dropped by a later one.

use domain::config::Secret;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::support::env;

const TEMPLATE: &str = "opsdeck_template";
const CLONE_PREFIX: &str = "opsdeck_t_";
/// Held on the maintenance database while the template is migrated and cloned.
const CLONE_LOCK: i64 = 5_049_431_204_672_854;
/// A clone older than this belongs to no running test.
const ABANDONED_AFTER_SECS: u64 = 2 * 3600;

pub struct TestDatabase {
    pub app_url: String,
    pub owner_url: String,
    name: String,
    maintenance_url: String,
}

/// `url` naming database `db` instead.
fn with_database(url: &str, db: &str) -> String {
    let (server, _) = url.rsplit_once('/').expect("a database URL");
    format!("{server}/{db}")
}

impl TestDatabase {
    pub async fn create() -> Self {
        let owner_url = env("OPSDECK_TEST_MIGRATE_URL");
        let app_url = env("OPSDECK_TEST_APP_URL");
        let maintenance_url = with_database(&owner_url, "postgres");
        let maintenance = domain::db::connect_url(&maintenance_url, 1)
            .await
            .expect("the maintenance database");
        maintenance
            .execute_unprepared(&format!("SELECT pg_advisory_lock({CLONE_LOCK})"))
            .await
            .unwrap();
        let names = |sql: String| {
            let maintenance = &maintenance;
            async move {
                maintenance
                    .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.try_get_by_index::<String>(0).unwrap())
                    .collect::<Vec<_>>()
            }
        };
        if names(format!(
            "SELECT datname FROM pg_database WHERE datname = '{TEMPLATE}'"
        ))
        .await
        .is_empty()
        {
            maintenance
                .execute_unprepared(&format!("CREATE DATABASE {TEMPLATE}"))
                .await
                .unwrap();
        }
        let template_url = with_database(&owner_url, TEMPLATE);
        grant_app_role(&template_url, &app_url).await;
        domain::db::migrate_url(&Secret::new(template_url))
            .await
            .expect("migrations of the template");
        for old in names(format!(
            "SELECT datname FROM pg_database WHERE starts_with(datname, '{CLONE_PREFIX}')"
        ))
        .await
        {
            if abandoned(&old) {
                let _ = maintenance
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
                    .await;
            }
        }
        let name = format!("{CLONE_PREFIX}{}", Uuid::now_v7().simple());
        maintenance
            .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
            .await
            .expect("a clone of the template");
        maintenance
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({CLONE_LOCK})"))
            .await
            .unwrap();
        maintenance.close().await.unwrap();
        TestDatabase {
            app_url: with_database(&app_url, &name),
            owner_url: with_database(&owner_url, &name),
            name,
            maintenance_url,
        }
    }
}

/// The grants scripts/test gives the app role on the shared test database, here on the
/// template (a clone inherits them). Idempotent.
async fn grant_app_role(owner_url: &str, app_url: &str) {
    let app_role = app_url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .expect("app role in the URL");
    let db = domain::db::connect_url(owner_url, 1).await.unwrap();
    for grant in [
        format!("GRANT USAGE ON SCHEMA public TO {app_role}"),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app_role}"
        ),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app_role}"
        ),
    ] {
        db.execute_unprepared(&grant).await.unwrap();
    }
    db.close().await.unwrap();
}

/// A clone's name carries its creation time (a v7 UUID).
fn abandoned(name: &str) -> bool {
    let Some(created) = name
        .strip_prefix(CLONE_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
        .and_then(|id| id.get_timestamp())
    else {
        return false;
    };
    let (secs, _) = created.to_unix();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now.saturating_sub(secs) > ABANDONED_AFTER_SECS
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be single-threaded: a thread with a
        // runtime of its own. FORCE ends the app's pooled connections, which outlive it.
        let (url, name) = (self.maintenance_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let db = domain::db::connect_url(&url, 1).await.ok()?;
                let _ = db
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                db.close().await.ok()
            })
        })
        .join();
    }
}
