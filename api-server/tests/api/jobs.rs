//! Jobs through the API with the job runtime in-process: outcomes and attempts (success,
//! retry then dead letter, permanent failure, panic), cancellation of queued and running
//! jobs, the per-org cap, and the fencing token refusing a stale attempt's writes. On both
//! backends (SQLite queue; Redis on PostgreSQL).

use std::time::{Duration, Instant};

use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::support::{Backend, Caller, TestApp};
use crate::with_jobs_on_both;

with_jobs_on_both!(
    probe_outcomes_and_attempts_are_recorded,
    queued_and_running_jobs_can_be_cancelled,
    jobs_are_org_scoped_and_bad_input_is_refused,
    a_stale_attempt_cannot_write,
    claims_beyond_the_orgs_cap_are_refused,
    a_freed_slot_goes_to_a_parked_job_once,
);

const JOB: &str = "id kind status attempt maxAttempts progress lastError result attempts { attempt outcome error worker executor }";

pub async fn probe(app: &TestApp, sleep_ms: u64, behaviour: &str) -> Value {
    let r = app
        .gql(
            &app.admin_a.caller(),
            &format!("mutation($s: Int!, $b: FleetProbeBehaviour!) {{ runFleetProbe(input: {{ sleepMs: $s, behaviour: $b }}) {{ {JOB} }} }}"),
            json!({ "s": sleep_ms, "b": behaviour }),
        )
        .await;
    r.data()["runFleetProbe"].clone()
}

pub async fn job(app: &TestApp, caller: &Caller, id: &Value) -> Value {
    let r = app
        .gql(
            caller,
            &format!("query($id: ID!) {{ job(id: $id) {{ {JOB} }} }}"),
            json!({ "id": id }),
        )
        .await;
    r.data()["job"].clone()
}

/// Polls, as org A's ADMIN, until the job's status is one of `statuses` (panics after `within`).
pub async fn wait_for(app: &TestApp, id: &Value, statuses: &[&str], within: Duration) -> Value {
    wait_as(app, &app.admin_a.caller(), id, statuses, within).await
}

