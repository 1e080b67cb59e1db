//! `jobs_finish`: an attempt's outcome on PostgreSQL as one statement. A finish is four
//! writes and a look-up (the job's conditional update, its attempt row, its
//! `job.status_changed` outbox row, the next parked job of the org and kind and that job's
//! delivery); as client statements in a transaction they were seven round trips, the
//! largest share of a job's on a machine whose cores the database shares with its clients.
//!
//! The caller computes what the outcome means (status, error, retry time) and passes every
//! id, so the rows are those the SQLite path writes, with the same time-ordered ids. Called
//! alone it commits as its own transaction (an outcome without writes of its own); called
//! inside a transaction it commits with the handler's writes. Unlike the claim, it waits
//! for its WAL flush: a finish lost in a crash would run the job again.
//!
//! No row when the fencing token has moved on (the lease was lost): nothing is written.

use sea_orm_migration::prelude::*;

use crate::sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &str = r#"
CREATE FUNCTION jobs_finish(p_org uuid, p_job uuid, p_token bigint, p_now timestamptz,
    p_status text, p_error text, p_error_class text, p_result jsonb,
    p_retry_at timestamptz, p_released boolean,
    p_attempt_id uuid, p_attempt integer, p_worker text, p_started_at timestamptz,
    p_outcome text, p_executor text, p_status_event uuid, p_delivery_event uuid)
RETURNS TABLE (job jobs, promoted boolean)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    finished jobs;
    next_id uuid;
BEGIN
    PERFORM set_config('app.org_id', p_org::text, true), set_config('app.user_id', '', true),
        set_config('app.api_key_prefix', '', true), set_config('app.system', '', true);
    UPDATE jobs SET status = p_status, lease_owner = NULL, lease_expires_at = NULL,
        updated_at = p_now, last_error = COALESCE(p_error, last_error),
        error_class = p_error_class,
        result = CASE WHEN p_status = 'SUCCEEDED' THEN p_result ELSE result END,
        progress = CASE WHEN p_status = 'SUCCEEDED' THEN 100 ELSE progress END,
        finished_at = CASE WHEN p_retry_at IS NULL THEN p_now ELSE finished_at END,
        run_after = COALESCE(p_retry_at, run_after),
        delivered_at = CASE WHEN p_retry_at IS NULL THEN delivered_at ELSE NULL END,
        attempt = CASE WHEN p_released THEN attempt - 1 ELSE attempt END
    WHERE id = p_job AND org_id = p_org AND status = 'RUNNING' AND fencing_token = p_token
    RETURNING * INTO finished;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO job_attempts (id, org_id, job_id, attempt, fencing_token, worker, outcome,
        error, started_at, finished_at, executor, error_class)
    VALUES (p_attempt_id, p_org, p_job, p_attempt, p_token, p_worker, p_outcome, p_error,
        p_started_at, p_now, p_executor, p_error_class);
    INSERT INTO outbox (id, org_id, event, payload, created_at)
    VALUES (p_status_event, p_org, 'job.status_changed',
        jsonb_build_object('jobId', finished.id, 'kind', finished.kind,
            'status', finished.status, 'attempt', finished.attempt), p_now);
    -- The freed slot goes to the org's oldest parked job of the kind whose group has
    -- room; two finishes at once take two different jobs.
    SELECT j.id INTO next_id FROM jobs j
    WHERE j.org_id = p_org AND j.kind = finished.kind AND j.status = 'QUEUED'
        AND j.run_after <= p_now AND j.delivered_at IS NULL AND j.id <> p_job
        AND (j.group_key IS NULL OR (SELECT count(*) FROM jobs g
             WHERE g.org_id = j.org_id AND g.group_key = j.group_key
               AND g.status = 'RUNNING') < j.group_limit)
    ORDER BY j.id LIMIT 1
    FOR UPDATE SKIP LOCKED;
    promoted := false;
    IF next_id IS NOT NULL THEN
        UPDATE jobs SET delivered_at = p_now
        WHERE id = next_id AND status = 'QUEUED' AND delivered_at IS NULL;
        IF FOUND THEN
            INSERT INTO outbox (id, org_id, event, payload, created_at)
            VALUES (p_delivery_event, p_org, 'job.enqueued',
                jsonb_build_object('jobId', next_id, 'kind', finished.kind), p_now);
            promoted := true;
        END IF;
    END IF;
    job := finished;
    RETURN NEXT;
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
            &[
                "DROP FUNCTION jobs_finish(uuid, uuid, bigint, timestamptz, text, text, text, \
               jsonb, timestamptz, boolean, uuid, integer, text, timestamptz, text, text, \
               uuid, uuid)",
            ],
            &[],
        )
        .await
    }
}
