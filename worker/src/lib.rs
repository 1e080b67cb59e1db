//! Opsdeck's worker: the process that executes jobs from the queues and runs the scheduled
//! work (reconciler, SLA sweep). It is also a library: the embedded api-server runs the same
//! runtime in-process.

pub mod browser;
pub mod execute;
pub mod handlers;
pub mod reports;
pub mod runtime;
pub mod sweeps;

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use domain::config::Config;

/// A name unique to this process start (apalis refuses a quick same-name restart).
pub fn worker_name() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        format!("{host}-{}-{}", std::process::id(), uuid_suffix())
    })
    .clone()
}

fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{nanos:08x}")
}

/// `worker serve`: consume the queues, with health and metrics on `OPSDECK_WORKER_LISTEN`,
/// until SIGTERM or Ctrl-C; then finish or release running jobs within the grace period.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let db = domain::db::connect(&config).await?;
    let queue = domain::jobs::queue::Queue::from_config(&config).await?;
    let store = domain::object_store::ObjectStore::from_config(&config).await?;
    let sealer = domain::automation::sealing::Sealer::from_config(&config)?;
    let listener = tokio::net::TcpListener::bind(config.worker_listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "OPSDECK_WORKER_LISTEN: cannot listen on {}: {e}",
                config.worker_listen
            )
        })?;
    let metrics = metrics_handle();
    let (rt, grace) = runtime::Runtime::new(db.clone(), queue, store, sealer, config);
    tracing::info!(worker = %rt.worker_id, addr = %listener.local_addr()?, "worker started");
    let depth = tokio::spawn(queue_depth(db.clone(), domain::shutdown_signal()));
    let app = Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        );
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(domain::shutdown_signal())
            .await
    });
    let worker_id = rt.worker_id.clone();
    let consumed = runtime::run(rt, grace, domain::shutdown_signal()).await;
    let _ = http.await;
    depth.abort();
    db.close().await?;
    tracing::info!(worker = %worker_id, "worker stopped");
    consumed
}

/// `opsdeck_jobs_queue_depth{kind,status}`: queued and running jobs, from the database
/// (the truth; apalis' own counts say nothing about retries waiting or capped orgs).
async fn queue_depth(db: domain::db::Db, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        match domain::jobs::store::depth(&db).await {
            Ok(rows) => {
                for (kind, status, n) in rows {
                    metrics::gauge!("opsdeck_jobs_queue_depth", "kind" => kind, "status" => status)
                        .set(n as f64);
                }
            }
            Err(e) => tracing::debug!(error = %e, "queue depth unavailable"),
        }
    }
}

/// The tokio runtime of a worker process, `OPSDECK_WORKER_THREADS` threads: one by default,
/// since job handlers wait on I/O and a fleet scales by processes (fewer threads measured
/// fewer context switches and more jobs/s on two cores; see docs/benchmarks.md).
pub fn runtime_for(config: &Config) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.jobs.worker_threads as usize)
        .enable_all()
        .build()?)
}

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder).
pub fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static buckets")
                .install_recorder()
                .expect("one metrics recorder per process")
        })
        .clone()
}

/// JSON logs (or text), filtered by `OPSDECK_LOG`; the same shape as the api-server's.
pub fn telemetry(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log_json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
