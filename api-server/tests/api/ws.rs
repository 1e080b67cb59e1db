//! `/graphql/ws` speaks graphql-transport-ws: credentials in `connection_init`, the
//! protocol's close codes for every misuse.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{Backend, TestApp};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Socket {
    let mut req = app
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

async fn send(s: &mut Socket, v: Value) {
    s.send(Message::text(v.to_string())).await.unwrap();
}

/// The next protocol message, or the close code.
async fn next(s: &mut Socket) -> Result<Value, u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), s.next())
            .await
            .expect("no message within 15 s");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(Some(frame)))) => return Err(u16::from(frame.code)),
            Some(Ok(Message::Close(None))) | None => return Err(1005),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error: {e}"),
        }
    }
}

async fn closed_with(s: &mut Socket) -> u16 {
    next(s).await.expect_err("expected the server to close")
}

#[tokio::test]
async fn authenticated_operations_run_over_the_socket() {
    let app = TestApp::new(Backend::Sqlite).await;
    let mut s = connect(&app).await;
    send(&mut s, json!({ "type": "connection_init", "payload": { "token": app.admin_a.token, "X-Opsdeck-Org": app.admin_a.org } })).await;
    assert_eq!(next(&mut s).await.unwrap()["type"], "connection_ack");
    send(&mut s, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut s).await.unwrap()["type"], "pong");
    send(&mut s, json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ organization { slug } }" } })).await;
    let msg = next(&mut s).await.unwrap();
    assert_eq!(
        msg,
        json!({ "id": "1", "type": "next", "payload": { "data": { "organization": { "slug": app.org_a.slug } } } })
    );
    assert_eq!(
        next(&mut s).await.unwrap(),
        json!({ "id": "1", "type": "complete" })
    );
    // A document error is an `error` message for that id; the socket stays open.
    send(
        &mut s,
        json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ nope }" } }),
    )
    .await;
    let msg = next(&mut s).await.unwrap();
    assert_eq!(
        (msg["type"].as_str(), msg["id"].as_str()),
        (Some("error"), Some("2"))
    );
    assert_eq!(msg["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // The document limits hold over the socket too: the operation is refused, the socket
    // stays open.
    let aliases: String = (0..31).map(|i| format!("a{i}: slug ")).collect();
    send(
        &mut s,
        json!({ "id": "3", "type": "subscribe", "payload": { "query": format!("{{ organization {{ {aliases} }} }}") } }),
    )
    .await;
    let msg = next(&mut s).await.unwrap();
    assert_eq!(
        (msg["type"].as_str(), msg["id"].as_str()),
        (Some("error"), Some("3")),
        "{msg}"
    );
    assert_eq!(msg["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        msg["payload"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("aliases")),
        "{msg}"
    );
    send(&mut s, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut s).await.unwrap()["type"], "pong");
    send(
        &mut s,
        json!({ "type": "connection_init", "payload": { "token": app.admin_a.token } }),
    )
    .await;
    assert_eq!(closed_with(&mut s).await, 4429, "a second connection_init");
}

#[tokio::test]
async fn misuse_closes_with_the_protocols_codes() {
    let app = TestApp::new(Backend::Sqlite).await;
    let mut s = connect(&app).await;
    send(&mut s, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(closed_with(&mut s).await, 4403, "no credentials");
    let mut s = connect(&app).await;
    send(&mut s, json!({ "type": "connection_init", "payload": { "token": "odk_wrongwrongwrongwrongwrongwrongwrongwrong" } })).await;
    assert_eq!(closed_with(&mut s).await, 4403, "bad credentials");
    let mut s = connect(&app).await;
    send(
        &mut s,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    assert_eq!(
        closed_with(&mut s).await,
        4401,
        "subscribe before connection_ack"
    );
    let mut s = connect(&app).await;
    send(
        &mut s,
        json!({ "type": "connection_init", "payload": { "token": app.viewer_a.token } }),
    )
    .await;
    next(&mut s).await.unwrap();
    send(&mut s, json!({ "type": "what_is_this" })).await;
    assert_eq!(closed_with(&mut s).await, 4400, "unknown message type");
    let mut s = connect(&app).await;
    s.send(Message::text("not json")).await.unwrap();
    assert_eq!(closed_with(&mut s).await, 4400, "not JSON");
    // Without the subprotocol the upgrade itself is refused.
    let req = app
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
}

#[tokio::test]
async fn a_duplicate_subscription_id_closes_with_4409() {
    let app = TestApp::new(Backend::Sqlite).await;
    let mut s = connect(&app).await;
    send(&mut s, json!({ "type": "connection_init", "payload": { "token": app.admin_a.token, "X-Opsdeck-Org": app.admin_a.org } })).await;
    next(&mut s).await.unwrap();
    // Both frames in one write: the server (on this test's single-threaded runtime) reads
    // the second before the first operation, which needs the database, can finish.
    let op = json!({ "id": "same", "type": "subscribe", "payload": { "query": "{ organization { members { edges { node { role } } } } }" } });
    s.feed(Message::text(op.to_string())).await.unwrap();
    s.feed(Message::text(op.to_string())).await.unwrap();
    s.flush().await.unwrap();
    loop {
        match next(&mut s).await {
            Ok(msg) => assert_eq!(
                msg["id"], "same",
                "only the first may answer before the close: {msg}"
            ),
            Err(code) => {
                assert_eq!(code, 4409);
                break;
            }
        }
    }
}

#[tokio::test]
async fn connection_init_must_arrive_within_ten_seconds() {
    let app = TestApp::new(Backend::Sqlite).await;
    let mut s = connect(&app).await;
    let start = std::time::Instant::now();
    assert_eq!(closed_with(&mut s).await, 4408);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(14),
        "{waited:?}"
    );
}
