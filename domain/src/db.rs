//! Database connections, migrations and the tenant transaction.
//!
//! On PostgreSQL every transaction that touches tenant tables starts with `set_config(…,
//! true)` (transaction-local, so a pooled connection never carries one request's org into
//! the next); forced RLS then hides every other org's rows even from a query that forgot its
//! filter. SQLite has no RLS: the services' `org_id` filters are the only guard there.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::config::{Config, Secret};
use crate::error::DomainResult;

pub type Db = DatabaseConnection;

/// What the transaction may see under RLS. Each `Some` becomes a `set_config`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scope<'a> {
    pub org_id: Option<Uuid>,
    /// The user's own memberships in every org (`own_memberships` policy).
    pub user_id: Option<Uuid>,
    /// The API keys with this prefix (`key_lookup` policy), for authentication only.
    pub api_key_prefix: Option<&'a str>,
    /// Every org's jobs, job attempts and outbox rows (`system_dispatch` policy): the relay
    /// and the reconciler only. No request path sets it.
    pub system: bool,
}

impl<'a> Scope<'a> {
    pub fn org(org_id: Uuid) -> Self {
        Scope {
            org_id: Some(org_id),
            ..Default::default()
        }
    }

    pub fn system() -> Self {
        Scope {
            system: true,
            ..Default::default()
        }
    }
}

/// Opens a read-only transaction scoped to `scope`: on SQLite it runs beside the writer.
pub async fn begin_read(db: &Db, scope: Scope<'_>) -> DomainResult<DatabaseTransaction> {
    let tx = db.begin().await?;
    set_scope(&tx, scope).await?;
    Ok(tx)
}

/// [`begin_read`] whose statements all see one snapshot (`REPEATABLE READ`, read-only, on
/// PostgreSQL; a SQLite read transaction is one already), for reads of rows that one
/// transaction writes together: each statement of a `READ COMMITTED` read may otherwise
/// see a different set of commits.
pub async fn begin_snapshot(db: &Db, scope: Scope<'_>) -> DomainResult<DatabaseTransaction> {
    let tx = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(
                Some(sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm::AccessMode::ReadOnly),
            )
            .await?
        }
        _ => db.begin().await?,
    };
    set_scope(&tx, scope).await?;
    Ok(tx)
}

/// Opens a transaction that will write, scoped to `scope` (a no-op scope on SQLite).
pub async fn begin(db: &Db, scope: Scope<'_>) -> DomainResult<DatabaseTransaction> {
    let tx = begin_writer(db).await?;
    set_scope(&tx, scope).await?;
    Ok(tx)
}

async fn begin_writer(db: &Db) -> DomainResult<DatabaseTransaction> {
    Ok(match db.get_database_backend() {
        // IMMEDIATE takes the write lock up front and waits for it (busy_timeout): a
        // deferred read-then-write transaction would instead fail when another writer won.
        DbBackend::Sqlite => {
            db.begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?
        }
        _ => db.begin().await?,
    })
}

/// Changes the scope inside an open transaction (e.g. after creating an organization).
pub async fn set_scope(tx: &DatabaseTransaction, scope: Scope<'_>) -> DomainResult<()> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    // One round trip for all the settings (an empty string means "none").
    let sql = String::from(
        "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true), \
         set_config('app.api_key_prefix', $3, true), set_config('app.system', $4, true)",
    );
    let values: Vec<sea_orm::Value> = vec![
        scope
            .org_id
            .map(|u| u.to_string())
            .unwrap_or_default()
            .into(),
        scope
            .user_id
            .map(|u| u.to_string())
            .unwrap_or_default()
            .into(),
        scope.api_key_prefix.unwrap_or_default().to_owned().into(),
        if scope.system { "on" } else { "" }.to_owned().into(),
    ];
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// The SQLite URL of the embedded deployment.
pub fn embedded_url(config: &Config) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        config.data_dir.join("opsdeck.db").display()
    )
}

fn options(url: String, min_connections: u32, max_connections: u32) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(max_connections)
        .min_connections(min_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        // `open_standing_connections` opens them, all at once rather than one by one.
        .connect_lazy(true)
        .sqlx_logging(false);
    opts
}

