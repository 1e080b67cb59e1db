//! API keys: org-scoped machine credentials.
//!
//! A key is `odk_` + 43 base64url characters (256 random bits). Only its first
//! [`PREFIX_LEN`] characters (for lookup and display) and its SHA-256 are stored: a fast
//! hash is right for a high-entropy secret, and a slow KDF would cost every request.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use entity::{api_key, organization};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::{Actor, OrgCtx};
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

pub const PREFIX_LEN: usize = 12;
const KEY_PREFIX: &str = "odk_";
/// `last_used_at` is written at most this often per key, keeping writes off the hot path.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key as created: the row and the secret, which is never shown again.
pub struct CreatedKey {
    pub key: api_key::Model,
    pub secret: String,
}

pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn prefix_of(secret: &str) -> &str {
    let end = secret
        .char_indices()
        .nth(PREFIX_LEN)
        .map_or(secret.len(), |(i, _)| i);
    &secret[..end]
}

/// Whether a bearer credential is shaped like an API key rather than a JWT.
pub fn looks_like_key(bearer: &str) -> bool {
    !bearer.contains('.')
}

fn snapshot(k: &api_key::Model) -> serde_json::Value {
    // Never the hash: audit rows are read by every ADMIN.
    json!({
        "id": k.id, "name": k.name, "role": k.role, "prefix": k.prefix,
        "expiresAt": k.expires_at, "revokedAt": k.revoked_at,
    })
}

/// `createApiKey`: ADMIN; a key never outranks its creator.
pub async fn create(db: &Db, org: &OrgCtx, input: NewApiKey) -> DomainResult<CreatedKey> {
    org.require(Role::Admin)?;
    if input.role > org.role() {
        return Err(DomainError::Forbidden { need: input.role });
    }
    insert(db, org, input, generate_secret()).await
}

/// The operator's path (CLI, bootstrap). `secret` = a chosen key, else a generated one.
pub async fn create_system(
    db: &Db,
    org_id: Uuid,
    input: NewApiKey,
    secret: Option<String>,
) -> DomainResult<CreatedKey> {
    insert(
        db,
        &OrgCtx::system(org_id),
        input,
        secret.unwrap_or_else(generate_secret),
    )
    .await
}

async fn insert(
    db: &Db,
    org: &OrgCtx,
    input: NewApiKey,
    secret: String,
) -> DomainResult<CreatedKey> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::invalid_field("name", "1 to 100 characters"));
    }
    if let Some(at) = input.expires_at
        && at <= crate::time::now()
    {
        return Err(DomainError::invalid_field(
            "expiresAt",
            "must be in the future",
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let key = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org.org_id()),
        name: Set(name),
        role: Set(input.role.as_str().to_owned()),
        prefix: Set(prefix_of(&secret).to_owned()),
        secret_hash: Set(hash(&secret)),
        created_by_user_id: Set(org.actor().user_id()),
        created_at: Set(crate::time::now()),
        expires_at: Set(input.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&tx)
    .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "api_key.created",
            target_type: "api_key",
            target_id: Some(key.id),
            before: None,
            after: Some(snapshot(&key)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedKey { key, secret })
}

/// `revokeApiKey`: ADMIN. Revoking a revoked key changes nothing and is not an error.
pub async fn revoke(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<api_key::Model> {
    org.require(Role::Admin)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let key = api_key::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("API key"))?;
    if key.revoked_at.is_some() {
        tx.commit().await?;
        return Ok(key);
    }
    let before = snapshot(&key);
    let mut change = key.into_active_model();
    change.revoked_at = Set(Some(crate::time::now()));
    let key = change.update(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "api_key.revoked",
            target_type: "api_key",
            target_id: Some(id),
            before: Some(before),
            after: Some(snapshot(&key)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(key)
}

pub async fn list(db: &Db, org: &OrgCtx, page: PageRequest) -> DomainResult<Page<api_key::Model>> {
    org.require(Role::Admin)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = api_key::Entity::find().filter(api_key::Column::OrgId.eq(org.org_id()));
    if let Some(after) = page.after {
        q = q.filter(api_key::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(api_key::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, page.first))
}

/// A verified key and the context it acts in.
#[derive(Clone)]
pub struct Authenticated {
    pub key: api_key::Model,
    pub organization: organization::Model,
    pub ctx: OrgCtx,
}

/// Checks a presented key: `UNAUTHENTICATED` when unknown, revoked or expired.
pub async fn authenticate(
    db: &Db,
    secret: &str,
    request_id: Option<String>,
) -> DomainResult<Authenticated> {
    let invalid = || DomainError::Unauthenticated("invalid API key".into());
    if secret.len() < PREFIX_LEN || secret.len() > 256 {
        return Err(invalid());
    }
    let prefix = prefix_of(secret);
    let presented = hash(secret);
    let tx = db::begin_read(
        db,
        Scope {
            api_key_prefix: Some(prefix),
            ..Default::default()
        },
    )
    .await?;
    let candidates = api_key::Entity::find()
        .filter(api_key::Column::Prefix.eq(prefix))
        .all(&tx)
        .await?;
    let key = candidates
        .into_iter()
        .find(|k| bool::from(k.secret_hash.as_slice().ct_eq(&presented)))
        .ok_or_else(invalid)?;
    let now = crate::time::now();
    if key.revoked_at.is_some() {
        return Err(DomainError::Unauthenticated(
            "API key has been revoked".into(),
        ));
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(DomainError::Unauthenticated("API key has expired".into()));
    }
    let role: Role = key
        .role
        .parse()
        .map_err(|_| anyhow::anyhow!("api key {} has role {:?}", key.id, key.role))?;
    let organization = organization::Entity::find_by_id(key.org_id)
        .one(&tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("api key {} has no organization", key.id))?;
    tx.commit().await?;
    let key = if key
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_GRANULARITY)
    {
        touch(db, key, now).await
    } else {
        key
    };
    let ctx = OrgCtx::new(key.org_id, role, Actor::ApiKey(key.id), request_id);
    Ok(Authenticated {
        key,
        organization,
        ctx,
    })
}

/// Records `last_used_at`, best effort: a busy database must not fail the request it serves.
async fn touch(db: &Db, key: api_key::Model, now: DateTime<Utc>) -> api_key::Model {
    let result: DomainResult<api_key::Model> = async {
        let tx = db::begin(db, Scope::org(key.org_id)).await?;
        let mut change = key.clone().into_active_model();
        change.last_used_at = Set(Some(now));
        let updated = change.update(&tx).await?;
        tx.commit().await?;
        Ok(updated)
    }
    .await;
    result.unwrap_or_else(|e| {
        tracing::warn!(api_key.id = %key.id, error = %e, "could not record lastUsedAt");
        key
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_distinct_and_key_shaped() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 43);
        assert!(looks_like_key(&a));
        assert!(!looks_like_key("eyJhbGciOi.eyJzdWIi.sig"));
        assert_eq!(prefix_of(&a).len(), PREFIX_LEN);
    }
}
