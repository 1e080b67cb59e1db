//! Incident reports end to end: requested through the API, rendered by the in-process
//! worker, stored (local store on SQLite, the S3 test server on PostgreSQL) and
//! downloaded through the short-lived link; contents checked; org-scoped.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use crate::support::{Backend, Persona, TestApp};
use crate::with_jobs_on_both;

with_jobs_on_both!(
    csv_and_json_reports_render_and_download,
    a_pdf_report_is_a_real_document,
);

const REPORT: &str =
    "id format status progress error rowCount sizeBytes downloadUrl from to job { kind attempt }";

async fn create(app: &TestApp, who: &Persona, title: &str, severity: &str) -> Value {
    let r = app
        .gql(&who.caller(), "mutation($t: String!, $s: Severity!) { createIncident(input: { title: $t, severity: $s }) { id version } }", json!({ "t": title, "s": severity }))
        .await;
    r.data()["createIncident"].clone()
}

async fn request(app: &TestApp, who: &Persona, vars: Value) -> crate::support::Gql {
    app.gql(
        &who.caller(),
        &format!("mutation($f: ReportFormat!, $from: DateTime!, $to: DateTime!, $filter: IncidentFilter) {{ requestIncidentReport(input: {{ format: $f, from: $from, to: $to, filter: $filter }}) {{ {REPORT} }} }}"),
        vars,
    )
    .await
}

