//! A run's screenshot policy, chosen at launch: `EVERY_STEP` (the default: one after each
//! step) or `ON_FAILURE` (only SCREENSHOT steps and the failure's evidence).

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "ALTER TABLE runs ADD COLUMN screenshots text NOT NULL DEFAULT 'EVERY_STEP'
        CHECK (screenshots IN ('EVERY_STEP', 'ON_FAILURE'))",
];

const SQLITE: &[&str] = &[
    "ALTER TABLE runs ADD COLUMN screenshots TEXT NOT NULL DEFAULT 'EVERY_STEP'
        CHECK (screenshots IN ('EVERY_STEP', 'ON_FAILURE'))",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(manager, &["ALTER TABLE runs DROP COLUMN screenshots"]).await
    }
}
