//! `GET /graphql/ws`: the `graphql-transport-ws` protocol, written out here because
//! async-graphql's has no init timeout, no duplicate-id check and no subscription cap.
//!
//! Close codes (from the protocol): 4400 bad message, 4401 subscribe before ack, 4403
//! credentials refused, 4406 subprotocol missing, 4408 no `connection_init` in time, 4409
//! duplicate subscription id, 4429 a second `connection_init`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Value as GqlValue;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use domain::error::ErrorCode;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::middleware::RequestId;
use super::problem::Problem;
use crate::app::AppState;
use crate::auth::{ORG_HEADER, RequestCtx};

pub const PROTOCOL: &str = "graphql-transport-ws";
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_SUBSCRIPTIONS: usize = 100;

pub async fn upgrade(
    State(app): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return Problem::new(
            ErrorCode::BadUserInput,
            "Bad Request",
            "expected a WebSocket upgrade",
        )
        .into_response();
    };
    let offered = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == PROTOCOL));
    if !offered {
        return Problem::new(
            ErrorCode::BadUserInput,
            "Bad Request",
            format!("Sec-WebSocket-Protocol must offer {PROTOCOL}"),
        )
        .into_response();
    }
    ws.protocols([PROTOCOL])
        .on_upgrade(move |socket| Connection::new(app, request_id, headers).run(socket))
}

struct Connection {
    app: Arc<AppState>,
    request_id: String,
    upgrade_headers: HeaderMap,
    ctx: Option<RequestCtx>,
    active: Arc<Mutex<HashMap<String, tokio::task::AbortHandle>>>,
}

enum Next {
    Continue,
    Close(u16, String),
}

