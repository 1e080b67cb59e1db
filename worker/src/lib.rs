//! Opsdeck's worker: the process that executes long-running jobs and scheduled sweeps. Today
//! it runs the SLA sweep; queue consumers arrive with the jobs work. It has its command line,
//! configuration, health and metrics endpoints, and graceful shutdown.

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

/// `worker serve`: health and metrics on `OPSDECK_WORKER_LISTEN` until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let db = domain::db::connect(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.worker_listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "OPSDECK_WORKER_LISTEN: cannot listen on {}: {e}",
                config.worker_listen
            )
        })?;
    let name = worker_name();
    tracing::info!(worker = %name, addr = %listener.local_addr()?, "worker started");
    let sweep = tokio::spawn(sweeps::sla_sweep(
        db.clone(),
        Duration::from_secs(config.sla_sweep_secs),
        domain::shutdown_signal(),
    ));
    let app = Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(
            "/metrics",
            get(|| async { "# no job queues are registered yet\n" }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(domain::shutdown_signal())
        .await?;
    let _ = sweep.await;
    db.close().await?;
    tracing::info!(worker = %name, "worker stopped");
    Ok(())
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
