//! Runs end to end: the in-process worker drives real Chromium through chromedriver
//! against the local test site. Success with outputs and downloadable screenshots, label
//! locators of every style, shadow DOM and frames, assertion and validation outcomes,
//! infrastructure failures retried on a fresh session, timeouts and cancellation that stop
//! the browser, egress refusals, secrets kept out of results, and tenant isolation.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::site::Site;
use crate::support::{Backend, Caller, TestApp};
use crate::with_jobs_on_both;

with_jobs_on_both!(
    a_run_fills_the_form_and_keeps_its_evidence,
    runs_are_org_scoped
);

mod sqlite_only {
    use super::*;
    macro_rules! on_sqlite {
        ($($case:ident),+ $(,)?) => {$(
            #[tokio::test]
            async fn $case() {
                super::$case(Backend::Sqlite).await
            }
        )+};
    }
    on_sqlite!(
        outcomes_follow_the_expected_outcome,
        egress_is_enforced_outside_the_page,
        timeouts_and_cancellation_stop_the_browser,
        a_lost_browser_is_retried_on_a_fresh_session,
        launching_is_bounded_and_versions_stay_pinned,
        without_a_browser_runs_fail_saying_how_to_install_one,
        a_configured_webdriver_endpoint_is_used,
        the_headless_shell_is_preferred_and_full_chromium_still_runs,
        a_thousand_runs_launch_in_one_call,
        the_org_cap_holds_across_targets,
    );
}

pub const RUN: &str = "id status outcome screenshots cancelRequestedAt version scenarioId expectedOutcome error errorClass retryOfId inputs outputs \
    attempts { number status workerId startedAt finishedAt errorClass error } \
    steps { index kind status durationMs error screenshotUrl output } \
    artifacts { attempt kind name sizeBytes contentType url }";

async fn app(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut b = TestApp::builder(backend)
        .jobs()
        .env("OPSDECK_RUNS_STEP_TIMEOUT_MS", "8000");
    for (k, v) in extra {
        b = b.env(k, v);
    }
    b.start().await
}

/// A target on the test site (ADMIN: loopback), a workflow with `schema` and `steps`,
/// published. Returns (target id, workflow id).
async fn workflow(
    app: &TestApp,
    site: &Site,
    schema: Value,
    steps: Value,
    target: Value,
) -> (String, String) {
    let mut input = json!({ "name": format!("site {}", Uuid::now_v7()), "baseUrl": site.base(), "allowPrivateNetwork": true });
    if let (Some(i), Some(extra)) = (input.as_object_mut(), target.as_object()) {
        for (k, v) in extra {
            i.insert(k.clone(), v.clone());
        }
    }
    let r = app
        .gql(
            &app.admin_a.caller(),
            "mutation($i: CreateTargetInput!) { createTarget(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    let target_id = r.data()["createTarget"]["id"].as_str().unwrap().to_owned();
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($i: CreateWorkflowInput!) { createWorkflow(input: $i) { id } }",
            json!({ "i": { "name": "w", "targetId": target_id, "inputSchema": schema, "steps": steps } }),
        )
        .await;
    let wid = r.data()["createWorkflow"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($id: ID!) { publishWorkflow(id: $id) { latestVersion } }",
            json!({ "id": wid }),
        )
        .await;
    assert_eq!(r.data()["publishWorkflow"]["latestVersion"], 1);
    (target_id, wid)
}

async fn scenario(app: &TestApp, wid: &str, kind: &str, inputs: Value) -> String {
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($i: CreateScenarioInput!) { createScenario(input: $i) { id } }",
            json!({ "i": { "workflowId": wid, "name": format!("s {}", Uuid::now_v7()), "kind": kind, "inputs": inputs } }),
        )
        .await;
    r.data()["createScenario"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn launch(app: &TestApp, wid: &str, sid: Option<&str>) -> String {
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($w: ID!, $s: ID) { launchRun(input: { workflowId: $w, scenarioId: $s }) { id status version } }",
            json!({ "w": wid, "s": sid }),
        )
        .await;
    let run = &r.data()["launchRun"];
    assert_eq!(run["status"], "QUEUED");
    run["id"].as_str().unwrap().to_owned()
}

pub async fn run_of(app: &TestApp, caller: &Caller, id: &str) -> Value {
    let r = app
        .gql(
            caller,
            &format!("query($id: ID!) {{ run(id: $id) {{ {RUN} }} }}"),
            json!({ "id": id }),
        )
        .await;
    r.data()["run"].clone()
}

async fn wait_run(app: &TestApp, id: &str, statuses: &[&str], within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let run = run_of(app, &app.viewer_a.caller(), id).await;
        if statuses.iter().any(|s| run["status"] == *s) {
            return run;
        }
        assert!(
            start.elapsed() < within,
            "run still {} after {within:?}: {run}",
            run["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Processes of this worker's browsers still alive (their profile is under its name).
fn browsers_left(worker: &str) -> Vec<String> {
    let marker = worker::browser::session::profiles_of(worker)
        .display()
        .to_string();
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let zombie =
            std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| s.contains(") Z "));
        if cmd.contains(&marker) && !zombie {
            left.push(cmd);
        }
    }
    left
}

/// chromedriver processes this test process started (the in-process worker's).
fn our_drivers() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').unwrap_or(0) + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if comm.starts_with("chromedriver")
            && fields.get(1) == Some(&me.as_str())
            && fields.first() != Some(&"Z")
        {
            out.push(pid);
        }
    }
    out
}