/// Opens the pool's `min_connections` side by side, so start-up pays for one opening
/// rather than one after another, and fails here on a wrong URL or password. Once open,
/// the pool keeps them (and reopens any it loses). Without them, the first moment that
/// more transactions overlap than the pool holds opens a connection inside one of them:
/// ~100 ms of TLS and SCRAM that a job's pickup or a request would wait for.
async fn open_standing_connections(db: &Db, min_connections: u32) -> anyhow::Result<()> {
    let held =
        futures::future::try_join_all((0..min_connections.max(1)).map(|_| db.begin())).await?;
    for tx in held {
        tx.rollback().await?;
    }
    Ok(())
}

/// Connects the application pool (the app role on PostgreSQL).
pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    let url = match &config.database_url {
        Some(url) => url.expose().to_owned(),
        None => {
            std::fs::create_dir_all(&config.data_dir)?;
            embedded_url(config)
        }
    };
    connect_pool(
        &url,
        config.database_min_connections,
        config.database_max_connections,
    )
    .await
}

/// A pool of at most `max_connections` that opens them as needed.
pub async fn connect_url(url: &str, max_connections: u32) -> anyhow::Result<Db> {
    connect_pool(url, 0, max_connections).await
}

async fn connect_pool(url: &str, min_connections: u32, max_connections: u32) -> anyhow::Result<Db> {
    let mut db =
        Database::connect(options(url.to_owned(), min_connections, max_connections)).await?;
    // Statement counts make N+1 visible: per request they should stay flat as pages grow.
    db.set_metric_callback(|info| {
        metrics::counter!("opsdeck_db_statements_total", "failed" => if info.failed { "true" } else { "false" })
            .increment(1);
        metrics::histogram!("opsdeck_db_statement_duration_seconds").record(info.elapsed.as_secs_f64());
    });
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers run beside the single writer; the busy timeout queues writers
        // instead of failing them.
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        db.execute_unprepared("PRAGMA busy_timeout=5000").await?;
    }
    open_standing_connections(&db, min_connections).await?;
    Ok(db)
}

/// Applies pending migrations as the owner role. On PostgreSQL an advisory lock makes
/// concurrent starts (replicas, parallel tests) take turns instead of racing.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let url = match &config.migration_database_url {
        Some(url) => url.expose().to_owned(),
        None => {
            std::fs::create_dir_all(&config.data_dir)?;
            embedded_url(config)
        }
    };
    migrate_url(&Secret::new(url)).await
}

pub async fn migrate_url(url: &Secret) -> anyhow::Result<()> {
    use migration::MigratorTrait;
    // One connection, so the session-level advisory lock covers every migration statement.
    let db = connect_url(url.expose(), 1).await?;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if postgres {
        db.execute_unprepared("SELECT pg_advisory_lock(5049431204672853)")
            .await?;
    }
    let result = migration::Migrator::up(&db, None).await;
    if postgres {
        db.execute_unprepared("SELECT pg_advisory_unlock(5049431204672853)")
            .await?;
    }
    db.close().await?;
    Ok(result?)
}

/// The CLI's commands work on a fresh embedded data directory too.
pub async fn migrate_if_embedded(config: &Config) -> anyhow::Result<()> {
    if config.is_embedded() {
        migrate(config).await?;
    }
    Ok(())
}

/// Runs `work` unless another process is running the work called `name`: on PostgreSQL a
/// transaction-scoped advisory try-lock is held while `work` runs (`None` when another
/// holder has it); the embedded SQLite deployment is a single process. Keeps N workers
/// from each doing the same sweep.
pub async fn exclusively<T>(
    db: &Db,
    name: &str,
    work: impl Future<Output = DomainResult<T>>,
) -> DomainResult<Option<T>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return work.await.map(Some);
    }
    let tx = db.begin().await?;
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("opsdeck:{name}").into()],
        ))
        .await?;
    let held = row
        .map(|r| r.try_get_by_index::<bool>(0))
        .transpose()?
        .unwrap_or(false);
    if !held {
        tx.rollback().await?;
        return Ok(None);
    }
    let out = work.await;
    tx.commit().await?;
    out.map(Some)
}
