//! Form analyses: a `form_analyses` row shares its `form_analysis` job's id, like a run.
//! What was asked (target, URL) is here; the state is the job's, and the result (fields,
//! wizard steps, submit control) is the job's `result`, written by the attempt holding
//! the token.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE form_analyses (
        id uuid PRIMARY KEY REFERENCES jobs (id),
        org_id uuid NOT NULL REFERENCES organizations (id),
        target_id uuid NOT NULL REFERENCES targets (id),
        url text NOT NULL,
        submit boolean NOT NULL,
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL)",
    "CREATE INDEX form_analyses_target_idx ON form_analyses (org_id, target_id, id)",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE form_analyses (
        id BLOB PRIMARY KEY NOT NULL REFERENCES jobs (id),
        org_id BLOB NOT NULL REFERENCES organizations (id),
        target_id BLOB NOT NULL REFERENCES targets (id),
        url TEXT NOT NULL,
        submit INTEGER NOT NULL,
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL)",
    "CREATE INDEX form_analyses_target_idx ON form_analyses (org_id, target_id, id)",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &["form_analyses"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        sql::tenant_tables(manager, TENANT_TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(manager, &["DROP TABLE form_analyses"]).await
    }
}
