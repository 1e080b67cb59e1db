//! `incidents`: one row per incident; `version` increments on every change (optimistic
//! concurrency), lifecycle timestamps are set by transitions.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub status: String,
    pub version: i32,
    pub commander_id: Option<Uuid>,
    pub service: Option<String>,
    /// A JSON array of strings.
    pub tags: Json,
    pub impact_started_at: Option<DateTimeUtc>,
    pub detected_at: DateTimeUtc,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub mitigated_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub duplicate_of_id: Option<Uuid>,
    pub created_by_type: String,
    pub created_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    /// Every lookup by id goes through here: another org's incident is simply absent.
    pub fn find_in_org(org_id: Uuid, id: Uuid) -> Select<Entity> {
        Self::find_by_id(id).filter(Column::OrgId.eq(org_id))
    }
}
