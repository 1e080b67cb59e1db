//! `workflow_run`: one attempt of a run. A filtering proxy for the target's egress rules, a
//! fresh browser behind it, then the pinned version's steps in order, each recorded as it
//! ends with a screenshot (unless the run was launched `ON_FAILURE`), and on failure a
//! screenshot, the page's HTML and console log. A watchdog kills the browser, inside
//! whatever command is hanging, when the run's time is up or it is cancelled. Secret
//! values are masked in everything recorded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use domain::automation::definition::StepKind;
use domain::automation::runs::{self, ArtifactRecord, Plan, Screenshots, StepRecord};
use domain::automation::scenarios::Outcome;
use domain::jobs::JobFailure;
use domain::jobs::contracts::WorkflowRun;
use serde_json::json;

use crate::browser::egress::EgressProxy;
use crate::browser::session::Browser;
use crate::browser::steps::{self, StepError, Values};
use crate::execute::{Completion, Effect, JobCtx};
use crate::handlers::browser_job::{Masker, Sandbox};

/// An ASSERT without its own timeout waits this long for its condition.
const ASSERT_DEFAULT: Duration = Duration::from_secs(5);
/// Beyond a step's own timeout, how long its WebDriver command may hang before the
/// watchdog kills the browser.
const HANG_MARGIN: Duration = Duration::from_secs(2);
/// After a step that may navigate, how long the page may take to load before its
/// screenshot is taken anyway.
const SETTLE: Duration = Duration::from_secs(3);
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(ctx: JobCtx, job: WorkflowRun) -> Result<Completion, JobFailure> {
    let plan = runs::plan(&ctx.rt.db, ctx.lease.org_id, job.run_id).await?;
    let sandbox = Sandbox::open(&ctx, &plan.target).await?;
    let mask = Masker::new(&sandbox.secrets);
    let result = sandbox
        .supervise(
            &ctx,
            "run",
            execute(
                &ctx,
                &plan,
                &sandbox.browser,
                &sandbox.proxy,
                &sandbox.secrets,
                &mask,
            ),
        )
        .await;
    sandbox.close().await;
    result.map_err(|e| mask.failure(e))
}