/// As [`wait_for`], as `caller`.
pub async fn wait_as(
    app: &TestApp,
    caller: &Caller,
    id: &Value,
    statuses: &[&str],
    within: Duration,
) -> Value {
    let start = Instant::now();
    loop {
        let j = job(app, caller, id).await;
        if statuses.iter().any(|s| j["status"] == *s) {
            return j;
        }
        assert!(
            start.elapsed() < within,
            "job still {} after {within:?}: {j}",
            j["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outcomes(j: &Value) -> Vec<String> {
    j["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect()
}

async fn probe_outcomes_and_attempts_are_recorded(backend: Backend) {
    let app = TestApp::builder(backend).jobs().start().await;
    let ok = probe(&app, 0, "SUCCEED").await;
    assert_eq!(ok["status"], "QUEUED");
    assert_eq!(ok["kind"], "fleet_probe");
    let retry = probe(&app, 0, "FAIL_RETRYABLE").await;
    let permanent = probe(&app, 0, "FAIL_PERMANENT").await;
    let panics = probe(&app, 0, "PANIC").await;

    let ok = wait_for(&app, &ok["id"], &["SUCCEEDED"], Duration::from_secs(10)).await;
    assert_eq!(ok["progress"], 100);
    assert_eq!(ok["attempt"], 1);
    assert_eq!(outcomes(&ok), ["SUCCEEDED"]);
    assert_eq!(ok["result"]["attempt"], 1);
    assert_eq!(ok["result"]["worker"], ok["attempts"][0]["worker"]);
    assert_eq!(ok["attempts"][0]["executor"], "FLEET");

    // Two attempts (the test setting), a backoff between them, then the dead letter.
    let retry = wait_for(&app, &retry["id"], &["DEAD"], Duration::from_secs(20)).await;
    assert_eq!(outcomes(&retry), ["RETRY", "DEAD"]);
    assert_eq!(retry["attempt"], 2);
    assert!(
        retry["lastError"]
            .as_str()
            .unwrap()
            .contains("probe asked to fail (attempt 2)"),
        "{retry}"
    );

    let permanent = wait_for(&app, &permanent["id"], &["FAILED"], Duration::from_secs(10)).await;
    assert_eq!(outcomes(&permanent), ["FAILED"]);

    // A panic fails the attempt, not the worker: it retries, dead-letters, and the
    // worker still runs the next job.
    let panics = wait_for(&app, &panics["id"], &["DEAD"], Duration::from_secs(20)).await;
    assert_eq!(outcomes(&panics), ["RETRY", "DEAD"]);
    assert!(
        panics["lastError"]
            .as_str()
            .unwrap()
            .starts_with("handler panicked: probe asked to panic"),
        "{panics}"
    );
    let after = probe(&app, 0, "SUCCEED").await;
    wait_for(&app, &after["id"], &["SUCCEEDED"], Duration::from_secs(10)).await;

    // The dead letters are listed, and a MANAGER can re-drive one.
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "{ jobs(status: [DEAD], first: 10) { edges { node { id status lastError } } } }",
            json!({}),
        )
        .await;
    let dead: Vec<&Value> = r.data()["jobs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    assert_eq!(dead.len(), 2);
    assert!(dead.contains(&&retry["id"]) && dead.contains(&&panics["id"]));
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($id: ID!) { retryJob(id: $id) { status } }",
            json!({ "id": retry["id"] }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(
            &app.manager_a.caller(),
            "mutation($id: ID!) { retryJob(id: $id) { status attempt } }",
            json!({ "id": retry["id"] }),
        )
        .await;
    assert_eq!(r.data()["retryJob"]["status"], "QUEUED");
    assert_eq!(r.data()["retryJob"]["attempt"], 0);
    let redriven = wait_for(&app, &retry["id"], &["DEAD"], Duration::from_secs(20)).await;
    assert_eq!(outcomes(&redriven), ["RETRY", "DEAD", "RETRY", "DEAD"]);
    let r = app
        .gql(
            &app.manager_a.caller(),
            "mutation($id: ID!) { retryJob(id: $id) { status } }",
            json!({ "id": ok["id"] }),
        )
        .await;
    assert_eq!(r.code(), "CONFLICT");
}

async fn queued_and_running_jobs_can_be_cancelled(backend: Backend) {
    // One running probe per org: the second waits queued behind the first.
    let app = TestApp::builder(backend)
        .env("OPSDECK_JOBS_ORG_CONCURRENCY", "1")
        .jobs()
        .start()
        .await;
    let long = probe(&app, 30_000, "SUCCEED").await;
    wait_for(&app, &long["id"], &["RUNNING"], Duration::from_secs(10)).await;
    let waiting = probe(&app, 0, "SUCCEED").await;
    // Org B's job is not held back by org A's cap.
    let r = app
        .gql(
            &app.admin_b.caller(),
            "mutation { runFleetProbe(input: { sleepMs: 0 }) { id } }",
            json!({}),
        )
        .await;
    let b_job = r.data()["runFleetProbe"]["id"].clone();
    wait_as(
        &app,
        &app.admin_b.caller(),
        &b_job,
        &["SUCCEEDED"],
        Duration::from_secs(10),
    )
    .await;
    let still = job(&app, &app.admin_a.caller(), &waiting["id"]).await;
    assert_eq!(still["status"], "QUEUED", "held by the org's cap: {still}");

    let cancel = "mutation($id: ID!) { cancelJob(id: $id) { status cancelRequestedAt } }";
    let r = app
        .gql(
            &app.viewer_a.caller(),
            cancel,
            json!({ "id": waiting["id"] }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(
            &app.engineer_a.caller(),
            cancel,
            json!({ "id": waiting["id"] }),
        )
        .await;
    assert_eq!(r.data()["cancelJob"]["status"], "CANCELLED");

    let r = app
        .gql(
            &app.engineer_a.caller(),
            cancel,
            json!({ "id": long["id"] }),
        )
        .await;
    assert_eq!(r.data()["cancelJob"]["status"], "RUNNING");
    assert!(r.data()["cancelJob"]["cancelRequestedAt"].is_string());
    // Stopped at the worker's next heartbeat (a sixth of the 2 s lease), not after 30 s.
    let stopped = wait_for(&app, &long["id"], &["CANCELLED"], Duration::from_secs(5)).await;
    assert_eq!(outcomes(&stopped), ["CANCELLED"]);
    // Cancelling again changes nothing; a finished job refuses.
    let r = app
        .gql(
            &app.engineer_a.caller(),
            cancel,
            json!({ "id": long["id"] }),
        )
        .await;
    assert_eq!(r.data()["cancelJob"]["status"], "CANCELLED");
    let r = app
        .gql(&app.admin_b.caller(), cancel, json!({ "id": b_job }))
        .await;
    assert_eq!(r.code(), "CONFLICT");
}

async fn jobs_are_org_scoped_and_bad_input_is_refused(backend: Backend) {
    let app = TestApp::builder(backend).jobs().start().await;
    let a_job = probe(&app, 0, "SUCCEED").await;
    wait_for(&app, &a_job["id"], &["SUCCEEDED"], Duration::from_secs(10)).await;
    let b = app.admin_b.caller();
    for (query, field) in [
        ("query($id: ID!) { job(id: $id) { id } }", "job"),
        (
            "mutation($id: ID!) { cancelJob(id: $id) { id } }",
            "cancelJob",
        ),
        (
            "mutation($id: ID!) { retryJob(id: $id) { id } }",
            "retryJob",
        ),
    ] {
        let r = app.gql(&b, query, json!({ "id": a_job["id"] })).await;
        assert_eq!(r.code(), "NOT_FOUND", "{field}: {}", r.body);
    }
    let r = app
        .gql(
            &b,
            "{ jobs(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        !r.data()["jobs"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["id"] == a_job["id"])
    );
    let r = app
        .gql(
            &app.manager_a.caller(),
            "mutation { runFleetProbe(input: {}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(
            &app.admin_a.caller(),
            "mutation { runFleetProbe(input: { sleepMs: 3600001 }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app
        .gql(
            &app.admin_a.caller(),
            "query { job(id: \"not-a-uuid\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
}

/// The leases of the claims that won.
fn winners(claims: &[domain::jobs::store::Claim]) -> Vec<&domain::jobs::store::Lease> {
    use domain::jobs::store::Claim;
    claims
        .iter()
        .filter_map(|c| match c {
            Claim::Claimed(l) => Some(l),
            Claim::Skipped(_) => None,
        })
        .collect()
}

/// A 0 ms probe queued in org A (no runtime picks it up), and the delivery a worker would get.
async fn queued_probe(
    app: &TestApp,
    policy: &domain::jobs::store::Policy,
) -> (domain::entity::job::Model, domain::jobs::Delivery) {
    let queued = domain::jobs::service::probe(
        &app.app.db,
        &domain::org::OrgCtx::system(app.org_a.id),
        domain::jobs::contracts::FleetProbe {
            sleep_ms: 0,
            behaviour: domain::jobs::contracts::ProbeBehaviour::Succeed,
        },
        policy,
    )
    .await
    .unwrap();
    let delivery = domain::jobs::Delivery {
        job_id: queued.id,
        org_id: queued.org_id,
        kind: queued.kind.clone(),
    };
    (queued, delivery)
}

/// Two workers race for one job: one claim wins. When its lease expires the reconciler
/// hands the job to the other, and the first attempt's late heartbeat and outcome are
/// refused by the fencing token.
async fn a_stale_attempt_cannot_write(backend: Backend) {
    use domain::jobs::store::{self, Claim, Outcome, Policy};
    let app = TestApp::new(backend).await; // no runtime: this test is the workers
    let db = &app.app.db;
    let policy = Policy {
        lease: Duration::from_millis(300),
        max_attempts: 3,
        retry_base: Duration::from_millis(1),
        retry_cap: Duration::from_millis(1),
        org_concurrency: 2,
        run_org_concurrency: 2,
    };
    let (queued, delivery) = queued_probe(&app, &policy).await;
    let (a, b) = tokio::join!(
        store::claim(db, &delivery, "worker-a", &policy),
        store::claim(db, &delivery, "worker-b", &policy),
    );
    let claims = [a.unwrap(), b.unwrap()];
    let won = winners(&claims);
    assert_eq!(won.len(), 1, "exactly one claim wins: {claims:?}");
    let first = won[0].clone();
    // Another org's transaction cannot claim it either.
    let forged = domain::jobs::Delivery {
        org_id: app.org_b.id,
        ..delivery.clone()
    };
    // A delivery that names another kind does not match the job (nor take that kind's slot).
    let mismatched = domain::jobs::Delivery {
        kind: "incident_report".to_owned(),
        ..delivery.clone()
    };
    for wrong in [forged, mismatched] {
        let refused = store::claim(db, &wrong, "worker-x", &policy).await.unwrap();
        assert!(
            matches!(refused, Claim::Skipped(store::Skip::Gone)),
            "{wrong:?}: {refused:?}"
        );
    }

    tokio::time::sleep(Duration::from_millis(400)).await;
    // The reconciler's step for an expired lease (run directly: a reconciler here would
    // also move other tests' jobs in the shared database).
    let tx = domain::db::begin(db, domain::db::Scope::system())
        .await
        .unwrap();
    let row = domain::entity::job::Entity::find_by_id(queued.id)
        .one(&tx)
        .await
        .unwrap()
        .unwrap();
    assert!(row.lease_expires_at.unwrap() < domain::time::now());
    assert!(store::expire_lease(&tx, &row, &policy).await.unwrap());
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let second = match store::claim(db, &delivery, "worker-b", &policy)
        .await
        .unwrap()
    {
        Claim::Claimed(l) => l,
        other => panic!("the reclaimed job is claimable: {other:?}"),
    };
    assert_eq!(second.attempt, 2);
    assert!(second.token > first.token);

    let late = store::heartbeat(db, &first, &policy, Some(50)).await;
    assert!(
        matches!(late, Err(domain::error::DomainError::LeaseLost)),
        "{late:?}"
    );
    let tx = domain::db::begin(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let refused = store::finish(
        &tx,
        &first,
        Outcome::Succeeded(Some(json!({ "by": "a" }))),
        &policy,
    )
    .await;
    assert!(
        matches!(refused, Err(domain::error::DomainError::LeaseLost)),
        "{refused:?}"
    );
    drop(tx);
    let tx = domain::db::begin(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    store::finish(
        &tx,
        &second,
        Outcome::Succeeded(Some(json!({ "by": "b" }))),
        &policy,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let j = job(&app, &app.admin_a.caller(), &json!(queued.id.to_string())).await;
    assert_eq!(j["status"], "SUCCEEDED");
    assert_eq!(j["result"]["by"], "b");
    assert_eq!(outcomes(&j), ["LEASE_EXPIRED", "SUCCEEDED"]);
    assert_eq!(j["attempts"][0]["worker"], first.worker.as_str());
    assert_eq!(j["attempts"][1]["worker"], "worker-b");
}

/// Four workers race for four jobs of an org capped at two running: two claims win, the
/// other two are refused for capacity and leave their jobs waiting for a slot (out of the
/// queue). A delivery of a job already running is refused as a duplicate.
async fn claims_beyond_the_orgs_cap_are_refused(backend: Backend) {
    use domain::entity::job;
    use domain::jobs::store::{self, Claim, Policy, Skip};
    let app = TestApp::new(backend).await; // no runtime: this test is the workers
    let db = &app.app.db;
    let policy = Policy {
        org_concurrency: 2,
        ..Policy::from(&app.app.config.jobs)
    };
    let mut deliveries = Vec::new();
    for _ in 0..4 {
        deliveries.push(queued_probe(&app, &policy).await.1);
    }
    let claims =
        futures::future::join_all(deliveries.iter().enumerate().map(|(i, d)| {
            store::claim(db, d, if i % 2 == 0 { "w-even" } else { "w-odd" }, &policy)
        }))
        .await;
    let claims: Vec<Claim> = claims.into_iter().map(Result::unwrap).collect();
    let won = winners(&claims);
    assert_eq!(won.len(), 2, "the cap is 2: {claims:?}");
    let tx = domain::db::begin_read(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    for (claim, delivery) in claims.iter().zip(&deliveries) {
        let row = job::Entity::find_by_id(delivery.job_id)
            .one(&tx)
            .await
            .unwrap()
            .unwrap();
        match claim {
            Claim::Claimed(lease) => {
                assert_eq!(
                    (row.status.as_str(), row.attempt, row.fencing_token),
                    ("RUNNING", 1, lease.token)
                );
                assert_eq!(lease.token, 1);
            }
            Claim::Skipped(why) => {
                assert_eq!(*why, Skip::AtCapacity);
                assert_eq!((row.status.as_str(), row.attempt), ("QUEUED", 0));
                assert!(
                    row.delivered_at.is_none(),
                    "it waits for a slot out of the queue"
                );
            }
        }
    }
    drop(tx);
    let running = deliveries
        .iter()
        .zip(&claims)
        .find(|(_, c)| matches!(c, Claim::Claimed(_)))
        .unwrap()
        .0;
    let again = store::claim(db, running, "w-late", &policy).await.unwrap();
    assert!(
        matches!(again, Claim::Skipped(Skip::NotQueued)),
        "{again:?}"
    );
}

/// The `job.enqueued` outbox rows written for `job_id`: one per delivery set on its way.
async fn deliveries_of(app: &TestApp, job_id: uuid::Uuid) -> usize {
    use domain::entity::outbox;
    let tx = domain::db::begin_read(&app.app.db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let rows = outbox::Entity::find().all(&tx).await.unwrap();
    tx.commit().await.unwrap();
    rows.iter()
        .filter(|r| r.event == domain::outbox::JOB_ENQUEUED)
        .filter(|r| r.payload["jobId"] == json!(job_id))
        .count()
}

/// A finish hands its freed slot to a job that a claim parked for capacity, and to it
/// only once; a job whose delivery is still in the outbox is not delivered a second time.
async fn a_freed_slot_goes_to_a_parked_job_once(backend: Backend) {
    use domain::entity::job;
    use domain::jobs::store::{self, Claim, Lease, Outcome, Policy, Skip};
    let app = TestApp::new(backend).await; // no runtime: no relay, this test is the workers
    let db = &app.app.db;
    let policy = Policy {
        org_concurrency: 1,
        ..Policy::from(&app.app.config.jobs)
    };
    let claim = |d: domain::jobs::Delivery| async move {
        store::claim(db, &d, "w", &policy).await.unwrap()
    };
    let finish = |lease: Lease| async move {
        let tx = domain::db::begin(db, domain::db::Scope::org(lease.org_id))
            .await
            .unwrap();
        let recorded = store::finish(&tx, &lease, Outcome::Succeeded(None), &policy)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        recorded.promoted
    };
    let leased = |c: Claim| match c {
        Claim::Claimed(lease) => lease,
        other => panic!("not claimed: {other:?}"),
    };

    // A runs; B's delivery is still in the outbox: A's finish leaves B alone.
    let (_, a) = queued_probe(&app, &policy).await;
    let (b_row, b) = queued_probe(&app, &policy).await;
    assert!(b_row.delivered_at.is_some(), "on its way in the outbox");
    let a = leased(claim(a).await);
    assert!(!finish(a).await, "nothing was waiting for a slot");
    assert_eq!(deliveries_of(&app, b.job_id).await, 1);

    // B runs; C is refused for the cap and parked. B's finish promotes C, once: the next
    // finish of the org does not promote it again while its delivery is on its way.
    let b = leased(claim(b).await);
    let (_, c) = queued_probe(&app, &policy).await;
    assert!(matches!(
        claim(c.clone()).await,
        Claim::Skipped(Skip::AtCapacity)
    ));
    let (_, d) = queued_probe(&app, &policy).await;
    assert!(finish(b).await, "C waited for the slot");
    assert_eq!(deliveries_of(&app, c.job_id).await, 2);
    let tx = domain::db::begin_read(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let parked = job::Entity::find_by_id(c.job_id)
        .one(&tx)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert!(parked.delivered_at.is_some(), "C's delivery is on its way");
    let d = leased(claim(d).await);
    assert!(!finish(d).await);
    assert_eq!(deliveries_of(&app, c.job_id).await, 2);
    leased(claim(c).await);
}

with_jobs_on_both!(an_unreadable_payload_is_dead_lettered_and_the_queue_flows);

async fn an_unreadable_payload_is_dead_lettered_and_the_queue_flows(backend: Backend) {
    use domain::entity::job;
    let app = TestApp::builder(backend).jobs().start().await;
    let db = &app.app.db;
    let id = uuid::Uuid::now_v7();
    let now = domain::time::now();
    let tx = domain::db::begin(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    // A payload no version of the contract reads (as if written by a broken producer).
    job::Entity::insert(job::ActiveModel::from(job::Model {
        id,
        org_id: app.org_a.id,
        kind: "fleet_probe".into(),
        payload: json!({ "sleepMs": "soon", "behaviour": "WHATEVER" }),
        status: "QUEUED".into(),
        attempt: 0,
        max_attempts: 2,
        run_after: now,
        lease_owner: None,
        lease_expires_at: None,
        fencing_token: 0,
        cancel_requested_at: None,
        progress: 0,
        result: None,
        last_error: None,
        delivered_at: Some(now),
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
        group_key: None,
        group_limit: None,
        error_class: None,
    }))
    .exec_without_returning(&tx)
    .await
    .unwrap();
    domain::outbox::enqueue(
        &tx,
        app.org_a.id,
        domain::outbox::JOB_ENQUEUED,
        json!({ "jobId": id, "kind": "fleet_probe" }),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    domain::jobs::relay::wake();
    let dead = wait_for(
        &app,
        &json!(id.to_string()),
        &["DEAD"],
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(outcomes(&dead), ["DEAD"], "no attempt can read it: {dead}");
    assert!(
        dead["lastError"]
            .as_str()
            .unwrap()
            .starts_with("unreadable fleet_probe payload"),
        "{dead}"
    );
    let next = probe(&app, 0, "SUCCEED").await;
    wait_for(&app, &next["id"], &["SUCCEEDED"], Duration::from_secs(10)).await;
}

/// Redis flushed while jobs are queued and running: the reconciler redelivers from the
/// database and the consumers re-register, so every job still completes, once.
mod redis_flushed_under_load {
    #[tokio::test]
    async fn postgres() {
        super::redis_flushed_under_load(crate::support::Backend::Postgres).await
    }
}

async fn redis_flushed_under_load(backend: Backend) {
    let app = TestApp::builder(backend)
        .env("OPSDECK_JOBS_REDELIVER_AFTER_SECS", "2")
        .env("OPSDECK_JOBS_ORG_CONCURRENCY", "4")
        .jobs()
        .start()
        .await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(probe(&app, 150, "SUCCEED").await["id"].clone());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Its own logical database only: FLUSHALL would empty the queues of the tests beside it.
    let url = app
        .app
        .config
        .redis_url
        .as_ref()
        .expect("a jobs test has Redis");
    let redis = redis::Client::open(url.expose()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
    for id in &ids {
        let j = wait_for(&app, id, &["SUCCEEDED"], Duration::from_secs(60)).await;
        let succeeded = outcomes(&j).iter().filter(|o| *o == "SUCCEEDED").count();
        assert_eq!(succeeded, 1, "completed once: {j}");
    }
    // The deliveries the flush dropped came back through the reconciler.
    let metrics = app.metrics().await;
    let redelivered: f64 = metrics
        .lines()
        .find(|l| l.starts_with("opsdeck_jobs_redelivered_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(redelivered > 0.0, "nothing was redelivered:\n{metrics}");
}

with_jobs_on_both!(one_orgs_backlog_does_not_starve_another);

/// Org A queues hundreds of jobs; org B's single job, queued after all of them, runs long
/// before A's backlog drains (A holds at most its cap of the workers).
async fn one_orgs_backlog_does_not_starve_another(backend: Backend) {
    let app = TestApp::builder(backend)
        .env("OPSDECK_JOBS_ORG_CONCURRENCY", "1")
        .jobs()
        .start()
        .await;
    let db = &app.app.db;
    let policy = domain::jobs::store::Policy::from(&app.app.config.jobs);
    let a = domain::org::OrgCtx::system(app.org_a.id);
    let backlog = 200;
    for _ in 0..backlog {
        domain::jobs::service::probe(
            db,
            &a,
            domain::jobs::contracts::FleetProbe {
                sleep_ms: 20,
                behaviour: domain::jobs::contracts::ProbeBehaviour::Succeed,
            },
            &policy,
        )
        .await
        .unwrap();
    }
    let r = app
        .gql(
            &app.admin_b.caller(),
            "mutation { runFleetProbe(input: {}) { id } }",
            json!({}),
        )
        .await;
    let b_job = r.data()["runFleetProbe"]["id"].clone();
    // B starves if this times out.
    wait_as(
        &app,
        &app.admin_b.caller(),
        &b_job,
        &["SUCCEEDED"],
        Duration::from_secs(10),
    )
    .await;
    // At 20 ms a job and one at a time, A's backlog needs at least 4 s: most of it waits.
    let r = app
        .gql(
            &app.admin_a.caller(),
            "{ jobs(status: [QUEUED], first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let waiting = r.data()["jobs"]["edges"].as_array().unwrap().len();
    assert!(
        waiting > 50,
        "B ran while A's backlog was still queued ({waiting} left)"
    );
}
