//! Organizations, users, memberships, API keys and the audit log.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &["memberships", "api_keys", "audit_log"];

const POSTGRES: &[&str] = &[
    "CREATE FUNCTION opsdeck_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TABLE organizations (
        id uuid PRIMARY KEY,
        slug text NOT NULL CONSTRAINT organizations_slug_key UNIQUE,
        name text NOT NULL,
        created_at timestamptz NOT NULL)",
    "CREATE TABLE users (
        id uuid PRIMARY KEY,
        issuer text,
        subject text,
        email text CONSTRAINT users_email_key UNIQUE,
        display_name text,
        created_at timestamptz NOT NULL,
        CONSTRAINT users_identity_key UNIQUE (issuer, subject))",
    "CREATE TABLE memberships (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        user_id uuid NOT NULL REFERENCES users (id),
        role text NOT NULL CHECK (role IN ('VIEWER', 'ENGINEER', 'MANAGER', 'ADMIN')),
        created_at timestamptz NOT NULL,
        CONSTRAINT memberships_org_user_key UNIQUE (org_id, user_id))",
    "CREATE INDEX memberships_user_idx ON memberships (user_id)",
    "CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        name text NOT NULL,
        role text NOT NULL CHECK (role IN ('VIEWER', 'ENGINEER', 'MANAGER', 'ADMIN')),
        prefix text NOT NULL,
        secret_hash bytea NOT NULL,
        created_by_user_id uuid REFERENCES users (id),
        created_at timestamptz NOT NULL,
        expires_at timestamptz,
        last_used_at timestamptz,
        revoked_at timestamptz)",
    "CREATE INDEX api_keys_prefix_idx ON api_keys (prefix)",
    "CREATE INDEX api_keys_org_idx ON api_keys (org_id, id)",
    "CREATE TABLE audit_log (
        id uuid PRIMARY KEY,
        org_id uuid NOT NULL REFERENCES organizations (id),
        actor_type text NOT NULL,
        actor_id uuid,
        action text NOT NULL,
        target_type text NOT NULL,
        target_id uuid,
        before jsonb,
        after jsonb,
        request_id text,
        created_at timestamptz NOT NULL)",
    "CREATE INDEX audit_log_org_idx ON audit_log (org_id, id)",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE organizations (
        id BLOB PRIMARY KEY NOT NULL,
        slug TEXT NOT NULL CONSTRAINT organizations_slug_key UNIQUE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE TABLE users (
        id BLOB PRIMARY KEY NOT NULL,
        issuer TEXT,
        subject TEXT,
        email TEXT CONSTRAINT users_email_key UNIQUE,
        display_name TEXT,
        created_at TEXT NOT NULL,
        CONSTRAINT users_identity_key UNIQUE (issuer, subject))",
    "CREATE TABLE memberships (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        user_id BLOB NOT NULL REFERENCES users (id),
        role TEXT NOT NULL CHECK (role IN ('VIEWER', 'ENGINEER', 'MANAGER', 'ADMIN')),
        created_at TEXT NOT NULL,
        CONSTRAINT memberships_org_user_key UNIQUE (org_id, user_id))",
    "CREATE INDEX memberships_user_idx ON memberships (user_id)",
    "CREATE TABLE api_keys (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('VIEWER', 'ENGINEER', 'MANAGER', 'ADMIN')),
        prefix TEXT NOT NULL,
        secret_hash BLOB NOT NULL,
        created_by_user_id BLOB REFERENCES users (id),
        created_at TEXT NOT NULL,
        expires_at TEXT,
        last_used_at TEXT,
        revoked_at TEXT)",
    "CREATE INDEX api_keys_prefix_idx ON api_keys (prefix)",
    "CREATE INDEX api_keys_org_idx ON api_keys (org_id, id)",
    "CREATE TABLE audit_log (
        id BLOB PRIMARY KEY NOT NULL,
        org_id BLOB NOT NULL REFERENCES organizations (id),
        actor_type TEXT NOT NULL,
        actor_id BLOB,
        action TEXT NOT NULL,
        target_type TEXT NOT NULL,
        target_id BLOB,
        before TEXT,
        after TEXT,
        request_id TEXT,
        created_at TEXT NOT NULL)",
    "CREATE INDEX audit_log_org_idx ON audit_log (org_id, id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            let mut rls: Vec<String> = TENANT_TABLES
                .iter()
                .flat_map(|t| sql::tenant_rls(t))
                .collect();
            // A user sees their own memberships in every org (the `viewer` query), and
            // authentication may read the one key whose prefix was presented: both are
            // narrower than a bypass and are set per transaction like app.org_id.
            rls.push(
                "CREATE POLICY own_memberships ON memberships FOR SELECT \
                 USING (user_id = NULLIF(current_setting('app.user_id', true), '')::uuid)"
                    .into(),
            );
            rls.push(
                "CREATE POLICY key_lookup ON api_keys FOR SELECT \
                 USING (prefix = NULLIF(current_setting('app.api_key_prefix', true), ''))"
                    .into(),
            );
            rls.extend(sql::append_only_pg("audit_log"));
            let refs: Vec<&str> = rls.iter().map(String::as_str).collect();
            sql::run(manager, &refs).await?;
        } else {
            let triggers = sql::append_only_sqlite("audit_log");
            let refs: Vec<&str> = triggers.iter().map(String::as_str).collect();
            sql::run(manager, &refs).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "DROP TABLE audit_log",
                "DROP TABLE api_keys",
                "DROP TABLE memberships",
                "DROP TABLE users",
                "DROP TABLE organizations",
            ],
        )
        .await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            sql::run(manager, &["DROP FUNCTION opsdeck_refuse_change()"]).await?;
        }
        Ok(())
    }
}