fn signup_steps() -> Value {
    json!([
        { "kind": "GOTO", "url": "/signup" },
        { "kind": "FILL", "locator": { "label": "E-mail" }, "value": "{{input.email}}" },
        { "kind": "FILL", "locator": { "label": "Age" }, "value": "{{input.age}}" },
        { "kind": "FILL", "locator": { "label": "Member code" }, "value": "{{input.code}}" },
        { "kind": "SELECT", "locator": { "label": "Plan" }, "value": "{{input.plan}}" },
        { "kind": "FILL", "locator": { "label": "City" }, "value": "Lyon" },
        { "kind": "CLICK", "locator": { "label": "{{input.plan}} tier" } },
        { "kind": "FILL", "locator": { "label": "Password" }, "value": "{{secret.password}}" },
        { "kind": "FILL", "locator": { "label": "Nickname" }, "value": "nick-{{input.code}}" },
        { "kind": "CHECK", "locator": { "label": "I accept the terms" } },
        { "kind": "ASSERT", "locator": { "css": "input[name=terms]" }, "value": "CHECKED" },
        { "kind": "SUBMIT", "locator": { "text": "Create account" } },
        { "kind": "WAIT_FOR", "text": "Welcome", "timeoutMs": 5000 },
        { "kind": "EXTRACT", "locator": { "css": "#member" }, "name": "member" },
        { "kind": "EXTRACT", "locator": { "xpath": "//p[@id='echo']" }, "name": "echo" },
        { "kind": "ASSERT", "url": "/signup$" },
        { "kind": "SCREENSHOT", "name": "welcome" },
    ])
}

fn signup_schema() -> Value {
    json!([
        { "name": "email", "type": "EMAIL", "required": true },
        { "name": "age", "type": "NUMBER", "required": true, "min": "18", "max": "99" },
        { "name": "code", "type": "TEXT", "pattern": "[A-Z]{2}[0-9]{3}" },
        { "name": "plan", "type": "SELECT", "options": ["free", "pro"] },
    ])
}

async fn set_password(app: &TestApp, target: &str, value: &str) {
    let r = app
        .gql(&app.manager_a.caller(), "mutation($t: ID!, $v: String!) { setTargetSecret(input: { targetId: $t, name: \"password\", value: $v }) { id } }", json!({ "t": target, "v": value }))
        .await;
    r.data();
}

