//! `jobs`: one row per unit of background work. The row is the truth about the job; the
//! queue only carries its id. Every write of a running attempt is conditioned on
//! `fencing_token`, which each claim increments.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The job contract's name (`incident_report`, `fleet_probe`, …).
    pub kind: String,
    pub payload: Json,
    /// `QUEUED`, `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELLED` or `DEAD` (dead-lettered).
    pub status: String,
    /// Attempts started so far.
    pub attempt: i32,
    pub max_attempts: i32,
    /// Not claimable before this instant (retry backoff).
    pub run_after: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub fencing_token: i64,
    pub cancel_requested_at: Option<DateTimeUtc>,
    pub progress: i32,
    pub result: Option<Json>,
    pub last_error: Option<String>,
    /// When a delivery of the job was last set on its way: written to the outbox (enqueue,
    /// re-drive, promotion to a freed slot) or handed to the queue by the reconciler. `NULL`
    /// while no delivery is on its way: waiting for a retry, or for a slot of its org's cap.
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// A second cap besides the org's per kind (a run's target: `target:<id>`).
    pub group_key: Option<String>,
    pub group_limit: Option<i32>,
    /// `TIMEOUT` when the last attempt ran out of time.
    pub error_class: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Entity {
    /// Every lookup by id goes through here: another org's job is simply absent.
    pub fn find_in_org(org_id: Uuid, id: Uuid) -> Select<Entity> {
        Self::find_by_id(id).filter(Column::OrgId.eq(org_id))
    }
}
