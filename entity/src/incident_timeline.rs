//! `incident_timeline`: the append-only history of one incident (a trigger refuses UPDATE
//! and DELETE). A correction is a new entry.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_timeline")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub incident_id: Uuid,
    /// `created`, `status_changed`, `severity_changed`, `updated`, `assigned`, `comment`,
    /// `duplicate_marked`, `duplicate_received`, `sla`, `timestamps_corrected`.
    pub kind: String,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    /// Markdown, for comments and notes.
    pub body: Option<String>,
    pub data: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
