//! `run_artifacts`: files an attempt left in the object store (screenshots, the page's HTML
//! and console log on failure).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_artifacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub run_id: Uuid,
    pub attempt: i32,
    pub fencing_token: i64,
    /// `SCREENSHOT`, `HTML` or `CONSOLE_LOG`.
    pub kind: String,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub object_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    pub fn find_in_org(org_id: Uuid, id: Uuid) -> Select<Entity> {
        Self::find_by_id(id).filter(Column::OrgId.eq(org_id))
    }
}
