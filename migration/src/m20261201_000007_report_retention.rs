//! A report's expiry follows its organization's current retention (`created_at +
//! retention_days`), so a change of retention applies to reports already made: the
//! stored expiry goes.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BOTH: &[&str] = &[
    "DROP INDEX reports_expiry_idx",
    "ALTER TABLE reports DROP COLUMN expires_at",
    "CREATE INDEX reports_created_idx ON reports (org_id, created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run(manager, BOTH).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "the stored expiry cannot be restored".into(),
        ))
    }
}
