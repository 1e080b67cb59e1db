//! `reports`: an incident report's request and, once rendered, its file. Its id is its
//! job's id; status, progress and error are the job's.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// `CSV`, `JSON` or `PDF`.
    pub format: String,
    /// The incident filter, as the API took it.
    pub filter: Json,
    pub period_from: DateTimeUtc,
    pub period_to: DateTimeUtc,
    pub object_key: Option<String>,
    pub size_bytes: Option<i64>,
    pub row_count: Option<i64>,
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
