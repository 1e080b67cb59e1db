//! `scenarios`: a named set of inputs for a workflow and the outcome it should have.
//! Deleted scenarios stay (runs point at them) with `deleted_at` set.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scenarios")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub workflow_id: Uuid,
    pub name: String,
    /// `VALID`, `BOUNDARY` or `INVALID`.
    pub kind: String,
    /// `SUCCESS` or `VALIDATION_ERROR`.
    pub expected_outcome: String,
    pub inputs: Json,
    pub tags: Json,
    pub version: i32,
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    pub fn find_in_org(org_id: Uuid, id: Uuid) -> Select<Entity> {
        Self::find_by_id(id).filter(Column::OrgId.eq(org_id))
    }
}
