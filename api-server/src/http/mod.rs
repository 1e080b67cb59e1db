//! The HTTP surface: routes, and the layers every request passes.

pub mod graphql;
pub mod health;
pub mod middleware;
pub mod objects;
pub mod problem;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::error::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;
use problem::Problem;

pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get)
                .post(graphql::post)
                .fallback(method_not_allowed),
        )
        .route("/graphql/ws", get(ws::upgrade))
        .route("/objects/{*key}", get(objects::get).put(objects::put))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(|_| {
            Problem::new(
                ErrorCode::Internal,
                "Internal Server Error",
                "internal error",
            )
            .into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            middleware::around,
        ))
        .with_state(app)
}

async fn not_found(uri: Uri) -> Response {
    Problem::not_found(uri.path()).into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    let mut resp = Problem::new(
        ErrorCode::BadUserInput,
        "Method Not Allowed",
        format!("{method} is not supported on /graphql; use GET or POST"),
    )
    .status(StatusCode::METHOD_NOT_ALLOWED)
    .into_response();
    resp.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("GET, POST"),
    );
    resp
}
