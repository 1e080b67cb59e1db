//! `POST /graphql` and `GET /graphql` per the GraphQL-over-HTTP specification.
//!
//! Refused before execution: unacceptable `Accept` (406), a body that is not
//! `application/json` — `text/plain` and form encodings are how cross-site requests arrive,
//! so refusing them is the CSRF defence — (415), an oversized body (413), malformed JSON or
//! parameters (400), batches unless enabled, mutations over GET (405), bad credentials (401).
//! Every error carries `extensions.code` and `extensions.requestId`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{ServerError, Value as GqlValue, Variables};
use axum::body::Body;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use domain::error::ErrorCode;
use serde_json::{Map, Value, json};

use super::middleware::RequestId;
use crate::app::AppState;
use crate::auth::RequestCtx;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// `None` when the client accepts neither JSON type (406). No header = `application/json`.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut json = false;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        if refused {
            continue;
        }
        match media.as_str() {
            "application/graphql-response+json" => return Some(MediaType::GraphqlResponseJson),
            "application/json" | "*/*" | "application/*" => json = true,
            _ => {}
        }
    }
    json.then_some(MediaType::Json)
}

/// A request-level error response: no `data` entry.
fn reject(
    media: MediaType,
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    request_id: &str,
) -> Response {
    let body = json!({ "errors": [{
        "message": message,
        "extensions": { "code": code.as_str(), "requestId": request_id },
    }]});
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    metrics::counter!("opsdeck_graphql_requests_total", "operation" => "none", "outcome" => "rejected")
        .increment(1);
    resp
}

pub async fn post(
    State(app): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return reject(
            MediaType::Json,
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::BadUserInput,
            "Accept must allow application/graphql-response+json or application/json",
            &request_id,
        );
    };
    if let Err(message) = check_content_type(&headers) {
        return reject(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadUserInput,
            &message,
            &request_id,
        );
    }
    let limit = app.config.graphql.max_body_bytes;
    let too_large = || {
        reject(
            media,
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            &format!("request body exceeds {limit} bytes"),
            &request_id,
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let is_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if is_limit {
                return too_large();
            }
            return reject(
                media,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "could not read the request body",
                &request_id,
            );
        }
    };
    let parsed: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return reject(
                media,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "request body is not valid JSON",
                &request_id,
            );
        }
    };
    let (requests, batched) = match parsed {
        Value::Array(items) => {
            let max = app.config.graphql.max_batch;
            if max == 0 {
                return reject(
                    media,
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    "batched requests are not enabled",
                    &request_id,
                );
            }
            if items.is_empty() || items.len() > max {
                return reject(
                    media,
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    &format!("a batch holds 1 to {max} requests"),
                    &request_id,
                );
            }
            (items, true)
        }
        other => (vec![other], false),
    };
    let mut gql_requests = Vec::with_capacity(requests.len());
    for r in requests {
        match parse_params(r) {
            Ok(r) => gql_requests.push(r),
            Err(message) => {
                return reject(
                    media,
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    &message,
                    &request_id,
                );
            }
        }
    }
    run(app, media, request_id, &headers, gql_requests, batched).await
}

fn check_content_type(headers: &HeaderMap) -> Result<(), String> {
    let refuse = || "Content-Type must be application/json".to_owned();
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let mut parts = raw.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    if media != "application/json" {
        return Err(refuse());
    }
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("charset")
            && !v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err("only the utf-8 charset is accepted".into());
        }
    }
    Ok(())
}

/// `query`, `operationName`, `variables`, `extensions` as the specification types them.
fn parse_params(value: Value) -> Result<async_graphql::Request, String> {
    let Value::Object(mut m) = value else {
        return Err("a GraphQL request must be a JSON object".into());
    };
    let query = match m.remove("query") {
        Some(Value::String(q)) => q,
        Some(_) => return Err("query must be a string".into()),
        None => return Err("query is required".into()),
    };
    let mut req = async_graphql::Request::new(query);
    match m.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => req = req.operation_name(name),
        Some(_) => return Err("operationName must be a string".into()),
    }
    match m.remove("variables") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => req = req.variables(Variables::from_json(v)),
        Some(_) => return Err("variables must be an object".into()),
    }
    match m.remove("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ext)) => {
            for (k, v) in ext {
                let v = GqlValue::from_json(v)
                    .map_err(|_| "extensions must be an object".to_owned())?;
                req.extensions.0.insert(k, v);
            }
        }
        Some(_) => return Err("extensions must be an object".into()),
    }
    Ok(req)
}

