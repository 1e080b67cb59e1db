//! Where an attempt ran: `FLEET` (a worker process) today; `BATCH` (a one-shot cloud
//! container claiming with the same fencing token) is next on the roadmap.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "ALTER TABLE job_attempts ADD COLUMN executor text NOT NULL DEFAULT 'FLEET' \
               CHECK (executor IN ('FLEET', 'BATCH'))",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(manager, &["ALTER TABLE job_attempts DROP COLUMN executor"]).await
    }
}
