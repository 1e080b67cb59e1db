//! Form analysis end to end: the in-process worker reads each page of the form corpus in
//! real Chromium, a workflow is built from the analysis, scenarios are generated from it,
//! and every run must end as its scenario expects: VALID and BOUNDARY ones accepted by the
//! page, INVALID ones refused. Also every rejection path and tenant isolation.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::form_pages::{self, FormSite};
use crate::support::{Backend, TestApp};

both_backends!(analyses_are_checked_and_org_scoped);

mod sqlite_only {
    #[tokio::test]
    async fn every_corpus_page_is_analyzed_generated_and_run() {
        super::every_corpus_page_is_analyzed_generated_and_run(super::Backend::Sqlite).await
    }
    #[tokio::test]
    async fn analysis_obeys_the_egress_rules() {
        super::analysis_obeys_the_egress_rules(super::Backend::Sqlite).await
    }
}

/// A page that redirects to a host the target does not allow cannot be analyzed: the
/// browser's request is refused by the worker's proxy, and the failure says so.
async fn analysis_obeys_the_egress_rules(backend: Backend) {
    let app = TestApp::builder(backend).jobs().start().await;
    let site = FormSite::start().await;
    let target = create_target(&app, &site).await;
    let id = analyze(&app, &target, "/forms/moved").await;
    let a = wait_analysis(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(a["status"], "FAILED", "{a}");
    let error = a["error"].as_str().unwrap();
    assert!(
        error.contains(
            "egress refused: elsewhere.localhost is not among the target's allowed hosts"
        ),
        "{error}"
    );
}

const ANALYSIS: &str = "id targetId url submit status progress error warnings durationMs createdAt finishedAt \
    fields { name htmlName htmlId label labelSource type htmlType required min max step minLength maxLength pattern options accept multiple \
             locator { css xpath text label } framePath shadowPath hidden honeypot hiddenReason stepIndex revealedBy \
             shownWhen { field values } after { field orEqual } } \
    submitControl { text locator { css text label } framePath submitsForm } \
    steps { index next { text locator { css text } } } \
    login { fields { secret locator { css label } } submit { text } } \
    success { url text afterMs framePath }";

async fn create_target(app: &TestApp, site: &FormSite) -> String {
    let r = app
        .gql(
            &app.admin_a.caller(),
            "mutation($i: CreateTargetInput!) { createTarget(input: $i) { id } }",
            json!({ "i": { "name": format!("forms {}", Uuid::now_v7()), "baseUrl": site.base(), "allowPrivateNetwork": true, "concurrency": 2 } }),
        )
        .await;
    let id = r.data()["createTarget"]["id"].as_str().unwrap().to_owned();
    for (name, value) in [
        ("username", form_pages::USER),
        ("password", form_pages::PASSWORD),
    ] {
        let r = app
            .gql(
                &app.manager_a.caller(),
                "mutation($i: SetTargetSecretInput!) { setTargetSecret(input: $i) { id } }",
                json!({ "i": { "targetId": id, "name": name, "value": value } }),
            )
            .await;
        r.data();
    }
    id
}

async fn analyze(app: &TestApp, target: &str, url: &str) -> String {
    let r = app
        .gql(
            &app.engineer_a.caller(),
            &format!(
                "mutation($i: AnalyzeFormInput!) {{ analyzeForm(input: $i) {{ {ANALYSIS} }} }}"
            ),
            json!({ "i": { "targetId": target, "url": url, "submit": true } }),
        )
        .await;
    let a = &r.data()["analyzeForm"];
    assert_eq!(a["status"], "QUEUED", "{a}");
    assert_eq!(a["fields"], json!([]));
    a["id"].as_str().unwrap().to_owned()
}

async fn analysis_of(app: &TestApp, id: &str) -> Value {
    let r = app
        .gql(
            &app.viewer_a.caller(),
            &format!("query($id: ID!) {{ formAnalysis(id: $id) {{ {ANALYSIS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    r.data()["formAnalysis"].clone()
}

async fn wait_analysis(app: &TestApp, id: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let a = analysis_of(app, id).await;
        if !["QUEUED", "RUNNING"].contains(&a["status"].as_str().unwrap()) {
            return a;
        }
        assert!(
            start.elapsed() < within,
            "analysis still {} after {within:?}",
            a["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn field<'a>(a: &'a Value, name: &str) -> &'a Value {
    a["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name} in {}", a["fields"]))
}

/// What each page's analysis must have found.
fn check_analysis(page: &str, a: &Value) {
    let shown: Vec<&str> = a["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["hidden"] == false)
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        a["success"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Thank you")),
        "{page}: success seen: {}",
        a["success"]
    );
    match page {
        "constraints" => {
            assert_eq!(shown.len(), 12, "{shown:?}");
            let name = field(a, "full_name");
            assert_eq!(
                (name["minLength"].as_i64(), name["maxLength"].as_i64()),
                (Some(2), Some(40))
            );
            assert_eq!(name["locator"]["label"], "Full name");
            assert_eq!(name["labelSource"], "for");
            let age = field(a, "age");
            assert_eq!(
                (
                    age["type"].as_str(),
                    age["min"].as_str(),
                    age["max"].as_str()
                ),
                (Some("NUMBER"), Some("18"), Some("99"))
            );
            assert_eq!(field(a, "budget")["step"], "0.5");
            assert_eq!(field(a, "postcode")["pattern"], "[0-9]{5}");
            assert_eq!(field(a, "start")["type"], "DATE");
            assert_eq!(field(a, "at")["type"], "TIME");
            assert_eq!(field(a, "notes")["type"], "TEXTAREA");
            assert_eq!(field(a, "blog")["type"], "URL");
            assert_eq!(field(a, "password")["required"], true);
            assert_eq!(a["submitControl"]["text"], "Send");
        }
        "labels" => {
            let sources: Vec<(&str, &str)> = ["first", "last", "company", "city", "promo"]
                .iter()
                .map(|n| {
                    let f = field(a, n);
                    (
                        f["label"].as_str().unwrap(),
                        f["labelSource"].as_str().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                sources,
                [
                    ("First name", "for"),
                    ("Last name", "wrap"),
                    ("Company", "aria-label"),
                    ("City", "aria-labelledby"),
                    ("Promo code", "placeholder")
                ]
            );
            assert_eq!(field(a, "promo")["locator"]["label"], "Promo code");
        }
        "groups" => {
            let contact = field(a, "contact");
            assert_eq!(contact["type"], "RADIO");
            assert_eq!(contact["options"], json!(["email", "phone", "post"]));
            assert_eq!(contact["label"], "Contact preference");
            assert_eq!(contact["required"], true);
            let interests = field(a, "interests");
            assert_eq!(interests["type"], "CHECKBOX");
            assert_eq!(interests["options"], json!(["news", "sports", "music"]));
            assert_eq!(
                field(a, "plan")["options"],
                json!(["basic", "plus"]),
                "the placeholder is not an option"
            );
            let terms = field(a, "terms");
            assert_eq!(
                (
                    terms["type"].as_str(),
                    terms["options"].as_array().map(Vec::len)
                ),
                (Some("CHECKBOX"), Some(0))
            );
        }
        "wizard" => {
            let steps: Vec<i64> = ["name", "email", "street", "city", "arrival"]
                .iter()
                .map(|n| field(a, n)["stepIndex"].as_i64().unwrap())
                .collect();
            assert_eq!(steps, [0, 0, 1, 1, 2]);
            assert_eq!(a["steps"].as_array().unwrap().len(), 3);
            assert_eq!(a["steps"][0]["next"]["text"], "Next");
            assert_eq!(a["steps"][1]["next"]["text"], "Continue");
            assert!(a["steps"][2]["next"].is_null());
            assert_eq!(a["submitControl"]["text"], "Book");
        }
        "iframe" => {
            let q = field(a, "query");
            assert_eq!(q["framePath"], json!(["iframe#embedded"]));
            assert_eq!(a["submitControl"]["framePath"], json!(["iframe#embedded"]));
            assert_eq!(a["success"]["framePath"], json!(["iframe#embedded"]));
        }
        "shadow" => {
            let h = field(a, "handle");
            assert_eq!(h["shadowPath"], json!(["signup-card"]));
            assert_eq!(h["pattern"], "[a-z][a-z0-9_]{2,15}");
            assert_eq!(h["locator"]["label"], "Handle");
        }
        "spinner" => {
            assert!(
                a["success"]["afterMs"].as_i64().unwrap() >= 1400,
                "{}",
                a["success"]
            );
        }
        "upload" => {
            let cv = field(a, "cv");
            assert_eq!(
                (cv["type"].as_str(), cv["accept"].as_str()),
                (Some("FILE"), Some(".pdf"))
            );
        }
        "honeypot" => {
            assert_eq!(shown, ["name", "email"]);
            let website = field(a, "website");
            assert_eq!(
                (website["hidden"].as_bool(), website["honeypot"].as_bool()),
                (Some(true), Some(true)),
                "{website}"
            );
            assert!(
                website["hiddenReason"]
                    .as_str()
                    .unwrap()
                    .contains("off-screen"),
                "{website}"
            );
            assert_eq!(field(a, "fax")["hidden"], true);
        }
        "account" => {
            let login = &a["login"];
            let secrets: Vec<&str> = login["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["secret"].as_str().unwrap())
                .collect();
            assert_eq!(secrets, ["username", "password"]);
            assert_eq!(login["submit"]["text"], "Log in");
            assert_eq!(shown, ["display_name", "theme"]);
        }
        "reveal" => {
            let company = field(a, "company");
            assert_eq!(company["revealedBy"], "kind", "{company}");
            assert_eq!(
                company["shownWhen"],
                json!({ "field": "kind", "values": ["business"] })
            );
            assert_eq!(field(a, "vat")["shownWhen"]["values"], json!(["business"]));
            assert_eq!(
                field(a, "promo")["shownWhen"],
                json!({ "field": "has_promo", "values": ["true"] })
            );
            assert_eq!(field(a, "email")["shownWhen"], Value::Null);
        }
        "dates" => {
            assert_eq!(
                field(a, "end")["after"],
                json!({ "field": "start", "orEqual": false })
            );
            assert_eq!(field(a, "start")["after"], Value::Null);
        }
        other => panic!("no expectations for {other}"),
    }
}

async fn every_corpus_page_is_analyzed_generated_and_run(backend: Backend) {
    let app = TestApp::builder(backend)
        .jobs()
        .env("OPSDECK_RUNS_STEP_TIMEOUT_MS", "10000")
        .start()
        .await;
    let site = FormSite::start().await;
    let target = create_target(&app, &site).await;
    let eng = app.engineer_a.caller();
    let mut figures = Vec::new();
    let (mut matched, mut total) = (0, 0);
    for page in form_pages::PAGES {
        let id = analyze(&app, &target, &format!("/forms/{page}")).await;
        let a = wait_analysis(&app, &id, Duration::from_secs(90)).await;
        assert_eq!(a["status"], "SUCCEEDED", "{page}: {a}");
        assert_eq!(a["warnings"], json!([]), "{page}");
        check_analysis(page, &a);
        let w = app
            .gql(
                &eng,
                "mutation($i: CreateWorkflowFromAnalysisInput!) { createWorkflowFromAnalysis(input: $i) { id draft { version inputSchema { name } steps { kind } } } }",
                json!({ "i": { "analysisId": id, "name": format!("{page} form") } }),
            )
            .await;
        let wid = w.data()["createWorkflowFromAnalysis"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.gql(
            &eng,
            "mutation($id: ID!) { publishWorkflow(id: $id) { id } }",
            json!({ "id": wid }),
        )
        .await
        .data();
        let g = app
            .gql(
                &eng,
                "mutation($i: GenerateScenariosInput!) { generateScenarios(input: $i) { id name kind expectedOutcome inputs } }",
                // Rules between fields get a third scenario of each kind to reach them.
                json!({ "i": { "workflowId": wid, "count": if ["reveal", "dates"].contains(page) { 3 } else { 2 }, "seed": 11 } }),
            )
            .await;
        let scenarios = g.data()["generateScenarios"].as_array().unwrap().clone();
        assert!(
            scenarios.iter().any(|s| s["kind"] == "INVALID"),
            "{page}: {scenarios:?}"
        );
        let ids: Vec<&str> = scenarios
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        let r = app
            .gql(
                &eng,
                "mutation($i: LaunchRunsInput!) { launchRuns(input: $i) { id scenarioId } }",
                json!({ "i": { "workflowId": wid, "scenarioIds": ids } }),
            )
            .await;
        let runs = r.data()["launchRuns"].as_array().unwrap().clone();
        for run in &runs {
            let done = wait_run(&app, run["id"].as_str().unwrap()).await;
            let s = scenarios
                .iter()
                .find(|s| s["id"] == run["scenarioId"])
                .unwrap();
            total += 1;
            if done["status"] == "SUCCEEDED" && done["outcome"] == s["expectedOutcome"] {
                matched += 1;
            } else {
                // The page as the browser last had it, and its console, say why.
                let mut evidence = String::new();
                for a in done["artifacts"].as_array().into_iter().flatten() {
                    if a["kind"] != "SCREENSHOT"
                        && let Some(url) = a["url"].as_str()
                        && let Ok(resp) = reqwest::get(url).await
                    {
                        let text = resp.text().await.unwrap_or_default();
                        evidence.push_str(&format!(
                            "\n{}: {}",
                            a["kind"],
                            text.chars().take(1500).collect::<String>()
                        ));
                    }
                }
                let refused = site.refused.lock().unwrap().clone();
                panic!(
                    "{page}: {} ({}) expected {} but the run ended {} {}: {}\ninputs {}\nsteps {}\nattempts {}{evidence}\nthe site refused {refused:?}",
                    s["name"],
                    s["kind"],
                    s["expectedOutcome"],
                    done["status"],
                    done["outcome"],
                    done["error"],
                    s["inputs"],
                    done["steps"],
                    done["attempts"]
                );
            }
        }
        figures.push(format!(
            "{page}: analysis {} ms, {} runs",
            a["durationMs"],
            runs.len()
        ));
    }
    // Figures for docs/benchmarks.md (analysis time per page, outcomes matched).
    println!("{}\nmatched {matched}/{total}", figures.join("\n"));
    assert!(!site.accepted_on("account").is_empty());
    assert!(
        site.accepted_on("honeypot")
            .iter()
            .all(|f| f.get("website").is_none_or(String::is_empty))
    );
}

async fn wait_run(app: &TestApp, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let r = app
            .gql(
                &app.viewer_a.caller(),
                "query($id: ID!) { run(id: $id) { status outcome error steps { index kind status durationMs error } \
                 attempts { number startedAt finishedAt } artifacts { kind name url } } }",
                json!({ "id": id }),
            )
            .await;
        let run = r.data()["run"].clone();
        if !["QUEUED", "RUNNING", "CANCELLING"].contains(&run["status"].as_str().unwrap()) {
            return run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "run still {}",
            run["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn analyses_are_checked_and_org_scoped(app: TestApp) {
    let site = FormSite {
        port: 9,
        ..FormSite::default()
    };
    let target = create_target(&app, &site).await;
    let eng = app.engineer_a.caller();
    let request = "mutation($i: AnalyzeFormInput!) { analyzeForm(input: $i) { id status } }";
    // Rejections: each names the field and queues nothing.
    for (url, why) in [
        ("https://elsewhere.example/form", "not an allowed host"),
        ("javascript:alert(1)", "not http"),
        ("", "empty"),
    ] {
        let r = app
            .gql(
                &eng,
                request,
                json!({ "i": { "targetId": target, "url": url } }),
            )
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{why}: {}", r.body);
        assert_eq!(
            r.body["errors"][0]["extensions"]["fields"][0]["field"], "url",
            "{why}"
        );
    }
    let r = app
        .gql(
            &app.viewer_a.caller(),
            request,
            json!({ "i": { "targetId": target, "url": "/forms/labels" } }),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(
            &eng,
            request,
            json!({ "i": { "targetId": "x", "url": "/" } }),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");

    // A queued analysis: readable, listed, not yet usable for a workflow.
    let r = app
        .gql(
            &eng,
            request,
            json!({ "i": { "targetId": target, "url": "/forms/labels" } }),
        )
        .await;
    let id = r.data()["analyzeForm"]["id"].as_str().unwrap().to_owned();
    let a = analysis_of(&app, &id).await;
    assert_eq!(a["status"], "QUEUED");
    assert_eq!(a["url"], format!("{}/forms/labels", site.base()));
    let list = app
        .gql(
            &app.viewer_a.caller(),
            "query($t: ID!) { formAnalyses(targetId: $t, first: 10) { edges { node { id } } } }",
            json!({ "t": target }),
        )
        .await;
    assert_eq!(
        list.data()["formAnalyses"]["edges"][0]["node"]["id"],
        id.as_str()
    );
    let build = "mutation($i: CreateWorkflowFromAnalysisInput!) { createWorkflowFromAnalysis(input: $i) { id } }";
    let r = app
        .gql(
            &eng,
            build,
            json!({ "i": { "analysisId": id, "name": "w" } }),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(
        r.body["errors"][0]["extensions"]["fields"][0]["field"],
        "analysisId"
    );

    // Another org: every id reads as missing, and nothing of A's changes.
    let b = app.admin_b.caller();
    let never = Uuid::now_v7().to_string();
    for (query, vars) in [
        (request, json!({ "i": { "targetId": target, "url": "/" } })),
        (
            "query($id: ID!) { formAnalysis(id: $id) { id } }",
            json!({ "id": id }),
        ),
        (
            "query($t: ID!) { formAnalyses(targetId: $t) { edges { node { id } } } }",
            json!({ "t": target }),
        ),
        (
            build,
            json!({ "i": { "analysisId": id, "name": "stolen" } }),
        ),
        (
            "mutation($id: ID!) { cancelJob(id: $id) { id } }",
            json!({ "id": id }),
        ),
    ] {
        let as_b = app.gql(&b, query, vars.clone()).await;
        assert_eq!(as_b.code(), "NOT_FOUND", "{query}: {}", as_b.body);
        let missing = serde_json::to_string(&vars)
            .unwrap()
            .replace(&id, &never)
            .replace(&target, &never);
        let as_never = app
            .gql(&b, query, serde_json::from_str(&missing).unwrap())
            .await;
        assert_eq!(as_b.message(), as_never.message(), "{query}");
    }
    assert_eq!(analysis_of(&app, &id).await["status"], "QUEUED");
    // Every role reads; only ENGINEER+ asks.
    for p in app.personas_a() {
        let r = app
            .gql(
                &p.caller(),
                "query($id: ID!) { formAnalysis(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(r.data()["formAnalysis"]["status"], "QUEUED");
    }
    // The shared PostgreSQL database: leave no queued browser job for other tests' workers.
    app.gql(
        &eng,
        "mutation($id: ID!) { cancelJob(id: $id) { status } }",
        json!({ "id": id }),
    )
    .await
    .data();
    assert_eq!(analysis_of(&app, &id).await["status"], "CANCELLED");
}