pub async fn get(
    State(app): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && param("query").is_none() && app.config.graphql.graphiql {
        let page = async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish();
        return Html(page).into_response();
    }
    let Some(media) = negotiate(&headers) else {
        return reject(
            MediaType::Json,
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::BadUserInput,
            "Accept must allow application/graphql-response+json or application/json",
            &request_id,
        );
    };
    let Some(query) = param("query") else {
        return reject(
            media,
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "query is required",
            &request_id,
        );
    };
    let mut object = Map::new();
    object.insert("query".into(), Value::String(query.clone()));
    if let Some(name) = param("operationName") {
        object.insert("operationName".into(), Value::String(name));
    }
    for key in ["variables", "extensions"] {
        if let Some(raw) = param(key) {
            match serde_json::from_str::<Value>(&raw) {
                Ok(v) => {
                    object.insert(key.into(), v);
                }
                Err(_) => {
                    return reject(
                        media,
                        StatusCode::BAD_REQUEST,
                        ErrorCode::BadUserInput,
                        &format!("{key} must be JSON"),
                        &request_id,
                    );
                }
            }
        }
    }
    let request = match parse_params(Value::Object(object)) {
        Ok(r) => r,
        Err(message) => {
            return reject(
                media,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &message,
                &request_id,
            );
        }
    };
    // GET must never change anything: find the operation's type before running it. A
    // document that does not parse is left to the executor, which reports it normally.
    if let Ok(doc) = async_graphql::parser::parse_query(&query) {
        let op_type = match (&doc.operations, request.operation_name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op.node.ty),
            (DocumentOperations::Multiple(ops), Some(name)) => ops
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, op)| op.node.ty),
            // One named operation needs no operationName to be selected.
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                ops.values().next().map(|op| op.node.ty)
            }
            (DocumentOperations::Multiple(_), None) => None,
        };
        if matches!(
            op_type,
            Some(OperationType::Mutation | OperationType::Subscription)
        ) {
            let mut resp = reject(
                media,
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::BadUserInput,
                "mutations and subscriptions must be sent with POST",
                &request_id,
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return resp;
        }
    }
    run(app, media, request_id, &headers, vec![request], false).await
}

async fn run(
    app: Arc<AppState>,
    media: MediaType,
    request_id: String,
    headers: &HeaderMap,
    requests: Vec<async_graphql::Request>,
    batched: bool,
) -> Response {
    let rc = match RequestCtx::authenticate(app.clone(), request_id.clone(), headers, None).await {
        Ok(rc) => rc,
        Err(e) => {
            let code = e.code();
            let message = if code == ErrorCode::Internal {
                tracing::error!(request.id = %request_id, error = ?e, "authentication failed");
                "internal error".to_owned()
            } else {
                e.to_string()
            };
            let status = StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = reject(media, status, code, &message, &request_id);
            if code == ErrorCode::Unauthenticated {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return resp;
        }
    };
    let mut bodies = Vec::with_capacity(requests.len());
    let mut status = StatusCode::OK;
    for mut request in requests {
        let start = Instant::now();
        // The label: the operation's type and first root field, known schema names only,
        // so the metric labels stay bounded.
        let (operation, refused) = app.limits.admit(&mut request);
        let response = match refused {
            Some(response) => response,
            None => app.schema.execute(request.data(rc.clone())).await,
        };
        let body = response_body(response, &request_id);
        let request_error = body.request_error;
        let outcome = if request_error {
            "rejected"
        } else if !body.errors.is_empty() {
            "error"
        } else {
            "ok"
        };
        metrics::counter!("opsdeck_graphql_requests_total", "operation" => operation.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("opsdeck_graphql_request_duration_seconds", "operation" => operation)
            .record(start.elapsed().as_secs_f64());
        if request_error && media == MediaType::GraphqlResponseJson && !batched {
            status = StatusCode::BAD_REQUEST;
        }
        bodies.push(body);
    }
    let text = if batched {
        serde_json::to_string(&bodies)
    } else {
        serde_json::to_string(&bodies[0])
    }
    .unwrap_or_else(|_| {
        r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_owned()
    });
    let mut resp = (status, text).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    resp
}

/// A response as it is sent, every error coded. Serialized straight from async-graphql's
/// value: the data (most of a large response) is never copied into a JSON tree, and its
/// fields keep the order the document asked for them in.
#[derive(serde::Serialize)]
pub(crate) struct ResponseBody {
    /// Absent on a request error, per the specification.
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<GqlValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: BTreeMap<String, GqlValue>,
    /// The document did not parse or validate (or broke a limit): nothing was executed.
    #[serde(skip)]
    pub request_error: bool,
}

pub(crate) fn response_body(response: async_graphql::Response, request_id: &str) -> ResponseBody {
    let request_error = !response.errors.is_empty()
        && response.data == GqlValue::Null
        && response.errors.iter().all(|e| e.path.is_empty());
    let errors: Vec<Value> = response
        .errors
        .into_iter()
        .map(|e| coded_error(e, request_error, request_id))
        .collect();
    ResponseBody {
        data: (!request_error).then_some(response.data),
        errors,
        extensions: response.extensions,
        request_error,
    }
}

/// Gives a code to errors async-graphql raised itself (parse, validation, limits:
/// `BAD_USER_INPUT`); an uncoded resolver error is a bug, so its text stays in the log.
fn coded_error(mut e: ServerError, request_error: bool, request_id: &str) -> Value {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        if request_error || e.path.is_empty() {
            ext.set("code", ErrorCode::BadUserInput.as_str());
        } else {
            tracing::error!(request.id = %request_id, error = %e.message, path = ?e.path, "uncoded resolver error");
            e.message = "internal error".into();
            ext.set("code", ErrorCode::Internal.as_str());
        }
    }
    ext.set("requestId", request_id);
    serde_json::to_value(&e).unwrap_or_else(|_| json!({ "message": "internal error" }))
}