async fn execute(
    ctx: &JobCtx,
    plan: &Plan,
    browser: &Browser,
    proxy: &EgressProxy,
    secrets: &BTreeMap<String, String>,
    mask: &Masker,
) -> Result<Completion, JobFailure> {
    let cfg = &ctx.rt.config.runs;
    let base_url = url::Url::parse(&plan.target.base_url)
        .map_err(|e| JobFailure::Permanent(format!("the target's base URL: {e}")))?;
    let values = Values {
        inputs: &plan.run.inputs,
        secrets,
        base_url: &base_url,
    };
    let uploads = std::env::temp_dir().join(format!(
        "opsdeck-uploads-{}-{}",
        ctx.lease.job_id, ctx.lease.token
    ));
    std::fs::create_dir_all(&uploads).map_err(|e| JobFailure::Retryable(e.to_string()))?;
    let expected = Outcome::parse(&plan.run.expected_outcome).unwrap_or(Outcome::Success);
    let total = plan.steps.len().max(1);
    // Screenshots are stored off the critical path; all are in before the outcome.
    let mut uploads_pending = tokio::task::JoinSet::new();
    let mut submitted = false;
    // Else only SCREENSHOT steps and the failure take one.
    let every_step = Screenshots::parse(&plan.run.screenshots) != Some(Screenshots::OnFailure);
    let mut outcome = Ok(());
    // The browser's start-up traffic is not the run's: the network log so far is set aside.
    let _ = browser.page_request_hosts().await;
    // Every host the pages asked for in this attempt: a refusal of anything else was the
    // browser's own traffic, not the page's.
    let mut page_hosts: Option<std::collections::BTreeSet<String>> = Some(Default::default());
    // Refusals are read from where the previous step stopped reading, not from the count
    // when a step starts: a request refused between two steps (a script's fetch while the
    // screenshot of the step before is taken) counts against the next one.
    let mut refusals_read = proxy.refusal_count();
    for (i, step) in plan.steps.iter().enumerate() {
        let timeout = match (step.timeout_ms, step.kind) {
            (Some(ms), _) => Duration::from_millis(ms.max(1) as u64),
            (None, StepKind::Assert) => {
                ASSERT_DEFAULT.min(Duration::from_millis(cfg.step_timeout_ms))
            }
            (None, _) => Duration::from_millis(cfg.step_timeout_ms),
        };
        let started_at = domain::time::now();
        let t0 = Instant::now();
        let result = match tokio::time::timeout(
            timeout + HANG_MARGIN,
            steps::run(browser, step, &values, timeout, &uploads),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(StepError::Timeout(format!(
                "did not finish within {} ms",
                timeout.as_millis()
            ))),
        };
        // A request of the page the egress rules refused during the step fails it,
        // naming the host.
        let refused = proxy.refusals_since(refusals_read);
        refusals_read += refused.len();
        // The page's requests are read (and the log drained) only when something was
        // refused: the log holds every request since the last read.
        if !refused.is_empty() && !matches!(result, Err(StepError::Timeout(_))) {
            match (browser.page_request_hosts().await, page_hosts.as_mut()) {
                (Some(new), Some(all)) => all.extend(new),
                // No performance log: every refusal counts.
                (None, _) => page_hosts = None,
                _ => {}
            }
        }
        let page_refusal = refused.iter().find(|r| {
            page_hosts
                .as_ref()
                .is_none_or(|hosts| hosts.contains(r.host()))
        });
        let result = match (result, page_refusal) {
            (Err(StepError::Timeout(m)), _) => Err(StepError::Timeout(m)),
            (_, Some(refusal)) => Err(StepError::Assertion(refusal.to_string())),
            (r, None) => r,
        };
        let duration_ms = t0.elapsed().as_millis() as i64;
        let index = i as i32;
        match result {
            Ok(done) => {
                let (screenshot_key, stalled) = match step_screenshot(
                    ctx,
                    browser,
                    step.kind,
                    &done,
                    i,
                    every_step,
                    &mut uploads_pending,
                )
                .await
                {
                    Ok(key) => (key, false),
                    Err(Stalled) => (None, true),
                };
                let output = done
                    .output
                    .map(|(name, v)| json!({ name: mask.apply_json(v) }));
                record(
                    ctx,
                    StepRecord {
                        index,
                        kind: step.kind.as_str(),
                        succeeded: true,
                        started_at,
                        duration_ms,
                        error: None,
                        screenshot_key,
                        output,
                    },
                )
                .await?;
                if step.kind == StepKind::Submit || done.hands_over {
                    submitted = true;
                }
                if stalled {
                    // The step passed, but a browser that stopped answering can do nothing
                    // more: a fresh one, on the next attempt.
                    outcome = Err(JobFailure::Retryable(format!(
                        "the browser stopped answering after step {} ({})",
                        i + 1,
                        step.kind.as_str()
                    )));
                    break;
                }
            }
            Err(e) => {
                let (class, message) = match e {
                    StepError::Timeout(m) => ("timeout", m),
                    StepError::Infra(m) => ("infra", m),
                    StepError::Refused(m) => ("refused", m),
                    StepError::Assertion(m) if submitted => ("refused", m),
                    StepError::Assertion(m) => ("assertion", m),
                };
                let message = mask.apply(&message);
                let screenshot_key = if class == "timeout" {
                    // The page is hung: stop it now rather than wait on it for evidence.
                    browser.killer.kill();
                    None
                } else {
                    failure_evidence(ctx, browser, mask).await
                };
                record(
                    ctx,
                    StepRecord {
                        index,
                        kind: step.kind.as_str(),
                        succeeded: false,
                        started_at,
                        duration_ms,
                        error: Some(message.clone()),
                        screenshot_key,
                        output: None,
                    },
                )
                .await?;
                let what = format!("step {} ({}): {message}", i + 1, step.kind.as_str());
                outcome = Err(match class {
                    "timeout" => JobFailure::TimedOut(what),
                    "infra" => JobFailure::Retryable(what),
                    "refused" if expected == Outcome::ValidationError => {
                        let _ = std::fs::remove_dir_all(&uploads);
                        while uploads_pending.join_next().await.is_some() {}
                        return Ok(Completion {
                            result: Some(
                                json!({ "outcome": "VALIDATION_ERROR", "refusal": message }),
                            ),
                            effect: Effect::None,
                        });
                    }
                    _ => JobFailure::Permanent(what),
                });
                break;
            }
        }
        ctx.progress.set(((i + 1) * 100 / total) as i32);
    }
    let _ = std::fs::remove_dir_all(&uploads);
    while uploads_pending.join_next().await.is_some() {}
    outcome?;
    if expected == Outcome::ValidationError {
        return Err(JobFailure::Permanent(
            "expected the site to refuse the input (VALIDATION_ERROR), but every step passed"
                .into(),
        ));
    }
    Ok(Completion {
        result: Some(json!({ "outcome": "SUCCESS" })),
        effect: Effect::None,
    })
}

async fn record(ctx: &JobCtx, step: StepRecord) -> Result<(), JobFailure> {
    runs::record_step(&ctx.rt.db, &ctx.lease, step)
        .await
        .map_err(JobFailure::from)
}

