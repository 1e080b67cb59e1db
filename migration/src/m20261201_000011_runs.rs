//! Runs: a `runs` row shares its job's id (status, attempts, lease and fencing live on the
//! job); per-step results and artifacts are written by the attempt that holds the token,
//! keyed by it, so a stale attempt's late writes can never mix with the live one's.
//! Jobs gain an optional concurrency group (a run's target) with its own cap, and an error
//! class (`TIMEOUT`) for attempts that ran out of time.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN group_key text",
    "ALTER TABLE jobs ADD COLUMN group_limit integer CHECK (group_limit >= 1)",
    "ALTER TABLE jobs ADD COLUMN error_class text",
    "ALTER TABLE job_attempts ADD COLUMN error_class text",
    "CREATE INDEX jobs_group_idx ON jobs (group_key, status) WHERE group_key IS NOT NULL",
    "CREATE TABLE runs (
        id uuid PRIMARY KEY REFERENCES jobs (id),
        org_id uuid NOT NULL REFERENCES organizations (id),
        workflow_id uuid NOT NULL REFERENCES workflows (id),
        workflow_version integer NOT NULL,
        target_id uuid NOT NULL REFERENCES targets (id),
        scenario_id uuid REFERENCES scenarios (id),
        inputs jsonb NOT NULL,
        expected_outcome text NOT NULL CHECK (expected_outcome IN ('SUCCESS', 'VALIDATION_ERROR')),
        retry_of uuid REFERENCES runs (id),
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL)",
    "CREATE INDEX runs_org_list_idx ON runs (org_id, id)",
    "CREATE INDEX runs_workflow_idx ON runs (workflow_id, id)",
    "CREATE TABLE run_steps (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        run_id uuid NOT NULL REFERENCES runs (id),
        attempt integer NOT NULL,
        fencing_token bigint NOT NULL,
        step_index integer NOT NULL,
        kind text NOT NULL,
        status text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
        started_at timestamptz NOT NULL,
        duration_ms bigint NOT NULL,
        error text,
        screenshot_key text,
        output jsonb,
        CONSTRAINT run_steps_once_key UNIQUE (run_id, fencing_token, step_index))",
    "CREATE TABLE run_artifacts (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        run_id uuid NOT NULL REFERENCES runs (id),
        attempt integer NOT NULL,
        fencing_token bigint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('SCREENSHOT', 'HTML', 'CONSOLE_LOG')),
        name text NOT NULL,
        content_type text NOT NULL,
        size_bytes bigint NOT NULL,
        object_key text NOT NULL,
        created_at timestamptz NOT NULL)",
    "CREATE INDEX run_artifacts_run_idx ON run_artifacts (run_id, id)",
];

const SQLITE: &[&str] = &[
    "ALTER TABLE jobs ADD COLUMN group_key TEXT",
    "ALTER TABLE jobs ADD COLUMN group_limit INTEGER CHECK (group_limit >= 1)",
    "ALTER TABLE jobs ADD COLUMN error_class TEXT",
    "ALTER TABLE job_attempts ADD COLUMN error_class TEXT",
    "CREATE INDEX jobs_group_idx ON jobs (group_key, status) WHERE group_key IS NOT NULL",
    "CREATE TABLE runs (
        id BLOB PRIMARY KEY NOT NULL REFERENCES jobs (id),
        org_id BLOB NOT NULL REFERENCES organizations (id),
        workflow_id BLOB NOT NULL REFERENCES workflows (id),
        workflow_version INTEGER NOT NULL,
        target_id BLOB NOT NULL REFERENCES targets (id),
        scenario_id BLOB REFERENCES scenarios (id),
        inputs TEXT NOT NULL,
        expected_outcome TEXT NOT NULL CHECK (expected_outcome IN ('SUCCESS', 'VALIDATION_ERROR')),
        retry_of BLOB REFERENCES runs (id),
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL)",
    "CREATE INDEX runs_org_list_idx ON runs (org_id, id)",
    "CREATE INDEX runs_workflow_idx ON runs (workflow_id, id)",
    "CREATE TABLE run_steps (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        run_id BLOB NOT NULL REFERENCES runs (id),
        attempt INTEGER NOT NULL,
        fencing_token INTEGER NOT NULL,
        step_index INTEGER NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
        started_at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        error TEXT,
        screenshot_key TEXT,
        output TEXT,
        CONSTRAINT run_steps_once_key UNIQUE (run_id, fencing_token, step_index))",
    "CREATE TABLE run_artifacts (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        run_id BLOB NOT NULL REFERENCES runs (id),
        attempt INTEGER NOT NULL,
        fencing_token INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('SCREENSHOT', 'HTML', 'CONSOLE_LOG')),
        name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        object_key TEXT NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE INDEX run_artifacts_run_idx ON run_artifacts (run_id, id)",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &["runs", "run_steps", "run_artifacts"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        sql::tenant_tables(manager, TENANT_TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "DROP TABLE run_artifacts",
                "DROP TABLE run_steps",
                "DROP TABLE runs",
                "DROP INDEX jobs_group_idx",
                "ALTER TABLE job_attempts DROP COLUMN error_class",
                "ALTER TABLE jobs DROP COLUMN error_class",
                "ALTER TABLE jobs DROP COLUMN group_limit",
                "ALTER TABLE jobs DROP COLUMN group_key",
            ],
        )
        .await
    }
}
