//! `saved_views`: a named incident filter and order; private to its owner unless shared.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_views")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// `user` or `api_key`: whoever saved it.
    pub owner_type: String,
    pub owner_id: Option<Uuid>,
    pub name: String,
    pub filter: Json,
    pub order_by: Option<Json>,
    pub shared: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