impl Connection {
    fn new(app: Arc<AppState>, request_id: String, upgrade_headers: HeaderMap) -> Self {
        Connection {
            app,
            request_id,
            upgrade_headers,
            ctx: None,
            active: Arc::default(),
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let (out, mut outbox) = mpsc::channel::<Message>(64);
        let writer = tokio::spawn(async move {
            while let Some(msg) = outbox.recv().await {
                let closing = matches!(msg, Message::Close(_));
                if sink.send(msg).await.is_err() || closing {
                    break;
                }
            }
        });
        let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(init_deadline);
        let close = loop {
            let msg = tokio::select! {
                _ = &mut init_deadline, if self.ctx.is_none() => {
                    break Some((4408, "Connection initialisation timeout".to_owned()));
                }
                msg = stream.next() => msg,
            };
            let text = match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Binary(_))) => {
                    break Some((4400, "binary messages are not supported".into()));
                }
                Some(Ok(_)) => continue, // transport-level ping/pong
            };
            match self.handle(text.as_str(), &out).await {
                Next::Continue => {}
                Next::Close(code, reason) => break Some((code, reason)),
            }
        };
        for (_, task) in self
            .active
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
        {
            task.abort();
        }
        if let Some((code, reason)) = close {
            let _ = out
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason),
                })))
                .await;
        }
        drop(out);
        let _ = writer.await;
    }

    async fn handle(&mut self, text: &str, out: &mpsc::Sender<Message>) -> Next {
        let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(text) else {
            return Next::Close(4400, "message is not a JSON object".into());
        };
        let kind = msg.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "connection_init" => {
                if self.ctx.is_some() {
                    return Next::Close(4429, "Too many initialisation requests".into());
                }
                let headers = self.init_headers(msg.get("payload"));
                if !headers.contains_key(header::AUTHORIZATION) {
                    return Next::Close(
                        4403,
                        "Forbidden: credentials required in connection_init".into(),
                    );
                }
                match RequestCtx::authenticate(
                    self.app.clone(),
                    self.request_id.clone(),
                    &headers,
                    None,
                )
                .await
                {
                    Ok(ctx) => {
                        self.ctx = Some(ctx);
                        send(out, json!({ "type": "connection_ack" })).await;
                        Next::Continue
                    }
                    Err(e) if e.code() == ErrorCode::Internal => {
                        tracing::error!(request.id = %self.request_id, error = ?e, "ws authentication failed");
                        Next::Close(4500, "internal error".into())
                    }
                    Err(_) => Next::Close(4403, "Forbidden".into()),
                }
            }
            "ping" => {
                send(out, json!({ "type": "pong" })).await;
                Next::Continue
            }
            "pong" => Next::Continue,
            "subscribe" => self.subscribe(&msg, out).await,
            "complete" => {
                if let Some(id) = msg.get("id").and_then(Value::as_str)
                    && let Some(task) = self.active.lock().ok().and_then(|mut m| m.remove(id))
                {
                    task.abort();
                }
                Next::Continue
            }
            "" => Next::Close(4400, "message has no type".into()),
            other => Next::Close(4400, format!("unknown message type {other:?}")),
        }
    }

    /// The upgrade request's headers, overridden by the init payload (browsers cannot set
    /// headers on a WebSocket): `{ "token": "…" }` or `{ "Authorization": "Bearer …" }`,
    /// and `"X-Opsdeck-Org"`.
    fn init_headers(&self, payload: Option<&Value>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for name in [header::AUTHORIZATION, HeaderName::from_static(ORG_HEADER)] {
            if let Some(v) = self.upgrade_headers.get(&name) {
                headers.insert(name, v.clone());
            }
        }
        let Some(Value::Object(p)) = payload else {
            return headers;
        };
        let field = |names: &[&str]| {
            p.iter()
                .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                .and_then(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let auth = field(&["authorization"])
            .map(str::to_owned)
            .or_else(|| field(&["token"]).map(|t| format!("Bearer {t}")));
        if let Some(v) = auth.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert(header::AUTHORIZATION, v);
        }
        if let Some(v) =
            field(&["x-opsdeck-org", "org"]).and_then(|o| HeaderValue::from_str(o).ok())
        {
            headers.insert(HeaderName::from_static(ORG_HEADER), v);
        }
        headers
    }

    async fn subscribe(
        &mut self,
        msg: &serde_json::Map<String, Value>,
        out: &mpsc::Sender<Message>,
    ) -> Next {
        let Some(ctx) = self.ctx.clone() else {
            return Next::Close(4401, "Unauthorized".into());
        };
        let Some(id) = msg
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
        else {
            return Next::Close(4400, "subscribe needs an id".into());
        };
        let Some(Value::Object(payload)) = msg.get("payload") else {
            return Next::Close(4400, "subscribe needs a payload".into());
        };
        let Some(query) = payload.get("query").and_then(Value::as_str) else {
            return Next::Close(4400, "subscribe payload needs a query".into());
        };
        let mut request = async_graphql::Request::new(query);
        if let Some(name) = payload.get("operationName").and_then(Value::as_str) {
            request = request.operation_name(name);
        }
        if let Some(vars @ Value::Object(_)) = payload.get("variables") {
            request = request.variables(async_graphql::Variables::from_json(vars.clone()));
        }
        let id = id.to_owned();
        let (duplicate, full) = match self.active.lock() {
            Ok(active) => (active.contains_key(&id), active.len() >= MAX_SUBSCRIPTIONS),
            Err(_) => return Next::Close(4500, "internal error".into()),
        };
        if duplicate {
            return Next::Close(4409, format!("Subscriber for {id} already exists"));
        }
        if full {
            let error = json!([{ "message": format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection"),
                "extensions": { "code": "RATE_LIMITED", "requestId": ctx.request_id } }]);
            send(out, json!({ "type": "error", "id": id, "payload": error })).await;
            return Next::Continue;
        }
        if let (_, Some(refused)) = self.app.limits.admit(&mut request) {
            let body = super::graphql::response_body(refused, &ctx.request_id);
            send(
                out,
                json!({ "type": "error", "id": id, "payload": body.errors }),
            )
            .await;
            return Next::Continue;
        }
        let schema = self.app.schema.clone();
        let out = out.clone();
        let active = self.active.clone();
        let request_id = ctx.request_id.clone();
        let task_id = id.clone();
        let mut registry = self.active.lock().expect("not poisoned");
        let handle = tokio::spawn(async move {
            let mut stream = schema.execute_stream(request.data(ctx));
            let mut first = true;
            while let Some(response) = stream.next().await {
                let is_request_error = first
                    && !response.errors.is_empty()
                    && response.data == GqlValue::Null
                    && response.errors.iter().all(|e| e.path.is_empty());
                first = false;
                let body = super::graphql::response_body(response, &request_id);
                if is_request_error {
                    send(
                        &out,
                        json!({ "type": "error", "id": task_id, "payload": body.errors }),
                    )
                    .await;
                    active.lock().map(|mut m| m.remove(&task_id)).ok();
                    return;
                }
                send(
                    &out,
                    json!({ "type": "next", "id": task_id, "payload": body }),
                )
                .await;
            }
            send(&out, json!({ "type": "complete", "id": task_id })).await;
            active.lock().map(|mut m| m.remove(&task_id)).ok();
        });
        registry.insert(id, handle.abort_handle());
        Next::Continue
    }
}

async fn send(out: &mpsc::Sender<Message>, value: Value) {
    let _ = out
        .send(Message::Text(Utf8Bytes::from(value.to_string())))
        .await;
}
