//! `runs`: a workflow run, sharing its job's id. What it was launched with is frozen here
//! (version, inputs, expected outcome); its state is the job's.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub workflow_id: Uuid,
    pub workflow_version: i32,
    pub target_id: Uuid,
    pub scenario_id: Option<Uuid>,
    pub inputs: Json,
    /// `SUCCESS` or `VALIDATION_ERROR`.
    pub expected_outcome: String,
    pub retry_of: Option<Uuid>,
    /// `EVERY_STEP` or `ON_FAILURE`.
    pub screenshots: String,
    pub created_by_type: String,
    pub created_by_id: Option<Uuid>,
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
