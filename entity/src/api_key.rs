//! `api_keys`: org-scoped machine credentials. Only a lookup prefix and a SHA-256 hash of
//! the secret are stored; the secret itself is shown once at creation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub created_by_user_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    /// Every lookup by id goes through here: another org's key is simply absent.
    pub fn find_in_org(org_id: Uuid, id: Uuid) -> Select<Entity> {
        Self::find_by_id(id).filter(Column::OrgId.eq(org_id))
    }
}
