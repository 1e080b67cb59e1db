//! The real `api-server` binary: embedded first start, the operator's commands, and
//! configuration errors.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_api-server");

fn data_dir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("opsdeck-bin-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn command(dir: &TempDir) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("OPSDECK_DATA_DIR", &dir.0)
        .env("OPSDECK_LISTEN", "127.0.0.1:0")
        .env("OPSDECK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// Starts the server; returns it, its base URL and what it printed on stdout by then.
async fn start(mut cmd: Command) -> (Child, String, String) {
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("Opsdeck API on ") {
                return rest.trim_end_matches("/graphql").to_owned();
            }
        }
        panic!("server exited before listening");
    })
    .await
    .expect("server did not start within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    let mut stdout = child.stdout.take().unwrap();
    let mut printed = Vec::new();
    let mut buf = [0u8; 4096];
    // The key, if any, was written before the listening line; take what is there.
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(300), stdout.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        printed.extend_from_slice(&buf[..n]);
    }
    (child, base, String::from_utf8(printed).unwrap())
}

async fn org_as(base: &str, key: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": "{ organization { slug apiKeys { edges { node { name role } } } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn embedded_first_start_prints_a_working_key_once() {
    let dir = data_dir();
    let (mut first, base, printed) = start(command(&dir)).await;
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "only the key on stdout: {printed:?}");
    let key = lines[0];
    assert!(key.starts_with("odk_"));
    let body = org_as(&base, key).await;
    assert_eq!(body["data"]["organization"]["slug"], "default");
    first.kill().await.unwrap();

    let (mut second, base, printed) = start(command(&dir)).await;
    assert_eq!(printed, "", "a second start prints no key");
    let body = org_as(&base, key).await;
    let keys = body["data"]["organization"]["apiKeys"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(keys.len(), 1, "no second key was created: {body}");
    second.kill().await.unwrap();
}

#[tokio::test]
async fn a_configured_bootstrap_key_is_used_and_not_printed() {
    let dir = data_dir();
    let chosen = "my-own-bootstrap-key-0123456789_abcdef";
    let mut cmd = command(&dir);
    cmd.env("OPSDECK_BOOTSTRAP_ADMIN_KEY", chosen);
    let (mut child, base, printed) = start(cmd).await;
    assert_eq!(printed, "");
    assert_eq!(
        org_as(&base, chosen).await["data"]["organization"]["slug"],
        "default"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn operator_commands_work_beside_a_running_server() {
    let dir = data_dir();
    let (mut server, base, _) = start(command(&dir)).await;
    let run = |args: &[&str]| {
        let mut c = command(&dir);
        c.args(args);
        async move { c.output().await.unwrap() }
    };
    let out = run(&[
        "create-organization",
        "--slug",
        "ops",
        "--name",
        "Operations",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "create-api-key",
        "--org",
        "ops",
        "--role",
        "ADMIN",
        "--name",
        "recovery",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout.trim_end_matches('\n');
    assert!(
        !secret.contains('\n') && secret.starts_with("odk_"),
        "the secret alone: {stdout:?}"
    );
    let body = org_as(&base, secret).await;
    assert_eq!(body["data"]["organization"]["slug"], "ops");

    let bad = run(&[
        "create-api-key",
        "--org",
        "ops",
        "--role",
        "ROOT",
        "--name",
        "x",
    ])
    .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--role"));
    let missing = run(&[
        "create-api-key",
        "--org",
        "nope",
        "--role",
        "VIEWER",
        "--name",
        "x",
    ])
    .await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no organization"));
    let dup = run(&["create-organization", "--slug", "ops", "--name", "Again"]).await;
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));
    server.kill().await.unwrap();
}

#[tokio::test]
async fn bad_configuration_stops_start_up_with_one_line() {
    let dir = data_dir();
    let mut cmd = command(&dir);
    cmd.env("OPSDECK_GRAPHQL_MAX_DEPTH", "deep");
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("OPSDECK_GRAPHQL_MAX_DEPTH") && stderr.contains("\"deep\""),
        "{stderr}"
    );

    let help = command(&dir).arg("--help").output().await.unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    for sub in [
        "serve",
        "migrate",
        "print-schema",
        "create-organization",
        "create-api-key",
    ] {
        assert!(text.contains(sub), "--help lists {sub}");
    }
    let version = command(&dir).arg("--version").output().await.unwrap();
    assert!(
        String::from_utf8(version.stdout)
            .unwrap()
            .starts_with("api-server ")
    );
}
