//! Incidents through the API on both backends: lifecycle, concurrency, duplicates,
//! assignment, bad input, lists, SLA clocks and tenant isolation.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::support::{Caller, Persona, TestApp};

const FIELDS: &str = "id number key title status severity version acknowledgedAt mitigatedAt resolvedAt closedAt allowedTransitions createdByType createdById";

async fn create(app: &TestApp, who: &Persona, title: &str, severity: &str) -> Value {
    let q = format!(
        "mutation($t: String!, $s: Severity!) {{ createIncident(input: {{ title: $t, severity: $s }}) {{ {FIELDS} }} }}"
    );
    let r = app
        .gql(&who.caller(), &q, json!({ "t": title, "s": severity }))
        .await;
    r.data()["createIncident"].clone()
}

async fn transition(
    app: &TestApp,
    who: &Caller,
    inc: &Value,
    to: &str,
    note: Option<&str>,
) -> crate::support::Gql {
    let q = format!(
        "mutation($id: ID!, $to: IncidentStatus!, $v: Int!, $n: String) {{ transitionIncident(input: {{ id: $id, to: $to, expectedVersion: $v, note: $n }}) {{ {FIELDS} }} }}"
    );
    app.gql(
        who,
        &q,
        json!({ "id": inc["id"], "to": to, "v": inc["version"], "n": note }),
    )
    .await
}

async fn moved(app: &TestApp, who: &Persona, inc: &Value, to: &str) -> Value {
    let r = transition(app, &who.caller(), inc, to, None).await;
    r.data()["transitionIncident"].clone()
}

