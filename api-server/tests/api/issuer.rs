//! A local OIDC issuer for tests that need to mint tokens the real provider will not
//! (expired, wrong audience, other keys): discovery document and JWKS over HTTP, with
//! switchable keys and a count of JWKS fetches. The real oidc-provider is used by e2e/.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const AUDIENCE: &str = "urn:opsdeck:test";

pub struct SigningKey {
    pub kid: &'static str,
    pub private_pem: &'static [u8],
    pub public_pem: &'static [u8],
    pub jwk: &'static str,
}

pub const KEY1: SigningKey = SigningKey {
    kid: "key1",
    private_pem: include_bytes!("../fixtures/key1.pem"),
    public_pem: include_bytes!("../fixtures/key1.pub.pem"),
    jwk: include_str!("../fixtures/key1.jwk.json"),
};
pub const KEY2: SigningKey = SigningKey {
    kid: "key2",
    private_pem: include_bytes!("../fixtures/key2.pem"),
    public_pem: include_bytes!("../fixtures/key2.pub.pem"),
    jwk: include_str!("../fixtures/key2.jwk.json"),
};

#[derive(Clone)]
struct Shared {
    issuer: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

pub struct TestIssuer {
    pub issuer: String,
    shared: Shared,
}

fn jwk_of(key: &SigningKey) -> Value {
    let mut v: Value = serde_json::from_str(key.jwk).expect("fixture jwk");
    v["kid"] = json!(key.kid);
    v["use"] = json!("sig");
    v["alg"] = json!("RS256");
    v
}

impl TestIssuer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let shared = Shared {
            issuer: issuer.clone(),
            published: Arc::new(Mutex::new(vec![jwk_of(&KEY1)])),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestIssuer { issuer, shared }
    }

    /// Replaces the published key set (a rotation).
    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.shared.published.lock().unwrap() = keys.iter().map(|k| jwk_of(k)).collect();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    pub fn claims(&self, sub: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({ "iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600 })
    }

    pub fn sign_with(&self, key: &SigningKey, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header.typ = Some("at+jwt".to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(key.private_pem).unwrap(),
        )
        .unwrap()
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(&KEY1, KEY1.kid, claims)
    }

    pub fn token(&self, sub: &str) -> String {
        self.sign(&self.claims(sub))
    }

    /// The classic confusion attack: HS256 with the issuer's public key as the secret.
    pub fn hs256_with_public_key(&self, sub: &str) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KEY1.kid.to_owned());
        jsonwebtoken::encode(
            &header,
            &self.claims(sub),
            &EncodingKey::from_secret(KEY1.public_pem),
        )
        .unwrap()
    }

    /// An unsigned token (`alg: none`).
    pub fn unsigned(&self, sub: &str) -> String {
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({ "alg": "none", "typ": "JWT", "kid": KEY1.kid })),
            b64(&self.claims(sub))
        )
    }
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{}/auth", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "keys": *s.published.lock().unwrap() }))
}
