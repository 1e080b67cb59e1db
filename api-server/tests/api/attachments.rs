//! Evidence attachments through both object-store adapters: the api-server's own signed
//! links (embedded) and presigned S3 URLs against the S3-compatible test server.

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, Persona, TestApp, env};

const START: &str = "mutation($i: CreateIncidentAttachmentUploadInput!) { createIncidentAttachmentUpload(input: $i) {
    attachment { id filename status } uploadUrl uploadHeaders { name value } expiresAt } }";
const COMPLETE: &str = "mutation($id: ID!) { completeIncidentAttachment(id: $id) { id status sizeBytes downloadUrl } }";

async fn incident(app: &TestApp, who: &Persona) -> Value {
    let r = app.gql(&who.caller(), "mutation { createIncident(input: { title: \"with evidence\", severity: SEV3 }) { id } }", json!({})).await;
    r.data()["createIncident"].clone()
}

async fn start(
    app: &TestApp,
    who: &Persona,
    incident: &Value,
    filename: &str,
    ct: &str,
    size: usize,
) -> crate::support::Gql {
    app.gql(&who.caller(), START, json!({ "i": { "incidentId": incident["id"], "filename": filename, "contentType": ct, "sizeBytes": size } })).await
}

async fn put(app: &TestApp, upload: &Value, ct: &str, body: Vec<u8>) -> u16 {
    let mut req = app
        .http
        .put(upload["uploadUrl"].as_str().unwrap())
        .header(CONTENT_TYPE, ct)
        .body(body);
    for h in upload["uploadHeaders"].as_array().unwrap() {
        if h["name"] != "Content-Type" {
            req = req.header(h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
        }
    }
    req.send().await.unwrap().status().as_u16()
}

async fn round_trip(app: &TestApp) {
    let eng = &app.engineer_a;
    let inc = incident(app, eng).await;
    let bytes = b"\x89PNG fake screenshot bytes".to_vec();
    let r = start(
        app,
        eng,
        &inc,
        "../../Screen Shot 1.png",
        "image/png",
        bytes.len(),
    )
    .await;
    let upload = r.data()["createIncidentAttachmentUpload"].clone();
    assert_eq!(upload["attachment"]["filename"], "Screen_Shot_1.png");
    assert_eq!(upload["attachment"]["status"], "PENDING");
    let id = upload["attachment"]["id"].clone();
    let early = app.gql(&eng.caller(), COMPLETE, json!({ "id": id })).await;
    assert_eq!(early.code(), "BAD_USER_INPUT", "nothing uploaded yet");
    assert_eq!(
        put(app, &upload, "image/png", bytes[..5].to_vec()).await,
        200
    );
    let short = app.gql(&eng.caller(), COMPLETE, json!({ "id": id })).await;
    assert_eq!(
        short.code(),
        "BAD_USER_INPUT",
        "the size differs from the declared one"
    );
    assert_eq!(put(app, &upload, "image/png", bytes.clone()).await, 200);
    let done = app.gql(&eng.caller(), COMPLETE, json!({ "id": id })).await;
    let done = done.data()["completeIncidentAttachment"].clone();
    assert_eq!(
        (done["status"].as_str(), done["sizeBytes"].as_u64()),
        (Some("COMPLETE"), Some(bytes.len() as u64))
    );
    let downloaded = app
        .http
        .get(done["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), bytes);
    let r = app
        .gql(&app.viewer_a.caller(), "query($id: ID!) { incident(id: $id) { attachments { filename } timeline { edges { node { kind } } } } }", json!({ "id": inc["id"] }))
        .await;
    assert_eq!(
        r.data()["incident"]["attachments"],
        json!([{ "filename": "Screen_Shot_1.png" }])
    );
    let kinds = r.data()["incident"]["timeline"]["edges"].to_string();
    assert!(kinds.contains("evidence_added"), "{kinds}");
}

both_backends!(
    local_links_upload_check_and_refuse,
    attachment_input_and_tenancy
);

async fn local_links_upload_check_and_refuse(app: TestApp) {
    round_trip(&app).await;
    let eng = &app.engineer_a;
    let inc = incident(&app, eng).await;
    let r = start(&app, eng, &inc, "log.txt", "text/plain", 10).await;
    let upload = r.data()["createIncidentAttachmentUpload"].clone();
    assert_eq!(
        put(&app, &upload, "text/html", b"0123456789".to_vec()).await,
        415,
        "only the signed content type"
    );
    assert_eq!(
        put(&app, &upload, "text/plain", vec![b'x'; 11]).await,
        413,
        "at most the signed size"
    );
    let url = upload["uploadUrl"].as_str().unwrap();
    let tampered = json!({ "uploadUrl": url.replace("len=10", "len=99"), "uploadHeaders": [] });
    assert_eq!(
        put(&app, &tampered, "text/plain", vec![b'x'; 10]).await,
        403,
        "a changed link is refused"
    );
    let other_key = json!({ "uploadUrl": url.replace("log.txt", "evil.txt"), "uploadHeaders": [] });
    assert_eq!(
        put(&app, &other_key, "text/plain", vec![b'x'; 10]).await,
        403
    );
    let as_get = app.http.get(url).send().await.unwrap();
    assert_eq!(as_get.status(), 403, "an upload link does not download");
}

async fn attachment_input_and_tenancy(app: TestApp) {
    let eng = &app.engineer_a;
    let inc = incident(&app, eng).await;
    for (name, ct, size, field) in [
        ("a.html", "text/html", 10, "contentType"),
        ("a.svg", "image/svg+xml", 10, "contentType"),
        (
            "big.zip",
            "application/zip",
            25 * 1024 * 1024 + 1,
            "sizeBytes",
        ),
        ("empty.txt", "text/plain", 0, "sizeBytes"),
        ("", "text/plain", 5, "filename"),
    ] {
        let r = start(&app, eng, &inc, name, ct, size).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{name} {ct} {size}");
        assert_eq!(
            r.body["errors"][0]["extensions"]["fields"][0]["field"],
            field
        );
    }
    let viewer = start(&app, &app.viewer_a, &inc, "a.txt", "text/plain", 5).await;
    assert_eq!(viewer.code(), "FORBIDDEN");
    let ok = start(&app, eng, &inc, "a.txt", "text/plain", 5).await;
    let id = ok.data()["createIncidentAttachmentUpload"]["attachment"]["id"].clone();
    let b = app.admin_b.caller();
    assert_eq!(
        app.gql(&b, COMPLETE, json!({ "id": id })).await.code(),
        "NOT_FOUND"
    );
    let r = app.gql(&b, START, json!({ "i": { "incidentId": inc["id"], "filename": "x.txt", "contentType": "text/plain", "sizeBytes": 3 } })).await;
    assert_eq!(r.code(), "NOT_FOUND");
}

#[tokio::test]
async fn presigned_s3_urls_round_trip() {
    let s3 = env("OPSDECK_TEST_S3_ENDPOINT");
    let bucket = format!(
        "opsdeck-test-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let created = reqwest::Client::new()
        .put(format!("{s3}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let app = TestApp::builder(Backend::Postgres)
        .env("OPSDECK_S3_BUCKET", &bucket)
        .env("OPSDECK_S3_ENDPOINT", &s3)
        .env("OPSDECK_S3_ACCESS_KEY_ID", "test")
        .env("OPSDECK_S3_SECRET_ACCESS_KEY", "test")
        .start()
        .await;
    round_trip(&app).await;
    // The bytes are in the bucket, under the org's prefix.
    let listing = reqwest::get(format!("{s3}/{bucket}?list-type=2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains(&format!("orgs/{}/incidents/", app.org_a.id)),
        "{listing}"
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
