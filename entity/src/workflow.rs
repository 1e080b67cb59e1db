//! `workflows`: a form workflow against a target. The row holds the editable draft (input
//! schema and steps, JSON); `workflow_versions` hold what was published.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub target_id: Uuid,
    pub name: String,
    pub description: String,
    pub input_schema: Json,
    pub steps: Json,
    /// The draft's version, for optimistic concurrency.
    pub version: i32,
    /// The newest published version number; 0 before the first publish.
    pub latest_version: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub created_by_type: String,
    pub created_by_id: Option<Uuid>,
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
