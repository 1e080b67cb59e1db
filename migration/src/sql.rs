//! Helpers shared by the migrations: run a list of statements on the current backend, and
//! the PostgreSQL building blocks for tenant tables and append-only tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    for statement in statements {
        conn.execute_unprepared(statement).await?;
    }
    Ok(())
}

pub async fn run_for_backend(
    manager: &SchemaManager<'_>,
    postgres: &[&str],
    sqlite: &[&str],
) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        DbBackend::Postgres => run(manager, postgres).await,
        DbBackend::Sqlite => run(manager, sqlite).await,
        other => Err(DbErr::Migration(format!("unsupported backend {other:?}"))),
    }
}

/// The org the current transaction acts for (`set_config('app.org_id', $1, true)`); empty
/// after commit, hence the NULLIF: no setting means no rows.
pub const CURRENT_ORG: &str = "NULLIF(current_setting('app.org_id', true), '')::uuid";

/// Enable and force RLS on `table` with the standard `tenant` policy (all commands).
pub fn tenant_rls(table: &str) -> Vec<String> {
    vec![
        format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
        format!(
            "CREATE POLICY tenant ON {table} USING (org_id = {CURRENT_ORG}) \
             WITH CHECK (org_id = {CURRENT_ORG})"
        ),
    ]
}

/// On PostgreSQL, RLS with the `tenant` policy on each of `tables`; nothing on SQLite.
pub async fn tenant_tables(manager: &SchemaManager<'_>, tables: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let statements: Vec<String> = tables.iter().flat_map(|t| tenant_rls(t)).collect();
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    run(manager, &refs).await
}

/// A PostgreSQL trigger that refuses UPDATE, DELETE and TRUNCATE on `table`.
pub fn append_only_pg(table: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION opsdeck_refuse_change()"
        ),
        format!(
            "CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION opsdeck_refuse_change()"
        ),
    ]
}

/// The SQLite equivalent of [`append_only_pg`].
pub fn append_only_sqlite(table: &str) -> Vec<String> {
    ["UPDATE", "DELETE"]
        .iter()
        .map(|op| {
            format!(
                "CREATE TRIGGER {table}_no_{} BEFORE {op} ON {table} \
                 BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
                op.to_lowercase()
            )
        })
        .collect()
}
