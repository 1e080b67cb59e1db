//! `form_analysis`: reads a target's form in a fresh browser behind the target's egress
//! rules (the same sandbox as runs) and records what it found as the job's result.

use domain::automation::analysis;
use domain::jobs::JobFailure;
use domain::jobs::contracts::FormAnalysis;

use crate::browser::analysis::{WalkError, Walker};
use crate::execute::{Completion, Effect, JobCtx};
use crate::handlers::browser_job::{Masker, Sandbox};

pub async fn run(ctx: JobCtx, job: FormAnalysis) -> Result<Completion, JobFailure> {
    let (row, target) = analysis::plan(&ctx.rt.db, ctx.lease.org_id, job.analysis_id).await?;
    let url = analysis::resolve(&target, &row.url).map_err(JobFailure::Permanent)?;
    let base_url = url::Url::parse(&target.base_url)
        .map_err(|e| JobFailure::Permanent(format!("the target's base URL: {e}")))?;
    let sandbox = Sandbox::open(&ctx, &target).await?;
    let mask = Masker::new(&sandbox.secrets);
    let progress = ctx.progress.clone();
    let set_progress = move |p: i32| progress.set(p);
    let uploads = std::env::temp_dir().join(format!(
        "opsdeck-analysis-{}-{}",
        ctx.lease.job_id, ctx.lease.token
    ));
    let walker = Walker {
        uploads: &uploads,
        browser: &sandbox.browser,
        base_url: &base_url,
        secrets: &sandbox.secrets,
        progress: &set_progress,
    };
    // The browser's start-up traffic (its first tab, a search engine's start page) is not
    // the page's: a blank page, then the network log and the refusals so far set aside.
    let _ = sandbox.browser.client.goto("about:blank").await;
    let _ = sandbox.browser.page_request_hosts().await;
    let refusals_before = sandbox.proxy.refusal_count();
    let result = sandbox
        .supervise(&ctx, "analysis", async {
            walker.analyze(&url, row.submit).await.map_err(|e| match e {
                WalkError::Page(m) => JobFailure::Permanent(m),
                WalkError::Browser(m) => JobFailure::Retryable(m),
            })
        })
        .await;
    // What the egress rules refused: the reason a page shows no form, else a warning.
    let page_hosts = sandbox.browser.page_request_hosts().await;
    let refused: Vec<String> = sandbox
        .proxy
        .refusals_since(refusals_before)
        .iter()
        .filter(|r| page_hosts.as_ref().is_none_or(|h| h.contains(r.host())))
        .map(ToString::to_string)
        .collect();
    sandbox.close().await;
    let _ = std::fs::remove_dir_all(&uploads);
    let mut found = result.map_err(|e| mask.failure(e))?;
    if found.fields.is_empty() {
        return Err(JobFailure::Permanent(match refused.first() {
            Some(refusal) => format!("no form fields were found on {url}: {refusal}"),
            None => format!("no form fields were found on {url}"),
        }));
    }
    found.warnings.extend(refused);
    // What the pages said after logging in may echo a secret (a user name).
    let result = serde_json::to_value(found).map_err(|e| JobFailure::Permanent(e.to_string()))?;
    Ok(Completion {
        result: Some(mask.apply_json(result)),
        effect: Effect::None,
    })
}