async fn a_run_fills_the_form_and_keeps_its_evidence(backend: Backend) {
    let app = app(backend, &[]).await;
    let site = Site::start().await;
    let (target, wid) = workflow(&app, &site, signup_schema(), signup_steps(), json!({})).await;
    let secret = "Sup3r-Secret-Pw!";
    set_password(&app, &target, secret).await;
    let sid = scenario(
        &app,
        &wid,
        "VALID",
        json!({ "email": "ana@example.com", "age": "34", "code": "AB123", "plan": "pro" }),
    )
    .await;
    let id = launch(&app, &wid, Some(&sid)).await;
    let run = wait_run(
        &app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    assert_eq!(
        (run["version"].as_i64(), run["error"].is_null()),
        (Some(1), true)
    );
    assert_eq!(run["outcome"], "SUCCESS");

    // The site received exactly the scenario's inputs, by every labelling style.
    let sent = site.submitted();
    assert_eq!(sent.len(), 1);
    let form = &sent[0];
    for (k, v) in [
        ("email", "ana@example.com"),
        ("age", "34"),
        ("code", "AB123"),
        ("plan", "pro"),
        ("city", "Lyon"),
        ("password", secret),
        ("terms", "yes"),
        ("nickname", "nick-AB123"),
    ] {
        assert_eq!(form.get(k).map(String::as_str), Some(v), "{k} in {form:?}");
    }

    // Outputs, with the secret masked where the page echoed it.
    assert_eq!(run["outputs"]["member"], "M-001");
    assert_eq!(run["outputs"]["echo"], "••••••");
    assert!(
        !run.to_string().contains(secret),
        "the secret leaked into the run: {run}"
    );

    // One result per step, each with a screenshot that downloads as a PNG.
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), signup_steps().as_array().unwrap().len());
    assert!(steps.iter().all(|s| s["status"] == "SUCCEEDED"));
    assert_eq!(run["screenshots"], "EVERY_STEP");
    assert!(
        steps.iter().all(|s| s["screenshotUrl"].is_string()),
        "a screenshot after every step: {steps:?}"
    );
    assert_eq!(steps[0]["kind"], "GOTO");
    let url = steps[13]["screenshotUrl"]
        .as_str()
        .expect("a screenshot link");
    let png = app.http.get(url).send().await.unwrap();
    assert_eq!(png.status(), 200, "{url}");
    assert_eq!(&png.bytes().await.unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let artifacts = run["artifacts"].as_array().unwrap();
    assert!(
        artifacts
            .iter()
            .any(|a| a["name"] == "welcome.png" && a["kind"] == "SCREENSHOT")
    );
    assert!(
        artifacts
            .iter()
            .all(|a| a["attempt"] == 1 && a["sizeBytes"].as_i64() > Some(1000))
    );
    assert!(
        artifacts[0]["url"]
            .as_str()
            .unwrap()
            .contains(&format!("runs/{id}/attempt-1/"))
            || backend == Backend::Sqlite
    );

    // One attempt, on this process's worker; none of its browser processes remain.
    let attempts = run["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], "SUCCEEDED");
    let worker = attempts[0]["workerId"].as_str().unwrap();
    assert_eq!(browsers_left(worker), Vec::<String>::new());
    // Never in the audit log either.
    let r = app
        .gql(
            &app.admin_a.caller(),
            "{ auditLog(first: 100) { edges { node { before after } } } }",
            json!({}),
        )
        .await;
    assert!(!r.body.to_string().contains(secret));

    // A new version published after the run does not change what it (or its retry) runs.
    let r = app
        .gql(&app.engineer_a.caller(), "mutation($id: ID!) { updateWorkflowDraft(input: { id: $id, expectedVersion: 1, steps: [{ kind: GOTO, url: \"/framed\" }] }) { id } }", json!({ "id": wid }))
        .await;
    r.data();
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($id: ID!) { publishWorkflow(id: $id) { latestVersion } }",
            json!({ "id": wid }),
        )
        .await;
    assert_eq!(r.data()["publishWorkflow"]["latestVersion"], 2);
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($id: ID!) { retryRun(id: $id) { id version } }",
            json!({ "id": id }),
        )
        .await;
    let again = r.data()["retryRun"].clone();
    assert_eq!(again["version"], 1);
    let again = wait_run(
        &app,
        again["id"].as_str().unwrap(),
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(again["status"], "SUCCEEDED", "{again:#}");
    assert_eq!(
        again["steps"].as_array().unwrap().len(),
        steps.len(),
        "version 1's steps"
    );
    assert_eq!(again["outputs"]["member"], "M-002");

    // Frames: enter, act, leave.
    let (_, framed) = workflow(
        &app,
        &site,
        json!([]),
        json!([
            { "kind": "GOTO", "url": "/framed" },
            { "kind": "ENTER_FRAME", "locator": { "css": "#inner" } },
            { "kind": "FILL", "locator": { "label": "Query" }, "value": "hello" },
            { "kind": "CLICK", "locator": { "text": "Go" } },
            { "kind": "ASSERT", "locator": { "css": "#out" }, "text": "Got hello" },
            { "kind": "EXIT_FRAME" },
            { "kind": "ASSERT", "text": "Outer" },
        ]),
        json!({}),
    )
    .await;
    let id = launch(&app, &framed, None).await;
    let run = wait_run(
        &app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
}

async fn outcomes_follow_the_expected_outcome(backend: Backend) {
    let app = app(backend, &[]).await;
    let site = Site::start().await;
    let (target, wid) = workflow(&app, &site, signup_schema(), signup_steps(), json!({})).await;
    set_password(&app, &target, "pw-1234").await;
    // INVALID (age 17): the browser refuses to submit, which is what the scenario expects.
    let invalid = scenario(
        &app,
        &wid,
        "INVALID",
        json!({ "email": "bo@example.com", "age": "17" }),
    )
    .await;
    // VALID, but the site refuses the e-mail after submitting: an ASSERTION failure.
    let taken = scenario(
        &app,
        &wid,
        "VALID",
        json!({ "email": "cy@taken.example", "age": "40" }),
    )
    .await;
    let r = app
        .gql(&app.engineer_a.caller(), &format!("mutation($w: ID!, $s: [ID!]!) {{ launchRuns(input: {{ workflowId: $w, scenarioIds: $s, screenshots: ON_FAILURE }}) {{ {RUN} }} }}"), json!({ "w": wid, "s": [invalid, taken] }))
        .await;
    let launched = r.data()["launchRuns"].as_array().unwrap().clone();
    assert_eq!(launched.len(), 2);
    let refused = wait_run(
        &app,
        launched[0]["id"].as_str().unwrap(),
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(refused["status"], "SUCCEEDED", "{refused:#}");
    assert_eq!(refused["expectedOutcome"], "VALIDATION_ERROR");
    assert_eq!(refused["outcome"], "VALIDATION_ERROR");
    let failed_step = refused["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(failed_step["kind"], "SUBMIT");
    assert!(
        failed_step["error"].as_str().unwrap().contains("age"),
        "{failed_step}"
    );
    assert!(
        site.submitted()
            .iter()
            .all(|f| f.get("email").map(String::as_str) != Some("bo@example.com")),
        "never submitted"
    );

    let failed = wait_run(
        &app,
        launched[1]["id"].as_str().unwrap(),
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(failed["status"], "FAILED", "{failed:#}");
    assert_eq!(failed["errorClass"], "ASSERTION");
    assert!(
        failed["error"].as_str().unwrap().contains("Welcome"),
        "{}",
        failed["error"]
    );
    // Not retried; the page and console kept as evidence. Launched ON_FAILURE: no
    // screenshot of the steps that passed, but one of the failure.
    let attempts = failed["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["errorClass"], "ASSERTION");
    assert_eq!(failed["screenshots"], "ON_FAILURE");
    let steps = failed["steps"].as_array().unwrap();
    let (last, passed) = steps.split_last().unwrap();
    assert!(
        passed.iter().all(|s| s["screenshotUrl"].is_null()) && last["screenshotUrl"].is_string(),
        "{steps:?}"
    );
    let kinds: Vec<&str> = failed["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"HTML") && kinds.contains(&"CONSOLE_LOG"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "SCREENSHOT").count(),
        1,
        "{kinds:?}"
    );
    let html = failed["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "HTML")
        .unwrap();
    let page = app
        .http
        .get(html["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("already registered"), "{page}");
    let log = failed["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "CONSOLE_LOG")
        .unwrap();
    assert_eq!(log["contentType"], "application/json");

    // Retrying makes a new run linked to the old one.
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($id: ID!) { retryRun(id: $id) { id retryOfId status screenshots } }",
            json!({ "id": failed["id"] }),
        )
        .await;
    let again = &r.data()["retryRun"];
    assert_eq!(again["retryOfId"], failed["id"]);
    assert_eq!(
        again["screenshots"], "ON_FAILURE",
        "a retry keeps the policy"
    );
    assert_ne!(again["id"], failed["id"]);
    let again = wait_run(
        &app,
        again["id"].as_str().unwrap(),
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(again["status"], "FAILED");
}

async fn egress_is_enforced_outside_the_page(backend: Backend) {
    // Small artifact cap: screenshots are left out, the page's HTML cut.
    let app = app(backend, &[("OPSDECK_RUNS_ARTIFACT_MAX_BYTES", "300")]).await;
    let site = Site::start().await;
    let port = site.port;
    let cases = [
        // A name that resolves to loopback, on a target that does not allow private networks.
        (
            json!({ "baseUrl": "https://example.com", "allowedHosts": ["example.com", "localhost"], "allowPrivateNetwork": false }),
            json!([{ "kind": "GOTO", "url": format!("http://localhost:{port}/secret") }]),
            "localhost resolves to 127.0.0.1",
        ),
        // A redirect to an address the target does not allow.
        (
            json!({}),
            json!([{ "kind": "GOTO", "url": format!("/to-private?to=http://127.0.0.1:{port}/secret") }]),
            "127.0.0.1 is not among the target's allowed hosts",
        ),
        // The cloud metadata address, from the page's own script.
        (
            json!({}),
            json!([{ "kind": "GOTO", "url": "/fetches?url=http://169.254.169.254/latest/meta-data" }, { "kind": "WAIT_FOR", "text": "Done" }]),
            "169.254.169.254 is not among the target's allowed hosts",
        ),
        // A script fetching a private address directly.
        (
            json!({}),
            json!([{ "kind": "GOTO", "url": format!("/fetches?url=http://127.0.0.1:{port}/secret") }, { "kind": "WAIT_FOR", "text": "Done" }]),
            "127.0.0.1 is not among",
        ),
    ];
    for (target, steps, says) in cases {
        let (_, wid) = workflow(&app, &site, json!([]), steps.clone(), target).await;
        let id = launch(&app, &wid, None).await;
        let run = wait_run(
            &app,
            &id,
            &["SUCCEEDED", "FAILED", "TIMED_OUT"],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(run["status"], "FAILED", "{steps}: {run:#}");
        assert!(
            run["error"].as_str().unwrap().contains(says),
            "{steps}: {}",
            run["error"]
        );
        assert_eq!(
            run["attempts"].as_array().unwrap().len(),
            1,
            "a refusal is not retried"
        );
        let artifacts = run["artifacts"].as_array().unwrap();
        assert!(
            artifacts
                .iter()
                .all(|a| a["kind"] != "SCREENSHOT" && a["sizeBytes"].as_i64() <= Some(300)),
            "the cap holds: {artifacts:?}"
        );
        assert!(
            artifacts.iter().any(|a| a["kind"] == "HTML"),
            "{artifacts:?}"
        );
    }
    // A URL rendered from inputs is held to the same rule: no `file:` around the proxy.
    let (_, wid) = workflow(
        &app,
        &site,
        json!([{ "name": "where", "type": "TEXT" }]),
        json!([{ "kind": "GOTO", "url": "{{input.where}}" }]),
        json!({}),
    )
    .await;
    let sid = scenario(
        &app,
        &wid,
        "VALID",
        json!({ "where": "file:///etc/hostname" }),
    )
    .await;
    let id = launch(&app, &wid, Some(&sid)).await;
    let run = wait_run(
        &app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(run["status"], "FAILED", "{run:#}");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("file: URLs are not opened"),
        "{}",
        run["error"]
    );
}

async fn timeouts_and_cancellation_stop_the_browser(backend: Backend) {
    let app = app(backend, &[("OPSDECK_RUNS_TIMEOUT_SECS", "6")]).await;
    let site = Site::start().await;
    // A page that never finishes loading: the step's timeout, then the browser is killed.
    let (_, slow) = workflow(
        &app,
        &site,
        json!([]),
        json!([{ "kind": "GOTO", "url": "/slow", "timeoutMs": 1500 }]),
        json!({}),
    )
    .await;
    let started = Instant::now();
    let id = launch(&app, &slow, None).await;
    let run = wait_run(
        &app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(run["status"], "TIMED_OUT", "{run:#}");
    assert_eq!(run["errorClass"], "TIMEOUT");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let worker = run["attempts"][0]["workerId"].as_str().unwrap().to_owned();
    assert_eq!(
        run["attempts"].as_array().unwrap().len(),
        1,
        "a timeout is not retried"
    );
    assert_eq!(browsers_left(&worker), Vec::<String>::new());

    // The run's own limit (6 s) cuts a step that would wait a minute.
    let (_, long) = workflow(
        &app,
        &site,
        json!([]),
        json!([
            { "kind": "GOTO", "url": "/signup" },
            { "kind": "WAIT_FOR", "text": "never shown", "timeoutMs": 60000 },
        ]),
        json!({ "concurrency": 1 }),
    )
    .await;
    let id = launch(&app, &long, None).await;
    let run = wait_run(
        &app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(run["status"], "TIMED_OUT", "{run:#}");
    assert!(
        run["error"].as_str().unwrap().contains("6 s"),
        "{}",
        run["error"]
    );
    assert_eq!(browsers_left(&worker), Vec::<String>::new());

    // Cancel mid-step: one run holds the target's only slot, a second waits behind it.
    let a = launch(&app, &long, None).await;
    let b = launch(&app, &long, None).await;
    let start = Instant::now();
    let (first, second) = loop {
        let ra = run_of(&app, &app.viewer_a.caller(), &a).await;
        let rb = run_of(&app, &app.viewer_a.caller(), &b).await;
        match (ra["status"].as_str(), rb["status"].as_str()) {
            (Some("RUNNING"), Some("QUEUED")) => break (a, b),
            (Some("QUEUED"), Some("RUNNING")) => break (b, a),
            other => assert!(start.elapsed() < Duration::from_secs(20), "{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cancel = "mutation($id: ID!) { cancelRun(id: $id) { status } }";
    // Queued: cancelled at once.
    let r = app
        .gql(&app.engineer_a.caller(), cancel, json!({ "id": second }))
        .await;
    assert_eq!(r.data()["cancelRun"]["status"], "CANCELLED");
    let r = app
        .gql(&app.engineer_a.caller(), cancel, json!({ "id": first }))
        .await;
    assert_eq!(r.data()["cancelRun"]["status"], "CANCELLING");
    let asked = Instant::now();
    let run = wait_run(&app, &first, &["CANCELLED"], Duration::from_secs(10)).await;
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "cancelled after {:?}",
        asked.elapsed()
    );
    assert_eq!(run["attempts"][0]["errorClass"], "CANCELLED");
    assert_eq!(browsers_left(&worker), Vec::<String>::new());
    let r = app
        .gql(&app.engineer_a.caller(), cancel, json!({ "id": first }))
        .await;
    assert_eq!(
        r.data()["cancelRun"]["status"],
        "CANCELLED",
        "cancelling twice changes nothing"
    );
    let r = app
        .gql(&app.engineer_a.caller(), cancel, json!({ "id": id }))
        .await;
    assert_eq!(r.code(), "CONFLICT", "a finished run cannot be cancelled");
    assert!(our_drivers().is_empty(), "{:?}", our_drivers());
}

async fn a_lost_browser_is_retried_on_a_fresh_session(backend: Backend) {
    let app = app(backend, &[]).await;
    let site = Site::start().await;
    let (_, wid) = workflow(
        &app,
        &site,
        json!([]),
        json!([
            { "kind": "GOTO", "url": "/ready-later" },
            { "kind": "WAIT_FOR", "text": "Ready", "timeoutMs": 6000 },
        ]),
        json!({}),
    )
    .await;
    let id = launch(&app, &wid, None).await;
    wait_run(&app, &id, &["RUNNING"], Duration::from_secs(20)).await;
    // Kill the attempt's chromedriver while its step waits.
    let start = Instant::now();
    let drivers = loop {
        let d = our_drivers();
        if !d.is_empty() {
            break d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no chromedriver started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for pid in drivers {
        unsafe_kill(pid);
    }
    let run = wait_run(
        &app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    let attempts = run["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(
        (
            attempts[0]["status"].as_str(),
            attempts[0]["errorClass"].as_str()
        ),
        (Some("FAILED"), Some("INFRA"))
    );
    assert_eq!(attempts[1]["status"], "SUCCEEDED");
    // The steps shown are the fresh session's.
    assert!(
        run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "SUCCEEDED")
    );
}

fn unsafe_kill(pid: i32) {
    let _ = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status();
}

async fn launching_is_bounded_and_versions_stay_pinned(backend: Backend) {
    // No worker consumes here: runs stay queued.
    let app = TestApp::builder(backend)
        .env("OPSDECK_RUNS_ORG_QUEUED_MAX", "3")
        .start()
        .await;
    let site = Site::start().await;
    let (_, wid) = workflow(
        &app,
        &site,
        signup_schema(),
        json!([{ "kind": "GOTO", "url": "/signup" }]),
        json!({}),
    )
    .await;
    let ok = scenario(
        &app,
        &wid,
        "VALID",
        json!({ "email": "a@example.com", "age": "20" }),
    )
    .await;
    let engineer = app.engineer_a.caller();
    let many = "mutation($w: ID!, $s: [ID!]!, $v: Int) { launchRuns(input: { workflowId: $w, scenarioIds: $s, version: $v }) { id version } }";
    // Bad input: unknown version, no scenarios, too many, a scenario breaking the schema.
    let r = app
        .gql(&engineer, many, json!({ "w": wid, "s": [ok], "v": 7 }))
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(r.message().contains("version"), "{}", r.message());
    let r = app.gql(&engineer, many, json!({ "w": wid, "s": [] })).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app
        .gql(
            &engineer,
            many,
            json!({ "w": wid, "s": vec![ok.clone(); 1001] }),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    // A screenshot policy that does not exist is refused before anything is queued.
    let r = app
        .gql(
            &engineer,
            "mutation($w: ID!, $s: [ID!]!, $p: Screenshots!) { launchRuns(input: { workflowId: $w, scenarioIds: $s, screenshots: $p }) { id } }",
            json!({ "w": wid, "s": [ok], "p": "SOMETIMES" }),
        )
        .await;
    assert!(r.message().contains("SOMETIMES"), "{}", r.message());
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app
        .gql(
            &engineer,
            "mutation($w: ID!) { launchRun(input: { workflowId: $w }) { id } }",
            json!({ "w": wid }),
        )
        .await;
    assert_eq!(
        r.code(),
        "BAD_USER_INPUT",
        "the schema needs inputs: {}",
        r.body
    );
    let r = app
        .gql(
            &engineer,
            many,
            json!({ "w": wid, "s": [ok, Uuid::now_v7().to_string()] }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app
        .gql(&app.viewer_a.caller(), many, json!({ "w": wid, "s": [ok] }))
        .await;
    assert_eq!(r.code(), "FORBIDDEN");

    // Version 1 pinned; the draft edited and version 2 published after launch.
    let r = app
        .gql(&engineer, many, json!({ "w": wid, "s": [ok, ok] }))
        .await;
    let first: Vec<Value> = r.data()["launchRuns"].as_array().unwrap().clone();
    assert!(first.iter().all(|r| r["version"] == 1));
    let r = app.gql(&engineer, "mutation($id: ID!) { updateWorkflowDraft(input: { id: $id, expectedVersion: 1, steps: [{ kind: GOTO, url: \"/v2\" }] }) { id } }", json!({ "id": wid })).await;
    r.data();
    let r = app.gql(&engineer, "mutation($id: ID!) { publishWorkflow(id: $id) { latestVersion versions { number steps { url } } } }", json!({ "id": wid })).await;
    assert_eq!(r.data()["publishWorkflow"]["latestVersion"], 2);
    let run = run_of(&app, &engineer, first[0]["id"].as_str().unwrap()).await;
    assert_eq!(run["version"], 1);

    // The queued cap: 2 queued + 2 more > 3, refused whole; one more fits.
    let r = app
        .gql(&engineer, many, json!({ "w": wid, "s": [ok, ok] }))
        .await;
    assert_eq!(r.code(), "QUOTA_EXCEEDED");
    let r = app
        .gql(&engineer, many, json!({ "w": wid, "s": [ok], "v": 1 }))
        .await;
    assert_eq!(r.data()["launchRuns"][0]["version"], 1);
    let r = app
        .gql(
            &engineer,
            "{ runs(filter: { status: [QUEUED] }) { edges { node { id version } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["runs"]["edges"].as_array().unwrap().len(), 3);
    let r = app.gql(&engineer, "mutation($w: ID!, $s: ID!) { launchRun(input: { workflowId: $w, scenarioId: $s }) { id } }", json!({ "w": wid, "s": ok })).await;
    assert_eq!(r.code(), "QUOTA_EXCEEDED");

    // Filters: by workflow, status, since.
    let r = app.gql(&engineer, "query($w: ID!) { runs(filter: { workflowId: $w, status: [SUCCEEDED, FAILED] }) { edges { node { id } } } }", json!({ "w": wid })).await;
    assert_eq!(r.data()["runs"]["edges"], json!([]));
    let r = app
        .gql(
            &engineer,
            "{ runs(filter: { since: \"2999-01-01T00:00:00Z\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["runs"]["edges"], json!([]));
    // A queued run: cancelled at once; then it can be retried; a running one could not.
    let id = first[0]["id"].as_str().unwrap();
    let r = app
        .gql(
            &engineer,
            "mutation($id: ID!) { retryRun(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.code(), "CONFLICT");
    let r = app
        .gql(
            &engineer,
            "mutation($id: ID!) { cancelRun(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.data()["cancelRun"]["status"], "CANCELLED");
    let r = app
        .gql(
            &engineer,
            "mutation($id: ID!) { retryRun(id: $id) { version retryOfId status } }",
            json!({ "id": id }),
        )
        .await;
    let retried = &r.data()["retryRun"];
    assert_eq!(
        (retried["version"].as_i64(), retried["status"].as_str()),
        (Some(1), Some("QUEUED"))
    );
}

async fn runs_are_org_scoped(backend: Backend) {
    let app = TestApp::builder(backend).start().await;
    let site = Site::start().await;
    let (_, wid) = workflow(
        &app,
        &site,
        json!([]),
        json!([{ "kind": "GOTO", "url": "/signup" }]),
        json!({}),
    )
    .await;
    let sid = scenario(&app, &wid, "VALID", json!({})).await;
    let id = launch(&app, &wid, Some(&sid)).await;
    let b = app.admin_b.caller();
    for query in [
        "query($id: ID!) { run(id: $id) { id } }",
        "mutation($id: ID!) { cancelRun(id: $id) { id } }",
        "mutation($id: ID!) { retryRun(id: $id) { id } }",
        "mutation($id: ID!) { launchRun(input: { workflowId: $id }) { id } }",
        "mutation($id: ID!) { launchRuns(input: { workflowId: $id, scenarioIds: [$id] }) { id } }",
    ] {
        let target = if query.contains("workflowId") {
            &wid
        } else {
            &id
        };
        let as_b = app.gql(&b, query, json!({ "id": target })).await;
        let never = app
            .gql(&b, query, json!({ "id": Uuid::now_v7().to_string() }))
            .await;
        assert_eq!(as_b.code(), "NOT_FOUND", "{query}: {}", as_b.body);
        assert_eq!(as_b.message(), never.message(), "{query}");
    }
    // A's scenario in B's launch of B's own workflow: not found either.
    let (_, wid_b) = {
        let r = app.gql(&b, "mutation($u: String!) { createTarget(input: { name: \"b\", baseUrl: $u }) { id } }", json!({ "u": "https://b.example.com" })).await;
        let t = r.data()["createTarget"]["id"].as_str().unwrap().to_owned();
        let r = app.gql(&b, "mutation($t: ID!) { createWorkflow(input: { name: \"b\", targetId: $t, steps: [{ kind: GOTO, url: \"/\" }] }) { id } }", json!({ "t": t })).await;
        let w = r.data()["createWorkflow"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.gql(
            &b,
            "mutation($w: ID!) { publishWorkflow(id: $w) { id } }",
            json!({ "w": w }),
        )
        .await
        .data();
        (t, w)
    };
    let r = app.gql(&b, "mutation($w: ID!, $s: ID!) { launchRun(input: { workflowId: $w, scenarioId: $s }) { id } }", json!({ "w": wid_b, "s": sid })).await;
    assert_eq!(r.code(), "NOT_FOUND", "{}", r.body);
    // B's list has only B's; A's run untouched, still queued or beyond.
    let r = app
        .gql(&b, "{ runs { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(r.data()["runs"]["edges"], json!([]));
    let run = run_of(&app, &app.viewer_a.caller(), &id).await;
    assert!(run["cancelRequestedAt"].is_null());
    assert_eq!(run["status"], "QUEUED");
    // Leave nothing queued in the shared database for other tests' workers.
    let r = app
        .gql(
            &app.engineer_a.caller(),
            "mutation($id: ID!) { cancelRun(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.data()["cancelRun"]["status"], "CANCELLED");
}

async fn without_a_browser_runs_fail_saying_how_to_install_one(backend: Backend) {
    let app = app(
        backend,
        &[("OPSDECK_CHROMEDRIVER", "/nonexistent/chromedriver")],
    )
    .await;
    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let browser = ready["checks"]["browser"].as_str().unwrap();
    assert!(
        browser.starts_with("unavailable")
            && browser.contains("apt-get install chromium-headless-shell chromium chromium-driver"),
        "{browser}"
    );
    let site = Site::start().await;
    let (_, wid) = workflow(
        &app,
        &site,
        json!([]),
        json!([{ "kind": "GOTO", "url": "/signup" }]),
        json!({}),
    )
    .await;
    let id = launch(&app, &wid, None).await;
    let run = wait_run(
        &app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(run["status"], "FAILED");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("OPSDECK_WEBDRIVER_URL"),
        "{}",
        run["error"]
    );
    assert_eq!(
        run["attempts"].as_array().unwrap().len(),
        1,
        "no retry can install a browser"
    );

    // With a browser, the check says which.
    let app = TestApp::builder(backend).start().await;
    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ready["checks"]["browser"]
            .as_str()
            .unwrap()
            .starts_with("up: "),
        "{ready}"
    );
}

/// A two-step run (open the test site's signup page, see its title), to its end.
async fn open_the_signup_page(app: &TestApp) -> Value {
    let site = Site::start().await;
    let (_, wid) = workflow(
        app,
        &site,
        json!([]),
        json!([
            { "kind": "GOTO", "url": "/signup" },
            { "kind": "ASSERT", "text": "Sign up" },
        ]),
        json!({}),
    )
    .await;
    let id = launch(app, &wid, None).await;
    wait_run(
        app,
        &id,
        &["SUCCEEDED", "FAILED", "TIMED_OUT"],
        Duration::from_secs(60),
    )
    .await
}

async fn a_configured_webdriver_endpoint_is_used(backend: Backend) {
    let endpoint = crate::support::env("OPSDECK_TEST_WEBDRIVER_URL");
    // A chromedriver that does not exist: only the configured endpoint can run this.
    let app = app(
        backend,
        &[
            ("OPSDECK_WEBDRIVER_URL", &endpoint),
            ("OPSDECK_CHROMEDRIVER", "/nonexistent/chromedriver"),
        ],
    )
    .await;
    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["checks"]["browser"],
        format!("up: WebDriver at {endpoint}")
    );
    let run = open_the_signup_page(&app).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
}

/// The worker starts the headless shell when it is installed (a third of Chromium's start-up
/// CPU), and full Chromium, named by OPSDECK_CHROMIUM, runs the same workflow.
async fn the_headless_shell_is_preferred_and_full_chromium_still_runs(backend: Backend) {
    let browser_check = |app: &TestApp| {
        let request = app.http.get(app.url("/readyz"));
        async move {
            let ready: Value = request.send().await.unwrap().json().await.unwrap();
            ready["checks"]["browser"].as_str().unwrap().to_owned()
        }
    };
    let default = app(backend, &[]).await;
    let check = browser_check(&default).await;
    assert!(
        check.starts_with("up: ") && check.ends_with("chromium-headless-shell"),
        "{check}"
    );
    drop(default);

    let app = app(backend, &[("OPSDECK_CHROMIUM", "chromium")]).await;
    let check = browser_check(&app).await;
    assert!(check.ends_with("/chromium"), "{check}");
    let run = open_the_signup_page(&app).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    let steps = run["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["screenshotUrl"].is_string()),
        "screenshots from full Chromium: {steps:?}"
    );
}

async fn a_thousand_runs_launch_in_one_call(backend: Backend) {
    let app = TestApp::builder(backend).start().await; // nothing consumes: all stay queued
    let site = Site::start().await;
    let (_, wid) = workflow(
        &app,
        &site,
        json!([]),
        json!([{ "kind": "GOTO", "url": "/signup" }]),
        json!({}),
    )
    .await;
    let sid = scenario(&app, &wid, "VALID", json!({})).await;
    let started = Instant::now();
    let r = app
        .gql(&app.engineer_a.caller(), "mutation($w: ID!, $s: [ID!]!) { launchRuns(input: { workflowId: $w, scenarioIds: $s }) { id status } }", json!({ "w": wid, "s": vec![sid.clone(); 1000] }))
        .await;
    let runs = r.data()["launchRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 1000);
    assert!(runs.iter().all(|r| r["status"] == "QUEUED"));
    eprintln!("1000 runs launched in {:?}", started.elapsed());
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let r = app
            .gql(&app.viewer_a.caller(), "query($a: String) { runs(first: 100, after: $a, filter: { status: [QUEUED] }) { edges { cursor } pageInfo { hasNextPage } } }", json!({ "a": after }))
            .await;
        let page = &r.data()["runs"];
        let edges = page["edges"].as_array().unwrap();
        seen += edges.len();
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = edges
            .last()
            .map(|e| e["cursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, 1000);
}

async fn the_org_cap_holds_across_targets(backend: Backend) {
    // One run at a time in the org, whatever the targets allow.
    let app = app(backend, &[("OPSDECK_RUNS_ORG_CONCURRENCY", "1")]).await;
    let site = Site::start().await;
    let steps =
        json!([{ "kind": "GOTO", "url": "/ready-later" }, { "kind": "WAIT_FOR", "text": "Ready" }]);
    let (_, w1) = workflow(
        &app,
        &site,
        json!([]),
        steps.clone(),
        json!({ "concurrency": 5 }),
    )
    .await;
    let (_, w2) = workflow(&app, &site, json!([]), steps, json!({ "concurrency": 5 })).await;
    let ids = [launch(&app, &w1, None).await, launch(&app, &w2, None).await];
    let start = Instant::now();
    let mut most = 0;
    loop {
        let mut running = 0;
        let mut done = 0;
        for id in &ids {
            let run = run_of(&app, &app.viewer_a.caller(), id).await;
            match run["status"].as_str() {
                Some("RUNNING") => running += 1,
                Some("SUCCEEDED") => done += 1,
                Some("QUEUED") => {}
                other => panic!("{other:?}: {run}"),
            }
        }
        most = most.max(running);
        if done == ids.len() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "runs did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(most, 1, "two runs ran at once despite the org's cap of 1");
}
