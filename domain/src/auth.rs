//! Authentication: who presented the request (an API key, an OIDC user, or nobody), then
//! which organization it acts in. Another org, or one the user does not belong to, is
//! `NOT_FOUND`, worded like an org that does not exist.

use std::sync::Arc;
use std::time::Duration;

use entity::{membership, organization, user};
use sha2::{Digest, Sha256};

use crate::api_keys::{self, Authenticated};
use crate::db::Db;
use crate::error::{DomainError, DomainResult};
use crate::members;
use crate::oidc::OidcVerifier;
use crate::org::{Actor, OrgCtx};
use crate::ttl_cache::TtlCache;
use crate::users;

const CACHE_CAPACITY: usize = 10_000;

pub enum Principal {
    Anonymous,
    User(user::Model),
    /// Shared with the credential cache: no copy per request.
    ApiKey(Arc<Authenticated>),
}

impl Principal {
    pub fn user(&self) -> Option<&user::Model> {
        match self {
            Principal::User(u) => Some(u),
            _ => None,
        }
    }
}

pub struct Authenticator {
    db: Db,
    oidc: Option<OidcVerifier>,
    /// SHA-256 of a presented API key → the verified key.
    keys: TtlCache<[u8; 32], Arc<Authenticated>>,
    /// SHA-256 of a bearer token → its user (never past the token's own expiry: the TTL is
    /// far shorter than any access token's lifetime and `exp` was checked on entry).
    tokens: TtlCache<[u8; 32], user::Model>,
    /// A user's memberships (for `viewer` and for choosing the org of a request).
    memberships: TtlCache<uuid::Uuid, Memberships>,
}

pub type Memberships = Arc<Vec<(membership::Model, organization::Model)>>;

fn digest(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}

impl Authenticator {
    /// How long a verified credential is trusted without another database look-up
    /// (`OPSDECK_AUTH_CACHE_SECS`; zero turns the cache off). A revoked key stops at once in
    /// the process that revoked it, and within `ttl` in other replicas.
    pub fn with_cache_ttl(db: Db, oidc: Option<OidcVerifier>, ttl: Duration) -> Self {
        Authenticator {
            db,
            oidc,
            keys: TtlCache::new(ttl, CACHE_CAPACITY),
            tokens: TtlCache::new(ttl, CACHE_CAPACITY),
            memberships: TtlCache::new(ttl, CACHE_CAPACITY),
        }
    }

    /// The user's memberships in every org, oldest first.
    pub async fn memberships(&self, user_id: uuid::Uuid) -> DomainResult<Memberships> {
        if let Some(cached) = self.memberships.get(&user_id) {
            return Ok(cached);
        }
        let fresh = Arc::new(members::of_user(&self.db, user_id).await?);
        self.memberships.insert(user_id, fresh.clone());
        Ok(fresh)
    }

    /// Forgets a user's memberships after they changed, at once in this process.
    pub fn forget_memberships(&self, user_id: uuid::Uuid) {
        self.memberships.remove(&user_id);
    }

    /// Forgets a revoked key at once in this process.
    pub fn forget_key(&self, key_id: uuid::Uuid) {
        self.keys.retain(|a| a.key.id != key_id);
    }

    /// `bearer` is the credential after `Bearer `; `None` = anonymous. A credential that is
    /// present but invalid is always an error, never a fallback to anonymous.
    pub async fn authenticate(&self, bearer: Option<&str>) -> DomainResult<Principal> {
        let Some(bearer) = bearer else {
            return Ok(Principal::Anonymous);
        };
        let hash = digest(bearer);
        if api_keys::looks_like_key(bearer) {
            let cached = self
                .keys
                .get(&hash)
                .filter(|a| a.key.expires_at.is_none_or(|at| at > crate::time::now()));
            let auth = match cached {
                Some(auth) => auth,
                None => {
                    let fresh = Arc::new(api_keys::authenticate(&self.db, bearer, None).await?);
                    self.keys.insert(hash, fresh.clone());
                    fresh
                }
            };
            return Ok(Principal::ApiKey(auth));
        }
        if let Some(user) = self.tokens.get(&hash) {
            return Ok(Principal::User(user));
        }
        let Some(oidc) = &self.oidc else {
            return Err(DomainError::Unauthenticated(
                "bearer tokens are not accepted: no OIDC issuer is configured".into(),
            ));
        };
        let identity = oidc.verify(bearer).await?;
        let user = users::find_or_create(&self.db, &identity).await?;
        self.tokens.insert(hash, user.clone());
        Ok(Principal::User(user))
    }

    /// The org context for `principal`, chosen by `X-Opsdeck-Org` (id or slug) for users.
    pub async fn resolve_org(
        &self,
        principal: &Principal,
        header: Option<&str>,
        request_id: &str,
    ) -> DomainResult<OrgCtx> {
        let not_found = || DomainError::not_found("organization");
        match principal {
            Principal::Anonymous => Err(DomainError::Unauthenticated(
                "authentication required".into(),
            )),
            Principal::ApiKey(auth) => match header {
                None => Ok(auth.ctx.clone().with_request_id(request_id)),
                Some(h) if h == auth.organization.slug || h == auth.organization.id.to_string() => {
                    Ok(auth.ctx.clone().with_request_id(request_id))
                }
                // A key acts only inside its own org.
                Some(_) => Err(not_found()),
            },
            Principal::User(user) => {
                let header = header.ok_or_else(|| {
                    DomainError::invalid(
                        "select an organization with the X-Opsdeck-Org header (id or slug)",
                    )
                })?;
                let memberships = self.memberships(user.id).await?;
                let (row, org) = memberships
                    .iter()
                    .find(|(_, o)| o.slug == header || o.id.to_string() == header)
                    .ok_or_else(not_found)?;
                let role: crate::role::Role = row.role.parse().map_err(|_| {
                    anyhow::anyhow!("membership {} has role {:?}", row.id, row.role)
                })?;
                Ok(OrgCtx::new(
                    org.id,
                    role,
                    Actor::User(user.id),
                    Some(request_id.to_owned()),
                ))
            }
        }
    }
}