async fn scalar(app: &TestApp, org: Uuid, sql: &str) -> i64 {
    let tx = domain::db::begin(&app.app.db, domain::db::Scope::org(org))
        .await
        .unwrap();
    let backend = tx.get_database_backend();
    let row = tx
        .query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

both_backends!(
    lifecycle_follows_the_rules,
    stale_and_concurrent_changes_conflict,
    cancel_reopen_and_close_rules,
    duplicates_point_to_the_survivor,
    assignment_takes_members_only,
    bad_input_is_refused_and_changes_nothing,
    lists_filter_order_and_paginate,
    sla_clocks_follow_policy_and_severity,
    another_orgs_incidents_are_not_found,
    timeline_is_append_only,
);

async fn lifecycle_follows_the_rules(app: TestApp) {
    let eng = &app.engineer_a;
    let inc = create(&app, eng, "Checkout errors", "SEV1").await;
    assert_eq!(
        (
            inc["number"].as_i64(),
            inc["key"].as_str(),
            inc["status"].as_str()
        ),
        (Some(1), Some("INC-1"), Some("DETECTED"))
    );
    assert_eq!(inc["version"], 1);
    assert_eq!(
        (inc["createdByType"].as_str(), inc["createdById"].as_str()),
        (Some("user"), Some(eng.user_id.to_string().as_str()))
    );
    assert_eq!(
        inc["allowedTransitions"],
        json!(["INVESTIGATING", "CANCELLED"])
    );
    assert_eq!(create(&app, eng, "Second", "SEV3").await["number"], 2);

    let inc = moved(&app, eng, &inc, "INVESTIGATING").await;
    assert!(inc["acknowledgedAt"].is_string());
    assert_eq!(inc["version"], 2);
    let skipped = transition(&app, &eng.caller(), &inc, "RESOLVED", None).await;
    assert_eq!(skipped.code(), "BAD_USER_INPUT");
    assert_eq!(
        skipped.body["errors"][0]["extensions"]["allowedNextStates"],
        json!(["MITIGATED", "CANCELLED"])
    );
    let inc = moved(&app, eng, &inc, "MITIGATED").await;
    assert!(inc["mitigatedAt"].is_string());
    let inc = moved(&app, eng, &inc, "RESOLVED").await;
    assert!(inc["resolvedAt"].is_string());
    // SEV1 needs a postmortem; postmortem and closing need a MANAGER.
    let close = transition(&app, &app.manager_a.caller(), &inc, "CLOSED", None).await;
    assert_eq!(close.code(), "BAD_USER_INPUT");
    assert_eq!(
        close.body["errors"][0]["extensions"]["allowedNextStates"],
        json!(["POSTMORTEM", "INVESTIGATING"])
    );
    let pm = transition(&app, &eng.caller(), &inc, "POSTMORTEM", None).await;
    assert_eq!(pm.code(), "FORBIDDEN");
    let viewer = transition(&app, &app.viewer_a.caller(), &inc, "POSTMORTEM", None).await;
    assert_eq!(viewer.code(), "FORBIDDEN");
    let inc = moved(&app, &app.manager_a, &inc, "POSTMORTEM").await;
    let inc = moved(&app, &app.manager_a, &inc, "CLOSED").await;
    assert!(inc["closedAt"].is_string());
    assert_eq!(inc["allowedTransitions"], json!([]));
    let after = transition(&app, &app.admin_a.caller(), &inc, "INVESTIGATING", None).await;
    assert_eq!(after.code(), "BAD_USER_INPUT");
    assert_eq!(
        after.body["errors"][0]["extensions"]["allowedNextStates"],
        json!([])
    );

    // Timestamps were set in order; the timeline and audit log tell the same story.
    let ts = |k: &str| chrono::DateTime::parse_from_rfc3339(inc[k].as_str().unwrap()).unwrap();
    assert!(
        ts("acknowledgedAt") <= ts("mitigatedAt")
            && ts("mitigatedAt") <= ts("resolvedAt")
            && ts("resolvedAt") <= ts("closedAt")
    );
    let r = app
        .gql(&app.viewer_a.caller(), "query($id: ID!) { incident(id: $id) { timeline(first: 50) { edges { node { kind actorType data } } } } }", json!({ "id": inc["id"] }))
        .await;
    let kinds: Vec<String> = r.data()["incident"]["timeline"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["node"]["kind"].as_str().unwrap(),
                e["node"]["data"]["to"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "created:",
            "status_changed:INVESTIGATING",
            "status_changed:MITIGATED",
            "status_changed:RESOLVED",
            "status_changed:POSTMORTEM",
            "status_changed:CLOSED"
        ]
    );
    let id = inc["id"].as_str().unwrap();
    let audited = scalar(
        &app,
        app.org_a.id,
        &format!(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'incident.%' AND target_id = {}",
            id_literal(&app, id)
        ),
    )
    .await;
    assert_eq!(audited, 6);
    let events = scalar(
        &app,
        app.org_a.id,
        &format!(
            "SELECT count(*) FROM outbox WHERE event = 'incident.status_changed' AND org_id = {}",
            id_literal(&app, &app.org_a.id.to_string())
        ),
    )
    .await;
    assert_eq!(events, 5, "one outbox event per transition");
}

/// A uuid as a SQL literal on either backend (BLOB on SQLite).
fn id_literal(app: &TestApp, id: &str) -> String {
    let u = Uuid::parse_str(id).unwrap();
    match app.app.db.get_database_backend() {
        DbBackend::Postgres => format!("'{u}'"),
        _ => format!("X'{}'", u.simple()),
    }
}

async fn stale_and_concurrent_changes_conflict(app: TestApp) {
    let eng = &app.engineer_a;
    let inc = create(&app, eng, "Race", "SEV2").await;
    let (e, m) = (eng.caller(), app.manager_a.caller());
    let (a, b) = tokio::join!(
        transition(&app, &e, &inc, "INVESTIGATING", None),
        transition(&app, &m, &inc, "CANCELLED", Some("false alarm")),
    );
    let outcomes = [a.body["errors"].is_null(), b.body["errors"].is_null()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly one wins: {} / {}",
        a.body,
        b.body
    );
    let loser = if outcomes[0] { &b } else { &a };
    assert_eq!(loser.code(), "CONFLICT");
    assert_eq!(loser.body["errors"][0]["extensions"]["currentVersion"], 2);
    let r = app.gql(&eng.caller(), "query($id: ID!) { incident(id: $id) { version status timeline { edges { node { kind } } } } }", json!({ "id": inc["id"] })).await;
    assert_eq!(r.data()["incident"]["version"], 2);
    assert_eq!(
        r.data()["incident"]["timeline"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the loser left no trace"
    );
    // A stale version is refused with the current state.
    let stale = app
        .gql(&eng.caller(), "mutation($id: ID!) { updateIncident(input: { id: $id, expectedVersion: 1, title: \"x\" }) { id } }", json!({ "id": inc["id"] }))
        .await;
    assert_eq!(stale.code(), "CONFLICT");
    let ext = &stale.body["errors"][0]["extensions"];
    assert_eq!(
        (
            ext["currentVersion"].as_i64(),
            ext["currentStatus"].is_string()
        ),
        (Some(2), true)
    );
}

async fn cancel_reopen_and_close_rules(app: TestApp) {
    let eng = &app.engineer_a;
    let inc = create(&app, eng, "Maybe nothing", "SEV3").await;
    let no_reason = transition(&app, &app.manager_a.caller(), &inc, "CANCELLED", None).await;
    assert_eq!(no_reason.code(), "BAD_USER_INPUT");
    assert_eq!(
        no_reason.body["errors"][0]["extensions"]["fields"][0]["field"],
        "note"
    );
    let by_engineer = transition(&app, &eng.caller(), &inc, "CANCELLED", Some("noise")).await;
    assert_eq!(by_engineer.code(), "FORBIDDEN");
    let cancelled = transition(
        &app,
        &app.manager_a.caller(),
        &inc,
        "CANCELLED",
        Some("noise"),
    )
    .await;
    let cancelled = &cancelled.data()["transitionIncident"];
    assert_eq!(cancelled["status"], "CANCELLED");
    assert!(
        cancelled["acknowledgedAt"].is_string(),
        "leaving DETECTED acknowledges"
    );

    let inc = create(&app, eng, "Flapping", "SEV4").await;
    let inc = moved(&app, eng, &inc, "INVESTIGATING").await;
    let inc = moved(&app, eng, &inc, "MITIGATED").await;
    let inc = moved(&app, eng, &inc, "RESOLVED").await;
    assert_eq!(
        inc["allowedTransitions"],
        json!(["POSTMORTEM", "INVESTIGATING", "CLOSED"])
    );
    let reopened = moved(&app, eng, &inc, "INVESTIGATING").await;
    assert!(
        reopened["resolvedAt"].is_null(),
        "re-opening starts resolution over"
    );
    assert_eq!(
        reopened["acknowledgedAt"], inc["acknowledgedAt"],
        "acknowledgement stays"
    );
    let inc = moved(&app, eng, &reopened, "MITIGATED").await;
    let inc = moved(&app, eng, &inc, "RESOLVED").await;
    let closed = moved(&app, &app.manager_a, &inc, "CLOSED").await;
    assert_eq!(
        closed["status"], "CLOSED",
        "SEV4 may close without a postmortem"
    );
    let edit = app
        .gql(&eng.caller(), "mutation($id: ID!, $v: Int!) { updateIncident(input: { id: $id, expectedVersion: $v, title: \"late\" }) { id } }", json!({ "id": closed["id"], "v": closed["version"] }))
        .await;
    assert_eq!(
        edit.code(),
        "BAD_USER_INPUT",
        "a closed incident is read-only"
    );
}

async fn duplicates_point_to_the_survivor(app: TestApp) {
    let eng = &app.engineer_a;
    let survivor = create(&app, eng, "DB down", "SEV1").await;
    let dup = create(&app, eng, "Site slow", "SEV2").await;
    let q = "mutation($id: ID!, $of: ID!, $v: Int!) { markIncidentDuplicate(input: { id: $id, duplicateOfId: $of, expectedVersion: $v }) { status version duplicateOf { id key } allowedTransitions } }";
    let own = app
        .gql(
            &eng.caller(),
            q,
            json!({ "id": dup["id"], "of": dup["id"], "v": 1 }),
        )
        .await;
    assert_eq!(own.code(), "BAD_USER_INPUT");
    let b_inc = create(&app, &app.admin_b, "B's", "SEV3").await;
    let foreign = app
        .gql(
            &eng.caller(),
            q,
            json!({ "id": dup["id"], "of": b_inc["id"], "v": 1 }),
        )
        .await;
    assert_eq!(
        foreign.code(),
        "NOT_FOUND",
        "another org's incident is not a survivor"
    );
    let r = app
        .gql(
            &eng.caller(),
            q,
            json!({ "id": dup["id"], "of": survivor["id"], "v": 1 }),
        )
        .await;
    let marked = &r.data()["markIncidentDuplicate"];
    assert_eq!(
        (marked["status"].as_str(), marked["version"].as_i64()),
        (Some("DUPLICATE"), Some(2))
    );
    assert_eq!(marked["duplicateOf"]["key"], "INC-1");
    assert_eq!(marked["allowedTransitions"], json!([]));
    let again = app
        .gql(
            &eng.caller(),
            q,
            json!({ "id": dup["id"], "of": survivor["id"], "v": 2 }),
        )
        .await;
    assert_eq!(again.code(), "BAD_USER_INPUT");
    let t = app.gql(&eng.caller(), "query($id: ID!) { incident(id: $id) { version timeline { edges { node { kind data } } } } }", json!({ "id": survivor["id"] })).await;
    let edges = t.data()["incident"]["timeline"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.last().unwrap()["node"]["kind"], "duplicate_received");
    assert_eq!(
        edges.last().unwrap()["node"]["data"]["incidentId"],
        dup["id"]
    );
}

async fn assignment_takes_members_only(app: TestApp) {
    let eng = &app.engineer_a;
    let inc = create(&app, eng, "Assign me", "SEV2").await;
    let q = "mutation($id: ID!, $c: ID, $a: [ID!]!, $v: Int!) { assignIncident(input: { id: $id, commanderId: $c, assigneeIds: $a, expectedVersion: $v }) { version commander { id } assignees { id } } }";
    let outsider = app
        .gql(
            &eng.caller(),
            q,
            json!({ "id": inc["id"], "c": app.admin_b.user_id, "a": [], "v": 1 }),
        )
        .await;
    assert_eq!(
        outsider.code(),
        "NOT_FOUND",
        "a user of another org reads like no user"
    );
    let r = app.gql(&eng.caller(), q, json!({ "id": inc["id"], "c": app.manager_a.user_id, "a": [app.engineer_a.user_id, app.viewer_a.user_id, app.engineer_a.user_id], "v": 1 })).await;
    let a = &r.data()["assignIncident"];
    assert_eq!(a["commander"]["id"], app.manager_a.user_id.to_string());
    assert_eq!(
        a["assignees"],
        json!([{ "id": app.engineer_a.user_id.to_string() }, { "id": app.viewer_a.user_id.to_string() }])
    );
    let mine = app
        .gql(
            &eng.caller(),
            "query($u: ID!) { incidents(filter: { assigneeId: $u }) { edges { node { id } } } }",
            json!({ "u": app.viewer_a.user_id }),
        )
        .await;
    assert_eq!(
        mine.data()["incidents"]["edges"],
        json!([{ "node": { "id": inc["id"] } }])
    );
    let led = app
        .gql(
            &eng.caller(),
            "query($u: ID!) { incidents(filter: { assigneeId: $u }) { edges { node { id } } } }",
            json!({ "u": app.manager_a.user_id }),
        )
        .await;
    assert_eq!(
        led.data()["incidents"]["edges"].as_array().unwrap().len(),
        1,
        "the commander counts"
    );
}

async fn bad_input_is_refused_and_changes_nothing(app: TestApp) {
    let eng = app.engineer_a.caller();
    let q = "mutation($i: CreateIncidentInput!) { createIncident(input: $i) { id } }";
    let long = "x".repeat(10_000);
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let cases = [
        (json!({ "title": "  ", "severity": "SEV1" }), Some("title")),
        (json!({ "title": long, "severity": "SEV1" }), Some("title")),
        (json!({ "title": "ok", "severity": "SEV9" }), None),
        (
            json!({ "title": "ok", "severity": "SEV1", "tags": ["Has Space"] }),
            Some("tags"),
        ),
        (
            json!({ "title": "ok", "severity": "SEV1", "tags": ["UPPER"] }),
            Some("tags"),
        ),
        (
            json!({ "title": "ok", "severity": "SEV1", "impactStartedAt": future }),
            Some("impactStartedAt"),
        ),
        (
            json!({ "title": "ok", "severity": "SEV1", "description": "d".repeat(50_001) }),
            Some("description"),
        ),
    ];
    for (input, field) in cases {
        let r = app.gql(&eng, q, json!({ "i": input })).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{input}");
        if let Some(f) = field {
            assert_eq!(
                r.body["errors"][0]["extensions"]["fields"][0]["field"], f,
                "{}",
                r.body
            );
        }
    }
    let inc = create(&app, &app.engineer_a, "Real one", "SEV2").await;
    assert_eq!(inc["number"], 1, "refused creations used no number");
    let comment = app.gql(&eng, "mutation($id: ID!) { addIncidentComment(input: { incidentId: $id, body: \"  \" }) { id } }", json!({ "id": inc["id"] })).await;
    assert_eq!(comment.code(), "BAD_USER_INPUT");
    let ok = app.gql(&eng, "mutation($id: ID!) { addIncidentComment(input: { incidentId: $id, body: \"**Rolled back** deploy 42\" }) { kind body } }", json!({ "id": inc["id"] })).await;
    assert_eq!(
        ok.data()["addIncidentComment"],
        json!({ "kind": "comment", "body": "**Rolled back** deploy 42" })
    );
    let bad_id = app
        .gql(&eng, "{ incident(id: \"not-a-uuid\") { id } }", json!({}))
        .await;
    assert_eq!(bad_id.code(), "BAD_USER_INPUT");
    let r = app
        .gql(
            &eng,
            "query($id: ID!) { incident(id: $id) { version title } }",
            json!({ "id": inc["id"] }),
        )
        .await;
    assert_eq!(
        r.data()["incident"],
        json!({ "version": 1, "title": "Real one" }),
        "comments do not bump the version"
    );
}

async fn lists_filter_order_and_paginate(app: TestApp) {
    let eng = &app.engineer_a;
    let q = "mutation($i: CreateIncidentInput!) { createIncident(input: $i) { id } }";
    for (title, sev, tags) in [
        ("Disk full on db-1", "SEV2", json!(["db", "storage"])),
        ("Login 100% errors", "SEV1", json!(["auth"])),
        ("Slow search", "SEV3", json!(["search", "db"])),
        ("Typo on pricing page", "SEV4", json!([])),
        ("Replica lag", "SEV2", json!(["db"])),
    ] {
        let description = if title == "Replica lag" {
            "Rolled back the schema change"
        } else {
            ""
        };
        app.gql(
            &eng.caller(),
            q,
            json!({ "i": { "title": title, "severity": sev, "tags": tags, "service": "core", "description": description } }),
        )
        .await
        .data();
    }
    let list = async |args: &str| -> Vec<String> {
        let r = app
            .gql(
                &eng.caller(),
                &format!("{{ incidents{args} {{ edges {{ node {{ title }} }} }} }}"),
                json!({}),
            )
            .await;
        r.data()["incidents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list("").await[0], "Replica lag", "newest first by default");
    assert_eq!(
        list("(filter: { severity: [SEV2] })").await,
        ["Replica lag", "Disk full on db-1"]
    );
    assert_eq!(
        list("(filter: { tags: [\"db\", \"storage\"] })").await,
        ["Disk full on db-1"]
    );
    assert_eq!(
        list("(filter: { search: \"100%\" })").await,
        ["Login 100% errors"],
        "punctuation is no syntax"
    );
    assert_eq!(
        list("(filter: { search: \"SLOW\" })").await,
        ["Slow search"]
    );
    let search = async |text: &str| -> Vec<String> {
        let r = app
            .gql(&eng.caller(), "query($s: String) { incidents(filter: { search: $s }) { edges { node { title } } } }", json!({ "s": text }))
            .await;
        r.data()["incidents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(search("error").await, ["Login 100% errors"], "stemmed");
    assert_eq!(search("disk db").await, ["Disk full on db-1"], "every word");
    assert!(search("disk auth").await.is_empty());
    assert_eq!(
        search("rolling back").await,
        ["Replica lag"],
        "descriptions too"
    );
    assert!(
        search("%%% ' \" ( NEAR * :").await.is_empty(),
        "any input is safe"
    );
    assert_eq!(
        list("(filter: { service: \"other\" })").await,
        Vec::<String>::new()
    );
    assert_eq!(
        list("(orderBy: { field: SEVERITY, direction: ASC })").await,
        [
            "Login 100% errors",
            "Disk full on db-1",
            "Replica lag",
            "Slow search",
            "Typo on pricing page"
        ]
    );
    // Pages of two, with incidents created between pages: nothing skipped, nothing twice.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = app
            .gql(&eng.caller(), "query($a: String) { incidents(first: 2, after: $a, orderBy: { field: CREATED_AT, direction: ASC }) { edges { node { title } } pageInfo { hasNextPage endCursor } } }", json!({ "a": after }))
            .await;
        let page = r.data()["incidents"].clone();
        seen.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["title"].as_str().unwrap().to_owned()),
        );
        if seen.len() == 2 {
            app.gql(
                &eng.caller(),
                q,
                json!({ "i": { "title": "Arrived mid-way", "severity": "SEV4" } }),
            )
            .await
            .data();
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.last().unwrap(), "Arrived mid-way");
    let wrong = app.gql(&eng.caller(), "query($a: String) { incidents(after: $a, orderBy: { field: SEVERITY, direction: ASC }) { edges { cursor } } }", json!({ "a": after })).await;
    assert_eq!(
        wrong.code(),
        "BAD_USER_INPUT",
        "a cursor of another order is refused"
    );
}

async fn sla_clocks_follow_policy_and_severity(app: TestApp) {
    let eng = &app.engineer_a;
    let q = format!(
        "mutation($s: Severity!) {{ createIncident(input: {{ title: \"x\", severity: $s }}) {{ {FIELDS} detectedAt sla {{ ackDueAt resolveDueAt ackState resolveState }} }} }}"
    );
    let r = app.gql(&eng.caller(), &q, json!({ "s": "SEV1" })).await;
    let inc = r.data()["createIncident"].clone();
    let t = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(
        t(&inc["sla"]["ackDueAt"]) - t(&inc["detectedAt"]),
        chrono::Duration::minutes(5)
    );
    assert_eq!(
        t(&inc["sla"]["resolveDueAt"]) - t(&inc["detectedAt"]),
        chrono::Duration::minutes(60)
    );
    assert_eq!(inc["sla"]["ackState"], "ON_TRACK");

    let policies = app
        .gql(
            &app.viewer_a.caller(),
            "{ slaPolicies { severity ackMinutes resolveMinutes atRiskPercent } }",
            json!({}),
        )
        .await;
    assert_eq!(
        policies.data()["slaPolicies"][3],
        json!({ "severity": "SEV4", "ackMinutes": 240, "resolveMinutes": 4320, "atRiskPercent": 75 })
    );
    let up = "mutation($a: Int!, $r: Int!) { upsertSlaPolicy(input: { severity: SEV2, ackMinutes: $a, resolveMinutes: $r, atRiskPercent: 50 }) { ackMinutes } }";
    assert_eq!(
        app.gql(&app.manager_a.caller(), up, json!({ "a": 0, "r": 10 }))
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.gql(&app.manager_a.caller(), up, json!({ "a": 30, "r": 10 }))
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    app.gql(&app.manager_a.caller(), up, json!({ "a": 30, "r": 600 }))
        .await
        .data();

    // A severity change moves the due times and says so on the timeline.
    let r = app
        .gql(&eng.caller(), "mutation($id: ID!) { updateIncident(input: { id: $id, expectedVersion: 1, severity: SEV2 }) { version sla { ackDueAt resolveDueAt } timeline { edges { node { kind data } } } } }", json!({ "id": inc["id"] }))
        .await;
    let u = &r.data()["updateIncident"];
    assert_eq!(
        t(&u["sla"]["ackDueAt"]) - t(&inc["detectedAt"]),
        chrono::Duration::minutes(30)
    );
    assert_eq!(
        t(&u["sla"]["resolveDueAt"]) - t(&inc["detectedAt"]),
        chrono::Duration::minutes(600)
    );
    let last = u["timeline"]["edges"].as_array().unwrap().last().unwrap()["node"].clone();
    assert_eq!(
        (
            last["kind"].as_str(),
            last["data"]["from"].as_str(),
            last["data"]["to"].as_str()
        ),
        (Some("severity_changed"), Some("SEV1"), Some("SEV2"))
    );
    assert_eq!(t(&last["data"]["ackDueAt"]), t(&u["sla"]["ackDueAt"]));
    let acked = moved(
        &app,
        eng,
        &json!({ "id": inc["id"], "version": u["version"] }),
        "INVESTIGATING",
    )
    .await;
    let r = app
        .gql(
            &eng.caller(),
            "query($id: ID!) { incident(id: $id) { sla { ackState resolveState } } }",
            json!({ "id": acked["id"] }),
        )
        .await;
    assert_eq!(
        r.data()["incident"]["sla"],
        json!({ "ackState": "MET", "resolveState": "ON_TRACK" })
    );
    // Org B still has the defaults.
    let b = app
        .gql(
            &app.admin_b.caller(),
            "{ slaPolicies { ackMinutes } }",
            json!({}),
        )
        .await;
    assert_eq!(b.data()["slaPolicies"][1]["ackMinutes"], 15);
}

async fn another_orgs_incidents_are_not_found(app: TestApp) {
    let inc = create(&app, &app.engineer_a, "A's secret incident", "SEV1").await;
    let b = app.admin_b.caller();
    let id = inc["id"].clone();
    let probes = [
        (
            "query($id: ID!) { incident(id: $id) { id } }",
            json!({ "id": id }),
        ),
        ("{ incidentByNumber(number: 1) { id } }", json!({})),
        (
            "mutation($id: ID!) { updateIncident(input: { id: $id, expectedVersion: 1, title: \"pwn\" }) { id } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { transitionIncident(input: { id: $id, to: INVESTIGATING, expectedVersion: 1 }) { id } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { assignIncident(input: { id: $id, assigneeIds: [], expectedVersion: 1 }) { id } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { addIncidentComment(input: { incidentId: $id, body: \"hi\" }) { id } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!, $of: ID!) { markIncidentDuplicate(input: { id: $id, duplicateOfId: $of, expectedVersion: 1 }) { id } }",
            json!({ "id": id, "of": Uuid::now_v7() }),
        ),
        (
            "mutation($id: ID!) { correctIncidentTimestamps(input: { id: $id, expectedVersion: 1, impactStartedAt: \"2026-01-01T00:00:00Z\" }) { id } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { createActionItem(input: { incidentId: $id, title: \"sneak\" }) { id } }",
            json!({ "id": id }),
        ),
    ];
    for (q, vars) in probes {
        let r = app.gql(&b, q, vars).await;
        assert_eq!(
            (r.code(), r.message()),
            ("NOT_FOUND", "incident not found"),
            "{q}"
        );
    }
    let own = create(&app, &app.admin_b, "B's own", "SEV4").await;
    assert_eq!(own["number"], 1, "numbers are per organization");
    let r = app
        .gql(
            &b,
            "{ incidents { edges { node { title } } } incidentByNumber(number: 1) { title } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.data()["incidents"]["edges"],
        json!([{ "node": { "title": "B's own" } }])
    );
    assert_eq!(r.data()["incidentByNumber"]["title"], "B's own");
    // And A's incident is untouched.
    let a = app
        .gql(
            &app.viewer_a.caller(),
            "query($id: ID!) { incident(id: $id) { title version } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        a.data()["incident"],
        json!({ "title": "A's secret incident", "version": 1 })
    );
}

async fn timeline_is_append_only(app: TestApp) {
    create(&app, &app.engineer_a, "History", "SEV3").await;
    for sql in [
        "UPDATE incident_timeline SET kind = 'forged'",
        "DELETE FROM incident_timeline",
    ] {
        let tx = domain::db::begin(&app.app.db, domain::db::Scope::org(app.org_a.id))
            .await
            .unwrap();
        let err = tx.execute_unprepared(sql).await.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
}

/// Statements executed so far by this test process (each nextest test is its own process).
async fn statements(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .filter(|l| l.starts_with("opsdeck_db_statements_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

both_backends!(a_page_costs_the_same_statements_at_any_size);

async fn a_page_costs_the_same_statements_at_any_size(app: TestApp) {
    let q = "query($n: Int!) { incidents(first: $n) { edges { node { id key commander { id } assignees { id }
        sla { ackState } timeline(first: 10) { edges { node { kind } } } } } } }";
    let caller = app.viewer_a.caller();
    for i in 0..12 {
        let inc = create(&app, &app.engineer_a, &format!("n+1 probe {i}"), "SEV3").await;
        let r = app
            .gql(&app.engineer_a.caller(), "mutation($id: ID!, $c: ID) { assignIncident(input: { id: $id, commanderId: $c, assigneeIds: [], expectedVersion: 1 }) { id } }", json!({ "id": inc["id"], "c": app.manager_a.user_id }))
            .await;
        r.data();
    }
    app.gql(&caller, q, json!({ "n": 1 })).await.data(); // warm the credential cache
    let mut costs = Vec::new();
    for n in [2, 12] {
        let before = statements(&app).await;
        let r = app.gql(&caller, q, json!({ "n": n })).await;
        assert_eq!(
            r.data()["incidents"]["edges"].as_array().unwrap().len(),
            n as usize
        );
        costs.push(statements(&app).await - before);
    }
    assert_eq!(
        costs[0], costs[1],
        "statements for 2 vs 12 incidents: {costs:?}"
    );
    // The list, assignees, users, SLA policies, timelines (and transaction set-up): a few,
    // and counted at all (a zero would mean the counter is broken, not that batching works).
    assert!(
        (4..=12).contains(&costs[0]),
        "a page with its users, SLA and timelines: {costs:?}"
    );
}

both_backends!(a_page_reads_what_it_selects_in_its_own_transaction);

/// The list reads the first timeline pages and the assignees it was asked for in the page's
/// own transaction (one more statement each, no second transaction), and any other shape of
/// `timeline` selection still gets its own, correct page.
async fn a_page_reads_what_it_selects_in_its_own_transaction(app: TestApp) {
    let eng = app.engineer_a.caller();
    for i in 0..3 {
        let inc = create(&app, &app.engineer_a, &format!("prefetch {i}"), "SEV3").await;
        for body in ["first note", "second note"] {
            app.gql(&eng, "mutation($id: ID!, $b: String!) { addIncidentComment(input: { incidentId: $id, body: $b }) { id } }", json!({ "id": inc["id"], "b": body }))
                .await
                .data();
        }
    }
    let caller = app.viewer_a.caller();
    let cost = async |q: &str, vars: Value| {
        let before = statements(&app).await;
        let r = app.gql(&caller, q, vars).await;
        (statements(&app).await - before, r)
    };
    let plain = "{ incidents(first: 3) { edges { node { id } } } }";
    cost(plain, json!({})).await; // warm the credential cache
    let (base, _) = cost(plain, json!({})).await;
    let (with_timeline, r) = cost(
        "query($t: Int) { incidents(first: 3) { edges { node { id timeline(first: $t) { edges { node { kind body } } pageInfo { hasNextPage } } } } } }",
        json!({ "t": 2 }),
    )
    .await;
    assert_eq!(
        with_timeline - base,
        1,
        "the timelines' one statement, in the page's transaction"
    );
    let edges = r.data()["incidents"]["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 3);
    for e in &edges {
        let t = &e["node"]["timeline"];
        assert_eq!(t["edges"].as_array().unwrap().len(), 2, "{t}");
        assert_eq!(
            t["pageInfo"]["hasNextPage"], true,
            "created + two notes: {t}"
        );
    }
    let (with_assignees, r) = cost(
        "{ incidents(first: 3) { edges { node { id assignees { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(with_assignees - base, 1, "the assignees' one statement");
    r.data();

    // Two sizes at once, and a later page: each as the incident's own timeline says.
    let q = "query($after: String) { incidents(first: 3) { edges { node { id
        one: timeline(first: 1) { edges { cursor node { body } } }
        all: timeline(first: 5) { edges { node { body } } }
        later: timeline(first: 5, after: $after) { edges { node { body } } } } } } }";
    let first_id = edges[0]["node"]["id"].clone();
    let own = app.gql(&caller, "query($id: ID!) { incident(id: $id) { timeline(first: 5) { edges { cursor node { body } } } } }", json!({ "id": first_id })).await;
    let own = own.data()["incident"]["timeline"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(own.len(), 3);
    let r = app
        .gql(&caller, q, json!({ "after": own[0]["cursor"] }))
        .await;
    let node = &r.data()["incidents"]["edges"][0]["node"];
    assert_eq!(node["id"], first_id);
    let bodies = |v: &Value| -> Vec<Value> {
        v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["body"].clone())
            .collect()
    };
    let own_bodies: Vec<Value> = own.iter().map(|e| e["node"]["body"].clone()).collect();
    assert_eq!(bodies(&node["one"]), own_bodies[..1]);
    assert_eq!(bodies(&node["all"]), own_bodies);
    assert_eq!(bodies(&node["later"]), own_bodies[1..]);
}
