//! Verification of OIDC access tokens (JWTs).
//!
//! Discovery (`openidconnect`) finds the issuer's `jwks_uri`; `jsonwebtoken` verifies each
//! token against the key named by its `kid`. Checked: signature, an asymmetric algorithm
//! from the allow-list (never `none` or HMAC, so a public key can't be used as an HMAC
//! secret), `iss` exactly, `aud`, `exp`, `nbf`, `sub`. An unknown `kid` triggers one JWKS
//! refetch, at most once per `jwks_refetch_interval_secs` across all requests (single
//! flight), so a key rotation is picked up while a flood of bad tokens is not amplified.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::OidcConfig;
use crate::error::{DomainError, DomainResult};
use crate::users::Identity;

pub struct OidcVerifier {
    config: OidcConfig,
    algorithms: Vec<Algorithm>,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Option<Algorithm>)>>,
    /// Held while discovering or fetching; also the time of the last fetch.
    fetch: Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    jwks_uri: Option<String>,
    loaded: bool,
    /// The last refetch caused by an unknown `kid` (the first load does not count).
    last_refetch: Option<Instant>,
    /// While the issuer cannot be reached, requests fail fast instead of queueing here.
    last_failure: Option<Instant>,
}

const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Optional here so a missing claim reads as "missing claim", not as malformed JSON; the
/// validation requires `sub`, `iss`, `aud` and `exp`.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    iss: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
    name: Option<String>,
}

fn unauthenticated(reason: &str) -> DomainError {
    DomainError::Unauthenticated(format!("invalid token: {reason}"))
}

impl OidcVerifier {
    pub fn new(config: OidcConfig) -> anyhow::Result<Self> {
        let algorithms = config
            .algorithms
            .iter()
            .map(|a| Algorithm::from_str(a))
            .collect::<Result<Vec<_>, _>>()?;
        let http = reqwest::Client::builder()
            // The issuer's documents must come from where it says; no redirects (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(OidcVerifier {
            config,
            algorithms,
            http,
            keys: RwLock::new(HashMap::new()),
            fetch: Mutex::new(FetchState::default()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Verifies `token` and returns who it names.
    pub async fn verify(&self, token: &str) -> DomainResult<Identity> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| unauthenticated("malformed"))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(unauthenticated("algorithm not allowed"));
        }
        let kid = header.kid.ok_or_else(|| unauthenticated("no kid"))?;
        let (key, key_alg) = match self.cached_key(&kid) {
            Some(k) => k,
            None => self.refetch_for(&kid).await?,
        };
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(unauthenticated("algorithm does not match the key"));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway_secs;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "expired",
                ErrorKind::ImmatureSignature => "not yet valid",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::MissingRequiredClaim(_) => "missing claim",
                _ => "rejected",
            })
        })?;
        let c = data.claims;
        let (Some(subject), Some(issuer)) = (c.sub.filter(|s| !s.is_empty()), c.iss) else {
            return Err(unauthenticated("missing claim"));
        };
        Ok(Identity {
            issuer,
            subject,
            email: c.email,
            email_verified: c.email_verified,
            display_name: c.name,
        })
    }

    fn cached_key(&self, kid: &str) -> Option<(DecodingKey, Option<Algorithm>)> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    async fn refetch_for(&self, kid: &str) -> DomainResult<(DecodingKey, Option<Algorithm>)> {
        let mut state = self.fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(k) = self.cached_key(kid) {
            return Ok(k);
        }
        let interval = Duration::from_secs(self.config.jwks_refetch_interval_secs);
        if state
            .last_failure
            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE)
        {
            return Err(unauthenticated("signing keys unavailable"));
        }
        if state.loaded {
            if state.last_refetch.is_some_and(|t| t.elapsed() < interval) {
                return Err(unauthenticated("unknown signing key"));
            }
            state.last_refetch = Some(Instant::now());
        }
        match self.fetch_keys(&mut state).await {
            Ok(keys) => {
                metrics::counter!("opsdeck_jwks_fetches_total", "outcome" => "ok").increment(1);
                *self.keys.write().expect("jwks lock") = keys;
                state.loaded = true;
                state.last_failure = None;
            }
            Err(e) => {
                metrics::counter!("opsdeck_jwks_fetches_total", "outcome" => "error").increment(1);
                tracing::warn!(error = %e, "JWKS fetch failed");
                state.last_failure = Some(Instant::now());
                return Err(unauthenticated("signing keys unavailable"));
            }
        }
        self.cached_key(kid)
            .ok_or_else(|| unauthenticated("unknown signing key"))
    }

    async fn fetch_keys(
        &self,
        state: &mut FetchState,
    ) -> anyhow::Result<HashMap<String, (DecodingKey, Option<Algorithm>)>> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let issuer = IssuerUrl::new(self.config.issuer.clone())?;
                let metadata = CoreProviderMetadata::discover_async(issuer, &self.http).await?;
                let uri = metadata.jwks_uri().url().to_string();
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let set: JwkSet = self
            .http
            .get(&jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            // Keys we cannot use (e.g. encryption keys, unknown types) are skipped.
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| Algorithm::from_str(&a.to_string()).ok());
            keys.insert(kid, (key, alg));
        }
        Ok(keys)
    }
}
