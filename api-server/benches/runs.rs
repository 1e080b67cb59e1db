//! B8: a 3-field form with one screenshot and its upload.
//! - Run wall time against a plain WebDriver script doing the same steps in the same way (a
//!   fresh chromedriver and browser, the one the worker picks, fill, submit, wait,
//!   screenshot, store), alternated,
//!   medians and their ratio (goal: overhead <= 10 %). Opsdeck's run takes its one
//!   screenshot in a SCREENSHOT step, launched `ON_FAILURE`; the same run with a screenshot
//!   after every step (`EVERY_STEP`, the default) is measured alongside.
//! - Runs per minute with 4 concurrent sessions (goal >= 60 on 2 cores).
//! - Memory per concurrent session: peak PSS of the browsers' processes / sessions
//!   (goal <= 250 MB).
//!
//!     scripts/with-components cargo bench --workspace --bench runs
//!
//! Knobs: BENCH_PAIRS (5) alternated single runs, BENCH_RUNS (24) for the throughput part.
//! Embedded deployment (SQLite, local object store, worker in process).

#[path = "support/bench_db.rs"]
mod bench_db;

use std::time::{Duration, Instant};

use axum::response::Html;
use axum::routing::get;
use bench_db::knob;
use domain::automation::definition::{Locator, Step, StepKind};
use domain::automation::{runs, targets, workflows};
use domain::config::Config;
use domain::db::{Db, Scope};
use domain::entity::job;
use domain::org::OrgCtx;
use fantoccini::{ClientBuilder, Locator as By};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

const FORM: &str = r#"<!doctype html><html><body><form action="/done">
<label for="name">Name</label><input id="name" name="name">
<label for="email">E-mail</label><input id="email" name="email" type="email">
<label for="age">Age</label><input id="age" name="age" type="number">
<button type="submit">Send</button></form></body></html>"#;

/// The allocator the binaries use.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    domain::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}

