//! The SLA sweep, timestamp corrections, action items, saved views and metrics, on both
//! backends, with tenant isolation for each new id-taking field.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Persona, TestApp};

async fn create(app: &TestApp, who: &Persona, title: &str, severity: &str) -> Value {
    let r = app
        .gql(&who.caller(), "mutation($t: String!, $s: Severity!) { createIncident(input: { title: $t, severity: $s }) { id version detectedAt } }", json!({ "t": title, "s": severity }))
        .await;
    r.data()["createIncident"].clone()
}

async fn advance(app: &TestApp, inc: &Value, steps: &[&str]) -> Value {
    let mut inc = inc.clone();
    for to in steps {
        let r = app
            .gql(&app.manager_a.caller(), "mutation($id: ID!, $to: IncidentStatus!, $v: Int!) { transitionIncident(input: { id: $id, to: $to, expectedVersion: $v, note: \"n\" }) { id version detectedAt } }", json!({ "id": inc["id"], "to": to, "v": inc["version"] }))
            .await;
        inc = r.data()["transitionIncident"].clone();
    }
    inc
}

both_backends!(
    sla_events_are_recorded_exactly_once,
    timestamp_corrections_are_validated_and_recorded,
    action_items_and_overdue,
    saved_views_are_private_unless_shared,
    metrics_match_a_hand_computed_fixture,
);

