//! `/healthz` (the process is alive), `/readyz` (its dependencies answer) and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::error::ErrorCode;
use sea_orm::ConnectionTrait;
use serde_json::json;

use super::problem::Problem;
use crate::app::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({ "status": "ok" }))
}

pub async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let (db, queue, store) = tokio::join!(check_db(&app), check_queue(&app), check_store(&app));
    let checks = [("database", db), ("queue", queue), ("objectStore", store)];
    let down: Vec<&str> = checks
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(n, _)| *n)
        .collect();
    for (name, result) in &checks {
        if let Err(e) = result {
            tracing::warn!(check = name, error = %e, "readiness check failed");
        }
    }
    if down.is_empty() {
        let mut checks = json!({ "database": "up", "queue": "up", "objectStore": "up" });
        // Embedded, this process runs the workflow runs too: say whether it can drive a
        // browser (the API itself is ready either way).
        if app.redis.is_none() {
            checks["browser"] = match worker::browser::session::availability(&app.config.runs) {
                Ok(what) => json!(format!("up: {what}")),
                Err(why) => json!(format!("unavailable: {why}")),
            };
        }
        return json_response(
            StatusCode::OK,
            json!({ "status": "ready", "checks": checks }),
        );
    }
    Problem::new(
        ErrorCode::Internal,
        "Service Unavailable",
        format!("not ready: {} down", down.join(", ")),
    )
    .status(StatusCode::SERVICE_UNAVAILABLE)
    .with("down", json!(down))
    .into_response()
}

async fn within<T>(f: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(CHECK_TIMEOUT, f)
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))?
}

async fn check_db(app: &AppState) -> anyhow::Result<()> {
    within(async {
        app.db.execute_unprepared("SELECT 1").await?;
        Ok(())
    })
    .await
}

/// Redis when configured; otherwise the embedded queue lives in the database.
async fn check_queue(app: &AppState) -> anyhow::Result<()> {
    let Some(client) = &app.redis else {
        return check_db(app).await;
    };
    within(async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        anyhow::ensure!(pong == "PONG", "unexpected reply {pong:?}");
        Ok(())
    })
    .await
}

async fn check_store(app: &AppState) -> anyhow::Result<()> {
    within(app.store.check()).await
}

pub async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    crate::http::middleware::record_pool_gauges(&app);
    let mut resp = app.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
