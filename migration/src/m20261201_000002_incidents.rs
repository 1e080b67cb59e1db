//! Incidents: the incident itself, its per-org number counter, assignees, the append-only
//! timeline, SLA policies and the SLA events recorded exactly once; and the transactional
//! outbox every state change writes to.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE incident_counters (
        org_id uuid PRIMARY KEY REFERENCES organizations (id),
        last_number bigint NOT NULL)",
    "CREATE TABLE incidents (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        number bigint NOT NULL,
        title text NOT NULL,
        description text NOT NULL,
        severity text NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
        status text NOT NULL,
        version integer NOT NULL,
        commander_id uuid REFERENCES users (id),
        service text,
        tags jsonb NOT NULL,
        impact_started_at timestamptz,
        detected_at timestamptz NOT NULL,
        acknowledged_at timestamptz,
        mitigated_at timestamptz,
        resolved_at timestamptz,
        closed_at timestamptz,
        duplicate_of_id uuid REFERENCES incidents (id),
        created_by_type text NOT NULL,
        created_by_id uuid,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT incidents_org_number_key UNIQUE (org_id, number))",
    "CREATE INDEX incidents_org_created_idx ON incidents (org_id, created_at, id)",
    "CREATE INDEX incidents_org_status_idx ON incidents (org_id, status)",
    "CREATE TABLE incident_assignees (
        incident_id uuid NOT NULL REFERENCES incidents (id),
        user_id uuid NOT NULL REFERENCES users (id),
        org_id uuid NOT NULL REFERENCES organizations (id),
        PRIMARY KEY (incident_id, user_id))",
    "CREATE INDEX incident_assignees_user_idx ON incident_assignees (org_id, user_id)",
    "CREATE TABLE incident_timeline (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        incident_id uuid NOT NULL REFERENCES incidents (id),
        kind text NOT NULL,
        actor_type text NOT NULL,
        actor_id uuid,
        body text,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL)",
    "CREATE INDEX incident_timeline_incident_idx ON incident_timeline (incident_id, id)",
    "CREATE TABLE sla_policies (
        org_id uuid NOT NULL REFERENCES organizations (id),
        severity text NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
        ack_minutes integer NOT NULL CHECK (ack_minutes > 0),
        resolve_minutes integer NOT NULL CHECK (resolve_minutes > 0),
        at_risk_percent integer NOT NULL CHECK (at_risk_percent BETWEEN 1 AND 99),
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (org_id, severity))",
    "CREATE TABLE sla_events (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        incident_id uuid NOT NULL REFERENCES incidents (id),
        clock text NOT NULL CHECK (clock IN ('ACK', 'RESOLVE')),
        state text NOT NULL CHECK (state IN ('AT_RISK', 'BREACHED')),
        due_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        CONSTRAINT sla_events_once_key UNIQUE (incident_id, clock, state))",
    "CREATE TABLE outbox (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        event text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        delivered_at timestamptz)",
    "CREATE INDEX outbox_pending_idx ON outbox (created_at) WHERE delivered_at IS NULL",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE incident_counters (
        org_id BLOB PRIMARY KEY NOT NULL REFERENCES organizations (id),
        last_number INTEGER NOT NULL)",
    "CREATE TABLE incidents (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        number INTEGER NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        severity TEXT NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        commander_id BLOB REFERENCES users (id),
        service TEXT,
        tags TEXT NOT NULL,
        impact_started_at TEXT,
        detected_at TEXT NOT NULL,
        acknowledged_at TEXT,
        mitigated_at TEXT,
        resolved_at TEXT,
        closed_at TEXT,
        duplicate_of_id BLOB REFERENCES incidents (id),
        created_by_type TEXT NOT NULL,
        created_by_id BLOB,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CONSTRAINT incidents_org_number_key UNIQUE (org_id, number))",
    "CREATE INDEX incidents_org_created_idx ON incidents (org_id, created_at, id)",
    "CREATE INDEX incidents_org_status_idx ON incidents (org_id, status)",
    "CREATE TABLE incident_assignees (
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        user_id BLOB NOT NULL REFERENCES users (id),
        org_id BLOB NOT NULL REFERENCES organizations (id),
        PRIMARY KEY (incident_id, user_id))",
    "CREATE INDEX incident_assignees_user_idx ON incident_assignees (org_id, user_id)",
    "CREATE TABLE incident_timeline (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        kind TEXT NOT NULL,
        actor_type TEXT NOT NULL,
        actor_id BLOB,
        body TEXT,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE INDEX incident_timeline_incident_idx ON incident_timeline (incident_id, id)",
    "CREATE TABLE sla_policies (
        org_id BLOB NOT NULL REFERENCES organizations (id),
        severity TEXT NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
        ack_minutes INTEGER NOT NULL CHECK (ack_minutes > 0),
        resolve_minutes INTEGER NOT NULL CHECK (resolve_minutes > 0),
        at_risk_percent INTEGER NOT NULL CHECK (at_risk_percent BETWEEN 1 AND 99),
        updated_at TEXT NOT NULL,
        PRIMARY KEY (org_id, severity))",
    "CREATE TABLE sla_events (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        incident_id BLOB NOT NULL REFERENCES incidents (id),
        clock TEXT NOT NULL CHECK (clock IN ('ACK', 'RESOLVE')),
        state TEXT NOT NULL CHECK (state IN ('AT_RISK', 'BREACHED')),
        due_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        CONSTRAINT sla_events_once_key UNIQUE (incident_id, clock, state))",
    "CREATE TABLE outbox (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        delivered_at TEXT)",
    "CREATE INDEX outbox_pending_idx ON outbox (created_at) WHERE delivered_at IS NULL",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &[
    "incident_counters",
    "incidents",
    "incident_assignees",
    "incident_timeline",
    "sla_policies",
    "sla_events",
    "outbox",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        let extra: Vec<String> = if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            TENANT_TABLES
                .iter()
                .flat_map(|t| sql::tenant_rls(t))
                .chain(sql::append_only_pg("incident_timeline"))
                .collect()
        } else {
            sql::append_only_sqlite("incident_timeline")
        };
        let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
        sql::run(manager, &refs).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "DROP TABLE outbox",
                "DROP TABLE sla_events",
                "DROP TABLE sla_policies",
                "DROP TABLE incident_timeline",
                "DROP TABLE incident_assignees",
                "DROP TABLE incidents",
                "DROP TABLE incident_counters",
            ],
        )
        .await
    }
}