async fn sla_events_are_recorded_exactly_once(app: TestApp) {
    let inc = create(&app, &app.engineer_a, "Pager storm", "SEV1").await; // ack 5 min, resolve 60
    let b_inc = create(&app, &app.admin_b, "Other org", "SEV1").await;
    let db = &app.app.db;
    let now = Utc::now();
    let eval = domain::incidents::sla::evaluate;
    let sla_entries = async |id: &Value, caller: crate::support::Caller| -> Vec<String> {
        let r = app.gql(&caller, "query($id: ID!) { incident(id: $id) { timeline(first: 100) { edges { node { kind actorType data } } } } }", json!({ "id": id })).await;
        r.data()["incident"]["timeline"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["kind"] == "sla")
            .map(|e| {
                format!(
                    "{}:{}:{}",
                    e["node"]["data"]["clock"].as_str().unwrap(),
                    e["node"]["data"]["state"].as_str().unwrap(),
                    e["node"]["actorType"].as_str().unwrap()
                )
            })
            .collect()
    };
    // Before the at-risk point (75 % of 5 min) nothing is recorded.
    eval(db, now + Duration::minutes(3)).await.unwrap();
    assert!(
        sla_entries(&inc["id"], app.viewer_a.caller())
            .await
            .is_empty()
    );
    let at_4 = now + Duration::minutes(4);
    // Two sweeps at once: one records ACK AT_RISK, the other nothing.
    let (x, y) = tokio::join!(eval(db, at_4), eval(db, at_4));
    assert_eq!(
        sla_entries(&inc["id"], app.viewer_a.caller()).await,
        ["ACK:AT_RISK:system"]
    );
    assert!(
        x.unwrap() + y.unwrap() >= 2,
        "both orgs' incidents were swept"
    );
    // Later, concurrently again: BREACHED once; AT_RISK is not repeated.
    let at_50 = now + Duration::minutes(50);
    let (x, y) = tokio::join!(eval(db, at_50), eval(db, at_50));
    x.unwrap();
    y.unwrap();
    assert_eq!(
        sla_entries(&inc["id"], app.viewer_a.caller()).await,
        [
            "ACK:AT_RISK:system",
            "ACK:BREACHED:system",
            "RESOLVE:AT_RISK:system"
        ]
    );
    assert_eq!(
        sla_entries(&b_inc["id"], app.admin_b.caller()).await,
        [
            "ACK:AT_RISK:system",
            "ACK:BREACHED:system",
            "RESOLVE:AT_RISK:system"
        ]
    );
    // An acknowledged incident's ACK clock no longer runs; a resolved one is left alone.
    let acked = advance(&app, &inc, &["INVESTIGATING", "MITIGATED", "RESOLVED"]).await;
    eval(db, now + Duration::minutes(120)).await.unwrap();
    assert_eq!(
        sla_entries(&acked["id"], app.viewer_a.caller()).await.len(),
        3
    );
    let tx = domain::db::begin(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let outbox = domain::entity::outbox::Entity::find()
        .filter(domain::entity::outbox::Column::OrgId.eq(app.org_a.id))
        .filter(
            domain::entity::outbox::Column::Event
                .is_in(["incident.sla_at_risk", "incident.sla_breached"]),
        )
        .count(&tx)
        .await
        .unwrap();
    assert_eq!(outbox, 3, "one outbox event per recorded SLA event");
}

async fn timestamp_corrections_are_validated_and_recorded(app: TestApp) {
    let inc = create(&app, &app.engineer_a, "Late page", "SEV2").await;
    let inc = advance(&app, &inc, &["INVESTIGATING"]).await;
    let detected = chrono::DateTime::parse_from_rfc3339(inc["detectedAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let q = "mutation($i: CorrectIncidentTimestampsInput!) { correctIncidentTimestamps(input: $i) { version detectedAt impactStartedAt acknowledgedAt } }";
    let at = |m: i64| (detected + Duration::minutes(m)).to_rfc3339();
    let base = |extra: Value| {
        let mut i = json!({ "id": inc["id"], "expectedVersion": inc["version"] });
        i.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "i": i })
    };
    let refused = [
        (json!({ "mitigatedAt": at(-1) }), "mitigatedAt"), // not reached yet
        (
            json!({ "impactStartedAt": at(-10), "detectedAt": at(-20) }),
            "detectedAt",
        ), // impact after detection
        (json!({ "acknowledgedAt": at(-10) }), "acknowledgedAt"), // before detection
        (json!({ "detectedAt": at(600) }), "detectedAt"),  // in the future
    ];
    for (fix, field) in refused {
        let r = app.gql(&app.manager_a.caller(), q, base(fix.clone())).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{fix}");
        assert_eq!(
            r.body["errors"][0]["extensions"]["fields"][0]["field"], field,
            "{fix}: {}",
            r.body
        );
    }
    let by_engineer = app
        .gql(
            &app.engineer_a.caller(),
            q,
            base(json!({ "impactStartedAt": at(-30) })),
        )
        .await;
    assert_eq!(by_engineer.code(), "FORBIDDEN");
    let r = app.gql(&app.manager_a.caller(), q, base(json!({ "impactStartedAt": at(-30), "detectedAt": at(-20), "note": "pager was silenced" }))).await;
    let fixed = &r.data()["correctIncidentTimestamps"];
    assert_eq!(fixed["version"], inc["version"].as_i64().unwrap() + 1);
    let t = app.gql(&app.viewer_a.caller(), "query($id: ID!) { incident(id: $id) { timeline { edges { node { kind body data } } } } }", json!({ "id": inc["id"] })).await;
    let last = t.data()["incident"]["timeline"]["edges"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["node"]
        .clone();
    assert_eq!(
        (last["kind"].as_str(), last["body"].as_str()),
        (Some("timestamps_corrected"), Some("pager was silenced"))
    );
    assert_eq!(
        last["data"]["detectedAt"]["from"]
            .as_str()
            .map(|s| s.parse::<chrono::DateTime<Utc>>().unwrap()),
        Some(detected)
    );
}

async fn action_items_and_overdue(app: TestApp) {
    let inc = create(&app, &app.engineer_a, "Needs follow-up", "SEV2").await;
    let q = "mutation($i: CreateActionItemInput!) { createActionItem(input: $i) { id title overdue assigneeId } }";
    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let future = (Utc::now() + Duration::days(7)).to_rfc3339();
    let eng = app.engineer_a.caller();
    let outsider = app.gql(&eng, q, json!({ "i": { "incidentId": inc["id"], "title": "x", "assigneeId": app.admin_b.user_id } })).await;
    assert_eq!(outsider.code(), "NOT_FOUND");
    let empty = app
        .gql(
            &eng,
            q,
            json!({ "i": { "incidentId": inc["id"], "title": " " } }),
        )
        .await;
    assert_eq!(empty.code(), "BAD_USER_INPUT");
    let late = app.gql(&eng, q, json!({ "i": { "incidentId": inc["id"], "title": "Add disk alert", "dueAt": past, "assigneeId": app.viewer_a.user_id } })).await;
    let late = late.data()["createActionItem"].clone();
    assert_eq!(late["overdue"], true);
    app.gql(
        &eng,
        q,
        json!({ "i": { "incidentId": inc["id"], "title": "Write runbook", "dueAt": future } }),
    )
    .await
    .data();
    let r = app.gql(&app.viewer_a.caller(), "query($id: ID!) { incident(id: $id) { actionItems { title } overdueActionItems { title } } }", json!({ "id": inc["id"] })).await;
    assert_eq!(
        r.data()["incident"]["overdueActionItems"],
        json!([{ "title": "Add disk alert" }])
    );
    assert_eq!(
        r.data()["incident"]["actionItems"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let done = app
        .gql(
            &eng,
            "mutation($id: ID!) { completeActionItem(id: $id) { overdue completedAt } }",
            json!({ "id": late["id"] }),
        )
        .await;
    assert_eq!(done.data()["completeActionItem"]["overdue"], false);
    let again = app
        .gql(
            &eng,
            "mutation($id: ID!) { completeActionItem(id: $id) { completedAt } }",
            json!({ "id": late["id"] }),
        )
        .await;
    assert_eq!(
        again.data()["completeActionItem"]["completedAt"],
        done.data()["completeActionItem"]["completedAt"]
    );
    // Org B cannot see, complete or add to A's items.
    let b = app.admin_b.caller();
    let r = app
        .gql(
            &b,
            "mutation($id: ID!) { completeActionItem(id: $id) { id } }",
            json!({ "id": late["id"] }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app
        .gql(
            &b,
            q,
            json!({ "i": { "incidentId": inc["id"], "title": "sneak" } }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
}

async fn saved_views_are_private_unless_shared(app: TestApp) {
    let q = "mutation($i: CreateSavedViewInput!) { createSavedView(input: $i) { id name filter orderBy shared } }";
    let mine = app
        .gql(&app.viewer_a.caller(), q, json!({ "i": { "name": "My SEV1s", "filter": { "severity": ["SEV1"], "status": ["DETECTED"] }, "orderBy": { "field": "UPDATED_AT", "direction": "DESC" } } }))
        .await;
    let mine = mine.data()["createSavedView"].clone();
    assert_eq!(
        mine["filter"]["severity"],
        json!(["SEV1"]),
        "the filter comes back in the API's own shape"
    );
    assert_eq!(
        mine["orderBy"],
        json!({ "field": "UPDATED_AT", "direction": "DESC" })
    );
    app.gql(
        &app.engineer_a.caller(),
        q,
        json!({ "i": { "name": "Team board", "filter": { "tags": ["db"] }, "shared": true } }),
    )
    .await
    .data();
    let names = async |p: &Persona| -> Vec<String> {
        let r = app
            .gql(&p.caller(), "{ savedViews { name } }", json!({}))
            .await;
        r.data()["savedViews"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&app.viewer_a).await, ["My SEV1s", "Team board"]);
    assert_eq!(
        names(&app.manager_a).await,
        ["Team board"],
        "a private view is its owner's only"
    );
    assert!(names(&app.admin_b).await.is_empty());
    let bad = app
        .gql(
            &app.viewer_a.caller(),
            q,
            json!({ "i": { "name": "", "filter": {} } }),
        )
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
    // The saved filter runs as it was saved.
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "query($f: IncidentFilter) { incidents(filter: $f) { edges { node { id } } } }",
            json!({ "f": mine["filter"] }),
        )
        .await;
    r.data();
}

async fn metrics_match_a_hand_computed_fixture(app: TestApp) {
    let now = Utc::now();
    let t0 = now - Duration::days(1);
    let mgr = app.manager_a.caller();
    // Acknowledged after 60, 120, 180 and 600 s; one never acknowledged; one cancelled.
    for (i, ack) in [60i64, 120, 180, 600].iter().enumerate() {
        let sev = if i < 2 { "SEV2" } else { "SEV3" };
        let inc = create(&app, &app.engineer_a, &format!("m{i}"), sev).await;
        let inc = advance(&app, &inc, &["INVESTIGATING", "MITIGATED", "RESOLVED"]).await;
        let fix = json!({ "i": {
            "id": inc["id"], "expectedVersion": inc["version"],
            "impactStartedAt": (t0 - Duration::seconds(30 * (i as i64 + 1))).to_rfc3339(),
            "detectedAt": t0.to_rfc3339(),
            "acknowledgedAt": (t0 + Duration::seconds(*ack)).to_rfc3339(),
            "mitigatedAt": (t0 + Duration::seconds(ack * 2)).to_rfc3339(),
            "resolvedAt": (t0 + Duration::seconds(ack * 10)).to_rfc3339(),
        } });
        let r = app.gql(&mgr, "mutation($i: CorrectIncidentTimestampsInput!) { correctIncidentTimestamps(input: $i) { id } }", fix).await;
        r.data();
    }
    create(&app, &app.engineer_a, "never acked", "SEV2").await;
    let c = create(&app, &app.engineer_a, "cancelled", "SEV2").await;
    advance(&app, &c, &["CANCELLED"]).await;
    let q = "query($f: DateTime!, $t: DateTime!, $g: MetricsGroupBy!) { incidentMetrics(from: $f, to: $t, groupBy: $g) { key count unacknowledged
        timeToAcknowledge { medianSeconds p90Seconds meanSeconds sampleSize }
        timeToResolve { medianSeconds sampleSize } timeToDetect { medianSeconds sampleSize } timeToMitigate { meanSeconds } } }";
    let vars = |g: &str| json!({ "f": (t0 - Duration::hours(1)).to_rfc3339(), "t": (now + Duration::hours(1)).to_rfc3339(), "g": g });
    let r = app.gql(&app.viewer_a.caller(), q, vars("NONE")).await;
    let all = &r.data()["incidentMetrics"][0];
    assert_eq!(
        (all["count"].as_i64(), all["unacknowledged"].as_i64()),
        (Some(5), Some(1)),
        "{all}"
    );
    let close = |v: &Value, want: f64| {
        let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
        assert!((got - want).abs() < 0.01, "{got} != {want}");
    };
    let ack = &all["timeToAcknowledge"];
    assert_eq!(ack["sampleSize"], 4);
    close(&ack["medianSeconds"], 150.0); // (120 + 180) / 2
    close(&ack["p90Seconds"], 474.0); // rank 2.7: 180 + 0.7 × 420
    close(&ack["meanSeconds"], 240.0);
    close(&all["timeToMitigate"]["meanSeconds"], 480.0);
    close(&all["timeToResolve"]["medianSeconds"], 1500.0);
    assert_eq!(all["timeToResolve"]["sampleSize"], 4);
    close(&all["timeToDetect"]["medianSeconds"], 75.0); // 30, 60, 90, 120 s
    let r = app.gql(&app.viewer_a.caller(), q, vars("SEVERITY")).await;
    let groups = r.data()["incidentMetrics"].as_array().unwrap().clone();
    let keys: Vec<&str> = groups.iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["SEV2", "SEV3"]);
    assert_eq!(
        (groups[0]["count"].as_i64(), groups[1]["count"].as_i64()),
        (Some(3), Some(2))
    );
    close(&groups[1]["timeToAcknowledge"]["medianSeconds"], 390.0);
    // Org B sees none of it; a reversed period is refused.
    let b = app.gql(&app.admin_b.caller(), q, vars("NONE")).await;
    assert_eq!(b.data()["incidentMetrics"][0]["count"], 0);
    let bad = app
        .gql(
            &app.viewer_a.caller(),
            q,
            json!({ "f": now.to_rfc3339(), "t": t0.to_rfc3339(), "g": "NONE" }),
        )
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
}

mod postgres_only {
    use super::*;
    use crate::support::Backend;
    use domain::db::{Scope, begin};
    use domain::entity::sla_event;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    use uuid::Uuid;

    /// A sweep that meets another transaction's uncommitted SLA event gives up on that org
    /// after its lock wait, sweeps the other orgs, and reports the failure; once the other
    /// transaction has gone, the next sweep records what was left.
    #[tokio::test]
    async fn a_held_lock_fails_one_organizations_sweep_alone() {
        let app = TestApp::new(Backend::Postgres).await;
        let held = create(&app, &app.engineer_a, "Held", "SEV1").await;
        let free = create(&app, &app.admin_b, "Free", "SEV1").await;
        let db = &app.app.db;
        let at_4 = Utc::now() + Duration::minutes(4);
        let holder = begin(db, Scope::org(app.org_a.id)).await.unwrap();
        let incident_id: Uuid = held["id"].as_str().unwrap().parse().unwrap();
        sla_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(app.org_a.id),
            incident_id: Set(incident_id),
            clock: Set("ACK".into()),
            state: Set("AT_RISK".into()),
            due_at: Set(at_4),
            recorded_at: Set(at_4),
        }
        .insert(&holder)
        .await
        .unwrap();

        let started = std::time::Instant::now();
        let swept = domain::incidents::sla::evaluate(db, at_4).await;
        let waited = started.elapsed();
        let err = swept.expect_err("org A's sweep cannot record past the held insert");
        assert!(err.to_string().contains("lock timeout"), "{err}");
        assert!(
            waited < std::time::Duration::from_secs(30),
            "bounded wait: {waited:?}"
        );
        let kinds = async |id: &Value, caller: crate::support::Caller| -> usize {
            let r = app.gql(&caller, "query($id: ID!) { incident(id: $id) { timeline { edges { node { kind } } } } }", json!({ "id": id })).await;
            r.data()["incident"]["timeline"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["node"]["kind"] == "sla")
                .count()
        };
        assert_eq!(
            kinds(&free["id"], app.admin_b.caller()).await,
            1,
            "org B was swept"
        );
        assert_eq!(kinds(&held["id"], app.viewer_a.caller()).await, 0);

        holder.rollback().await.unwrap();
        assert_eq!(domain::incidents::sla::evaluate(db, at_4).await.unwrap(), 1);
        assert_eq!(kinds(&held["id"], app.viewer_a.caller()).await, 1);
    }
}
