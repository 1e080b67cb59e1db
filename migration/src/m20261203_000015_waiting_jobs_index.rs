//! `promote_next` looks for the org's next job of a kind that a claim turned away for
//! capacity: queued and out of the queue (`delivered_at IS NULL`). Indexing every queued
//! job made that lookup read each one of a backlog (all of them delivered and waiting
//! their turn) on every finish: a burst of 10,000 cost thousands of heap visits per job.
//! The index now holds only the jobs the lookup can return.

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
                "DROP INDEX jobs_waiting_idx",
                "CREATE INDEX jobs_waiting_idx ON jobs (org_id, kind, id) \
                 WHERE status = 'QUEUED' AND delivered_at IS NULL",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "DROP INDEX jobs_waiting_idx",
                "CREATE INDEX jobs_waiting_idx ON jobs (org_id, kind, id) WHERE status = 'QUEUED'",
            ],
        )
        .await
    }
}
