//! The production shape end to end: `api-server` on PostgreSQL (as the app role), Redis and
//! S3, a token from the real OIDC provider, an organization and an API key created and used,
//! the GraphQL-over-HTTP audit and a graphql-ws client; and the `worker` binary.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn env(name: &str) -> String {
    #[allow(clippy::disallowed_methods)] // the harness reads what scripts/test exported
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test"))
}

fn binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/debug")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo build --workspace` first (scripts/test does)",
        path.display()
    );
    path
}

fn production_env(cmd: &mut Command, bucket: &str) {
    cmd.env_clear()
        .env("OPSDECK_DATABASE_URL", env("OPSDECK_TEST_APP_URL"))
        .env("OPSDECK_SECRETS_KEY", "ab".repeat(32))
        .env(
            "OPSDECK_MIGRATION_DATABASE_URL",
            env("OPSDECK_TEST_MIGRATE_URL"),
        )
        .env("OPSDECK_REDIS_URL", env("OPSDECK_TEST_REDIS_URL"))
        .env("OPSDECK_S3_BUCKET", bucket)
        .env("OPSDECK_S3_ENDPOINT", env("OPSDECK_TEST_S3_ENDPOINT"))
        .env("OPSDECK_S3_ACCESS_KEY_ID", "test")
        .env("OPSDECK_S3_SECRET_ACCESS_KEY", "test")
        .env("OPSDECK_OIDC_ISSUER", env("OPSDECK_TEST_OIDC_ISSUER"))
        .env("OPSDECK_OIDC_AUDIENCE", env("OPSDECK_TEST_OIDC_AUDIENCE"))
        .env("OPSDECK_LISTEN", "127.0.0.1:0")
        .env("OPSDECK_WORKER_LISTEN", "127.0.0.1:0")
        .env("OPSDECK_LOG", "warn")
        .kill_on_drop(true);
}

async fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    wait_for_line_keeping(child, prefix).await.0
}

/// As [`wait_for_line`], keeping every later line of standard error.
async fn wait_for_line_keeping(
    child: &mut Child,
    prefix: &str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.contains(prefix) {
                return line;
            }
        }
        panic!("process exited before printing {prefix:?}");
    })
    .await
    .expect("timed out waiting for start-up");
    let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = kept.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    (found, kept)
}

