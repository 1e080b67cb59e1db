//! `application/problem+json` (RFC 9457) for the plain HTTP endpoints, from the same
//! error codes the GraphQL layer uses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::error::ErrorCode;
use serde_json::json;

pub struct Problem {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub title: &'static str,
    pub detail: String,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(code: ErrorCode, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status: StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            title,
            detail: detail.into(),
            extra: Default::default(),
        }
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn not_found(path: &str) -> Self {
        Problem::new(
            ErrorCode::NotFound,
            "Not Found",
            format!("no route for {path}"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code.as_str(),
        });
        if let Some(obj) = body.as_object_mut() {
            obj.extend(self.extra);
        }
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}
