//! Action items on incidents and saved incident views.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE action_items (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        incident_id uuid NOT NULL REFERENCES incidents (id),
        title text NOT NULL,
        assignee_id uuid REFERENCES users (id),
        due_at timestamptz,
        completed_at timestamptz,
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL)",
    "CREATE INDEX action_items_incident_idx ON action_items (incident_id, id)",
    "CREATE TABLE saved_views (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        owner_type text NOT NULL,
        owner_id uuid,
        name text NOT NULL,
        filter jsonb NOT NULL,
        order_by jsonb,
        shared boolean NOT NULL,
        created_at timestamptz NOT NULL)",
    "CREATE INDEX saved_views_org_idx ON saved_views (org_id, id)",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE action_items (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        title TEXT NOT NULL,
        assignee_id BLOB REFERENCES users (id),
        due_at TEXT,
        completed_at TEXT,
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL)",
    "CREATE INDEX action_items_incident_idx ON action_items (incident_id, id)",
    "CREATE TABLE saved_views (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        owner_type TEXT NOT NULL,
        owner_id BLOB,
        name TEXT NOT NULL,
        filter TEXT NOT NULL,
        order_by TEXT,
        shared INTEGER NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE INDEX saved_views_org_idx ON saved_views (org_id, id)",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &["action_items", "saved_views"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        sql::tenant_tables(manager, TENANT_TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &["DROP TABLE saved_views", "DROP TABLE action_items"],
        )
        .await
    }
}
