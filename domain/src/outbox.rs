//! The transactional outbox: a side effect leaves the system only as a row written in the
//! same transaction as the change it describes. The relay (jobs work) delivers each row at
//! least once; consumers are idempotent on the row id.

use entity::outbox;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::Value;
use uuid::Uuid;

use crate::error::DomainResult;

/// A job to hand to the queue (`{ jobId, kind }`); the relay delivers it.
pub const JOB_ENQUEUED: &str = "job.enqueued";
/// A job's status changed (`{ jobId, kind, status, attempt }`).
pub const JOB_STATUS_CHANGED: &str = "job.status_changed";
/// A run's step ended (`{ runId, attempt, index, kind, status }`), for live run views.
pub const RUN_STEP_FINISHED: &str = "run.step_finished";

/// Records `event` (a stable name such as `incident.status_changed`) for `org_id`.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    event: &'static str,
    payload: Value,
) -> DomainResult<()> {
    let row = outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        event: Set(event.to_owned()),
        payload: Set(payload),
        created_at: Set(crate::time::now()),
        delivered_at: Set(None),
    };
    outbox::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
