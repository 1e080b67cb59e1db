//! `memberships`: a user's role in one organization (tenant table).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    /// `VIEWER`, `ENGINEER`, `MANAGER` or `ADMIN`.
    pub role: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    pub fn find_in_org(org_id: Uuid) -> Select<Entity> {
        Self::find().filter(Column::OrgId.eq(org_id))
    }
}
