//! The org's next waiting job of a kind (`promote_next`) in index order, not by sorting
//! every queued job of the org: a backlog of thousands stays cheap to serve.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &["CREATE INDEX jobs_waiting_idx ON jobs (org_id, kind, id) WHERE status = 'QUEUED'"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(manager, &["DROP INDEX jobs_waiting_idx"]).await
    }
}
