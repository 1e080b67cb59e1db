//! Around every request: a request id, one tracing span and one log line, security
//! headers, the time limit, and the HTTP metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::error::ErrorCode;
use tracing::Instrument;
use uuid::Uuid;

use super::problem::Problem;
use crate::app::AppState;

/// The id of this request, in logs, in `extensions.requestId` and in `X-Request-Id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub async fn around(State(app): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let request_id = Uuid::now_v7().to_string();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let route = route_label(req.uri().path());
    let span = tracing::info_span!(
        "request",
        request.id = %request_id,
        http.method = %method,
        http.route = route,
        org.id = tracing::field::Empty,
    );
    let start = Instant::now();
    let limit = Duration::from_secs(app.config.request_timeout_secs);
    let mut resp = match tokio::time::timeout(limit, next.run(req).instrument(span.clone())).await {
        Ok(resp) => resp,
        Err(_) => Problem::new(
            ErrorCode::Internal,
            "Gateway Timeout",
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .status(axum::http::StatusCode::GATEWAY_TIMEOUT)
        .into_response(),
    };
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            http.status = status,
            duration_ms = elapsed.as_millis() as u64,
            "request finished"
        );
    });
    metrics::counter!("opsdeck_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("opsdeck_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    set_security_headers(resp.headers_mut(), route);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    resp
}

/// A fixed set of labels, so metrics stay bounded whatever paths clients send.
fn route_label(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/graphql/ws" => "/graphql/ws",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        p if p.starts_with("/objects/") => "/objects",
        _ => "other",
    }
}

fn set_security_headers(h: &mut axum::http::HeaderMap, route: &str) {
    let graphiql = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    // GraphiQL is a page that loads its scripts from a CDN; everything else is data.
    let csp = if graphiql && route == "/graphql" {
        "default-src 'self' https://unpkg.com; script-src 'self' 'unsafe-inline' https://unpkg.com; \
         style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data: https:; \
         connect-src 'self' ws: wss:; frame-ancestors 'none'"
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

pub fn record_pool_gauges(app: &AppState) {
    use sea_orm::DbBackend;
    let (size, idle) = match app.db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = app.db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = app.db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    metrics::gauge!("opsdeck_db_pool_connections").set(size as f64);
    metrics::gauge!("opsdeck_db_pool_idle_connections").set(idle as f64);
}
