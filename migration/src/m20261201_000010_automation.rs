//! Browser automation, the definitions: targets (where a browser may go) with their
//! encrypted secrets, workflows with an editable draft and immutable published versions,
//! and scenarios (named sets of inputs). Published versions are append-only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE targets (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        name text NOT NULL,
        base_url text NOT NULL,
        allowed_hosts jsonb NOT NULL,
        allow_private_network boolean NOT NULL,
        concurrency integer NOT NULL CHECK (concurrency >= 1),
        version integer NOT NULL,
        archived_at timestamptz,
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL)",
    "CREATE UNIQUE INDEX targets_name_key ON targets (org_id, lower(name)) WHERE archived_at IS NULL",
    "CREATE INDEX targets_org_list_idx ON targets (org_id, id)",
    "CREATE TABLE target_secrets (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        target_id uuid NOT NULL REFERENCES targets (id),
        name text NOT NULL,
        sealed bytea NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT target_secrets_name_key UNIQUE (target_id, name))",
    "CREATE TABLE workflows (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        target_id uuid NOT NULL REFERENCES targets (id),
        name text NOT NULL,
        description text NOT NULL,
        input_schema jsonb NOT NULL,
        steps jsonb NOT NULL,
        version integer NOT NULL,
        latest_version integer NOT NULL,
        archived_at timestamptz,
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL)",
    "CREATE INDEX workflows_org_list_idx ON workflows (org_id, id)",
    "CREATE INDEX workflows_target_idx ON workflows (target_id)",
    "CREATE TABLE workflow_versions (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        workflow_id uuid NOT NULL REFERENCES workflows (id),
        number integer NOT NULL CHECK (number >= 1),
        input_schema jsonb NOT NULL,
        steps jsonb NOT NULL,
        published_by_type text NOT NULL,
        published_by_id uuid,
        published_at timestamptz NOT NULL,
        CONSTRAINT workflow_versions_number_key UNIQUE (workflow_id, number))",
    "CREATE TABLE scenarios (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        workflow_id uuid NOT NULL REFERENCES workflows (id),
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('VALID', 'BOUNDARY', 'INVALID')),
        expected_outcome text NOT NULL CHECK (expected_outcome IN ('SUCCESS', 'VALIDATION_ERROR')),
        inputs jsonb NOT NULL,
        tags jsonb NOT NULL,
        version integer NOT NULL,
        deleted_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL)",
    "CREATE UNIQUE INDEX scenarios_name_key ON scenarios (workflow_id, name) WHERE deleted_at IS NULL",
    "CREATE INDEX scenarios_workflow_idx ON scenarios (workflow_id, id)",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE targets (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        name TEXT NOT NULL,
        base_url TEXT NOT NULL,
        allowed_hosts TEXT NOT NULL,
        allow_private_network INTEGER NOT NULL,
        concurrency INTEGER NOT NULL CHECK (concurrency >= 1),
        version INTEGER NOT NULL,
        archived_at TEXT,
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)",
    "CREATE UNIQUE INDEX targets_name_key ON targets (org_id, lower(name)) WHERE archived_at IS NULL",
    "CREATE INDEX targets_org_list_idx ON targets (org_id, id)",
    "CREATE TABLE target_secrets (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        target_id BLOB NOT NULL REFERENCES targets (id),
        name TEXT NOT NULL,
        sealed BLOB NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CONSTRAINT target_secrets_name_key UNIQUE (target_id, name))",
    "CREATE TABLE workflows (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        target_id BLOB NOT NULL REFERENCES targets (id),
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        input_schema TEXT NOT NULL,
        steps TEXT NOT NULL,
        version INTEGER NOT NULL,
        latest_version INTEGER NOT NULL,
        archived_at TEXT,
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)",
    "CREATE INDEX workflows_org_list_idx ON workflows (org_id, id)",
    "CREATE INDEX workflows_target_idx ON workflows (target_id)",
    "CREATE TABLE workflow_versions (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        workflow_id BLOB NOT NULL REFERENCES workflows (id),
        number INTEGER NOT NULL CHECK (number >= 1),
        input_schema TEXT NOT NULL,
        steps TEXT NOT NULL,
        published_by_type TEXT NOT NULL,
        published_by_id BLOB,
        published_at TEXT NOT NULL,
        CONSTRAINT workflow_versions_number_key UNIQUE (workflow_id, number))",
    "CREATE TABLE scenarios (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        workflow_id BLOB NOT NULL REFERENCES workflows (id),
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('VALID', 'BOUNDARY', 'INVALID')),
        expected_outcome TEXT NOT NULL CHECK (expected_outcome IN ('SUCCESS', 'VALIDATION_ERROR')),
        inputs TEXT NOT NULL,
        tags TEXT NOT NULL,
        version INTEGER NOT NULL,
        deleted_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)",
    "CREATE UNIQUE INDEX scenarios_name_key ON scenarios (workflow_id, name) WHERE deleted_at IS NULL",
    "CREATE INDEX scenarios_workflow_idx ON scenarios (workflow_id, id)",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &[
    "targets",
    "target_secrets",
    "workflows",
    "workflow_versions",
    "scenarios",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        sql::tenant_tables(manager, TENANT_TABLES).await?;
        let frozen = match manager.get_database_backend() {
            DbBackend::Postgres => sql::append_only_pg("workflow_versions"),
            _ => sql::append_only_sqlite("workflow_versions"),
        };
        let refs: Vec<&str> = frozen.iter().map(String::as_str).collect();
        sql::run(manager, &refs).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "DROP TABLE scenarios",
                "DROP TABLE workflow_versions",
                "DROP TABLE workflows",
                "DROP TABLE target_secrets",
                "DROP TABLE targets",
            ],
        )
        .await
    }
}
