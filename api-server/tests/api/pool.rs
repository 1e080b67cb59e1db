//! The database pool opens its standing connections at start: a request or a job pickup
//! never waits for a connection to open because the pool was short, and a wrong URL or
//! password stops start-up instead of failing the first request.

use std::collections::BTreeMap;

use domain::config::Config;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::support::TempDir;
use crate::test_database::TestDatabase;

fn config(database_url: &str, extra: &[(&str, &str)]) -> (Config, TempDir) {
    let dir = TempDir(std::env::temp_dir().join(format!("opsdeck-pool-{}", uuid::Uuid::now_v7())));
    let mut vars: BTreeMap<String, String> = [
        ("OPSDECK_DATA_DIR", dir.0.to_str().unwrap()),
        ("OPSDECK_DATABASE_URL", database_url),
        ("OPSDECK_SECRETS_KEY", &"ab".repeat(32)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    (
        Config::from_env_map(vars).expect("pool test configuration"),
        dir,
    )
}

/// The app role's backends in this test's own database (no other pool uses it).
async fn app_backends(db: &domain::db::Db) -> i64 {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND usename = current_user",
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<i64>(0)
    .unwrap()
}

#[tokio::test]
async fn the_pool_is_open_to_its_size_when_start_up_returns() {
    let database = TestDatabase::create().await;
    let (defaults, _dir) = config(&database.app_url, &[]);
    let db = domain::db::connect(&defaults).await.unwrap();
    assert_eq!(
        app_backends(&db).await,
        i64::from(defaults.database_max_connections),
        "by default every connection of the pool is open"
    );
    db.close().await.unwrap();

    // A database of its own: the closed pool's backends may still be exiting.
    let database = TestDatabase::create().await;
    let (lowered, _dir) = config(
        &database.app_url,
        &[
            ("OPSDECK_DATABASE_MAX_CONNECTIONS", "12"),
            ("OPSDECK_DATABASE_MIN_CONNECTIONS", "3"),
        ],
    );
    let db = domain::db::connect(&lowered).await.unwrap();
    // At least the minimum, and not the whole pool. sqlx's own upkeep of the minimum starts
    // with the pool and may open its 3 beside ours, so up to 6 can be open.
    let open = app_backends(&db).await;
    assert!((3..=6).contains(&open), "{open} connections open");
    db.close().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_stops_start_up() {
    let database = TestDatabase::create().await;
    let url = url::Url::parse(&database.app_url).unwrap();
    let mut wrong = url.clone();
    wrong.set_password(Some("not-the-password")).unwrap();
    let (config, _dir) = config(wrong.as_str(), &[]);
    let err = domain::db::connect(&config)
        .await
        .expect_err("a wrong password is refused at start-up");
    assert!(
        format!("{err:#}").contains("password authentication failed"),
        "{err:#}"
    );
}