/// A screenshot that did not come back, from a session that no longer answers at all.
struct Stalled;

/// The step's screenshot: none when the run takes none for this step; after a GOTO or an
/// action that may have navigated, once the page has settled, and none when it is still
/// navigating (see `Browser::settle`).
async fn step_screenshot(
    ctx: &JobCtx,
    browser: &Browser,
    kind: StepKind,
    done: &steps::Done,
    i: usize,
    every_step: bool,
    pending: &mut tokio::task::JoinSet<()>,
) -> Result<Option<String>, Stalled> {
    if !every_step && done.screenshot_name.is_none() {
        return Ok(None);
    }
    if (done.mark.is_some() || kind == StepKind::Goto)
        && !browser.settle(done.mark.as_ref(), SETTLE).await
    {
        tracing::debug!(step = i, "page still navigating; no screenshot");
        return Ok(None);
    }
    let name = done
        .screenshot_name
        .clone()
        .unwrap_or_else(|| format!("step-{i:03}"));
    screenshot_later(ctx, browser, &name, pending).await
}

/// Takes a screenshot now and stores and records it in the background; the key it will
/// have (`None` if the browser gave none).
async fn screenshot_later(
    ctx: &JobCtx,
    browser: &Browser,
    name: &str,
    pending: &mut tokio::task::JoinSet<()>,
) -> Result<Option<String>, Stalled> {
    let png = match tokio::time::timeout(SCREENSHOT_TIMEOUT, browser.screenshot()).await {
        Ok(Some(png)) => png,
        Ok(None) => return Ok(None),
        Err(_) if browser.answers(Duration::from_secs(2)).await => return Ok(None),
        Err(_) => return Err(Stalled),
    };
    if png.len() as u64 > ctx.rt.config.runs.artifact_max_bytes {
        tracing::warn!(
            size = png.len(),
            "screenshot over the artifact cap; not stored"
        );
        return Ok(None);
    }
    let file = format!("{name}.png");
    let key = runs::artifact_key(&ctx.lease, &file);
    let ctx = ctx.clone();
    pending.spawn(async move {
        store(&ctx, "SCREENSHOT", &file, "image/png", png).await;
    });
    Ok(Some(key))
}

/// Takes, stores and records a screenshot; `None` (and a warning) if any of it failed:
/// evidence is best effort, the step's result is not.
async fn screenshot(ctx: &JobCtx, browser: &Browser, name: &str) -> Option<String> {
    let png = match tokio::time::timeout(SCREENSHOT_TIMEOUT, browser.screenshot()).await {
        Ok(Some(png)) => png,
        _ => return None,
    };
    store(ctx, "SCREENSHOT", &format!("{name}.png"), "image/png", png).await
}

async fn store(
    ctx: &JobCtx,
    kind: &'static str,
    name: &str,
    content_type: &'static str,
    mut bytes: Vec<u8>,
) -> Option<String> {
    let cap = ctx.rt.config.runs.artifact_max_bytes as usize;
    if bytes.len() > cap {
        if kind == "SCREENSHOT" {
            tracing::warn!(
                size = bytes.len(),
                cap,
                "screenshot over the artifact cap; not stored"
            );
            return None;
        }
        bytes.truncate(cap);
    }
    let key = runs::artifact_key(&ctx.lease, name);
    let size = bytes.len() as i64;
    if let Err(e) = ctx.rt.store.put_bytes(&key, bytes, content_type).await {
        tracing::warn!(error = %e, key, "storing an artifact failed");
        return None;
    }
    let recorded = runs::record_artifact(
        &ctx.rt.db,
        &ctx.lease,
        ArtifactRecord {
            kind,
            name: name.to_owned(),
            content_type,
            size_bytes: size,
            object_key: key.clone(),
        },
    )
    .await;
    recorded.ok().map(|()| key)
}

/// On failure: a screenshot, the page's HTML and the console log.
async fn failure_evidence(ctx: &JobCtx, browser: &Browser, mask: &Masker) -> Option<String> {
    let shot = screenshot(ctx, browser, "failure").await;
    if let Ok(Ok(html)) =
        tokio::time::timeout(Duration::from_secs(10), browser.client.source()).await
    {
        store(
            ctx,
            "HTML",
            "page.html",
            "text/html; charset=utf-8",
            mask.apply(&html).into_bytes(),
        )
        .await;
    }
    if let Ok(Some(log)) =
        tokio::time::timeout(Duration::from_secs(10), browser.console_log()).await
    {
        let text = mask.apply(&serde_json::to_string_pretty(&log).unwrap_or_default());
        store(
            ctx,
            "CONSOLE_LOG",
            "console.json",
            "application/json",
            text.into_bytes(),
        )
        .await;
    }
    shot
}
