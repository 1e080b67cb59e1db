//! `job_attempts`: how each attempt of a job ended, written once when it ends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub job_id: Uuid,
    pub attempt: i32,
    pub fencing_token: i64,
    pub worker: String,
    /// `SUCCEEDED`, `FAILED`, `RETRY`, `DEAD`, `CANCELLED`, `LEASE_EXPIRED` or `RELEASED`.
    pub outcome: String,
    pub error: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    /// `FLEET` (a worker process) or `BATCH` (a one-shot cloud container).
    pub executor: String,
    /// `TIMEOUT` when the attempt ran out of time; otherwise the outcome says it.
    pub error_class: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
