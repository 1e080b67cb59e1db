//! `run_steps`: one executed step of one attempt (by fencing token), written as it ends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub run_id: Uuid,
    pub attempt: i32,
    pub fencing_token: i64,
    pub step_index: i32,
    pub kind: String,
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    pub started_at: DateTimeUtc,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub screenshot_key: Option<String>,
    /// An EXTRACT step's value.
    pub output: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    pub fn find_in_org(org_id: Uuid, id: Uuid) -> Select<Entity> {
        Self::find_by_id(id).filter(Column::OrgId.eq(org_id))
    }
}
