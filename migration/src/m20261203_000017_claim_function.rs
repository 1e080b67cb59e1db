//! `jobs_claim`: a claim on PostgreSQL as one statement, run outside any client-side
//! transaction. Claims of one org and kind take turns on an advisory lock so the org's cap
//! cannot be raced; held across client round trips (the update, then the commit), that
//! turn cost a round trip's wait under load and capped one org's claims near 300/s. In a
//! function the lock, the conditional update and the commit happen in the server.
//!
//! The update runs after the lock in the same function: a VOLATILE function takes a fresh
//! snapshot for each statement, so the running count sees every claim committed before
//! the lock was granted. A claim refused while the job is queued and due was refused for
//! capacity: the job is parked (`delivered_at = NULL`) for the next freed slot.
//!
//! The claim commits without waiting for its WAL flush (`synchronous_commit = off`, for
//! this transaction only), which the turn would otherwise be held across. Only a crash of
//! PostgreSQL itself can lose such a commit, and a lost claim is harmless: the job is
//! `QUEUED` again with its old token, the worker's writes carrying the new token are
//! refused, and the reconciler delivers the job again. Every other write of a job waits
//! for its flush.
//!
//! SQLite has no such function; its claims are serialised by its single writer.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &str = r#"
CREATE FUNCTION jobs_claim(p_org uuid, p_job uuid, p_kind text, p_worker text,
    p_now timestamptz, p_lease_until timestamptz, p_cap bigint)
RETURNS SETOF jobs
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('app.org_id', p_org::text, true), set_config('app.user_id', '', true),
        set_config('app.api_key_prefix', '', true), set_config('app.system', '', true),
        set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(hashtextextended('jobs:' || p_org::text || ':' || p_kind, 0));
    RETURN QUERY
    UPDATE jobs SET status = 'RUNNING', attempt = attempt + 1,
        fencing_token = fencing_token + 1, lease_owner = p_worker,
        lease_expires_at = p_lease_until, started_at = p_now, updated_at = p_now
    WHERE id = p_job AND org_id = p_org AND kind = p_kind AND status = 'QUEUED'
        AND run_after <= p_now
        AND (SELECT count(*) FROM jobs r
             WHERE r.org_id = p_org AND r.kind = p_kind AND r.status = 'RUNNING') < p_cap
        AND (jobs.group_key IS NULL OR (SELECT count(*) FROM jobs g
             WHERE g.org_id = jobs.org_id AND g.group_key = jobs.group_key
               AND g.status = 'RUNNING') < jobs.group_limit)
    RETURNING jobs.*;
    IF NOT FOUND THEN
        UPDATE jobs SET delivered_at = NULL
        WHERE id = p_job AND org_id = p_org AND kind = p_kind AND status = 'QUEUED'
            AND run_after <= p_now;
    END IF;
END
$$
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(manager, &[CREATE], &[]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        sql::run_for_backend(
            manager,
            &["DROP FUNCTION jobs_claim(uuid, uuid, text, text, timestamptz, timestamptz, bigint)"],
            &[],
        )
        .await
    }
}
