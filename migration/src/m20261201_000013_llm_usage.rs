//! The metered LLM fallback of scenario generation: an organization opts in and may set
//! its own monthly token cap; `llm_usage` counts calls, tokens and failures per
//! organization and calendar month (UTC, `YYYY-MM`).

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "ALTER TABLE organizations ADD COLUMN llm_enabled boolean NOT NULL DEFAULT false",
    "ALTER TABLE organizations ADD COLUMN llm_monthly_token_cap bigint CHECK (llm_monthly_token_cap >= 0)",
    "CREATE TABLE llm_usage (
        org_id uuid NOT NULL REFERENCES organizations (id),
        month text NOT NULL,
        calls bigint NOT NULL DEFAULT 0,
        failures bigint NOT NULL DEFAULT 0,
        prompt_tokens bigint NOT NULL DEFAULT 0,
        completion_tokens bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (org_id, month))",
];

const SQLITE: &[&str] = &[
    "ALTER TABLE organizations ADD COLUMN llm_enabled INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE organizations ADD COLUMN llm_monthly_token_cap INTEGER CHECK (llm_monthly_token_cap >= 0)",
    "CREATE TABLE llm_usage (
        org_id BLOB NOT NULL REFERENCES organizations (id),
        month TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (org_id, month))",
];

/// Tables this migration adds that carry `org_id`.
pub const TENANT_TABLES: &[&str] = &["llm_usage"];

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
                "DROP TABLE llm_usage",
                "ALTER TABLE organizations DROP COLUMN llm_monthly_token_cap",
                "ALTER TABLE organizations DROP COLUMN llm_enabled",
            ],
        )
        .await
    }
}