async fn site() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/form", get(|| async { Html(FORM) }))
        .route("/done", get(|| async { Html("<h1>Thanks</h1>") }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn step(kind: StepKind) -> Step {
    Step {
        kind,
        url: None,
        locator: None,
        value: None,
        text: None,
        timeout_ms: None,
        name: None,
    }
}

fn css(sel: &str) -> Option<Locator> {
    Some(Locator {
        css: Some(sel.to_owned()),
        ..Locator::default()
    })
}

async fn bench() {
    let pairs = knob("BENCH_PAIRS", 5) as usize;
    let many = knob("BENCH_RUNS", 24) as usize;
    let dir = std::env::temp_dir().join(format!("opsdeck-bench-runs-{}", Uuid::now_v7()));
    let vars = [
        ("OPSDECK_DATA_DIR", dir.to_str().unwrap()),
        ("OPSDECK_LOG", "warn"),
        ("OPSDECK_RUNS_ORG_CONCURRENCY", "4"),
        ("OPSDECK_WORKER_CONCURRENCY", "4"),
    ];
    let config = Config::from_env_map(
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap();
    domain::db::migrate(&config).await.unwrap();
    let app = api_server::app::AppState::new(config.clone())
        .await
        .unwrap();
    app.start_jobs(true);
    let port = site().await;
    let db = app.db.clone();
    let org = domain::organizations::create_system(
        &db,
        domain::organizations::NewOrganization {
            slug: format!("b8-{}", &Uuid::now_v7().simple().to_string()[20..]),
            name: "b8".into(),
        },
    )
    .await
    .unwrap()
    .id;
    let ctx = OrgCtx::system(org);
    let target = targets::create(
        &db,
        &ctx,
        targets::TargetInput {
            name: Some("bench".into()),
            base_url: Some(format!("http://site.localhost:{port}")),
            allow_private_network: Some(true),
            concurrency: Some(4),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut goto = step(StepKind::Goto);
    goto.url = Some("/form".into());
    let fill = |sel: &str, v: &str| {
        let mut s = step(StepKind::Fill);
        s.locator = css(sel);
        s.value = Some(v.into());
        s
    };
    let mut submit = step(StepKind::Submit);
    submit.locator = css("button");
    let mut wait = step(StepKind::WaitFor);
    wait.text = Some("Thanks".into());
    let mut shot = step(StepKind::Screenshot);
    shot.name = Some("thanks".into());
    let workflow = workflows::create(
        &db,
        &ctx,
        workflows::NewWorkflow {
            name: "b8".into(),
            target_id: target.id,
            description: None,
            input_schema: vec![],
            steps: vec![
                goto,
                fill("#name", "Ana"),
                fill("#email", "ana@example.com"),
                fill("#age", "34"),
                submit,
                wait,
                shot,
            ],
        },
    )
    .await
    .unwrap();
    workflows::publish(&db, &ctx, workflow.id).await.unwrap();
    let launch = |n: usize, screenshots: runs::Screenshots| {
        let (db, ctx, policy, limits) = (
            db.clone(),
            ctx.clone(),
            domain::jobs::store::Policy::from(&config.jobs),
            config.runs.clone(),
        );
        let wid = workflow.id;
        async move {
            runs::launch(
                &db,
                &ctx,
                runs::Launch {
                    workflow_id: wid,
                    scenario_ids: vec![None; n],
                    version: None,
                    screenshots,
                },
                &policy,
                &limits,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.row.id)
            .collect::<Vec<_>>()
        }
    };

    use runs::Screenshots::{EveryStep, OnFailure};
    // Warm-up (page cache, first Chromium start), then alternate.
    let ids = launch(1, OnFailure).await;
    wait_done(&db, org, &ids).await;
    let _ = plain_script(&config, port, &app.store).await;
    let (mut ours, mut every, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    let mut phases: [Vec<f64>; 4] = Default::default();
    let mut plain_session = Vec::new();
    for _ in 0..pairs {
        let t0 = Instant::now();
        let ids = launch(1, OnFailure).await;
        let rows = wait_done(&db, org, &ids).await;
        ours.push(t0.elapsed().as_secs_f64());
        for (i, v) in breakdown(&db, org, &rows[0]).await.into_iter().enumerate() {
            phases[i].push(v);
        }
        let (total, session) = plain_script(&config, port, &app.store).await;
        plain.push(total);
        plain_session.push(session);
        let t0 = Instant::now();
        let ids = launch(1, EveryStep).await;
        wait_done(&db, org, &ids).await;
        every.push(t0.elapsed().as_secs_f64());
    }
    let (o, p, e) = (median(&mut ours), median(&mut plain), median(&mut every));
    let [mut pickup, mut start, mut steps, mut teardown] = phases;
    println!(
        "B8 browser: {}",
        worker::browser::session::availability(&config.runs).unwrap_or_else(|e| e)
    );
    println!(
        "B8 where a run's time goes (medians): pickup {:.0} ms, browser and session start {:.0} ms, steps {:.0} ms, teardown {:.0} ms; the script's session start {:.0} ms",
        median(&mut pickup) * 1000.0,
        median(&mut start) * 1000.0,
        median(&mut steps) * 1000.0,
        median(&mut teardown) * 1000.0,
        median(&mut plain_session) * 1000.0,
    );
    println!(
        "B8 single run: Opsdeck median {:.0} ms, plain WebDriver script {:.0} ms, ratio {:.2} (goal <= 1.10; {pairs} alternated pairs)",
        o * 1000.0,
        p * 1000.0,
        o / p
    );
    println!(
        "B8 single run with a screenshot after every step (EVERY_STEP): median {:.0} ms, ratio {:.2}",
        e * 1000.0,
        e / p
    );

    // Throughput and memory with 4 sessions at once.
    let sampler = tokio::spawn(async {
        loop {
            browser_pss_mib();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let t0 = Instant::now();
    let ids = launch(many, OnFailure).await;
    let rows = wait_done(&db, org, &ids).await;
    let elapsed = t0.elapsed().as_secs_f64();
    sampler.abort();
    let ok = rows.iter().filter(|j| j.status == "SUCCEEDED").count();
    println!(
        "B8 throughput: {many} runs, 4 at once: {:.1} s, {:.0} runs/min ({ok} succeeded) (goal >= 60)",
        elapsed,
        many as f64 * 60.0 / elapsed
    );
    let (pss, sessions) = PEAK.lock().map(|p| *p).unwrap_or((0.0, 0));
    println!(
        "B8 memory: peak {pss:.0} MiB PSS across {sessions} concurrent sessions: {:.0} MiB per session (goal <= 250)",
        pss / sessions.max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The highest browser PSS seen, and the sessions it was spread over.
static PEAK: std::sync::Mutex<(f64, usize)> = std::sync::Mutex::new((0.0, 0));

/// PSS of every process of the browsers of this process's workers (a browser's main process
/// carries its profile; the headless shell's helpers do not, but they stay in its process
/// group), plus its chromedriver children; and how many browser sessions (profiles) are live.
/// Keeps the peak.
fn browser_pss_mib() -> (f64, usize) {
    let me = std::process::id().to_string();
    let mut processes = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let mut after_name = stat.rsplit(')').next().unwrap_or("").split_whitespace();
        let ppid = after_name.nth(1).unwrap_or("").to_owned();
        let pgrp = after_name.next().and_then(|g| g.parse::<u32>().ok());
        processes.push((pid, ppid, pgrp, cmd, entry.path()));
    }
    let browsers: std::collections::BTreeSet<u32> = processes
        .iter()
        .filter(|(pid, _, pgrp, cmd, _)| cmd.contains("opsdeck-browsers/") && Some(*pid) == *pgrp)
        .map(|(pid, ..)| *pid)
        .collect();
    let mut total_kb = 0.0;
    let mut profiles = std::collections::BTreeSet::new();
    for (_, ppid, pgrp, cmd, path) in &processes {
        let ours = cmd.contains("opsdeck-browsers/")
            || pgrp.is_some_and(|g| browsers.contains(&g))
            || (cmd.contains("chromedriver") && *ppid == me);
        if !ours {
            continue;
        }
        if let Some(p) = cmd
            .split("--user-data-dir=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
        {
            profiles.insert(p.to_owned());
        }
        let smaps = std::fs::read_to_string(path.join("smaps_rollup")).unwrap_or_default();
        if let Some(kb) = smaps
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
        {
            total_kb += kb;
        }
    }
    let result = (total_kb / 1024.0, profiles.len());
    if let Ok(mut peak) = PEAK.lock()
        && result.0 > peak.0
    {
        *peak = result;
    }
    result
}

async fn wait_done(db: &Db, org: Uuid, ids: &[Uuid]) -> Vec<job::Model> {
    let start = Instant::now();
    loop {
        let tx = domain::db::begin_read(db, Scope::org(org)).await.unwrap();
        let rows = job::Entity::find()
            .filter(job::Column::Id.is_in(ids.iter().copied()))
            .all(&tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        if rows
            .iter()
            .all(|j| ["SUCCEEDED", "FAILED", "DEAD", "CANCELLED"].contains(&j.status.as_str()))
        {
            if let Some(bad) = rows.iter().find(|j| j.status != "SUCCEEDED") {
                eprintln!("a run failed: {:?}", bad.last_error);
            }
            return rows;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "runs did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Seconds from enqueue to claim, from claim to the first step, across the steps, and from
/// the last step to the recorded outcome.
async fn breakdown(db: &Db, org: Uuid, job: &job::Model) -> [f64; 4] {
    use domain::entity::run_step;
    let tx = domain::db::begin_read(db, Scope::org(org)).await.unwrap();
    let steps = run_step::Entity::find()
        .filter(run_step::Column::RunId.eq(job.id))
        .all(&tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let secs = |d: chrono::Duration| d.num_microseconds().unwrap_or(0) as f64 / 1e6;
    let started = job.started_at.unwrap_or(job.created_at);
    let first = steps.iter().map(|s| s.started_at).min().unwrap_or(started);
    let last = steps
        .iter()
        .map(|s| s.started_at + chrono::Duration::milliseconds(s.duration_ms))
        .max()
        .unwrap_or(first);
    let finished = job.finished_at.unwrap_or(last);
    [
        secs(started - job.created_at),
        secs(first - started),
        secs(last - first),
        secs(finished - last),
    ]
}

/// Where Debian installs Chromium's headless shell; the worker prefers it when present.
const HEADLESS_SHELL: &str = "/usr/lib/chromium/chromium-headless-shell";

/// The same steps as a plain script: its own chromedriver and browser, fill, submit,
/// wait, one screenshot stored in the same object store. Seconds: in all, and until its
/// session was up.
async fn plain_script(
    config: &Config,
    port: u16,
    store: &domain::object_store::ObjectStore,
) -> (f64, f64) {
    let t0 = Instant::now();
    let driver_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut driver = std::process::Command::new(&config.runs.chromedriver)
        .arg(format!("--port={driver_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver");
    let profile = std::env::temp_dir().join(format!("b8-plain-{}", Uuid::now_v7()));
    // The browser the worker would pick, started the way it has to be for the headless
    // shell (chromedriver cannot start that one): with DevTools on, chromedriver attached.
    let shell = std::path::Path::new(HEADLESS_SHELL);
    let mut browser = std::process::Command::new(if shell.exists() {
        HEADLESS_SHELL
    } else {
        "chromium"
    });
    if !shell.exists() {
        browser.arg("--headless=new");
    }
    let mut browser = browser
        .args([
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,800",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("browser");
    let debugger = loop {
        if let Ok(text) = std::fs::read_to_string(profile.join("DevToolsActivePort"))
            && let Some((port, _)) = text.split_once('\n')
        {
            break format!("127.0.0.1:{port}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "debuggerAddress": debugger },
    });
    let client = loop {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
        {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let session = t0.elapsed().as_secs_f64();
    client
        .goto(&format!("http://127.0.0.1:{port}/form"))
        .await
        .unwrap();
    for (sel, v) in [
        ("#name", "Ana"),
        ("#email", "ana@example.com"),
        ("#age", "34"),
    ] {
        client
            .find(By::Css(sel))
            .await
            .unwrap()
            .send_keys(v)
            .await
            .unwrap();
    }
    client
        .find(By::Css("button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(By::XPath("//h1[text()='Thanks']"))
        .await
        .unwrap();
    let png = client.screenshot().await.unwrap();
    store
        .put_bytes(
            &format!("bench/plain-{}.png", Uuid::now_v7()),
            png,
            "image/png",
        )
        .await
        .unwrap();
    client.close().await.unwrap();
    let _ = driver.kill();
    let _ = driver.wait();
    let _ = browser.kill();
    let _ = browser.wait();
    let _ = std::fs::remove_dir_all(&profile);
    (t0.elapsed().as_secs_f64(), session)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
