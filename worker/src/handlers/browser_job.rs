//! What every browser job needs around its work: the target's secrets, a filtering proxy
//! for its egress rules, a fresh browser behind it, and a watchdog that kills the browser
//! (inside whatever command is hanging) when the job's time is up or it is cancelled.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use domain::automation::{runs, targets};
use domain::db::{self, Scope};
use domain::jobs::JobFailure;
use serde_json::Value;

use crate::browser::egress::EgressProxy;
use crate::browser::session::{Browser, LaunchError};
use crate::execute::JobCtx;

const CANCEL_POLL: Duration = Duration::from_millis(500);

pub struct Sandbox {
    pub secrets: BTreeMap<String, String>,
    pub proxy: EgressProxy,
    pub browser: Browser,
}

impl Sandbox {
    pub async fn open(ctx: &JobCtx, target: &targets::Target) -> Result<Sandbox, JobFailure> {
        let rt = &ctx.rt;
        let org_id = ctx.lease.org_id;
        let secrets = {
            let tx = db::begin_read(&rt.db, Scope::org(org_id)).await?;
            let s = targets::open_secrets(&tx, &rt.sealer, org_id, target.id).await?;
            tx.commit()
                .await
                .map_err(domain::error::DomainError::from)?;
            s
        };
        let proxy = EgressProxy::start(targets::egress_policy(target))
            .await
            .map_err(|e| JobFailure::Retryable(format!("starting the egress proxy: {e}")))?;
        let browser = match Browser::launch(&rt.config.runs, proxy.addr, &rt.worker_id).await {
            Ok(b) => b,
            Err(LaunchError::NotInstalled(m)) => return Err(JobFailure::Permanent(m)),
            Err(LaunchError::Failed(m)) => return Err(JobFailure::Retryable(m)),
        };
        Ok(Sandbox {
            secrets,
            proxy,
            browser,
        })
    }

    /// Runs `work` until it ends, the job's time is up, or it is cancelled (then the
    /// browser is killed at once).
    pub async fn supervise<T>(
        &self,
        ctx: &JobCtx,
        what: &str,
        work: impl Future<Output = Result<T, JobFailure>>,
    ) -> Result<T, JobFailure> {
        let limit = Duration::from_secs(ctx.rt.config.runs.run_timeout_secs);
        let killer = self.browser.killer.clone();
        tokio::select! {
            r = work => r,
            _ = tokio::time::sleep(limit) => {
                killer.kill();
                Err(JobFailure::TimedOut(format!(
                    "the {what} exceeded its {} s limit; the browser was stopped",
                    limit.as_secs()
                )))
            }
            _ = cancelled(ctx) => {
                killer.kill();
                Err(JobFailure::Cancelled)
            }
        }
    }

    pub async fn close(self) {
        self.browser.close().await;
        drop(self.proxy);
    }
}

async fn cancelled(ctx: &JobCtx) {
    loop {
        tokio::time::sleep(CANCEL_POLL).await;
        if runs::cancel_requested(&ctx.rt.db, &ctx.lease)
            .await
            .unwrap_or(false)
        {
            return;
        }
    }
}

/// Replaces every secret value in recorded text with `••••••`.
pub struct Masker(Vec<String>);

impl Masker {
    pub fn new(secrets: &BTreeMap<String, String>) -> Self {
        let mut values: Vec<String> = secrets
            .values()
            .filter(|v| !v.is_empty())
            .cloned()
            .collect();
        // Longest first, so a secret containing another is masked whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Masker(values)
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for v in &self.0 {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "••••••");
            }
        }
        out
    }

    /// The failure with every secret masked in its message.
    pub fn failure(&self, e: JobFailure) -> JobFailure {
        match e {
            JobFailure::Retryable(m) => JobFailure::Retryable(self.apply(&m)),
            JobFailure::Permanent(m) => JobFailure::Permanent(self.apply(&m)),
            JobFailure::TimedOut(m) => JobFailure::TimedOut(self.apply(&m)),
            JobFailure::Cancelled => JobFailure::Cancelled,
        }
    }

    pub fn apply_json(&self, v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.apply(&s)),
            other => {
                let text = other.to_string();
                serde_json::from_str(&self.apply(&text)).unwrap_or(Value::Null)
            }
        }
    }
}