async fn wait_done(app: &TestApp, id: &Value) -> Value {
    let start = Instant::now();
    loop {
        let r = app
            .gql(
                &app.viewer_a.caller(),
                &format!("query($id: ID!) {{ report(id: $id) {{ {REPORT} }} }}"),
                json!({ "id": id }),
            )
            .await;
        let report = r.data()["report"].clone();
        if report["status"] == "SUCCEEDED" {
            return report;
        }
        assert!(
            ["QUEUED", "RUNNING"].contains(&report["status"].as_str().unwrap()),
            "{report}"
        );
        assert!(start.elapsed() < Duration::from_secs(20), "{report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn csv_and_json_reports_render_and_download(backend: Backend) {
    let app = TestApp::builder(backend).jobs().start().await;
    let from = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let evil = create(&app, &app.engineer_a, "=HYPERLINK(\"http://x\")", "SEV1").await;
    create(&app, &app.engineer_a, "Checkout, \"slow\"", "SEV2").await;
    let acked = create(&app, &app.engineer_a, "@sum(A1)", "SEV1").await;
    let r = app
        .gql(&app.engineer_a.caller(), "mutation($id: ID!, $v: Int!) { transitionIncident(input: { id: $id, to: INVESTIGATING, expectedVersion: $v }) { id } }", json!({ "id": acked["id"], "v": acked["version"] }))
        .await;
    r.data();
    create(&app, &app.admin_b, "Org B's own", "SEV1").await;
    let to = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();

    let csv = request(
        &app,
        &app.viewer_a,
        json!({ "f": "CSV", "from": from, "to": to }),
    )
    .await;
    let csv = csv.data()["requestIncidentReport"].clone();
    assert_eq!(csv["status"], "QUEUED");
    assert!(csv["downloadUrl"].is_null());
    let json_report = request(
        &app,
        &app.viewer_a,
        json!({ "f": "JSON", "from": from, "to": to, "filter": { "severity": ["SEV1"] } }),
    )
    .await;
    let json_report = json_report.data()["requestIncidentReport"].clone();

    let csv = wait_done(&app, &csv["id"]).await;
    assert_eq!(csv["rowCount"], 3);
    assert_eq!(csv["progress"], 100);
    assert_eq!(csv["job"]["kind"], "incident_report");
    let body = app
        .http
        .get(csv["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(body.status().is_success(), "{}", body.status());
    let text = body.text().await.unwrap();
    assert_eq!(text.len() as i64, csv["sizeBytes"].as_i64().unwrap());
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("number,key,id,title,severity,status"));
    assert!(
        text.contains(r#""'=HYPERLINK(""http://x"")""#),
        "formula escaped and quoted per RFC 4180: {text}"
    );
    assert!(text.contains(r#""Checkout, ""slow""""#), "{text}");
    assert!(text.contains("'@sum(A1)"), "{text}");
    assert!(!text.contains("Org B"), "{text}");
    let acked_line = lines.iter().find(|l| l.contains("@sum")).unwrap();
    let cells: Vec<&str> = acked_line.split(',').collect();
    assert!(
        cells[16].parse::<f64>().unwrap() >= 0.0,
        "time to acknowledge: {acked_line}"
    );

    let json_report = wait_done(&app, &json_report["id"]).await;
    let doc: Value = app
        .http
        .get(json_report["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["count"], 2);
    assert_eq!(doc["organization"], "Org A");
    let titles: Vec<&str> = doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["=HYPERLINK(\"http://x\")", "@sum(A1)"]);
    assert!(doc["incidents"][1]["timeToAcknowledgeSeconds"].is_number());
    assert!(doc["incidents"][0]["timeToAcknowledgeSeconds"].is_null());
    assert_eq!(doc["incidents"][0]["id"], evil["id"]);

    // Retention: a report older than its org's retentionDays loses its file to the sweep.
    let r = app
        .gql(
            &app.manager_a.caller(),
            "mutation { updateOrganization(input: { retentionDays: 1 }) { retentionDays } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(
            &app.admin_a.caller(),
            "mutation { updateOrganization(input: { retentionDays: 0 }) { retentionDays } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app
        .gql(
            &app.admin_a.caller(),
            "mutation { updateOrganization(input: { retentionDays: 1 }) { retentionDays } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["updateOrganization"]["retentionDays"], 1);
    let db = &app.app.db;
    let csv_id: uuid::Uuid = csv["id"].as_str().unwrap().parse().unwrap();
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let tx = domain::db::begin(db, domain::db::Scope::org(app.org_a.id))
            .await
            .unwrap();
        domain::entity::report::Entity::update_many()
            .col_expr(
                domain::entity::report::Column::CreatedAt,
                Expr::value(Utc::now() - chrono::Duration::days(2)),
            )
            .filter(domain::entity::report::Column::Id.eq(csv_id))
            .exec(&tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let purged = domain::reports::purge_expired(db, &app.app.store)
        .await
        .unwrap();
    assert!(purged >= 1);
    let r = app
        .gql(
            &app.viewer_a.caller(),
            &format!("query($id: ID!) {{ report(id: $id) {{ {REPORT} expiresAt }} }}"),
            json!({ "id": csv["id"] }),
        )
        .await;
    let expired = r.data()["report"].clone();
    assert!(expired["downloadUrl"].is_null(), "{expired}");
    assert_eq!(expired["status"], "SUCCEEDED");
    let gone = app
        .http
        .get(csv["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        !gone.status().is_success(),
        "the file is deleted: {}",
        gone.status()
    );
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "query($id: ID!) { report(id: $id) { downloadUrl } }",
            json!({ "id": json_report["id"] }),
        )
        .await;
    assert!(
        r.data()["report"]["downloadUrl"].is_string(),
        "a recent report keeps its file"
    );

    // Org-scoped: B sees neither report.
    let r = app
        .gql(
            &app.admin_b.caller(),
            "query($id: ID!) { report(id: $id) { id } }",
            json!({ "id": csv["id"] }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app
        .gql(
            &app.admin_b.caller(),
            "{ reports(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["reports"]["edges"], json!([]));
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "{ reports(first: 1) { edges { node { id } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.data()["reports"]["edges"][0]["node"]["id"],
        json_report["id"]
    );
    assert_eq!(r.data()["reports"]["pageInfo"]["hasNextPage"], true);

    // Bad input changes nothing.
    for (vars, field) in [
        (json!({ "f": "CSV", "from": to, "to": from }), "to"),
        (
            json!({ "f": "CSV", "from": from, "to": "2099-01-01T00:00:00Z" }),
            "to",
        ),
    ] {
        let r = request(&app, &app.viewer_a, vars).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
        assert_eq!(
            r.body["errors"][0]["extensions"]["fields"][0]["field"],
            field
        );
    }
    let r = app
        .gql(
            &app.viewer_a.caller(),
            "{ reports(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["reports"]["edges"].as_array().unwrap().len(), 2);
}

/// The PDF opens in poppler: its text has the title page, the summary's counts and the
/// incident table, and its summary page renders to an image.
async fn a_pdf_report_is_a_real_document(backend: Backend) {
    let app = TestApp::builder(backend).jobs().start().await;
    let from = (Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    for (title, severity) in [
        ("Database failover", "SEV1"),
        ("Slow search", "SEV3"),
        ("Login errors", "SEV1"),
    ] {
        create(&app, &app.engineer_a, title, severity).await;
    }
    let to = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = request(
        &app,
        &app.viewer_a,
        json!({ "f": "PDF", "from": from, "to": to }),
    )
    .await;
    let pdf = wait_done(&app, &r.data()["requestIncidentReport"]["id"]).await;
    assert_eq!(pdf["format"], "PDF");
    let bytes = app
        .http
        .get(pdf["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let dir = std::env::temp_dir().join(format!("opsdeck-pdf-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, &bytes).unwrap();

    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "Incident report",
        "Org A",
        "Summary",
        "3 incidents",
        "Time to acknowledge",
        "Incidents per day",
        "Time to resolve",
        "Database failover",
        "Login errors",
        "page 3 of 3",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let sev1 = text
        .lines()
        .find(|l| l.trim_start().starts_with("SEV1") && !l.contains("INC-"))
        .unwrap_or_else(|| panic!("no SEV1 count line in:\n{text}"));
    assert!(sev1.contains(" 2"), "SEV1 count: {sev1}");

    let png = dir.join("page");
    let status = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "40", "-f", "2", "-l", "2"])
        .arg(&file)
        .arg(&png)
        .status()
        .unwrap();
    assert!(status.success());
    let image = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("a rendered page");
    let size = std::fs::metadata(&image).unwrap().len();
    assert!(size > 3_000, "the summary page rendered to {size} bytes");
    let _ = std::fs::remove_dir_all(&dir);
}