async fn gql(base: &str, bearer: &str, org: Option<&str>, query: &str) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(bearer)
        .json(&json!({ "query": query }));
    if let Some(org) = org {
        req = req.header("x-opsdeck-org", org);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn production_deployment_end_to_end() {
    let suffix = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let bucket = format!("opsdeck-e2e-{suffix}");
    let s3 = env("OPSDECK_TEST_S3_ENDPOINT");
    // moto accepts unsigned requests: enough to create the bucket /readyz checks.
    let created = reqwest::Client::new()
        .put(format!("{s3}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );

    migrate(&bucket).await;

    let mut serve = Command::new(binary("api-server"));
    production_env(&mut serve, &bucket);
    let mut server = serve
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = wait_for_line(&mut server, "Opsdeck API on ").await;
    let base = line
        .trim_start_matches("Opsdeck API on ")
        .trim_end_matches("/graphql")
        .to_owned();

    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    // GraphiQL is off outside the embedded deployment.
    let page = reqwest::Client::new()
        .get(format!("{base}/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), 200);

    // A token from the real OIDC provider (client credentials: sub = the client id).
    let issuer = env("OPSDECK_TEST_OIDC_ISSUER");
    let token: Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("e2e-user", Some("e2e-user-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api:read api:write"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    let slug = format!("e2e-{suffix}");
    let r = gql(&base, &token, None, &format!("mutation {{ createOrganization(input: {{ slug: \"{slug}\", name: \"E2E\" }}) {{ id slug }} }}")).await;
    assert_eq!(
        r["data"]["createOrganization"]["slug"],
        slug.as_str(),
        "{r}"
    );
    let r = gql(&base, &token, Some(&slug), "mutation { createApiKey(input: { name: \"e2e\", role: ENGINEER }) { apiKey { prefix } secret } }").await;
    let secret = r["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let r = gql(
        &base,
        &secret,
        None,
        "{ organization { slug } viewer { apiKey { name role } } }",
    )
    .await;
    assert_eq!(
        r["data"],
        json!({ "organization": { "slug": slug }, "viewer": { "apiKey": { "name": "e2e", "role": "ENGINEER" } } })
    );
    let r = gql(
        &base,
        &secret,
        None,
        "mutation { createApiKey(input: { name: \"x\", role: VIEWER }) { secret } }",
    )
    .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // Clients we did not write: the GraphQL-over-HTTP audit and a graphql-ws client.
    let node_dir = PathBuf::from(env("OPSDECK_TEST_NODE_DIR"));
    let audit = Command::new("node")
        .arg(node_dir.join("graphql-audit.mjs"))
        .arg(format!("{base}/graphql"))
        .env("TOKEN", &secret)
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.status.success(),
        "graphql-http audit failed:\n{report}"
    );
    assert!(report.contains("0 MUST failures"), "{report}");
    let ws = Command::new("node")
        .arg(node_dir.join("ws-subscribe.mjs"))
        .arg(format!("{}/graphql/ws", base.replace("http://", "ws://")))
        .arg("{ organization { slug } }")
        .arg("1")
        .env("TOKEN", &secret)
        .output()
        .await
        .unwrap();
    let events = String::from_utf8_lossy(&ws.stdout);
    assert!(
        ws.status.success(),
        "ws client: {events} {}",
        String::from_utf8_lossy(&ws.stderr)
    );
    assert!(events.contains(&slug), "{events}");

    server.kill().await.unwrap();
}

#[tokio::test]
async fn worker_starts_reports_health_and_stops_on_sigterm() {
    let help = Command::new(binary("worker"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for documented in [
        "serve",
        "OPSDECK_WORKER_CONCURRENCY",
        "OPSDECK_WORKER_QUEUES",
        "OPSDECK_WORKER_GRACE_SECS",
        "OPSDECK_JOBS_LEASE_SECS",
        "OPSDECK_REDIS_URL",
    ] {
        assert!(
            help.contains(documented),
            "worker --help lacks {documented}:\n{help}"
        );
    }

    let mut cmd = Command::new(binary("worker"));
    production_env(&mut cmd, "unused");
    cmd.env("OPSDECK_LOG", "info");
    let mut worker = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let line = wait_for_line(&mut worker, "worker started").await;
    let v: Value = serde_json::from_str(&line).expect("JSON log line");
    let addr = v["addr"].as_str().expect("addr field").to_owned();
    let health: Value = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let pid = worker.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(10), worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "worker exits 0 on SIGTERM: {status:?}");
}

fn job_timings(cmd: &mut Command) {
    cmd.env("OPSDECK_JOBS_LEASE_SECS", "2")
        .env("OPSDECK_JOBS_RECONCILE_SECS", "1")
        .env("OPSDECK_JOBS_RETRY_BASE_SECS", "1")
        .env("OPSDECK_JOBS_RETRY_CAP_SECS", "2");
}

/// A worker process, and the address of its /healthz and /metrics.
async fn start_worker(extra: &[(&str, &str)]) -> (Child, String) {
    let (child, addr, _) = start_worker_logged(extra).await;
    (child, addr)
}

/// As [`start_worker`], with the lines it logs after starting.
async fn start_worker_logged(
    extra: &[(&str, &str)],
) -> (Child, String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let mut cmd = Command::new(binary("worker"));
    production_env(&mut cmd, "unused");
    job_timings(&mut cmd);
    cmd.env("OPSDECK_LOG", "info");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut worker = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let (line, logs) = wait_for_line_keeping(&mut worker, "worker started").await;
    let v: Value = serde_json::from_str(&line).expect("JSON log line");
    let addr = v["addr"].as_str().expect("addr field").to_owned();
    (worker, addr, logs)
}

/// `api-server migrate`, as a deployment runs it before serving (nothing else migrates the
/// shared database the end-to-end tests use: every api-server test has a database of its own).
async fn migrate(bucket: &str) {
    let mut migrate = Command::new(binary("api-server"));
    production_env(&mut migrate, bucket);
    let out = migrate.arg("migrate").output().await.unwrap();
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An organization with an ADMIN key (made with the CLI) and an api-server on it.
async fn server_with_admin_key(prefix: &str) -> (String, String, Child) {
    migrate("unused").await;
    let slug = format!(
        "{prefix}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let mut cli = Command::new(binary("api-server"));
    production_env(&mut cli, "unused");
    let out = cli
        .args(["create-organization", "--slug", &slug, "--name", prefix])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cli = Command::new(binary("api-server"));
    production_env(&mut cli, "unused");
    let out = cli
        .args([
            "create-api-key",
            "--org",
            &slug,
            "--role",
            "ADMIN",
            "--name",
            "e2e",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let mut serve = Command::new(binary("api-server"));
    production_env(&mut serve, "unused");
    job_timings(&mut serve);
    let mut server = serve.stderr(Stdio::piped()).spawn().unwrap();
    let line = wait_for_line(&mut server, "Opsdeck API on ").await;
    let base = line
        .trim_start_matches("Opsdeck API on ")
        .trim_end_matches("/graphql")
        .to_owned();
    (base, key, server)
}

async fn run_probe(base: &str, key: &str, sleep_ms: u64) -> String {
    let r = gql(
        base,
        key,
        None,
        &format!("mutation {{ runFleetProbe(input: {{ sleepMs: {sleep_ms} }}) {{ id status }} }}"),
    )
    .await;
    r["data"]["runFleetProbe"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned()
}

/// Polls the job until its status is `want`.
async fn poll_job(base: &str, key: &str, id: &str, want: &str, within: Duration) -> Value {
    let query = format!(
        "{{ job(id: \"{id}\") {{ status attempt progress result attempts {{ attempt outcome worker error }} }} }}"
    );
    let start = std::time::Instant::now();
    loop {
        let r = gql(base, key, None, &query).await;
        let job = r["data"]["job"].clone();
        if job["status"] == want {
            return job;
        }
        assert!(start.elapsed() < within, "job not {want}: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `kill -9` of the worker running a job: the job's lease expires, another worker's
/// reconciler reclaims it, and it completes exactly once, its attempts telling the story.
#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing() {
    let (base, key, mut server) = server_with_admin_key("kill").await;
    let (mut first, _) = start_worker(&[]).await;
    let id = run_probe(&base, &key, 6000).await;
    poll_job(&base, &key, &id, "RUNNING", Duration::from_secs(10)).await;
    first.start_kill().unwrap(); // SIGKILL: no release, no last write
    first.wait().await.unwrap();

    let (mut second, addr) = start_worker(&[]).await;
    let done = poll_job(&base, &key, &id, "SUCCEEDED", Duration::from_secs(40)).await;
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{done}");
    assert_eq!(attempts[0]["outcome"], "LEASE_EXPIRED", "{done}");
    assert_eq!(attempts[1]["outcome"], "SUCCEEDED", "{done}");
    assert_ne!(attempts[0]["worker"], attempts[1]["worker"]);
    assert_eq!(done["attempt"], 2);
    // The result was written once, by the surviving attempt.
    assert_eq!(done["result"]["attempt"], 2);
    assert_eq!(done["result"]["worker"], attempts[1]["worker"]);
    // The survivor's metrics: what it ran, how long the job waited, what it reclaimed.
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for family in [
        "opsdeck_jobs_finished_total{kind=\"fleet_probe\",outcome=\"SUCCEEDED\"}",
        "opsdeck_jobs_pickup_seconds_bucket",
        "opsdeck_jobs_running",
        "opsdeck_jobs_leases_expired_total",
    ] {
        assert!(
            metrics.contains(family),
            "{family} missing from:\n{metrics}"
        );
    }

    second.start_kill().unwrap();
    server.kill().await.unwrap();
}

/// SIGTERM with a job running past the grace period: the worker hands the job back
/// (`RELEASED`, not counted as an attempt) and exits 0; another worker completes it.
#[tokio::test]
async fn a_worker_stopped_with_sigterm_releases_its_job() {
    let (base, key, mut server) = server_with_admin_key("term").await;
    let (mut first, _) = start_worker(&[("OPSDECK_WORKER_GRACE_SECS", "1")]).await;
    let id = run_probe(&base, &key, 8000).await;
    poll_job(&base, &key, &id, "RUNNING", Duration::from_secs(10)).await;
    let pid = first.id().unwrap().to_string();
    let stopped_at = std::time::Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(15), first.wait())
        .await
        .expect("the worker exits within its grace period and the release")
        .unwrap();
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
    assert!(
        stopped_at.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopped_at.elapsed()
    );
    let released = poll_job(&base, &key, &id, "QUEUED", Duration::from_secs(5)).await;
    assert_eq!(released["attempts"][0]["outcome"], "RELEASED", "{released}");
    assert_eq!(released["attempt"], 0, "a released attempt is not counted");

    let (mut second, _) = start_worker(&[]).await;
    let done = poll_job(&base, &key, &id, "SUCCEEDED", Duration::from_secs(30)).await;
    let outcomes: Vec<&str> = done["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["RELEASED", "SUCCEEDED"], "{done}");
    second.start_kill().unwrap();
    server.kill().await.unwrap();
}

/// A site whose page says "Ready" from its second visit on: the first attempt of a run
/// waits forever, the retry passes.
async fn second_visit_site() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let visits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let visits = visits.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let page = head.starts_with("GET / ") || head.starts_with("GET /?");
                let seen = if page {
                    visits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
                } else {
                    0
                };
                let body = if seen >= 2 {
                    "<p>Ready</p>"
                } else {
                    "<p>Waiting</p>"
                };
                let _ = s
                    .write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
            });
        }
    });
    port
}

/// A process that carries a profile of a worker that is gone, as a browser helper that left
/// its process group would (the worker's death signal reaches only its own children). The
/// worker's name holds a pid no process has: a child's, once it has exited.
async fn plant_escaped_browser_process() -> (Child, String) {
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id().unwrap();
    gone.wait().await.unwrap();
    let worker = format!("escapedhost-{pid}-e2e");
    // Workers run with a cleared environment: their temporary directory is /tmp.
    let profile = format!("/tmp/opsdeck-browsers/{worker}/profile");
    std::fs::create_dir_all(&profile).unwrap();
    let child = Command::new("sh")
        .args(["-c", "sleep 120; exit 0", "sh"])
        .arg(format!("--user-data-dir={profile}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert_eq!(browser_processes_of(&worker), 1, "planted");
    (child, worker)
}

/// Waits until no process uses a browser profile of `worker`; fails saying `why` after `within`.
async fn gone_within(worker: &str, within: Duration, why: &str) {
    let start = std::time::Instant::now();
    while browser_processes_of(worker) > 0 {
        assert!(start.elapsed() < within, "{why}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The processes using the browser profiles of `worker`.
fn browser_processes_of(worker: &str) -> usize {
    let safe: String = worker
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let marker = format!("opsdeck-browsers/{safe}/");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter(|e| {
            let zombie =
                std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| s.contains(") Z "));
            !zombie
                && std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
        })
        .count()
}

/// `kill -9` of a worker in the middle of a run: its browser dies with it, a browser process
/// that escaped (planted here, as a helper that left its process group would) is stopped by
/// the next worker on the machine, which reclaims the run and finishes it on a fresh session.
#[tokio::test]
async fn a_worker_killed_mid_run_leaves_no_browser_behind() {
    let (base, key, mut server) = server_with_admin_key("runs").await;
    let port = second_visit_site().await;
    let path = env("PATH");
    let (mut first, _, first_logs) = start_worker_logged(&[
        ("OPSDECK_WORKER_QUEUES", "runs"),
        ("PATH", &path),
        ("OPSDECK_LOG", "debug"),
    ])
    .await;
    let q = |query: String| {
        let (base, key) = (base.clone(), key.clone());
        async move {
            let r = gql(&base, &key, None, &query).await;
            assert!(r.get("errors").is_none(), "{query}: {r}");
            r["data"].clone()
        }
    };
    let t = q(format!("mutation {{ createTarget(input: {{ name: \"site\", baseUrl: \"http://site.localhost:{port}\", allowPrivateNetwork: true }}) {{ id }} }}")).await;
    let target = t["createTarget"]["id"].as_str().unwrap().to_owned();
    let w = q(format!("mutation {{ createWorkflow(input: {{ name: \"w\", targetId: \"{target}\", steps: [{{ kind: GOTO, url: \"/\" }}, {{ kind: WAIT_FOR, text: \"Ready\", timeoutMs: 60000 }}] }}) {{ id }} }}")).await;
    let wid = w["createWorkflow"]["id"].as_str().unwrap().to_owned();
    let secret = "tok-5e2f1d-never-logged";
    q(format!("mutation {{ setTargetSecret(input: {{ targetId: \"{target}\", name: \"token\", value: \"{secret}\" }}) {{ id }} }}")).await;
    q(format!("mutation {{ updateWorkflowDraft(input: {{ id: \"{wid}\", expectedVersion: 1, steps: [{{ kind: GOTO, url: \"/?t={{{{secret.token}}}}\" }}, {{ kind: WAIT_FOR, text: \"Ready\", timeoutMs: 60000 }}] }}) {{ id }} }}")).await;
    q(format!(
        "mutation {{ publishWorkflow(id: \"{wid}\") {{ id }} }}"
    ))
    .await;
    let r = q(format!(
        "mutation {{ launchRun(input: {{ workflowId: \"{wid}\" }}) {{ id }} }}"
    ))
    .await;
    let id = r["launchRun"]["id"].as_str().unwrap().to_owned();
    let run_query = format!(
        "{{ run(id: \"{id}\") {{ status attempts {{ number status workerId errorClass error }} steps {{ kind status }} }} }}"
    );

    // Running, its browser up and on the page (the GOTO step recorded).
    let start = std::time::Instant::now();
    let worker = loop {
        let run = q(run_query.clone()).await["run"].clone();
        let on_page = run["steps"].as_array().is_some_and(|s| !s.is_empty());
        if let Some(w) = run["attempts"]
            .as_array()
            .and_then(|a| a.last())
            .filter(|a| a["status"] == "RUNNING")
            .and_then(|a| a["workerId"].as_str())
            && on_page
            && browser_processes_of(w) > 0
        {
            break w.to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no browser started: {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    gone_within(
        &worker,
        Duration::from_secs(10),
        "the killed worker's browser outlives it",
    )
    .await;
    let (escaped, escaped_worker) = plant_escaped_browser_process().await;

    let (mut second, _, second_logs) = start_worker_logged(&[
        ("OPSDECK_WORKER_QUEUES", "runs"),
        ("PATH", &path),
        ("OPSDECK_LOG", "debug"),
    ])
    .await;
    gone_within(
        &escaped_worker,
        Duration::from_secs(20),
        "the orphaned browser process was not stopped",
    )
    .await;
    drop(escaped);
    let start = std::time::Instant::now();
    let run = loop {
        let run = q(run_query.clone()).await["run"].clone();
        if ["SUCCEEDED", "FAILED", "TIMED_OUT"]
            .iter()
            .any(|s| run["status"] == *s)
        {
            break run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "run not finished: {run}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let attempts = run["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{run}");
    assert_eq!(
        (
            attempts[0]["status"].as_str(),
            attempts[0]["errorClass"].as_str()
        ),
        (Some("FAILED"), Some("INFRA"))
    );
    assert_eq!(attempts[0]["workerId"], worker.as_str());
    assert_ne!(attempts[1]["workerId"], worker.as_str());
    second.start_kill().unwrap();
    second.wait().await.unwrap();
    // The secret went to the site, and nowhere else: not the run, not the workers' logs.
    assert!(!run.to_string().contains(secret));
    let logs = [
        first_logs.lock().unwrap().join("\n"),
        second_logs.lock().unwrap().join("\n"),
    ]
    .join("\n");
    assert!(logs.contains("job started"), "debug logs were kept");
    assert!(!logs.contains(secret), "the secret was logged");
    server.kill().await.unwrap();
}
