//! Jobs: the database owns every job's state (status, attempts, lease, fencing token); the
//! queue only delivers job ids. Each attempt is recorded. Reports are the first job family
//! users see; a report shares its job's id.
//!
//! The relay and the reconciler scan every org's outbox and jobs. They do so under
//! `app.system = 'on'`, which a second policy on those two tables alone honours: API
//! requests never set it, and it opens no other table.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        kind text NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL
            CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')),
        attempt integer NOT NULL CHECK (attempt >= 0),
        max_attempts integer NOT NULL CHECK (max_attempts >= 1),
        run_after timestamptz NOT NULL,
        lease_owner text,
        lease_expires_at timestamptz,
        fencing_token bigint NOT NULL,
        cancel_requested_at timestamptz,
        progress integer NOT NULL CHECK (progress BETWEEN 0 AND 100),
        result jsonb,
        last_error text,
        delivered_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz)",
    "CREATE INDEX jobs_queued_idx ON jobs (run_after) WHERE status = 'QUEUED'",
    "CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'RUNNING'",
    "CREATE INDEX jobs_org_kind_idx ON jobs (org_id, kind, status)",
    "CREATE INDEX jobs_org_list_idx ON jobs (org_id, id)",
    "CREATE TABLE job_attempts (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        job_id uuid NOT NULL REFERENCES jobs (id),
        attempt integer NOT NULL,
        fencing_token bigint NOT NULL,
        worker text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN
            ('SUCCEEDED', 'FAILED', 'RETRY', 'DEAD', 'CANCELLED', 'LEASE_EXPIRED', 'RELEASED')),
        error text,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        CONSTRAINT job_attempts_once_key UNIQUE (job_id, fencing_token))",
    "CREATE TABLE reports (
        id uuid PRIMARY KEY REFERENCES jobs (id),
        org_id uuid NOT NULL REFERENCES organizations (id),
        format text NOT NULL CHECK (format IN ('CSV', 'JSON', 'PDF')),
        filter jsonb NOT NULL,
        period_from timestamptz NOT NULL,
        period_to timestamptz NOT NULL,
        object_key text,
        size_bytes bigint,
        row_count bigint,
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL)",
    "CREATE INDEX reports_org_list_idx ON reports (org_id, id)",
    "CREATE INDEX reports_expiry_idx ON reports (expires_at)",
    "ALTER TABLE organizations ADD COLUMN retention_days integer NOT NULL DEFAULT 30
        CHECK (retention_days BETWEEN 1 AND 3650)",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE jobs (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD')),
        attempt INTEGER NOT NULL CHECK (attempt >= 0),
        max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
        run_after TEXT NOT NULL,
        lease_owner TEXT,
        lease_expires_at TEXT,
        fencing_token INTEGER NOT NULL,
        cancel_requested_at TEXT,
        progress INTEGER NOT NULL CHECK (progress BETWEEN 0 AND 100),
        result TEXT,
        last_error TEXT,
        delivered_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT)",
    "CREATE INDEX jobs_queued_idx ON jobs (run_after) WHERE status = 'QUEUED'",
    "CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'RUNNING'",
    "CREATE INDEX jobs_org_kind_idx ON jobs (org_id, kind, status)",
    "CREATE INDEX jobs_org_list_idx ON jobs (org_id, id)",
    "CREATE TABLE job_attempts (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        job_id BLOB NOT NULL REFERENCES jobs (id),
        attempt INTEGER NOT NULL,
        fencing_token INTEGER NOT NULL,
        worker TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN
            ('SUCCEEDED', 'FAILED', 'RETRY', 'DEAD', 'CANCELLED', 'LEASE_EXPIRED', 'RELEASED')),
        error TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        CONSTRAINT job_attempts_once_key UNIQUE (job_id, fencing_token))",
    "CREATE TABLE reports (
        id BLOB PRIMARY KEY NOT NULL REFERENCES jobs (id),
        org_id BLOB NOT NULL REFERENCES organizations (id),
        format TEXT NOT NULL CHECK (format IN ('CSV', 'JSON', 'PDF')),
        filter TEXT NOT NULL,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        object_key TEXT,
        size_bytes INTEGER,
        row_count INTEGER,
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL)",
    "CREATE INDEX reports_org_list_idx ON reports (org_id, id)",
    "CREATE INDEX reports_expiry_idx ON reports (expires_at)",
    "ALTER TABLE organizations ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 30
        CHECK (retention_days BETWEEN 1 AND 3650)",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &["jobs", "job_attempts", "reports"];

/// The relay's and reconciler's cross-org view (see the module comment).
const SYSTEM_POLICIES: &[&str] = &[
    "CREATE POLICY system_dispatch ON jobs
        USING (current_setting('app.system', true) = 'on')
        WITH CHECK (current_setting('app.system', true) = 'on')",
    "CREATE POLICY system_dispatch ON job_attempts
        USING (current_setting('app.system', true) = 'on')
        WITH CHECK (current_setting('app.system', true) = 'on')",
    "CREATE POLICY system_dispatch ON outbox
        USING (current_setting('app.system', true) = 'on')
        WITH CHECK (current_setting('app.system', true) = 'on')",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        sql::tenant_tables(manager, TENANT_TABLES).await?;
        sql::run_for_backend(manager, SYSTEM_POLICIES, &[]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "DROP TABLE reports",
                "DROP TABLE job_attempts",
                "DROP TABLE jobs",
            ],
        )
        .await
    }
}
