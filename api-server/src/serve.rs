//! `api-server serve`: migrate, bootstrap the embedded deployment, listen, and shut down
//! gracefully on SIGTERM or Ctrl-C.

use std::sync::Arc;

use domain::bootstrap::{self, Bootstrap};
use domain::config::Config;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::http;

pub async fn serve(mut config: Config) -> anyhow::Result<()> {
    // Embedded mode owns its database file and migrates it; in production the same binary
    // migrates as the owner role when OPSDECK_MIGRATION_DATABASE_URL is given.
    domain::db::migrate(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("OPSDECK_LISTEN: cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    if config.public_url.is_none() {
        // Port 0 picks a port: links must name the one we got.
        config.public_url = Some(format!("http://{addr}"));
    }
    let app = AppState::new(config).await?;
    if app.config.is_embedded() {
        announce_bootstrap(&app).await?;
    }
    // Without Redis the queue lives in this process, so its consumers must too.
    app.start_jobs(app.config.redis_url.is_none());
    tracing::info!(%addr, embedded = app.config.is_embedded(), "api-server listening");
    eprintln!("Opsdeck API on http://{addr}/graphql");
    run(listener, app).await
}

pub async fn run(listener: TcpListener, app: Arc<AppState>) -> anyhow::Result<()> {
    axum::serve(listener, http::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn announce_bootstrap(app: &AppState) -> anyhow::Result<()> {
    match bootstrap::first_start(&app.db, &app.config).await? {
        Bootstrap::Created {
            secret: Some(secret),
        } => {
            // Printed once, alone on stdout so a script can capture it; never logged.
            eprintln!(
                "Created organization '{}' and an ADMIN API key (shown once; keep it):",
                bootstrap::DEFAULT_ORG
            );
            println!("{secret}");
        }
        Bootstrap::Created { secret: None } => {
            eprintln!(
                "Created organization '{}' with the ADMIN key from OPSDECK_BOOTSTRAP_ADMIN_KEY",
                bootstrap::DEFAULT_ORG
            );
        }
        Bootstrap::AlreadyDone => {}
    }
    Ok(())
}

async fn shutdown_signal() {
    domain::shutdown_signal().await;
    tracing::info!("shutting down");
}
