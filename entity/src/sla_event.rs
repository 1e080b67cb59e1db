//! `sla_events`: AT_RISK and BREACHED, recorded at most once per incident and clock (a
//! unique constraint, so concurrent evaluators cannot both record one).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub incident_id: Uuid,
    /// `ACK` or `RESOLVE`.
    pub clock: String,
    /// `AT_RISK` or `BREACHED`.
    pub state: String,
    pub due_at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
