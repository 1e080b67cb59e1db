//! `/objects/{key}`: the embedded deployment's object store over HTTP. Only signed links
//! work (see `domain::object_store`): a PUT must carry the signed content type and at most
//! the signed size; a GET must be unexpired. With S3 configured this route answers 404.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::error::ErrorCode;
use domain::object_store::{Grant, UrlError};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::problem::Problem;
use crate::app::AppState;

fn refused(e: UrlError) -> Response {
    Problem::new(ErrorCode::Forbidden, "Forbidden", e.to_string())
        .status(StatusCode::FORBIDDEN)
        .into_response()
}

/// Why a link does not work: no local store here (404), or a bad or expired link (403).
enum Refusal {
    NoLocalStore,
    Link(UrlError),
}

impl Refusal {
    fn into_response(self, key: &str) -> Response {
        match self {
            Refusal::NoLocalStore => Problem::not_found(&format!("/objects/{key}")).into_response(),
            Refusal::Link(e) => refused(e),
        }
    }
}

fn grant(app: &AppState, key: &str, raw: Option<String>) -> Result<Grant, Refusal> {
    if !matches!(app.store, domain::object_store::ObjectStore::Local { .. }) {
        return Err(Refusal::NoLocalStore);
    }
    let query: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    app.store
        .verify_local(key, &query, domain::time::now())
        .map_err(Refusal::Link)
}

pub async fn put(
    State(app): State<Arc<AppState>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (content_type, size) = match grant(&app, &key, raw) {
        Ok(Grant::Put { content_type, size }) => (content_type, size),
        Ok(Grant::Get) => return refused(UrlError::BadSignature),
        Err(r) => return r.into_response(&key),
    };
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !sent_type.eq_ignore_ascii_case(&content_type) {
        return Problem::new(
            ErrorCode::BadUserInput,
            "Unsupported Media Type",
            format!("Content-Type must be {content_type}"),
        )
        .status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .into_response();
    }
    let Some(path) = app.store.local_path(&key) else {
        return refused(UrlError::BadSignature);
    };
    let too_large = || {
        Problem::new(
            ErrorCode::PayloadTooLarge,
            "Payload Too Large",
            format!("the upload is limited to {size} bytes"),
        )
        .into_response()
    };
    // Written to a temporary name and renamed: a half-finished upload is never the object.
    let tmp = path.with_extension(format!("part-{}", uuid::Uuid::now_v7()));
    let result: anyhow::Result<Option<Response>> = async {
        tokio::fs::create_dir_all(path.parent().unwrap_or(&path)).await?;
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut stream = body.into_data_stream();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            if written > size {
                return Ok(Some(too_large()));
            }
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(None)
    }
    .await;
    match result {
        Ok(None) => StatusCode::OK.into_response(),
        Ok(Some(resp)) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            resp
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            tracing::error!(error = ?e, "local object upload failed");
            Problem::new(
                ErrorCode::Internal,
                "Internal Server Error",
                "internal error",
            )
            .into_response()
        }
    }
}

pub async fn get(
    State(app): State<Arc<AppState>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    match grant(&app, &key, raw) {
        Ok(Grant::Get) => {}
        Ok(Grant::Put { .. }) => return refused(UrlError::BadSignature),
        Err(r) => return r.into_response(&key),
    }
    let Some(path) = app.store.local_path(&key) else {
        return refused(UrlError::BadSignature);
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut resp = bytes.into_response();
            // Evidence is downloaded, never rendered from our origin.
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            resp.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
            resp
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Problem::not_found(&format!("/objects/{key}")).into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "local object read failed");
            Problem::new(
                ErrorCode::Internal,
                "Internal Server Error",
                "internal error",
            )
            .into_response()
        }
    }
}
