//! `organizations`: the tenants. Not itself a tenant table: its id *is* the org id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    /// Days that reports and run artifacts are kept before the retention sweep removes them.
    pub retention_days: i32,
    /// Scenario generation may ask the configured LLM endpoint.
    pub llm_enabled: bool,
    /// Tokens per month; the configured default when `None`.
    pub llm_monthly_token_cap: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
