//! `jobs_queued_idx` (every queued job, by `run_after`) serves the reconciler. The planner
//! also chose it for `promote_next`'s look-up of the org's next parked job whenever the
//! statistics were taken while the queue was empty: both partial indexes then look like one
//! page, and it scanned every queued job of every org instead of `jobs_waiting_idx` (B6 at
//! 500 jobs/s: 2.8 ms a finish). The index now also requires `lease_owner IS NULL`, which
//! every queued job satisfies but only the reconciler's look-up states, so no other query
//! can pick it.

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
                "DROP INDEX jobs_queued_idx",
                "CREATE INDEX jobs_queued_idx ON jobs (run_after) \
                 WHERE status = 'QUEUED' AND lease_owner IS NULL",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(
            manager,
            &[
                "DROP INDEX jobs_queued_idx",
                "CREATE INDEX jobs_queued_idx ON jobs (run_after) WHERE status = 'QUEUED'",
            ],
        )
        .await
    }
}
