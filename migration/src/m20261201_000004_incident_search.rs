//! Full-text search over incident titles and descriptions: a generated `tsvector` with a
//! GIN index on PostgreSQL, an external-content FTS5 table kept by triggers on SQLite.
//! Both stem English words (`errors` finds `error`).

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "ALTER TABLE incidents ADD COLUMN search tsvector GENERATED ALWAYS AS \
     (to_tsvector('english', title || ' ' || description)) STORED",
    "CREATE INDEX incidents_search_idx ON incidents USING gin (search)",
];

const SQLITE: &[&str] = &[
    "CREATE VIRTUAL TABLE incidents_fts USING fts5(title, description, content='incidents', \
     content_rowid='rowid', tokenize='porter unicode61')",
    "CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN \
     INSERT INTO incidents_fts (rowid, title, description) VALUES (new.rowid, new.title, new.description); END",
    "CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN \
     INSERT INTO incidents_fts (incidents_fts, rowid, title, description) VALUES ('delete', old.rowid, old.title, old.description); END",
    "CREATE TRIGGER incidents_fts_update AFTER UPDATE OF title, description ON incidents BEGIN \
     INSERT INTO incidents_fts (incidents_fts, rowid, title, description) VALUES ('delete', old.rowid, old.title, old.description); \
     INSERT INTO incidents_fts (rowid, title, description) VALUES (new.rowid, new.title, new.description); END",
    "INSERT INTO incidents_fts (incidents_fts) VALUES ('rebuild')",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, POSTGRES, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(
            manager,
            &[
                "DROP INDEX incidents_search_idx",
                "ALTER TABLE incidents DROP COLUMN search",
            ],
            &[
                "DROP TRIGGER incidents_fts_update",
                "DROP TRIGGER incidents_fts_delete",
                "DROP TRIGGER incidents_fts_insert",
                "DROP TABLE incidents_fts",
            ],
        )
        .await
    }
}
