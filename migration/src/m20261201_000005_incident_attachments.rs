//! Evidence attachments: metadata here, bytes in the object store.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE incident_attachments (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        incident_id uuid NOT NULL REFERENCES incidents (id),
        filename text NOT NULL,
        content_type text NOT NULL,
        size_bytes bigint NOT NULL,
        object_key text NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'COMPLETE')),
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL,
        completed_at timestamptz)",
    "CREATE INDEX incident_attachments_incident_idx ON incident_attachments (incident_id, id)",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE incident_attachments (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        object_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('PENDING', 'COMPLETE')),
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL,
        completed_at TEXT)",
    "CREATE INDEX incident_attachments_incident_idx ON incident_attachments (incident_id, id)",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &["incident_attachments"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        sql::tenant_tables(manager, TENANT_TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(manager, &["DROP TABLE incident_attachments"]).await
    }
}
