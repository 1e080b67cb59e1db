//! Targets: the sites automated against. A target says where its browsers may go (its
//! allowed hosts and whether private networks are reachable: only an ADMIN may allow them),
//! how many of its runs may execute at once, and holds write-only secrets.

use std::collections::BTreeMap;

use entity::{target, target_secret};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::egress::{EgressPolicy, HostPattern, internal_kind, literal_ip};
use super::problems::{self, Problems};
use super::sealing::{Sealer, SecretSlot};
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult, is_unique_violation};
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

pub type Target = target::Model;

pub const DEFAULT_CONCURRENCY: i32 = 2;
pub const MAX_CONCURRENCY: i32 = 50;
pub const MAX_ALLOWED_HOSTS: usize = 50;
pub const MAX_SECRETS: usize = 50;
pub const MAX_SECRET_BYTES: usize = 8 * 1024;

#[derive(Debug, Default)]
pub struct TargetInput {
    pub name: Option<String>,
    pub base_url: Option<String>,
    /// `None` keeps them (on create: the base URL's host).
    pub allowed_hosts: Option<Vec<String>>,
    pub allow_private_network: Option<bool>,
    pub concurrency: Option<i32>,
}

/// The target's egress rules as stored.
pub fn egress_policy(t: &Target) -> EgressPolicy {
    EgressPolicy {
        allowed_hosts: hosts_of(t)
            .iter()
            .filter_map(|h| HostPattern::parse(h).ok())
            .collect(),
        allow_private_network: t.allow_private_network,
    }
}

pub fn hosts_of(t: &Target) -> Vec<String> {
    serde_json::from_value(t.allowed_hosts.clone()).unwrap_or_default()
}

pub async fn create(db: &Db, org: &OrgCtx, input: TargetInput) -> DomainResult<Target> {
    org.require(Role::Manager)?;
    if input.allow_private_network == Some(true) {
        org.require(Role::Admin)?;
    }
    let mut p = Problems::default();
    let name = problems::name(&mut p, "name", input.name.as_deref().unwrap_or(""), 100);
    let base_url = match input.base_url.as_deref() {
        Some(raw) => parse_base_url(&mut p, raw),
        None => {
            p.add("baseUrl", "required");
            None
        }
    };
    let concurrency = input.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    check_concurrency(&mut p, concurrency);
    let allow_private = input.allow_private_network.unwrap_or(false);
    let hosts = match (&input.allowed_hosts, &base_url) {
        (Some(list), _) => parse_hosts(&mut p, list),
        (None, Some(url)) => vec![bare_host(url)],
        (None, None) => Vec::new(),
    };
    if let Some(url) = &base_url {
        check_base_against_rules(&mut p, url, &hosts, allow_private);
    }
    p.into_result()?;
    let now = crate::time::now();
    let row = target::Model {
        id: Uuid::now_v7(),
        org_id: org.org_id(),
        name,
        base_url: base_url.map(|u| u.to_string()).unwrap_or_default(),
        allowed_hosts: json!(hosts),
        allow_private_network: allow_private,
        concurrency,
        version: 1,
        archived_at: None,
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: now,
        updated_at: now,
    };
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    if let Err(e) = target::Entity::insert(target::ActiveModel::from(row.clone()))
        .exec_without_returning(&tx)
        .await
    {
        return Err(name_taken(e));
    }
    audit::record(
        &tx,
        org,
        Entry {
            action: "target.created",
            target_type: "target",
            target_id: Some(row.id),
            before: None,
            after: Some(audit_view(&row)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    db: &Db,
    org: &OrgCtx,
    id: Uuid,
    expected_version: Option<i32>,
    input: TargetInput,
) -> DomainResult<Target> {
    org.require(Role::Manager)?;
    if input.allow_private_network == Some(true) {
        org.require(Role::Admin)?;
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = load_active(&tx, org.org_id(), id).await?;
    if let Some(v) = expected_version
        && v != before.version
    {
        return Err(stale(&before));
    }
    let mut p = Problems::default();
    let name = match &input.name {
        Some(n) => problems::name(&mut p, "name", n, 100),
        None => before.name.clone(),
    };
    let base_url = match input.base_url.as_deref() {
        Some(raw) => parse_base_url(&mut p, raw),
        None => url::Url::parse(&before.base_url).ok(),
    };
    let concurrency = input.concurrency.unwrap_or(before.concurrency);
    check_concurrency(&mut p, concurrency);
    let allow_private = input
        .allow_private_network
        .unwrap_or(before.allow_private_network);
    let hosts = match &input.allowed_hosts {
        Some(list) => parse_hosts(&mut p, list),
        None => hosts_of(&before),
    };
    if let Some(url) = &base_url {
        check_base_against_rules(&mut p, url, &hosts, allow_private);
    }
    p.into_result()?;
    let mut active: target::ActiveModel = before.clone().into();
    active.name = Set(name);
    active.base_url = Set(base_url
        .map(|u| u.to_string())
        .unwrap_or(before.base_url.clone()));
    active.allowed_hosts = Set(json!(hosts));
    active.allow_private_network = Set(allow_private);
    active.concurrency = Set(concurrency);
    active.version = Set(before.version + 1);
    active.updated_at = Set(crate::time::now());
    let after = active.update(&tx).await.map_err(name_taken)?;
    if after.concurrency != before.concurrency {
        // Runs already queued or running take the new cap from their next claim.
        entity::job::Entity::update_many()
            .col_expr(
                entity::job::Column::GroupLimit,
                sea_orm::sea_query::Expr::value(after.concurrency),
            )
            .filter(entity::job::Column::OrgId.eq(org.org_id()))
            .filter(entity::job::Column::GroupKey.eq(super::runs::group_key(id)))
            .filter(entity::job::Column::Status.is_in(["QUEUED", "RUNNING"]))
            .exec(&tx)
            .await?;
    }
    audit::record(
        &tx,
        org,
        Entry {
            action: "target.updated",
            target_type: "target",
            target_id: Some(id),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Archived targets keep their history; their workflows can no longer run.
pub async fn archive(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Target> {
    org.require(Role::Manager)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = target::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("target"))?;
    if before.archived_at.is_some() {
        tx.commit().await?;
        return Ok(before);
    }
    let mut active: target::ActiveModel = before.clone().into();
    let now = crate::time::now();
    active.archived_at = Set(Some(now));
    active.version = Set(before.version + 1);
    active.updated_at = Set(now);
    let after = active.update(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "target.archived",
            target_type: "target",
            target_id: Some(id),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Target> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let row = target::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("target"))?;
    tx.commit().await?;
    Ok(row)
}

/// Oldest first; archived ones only when asked.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    page: PageRequest,
    include_archived: bool,
) -> DomainResult<Page<Target>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = target::Entity::find().filter(target::Column::OrgId.eq(org.org_id()));
    if !include_archived {
        q = q.filter(target::Column::ArchivedAt.is_null());
    }
    if let Some(after) = page.after {
        q = q.filter(target::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(target::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, page.first))
}

/// A secret's name and dates; its value never leaves the database but to a run.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub async fn secrets(db: &Db, org: &OrgCtx, target_id: Uuid) -> DomainResult<Vec<SecretInfo>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let rows = target_secret::Entity::find()
        .filter(target_secret::Column::OrgId.eq(org.org_id()))
        .filter(target_secret::Column::TargetId.eq(target_id))
        .order_by_asc(target_secret::Column::Name)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| SecretInfo {
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// A secret name as steps reference it: `{{secret.NAME}}`.
pub fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Creates or replaces a secret. The audit row names it; the value is never recorded.
pub async fn set_secret(
    db: &Db,
    sealer: &Sealer,
    org: &OrgCtx,
    target_id: Uuid,
    name: &str,
    value: &str,
) -> DomainResult<Target> {
    org.require(Role::Manager)?;
    let mut p = Problems::default();
    if !valid_secret_name(name) {
        p.add(
            "name",
            "1 to 64 letters, digits, `_` or `-`, starting with a letter or `_`",
        );
    }
    if value.is_empty() || value.len() > MAX_SECRET_BYTES {
        p.add("value", format!("1 to {MAX_SECRET_BYTES} bytes"));
    }
    p.into_result()?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let target = load_active(&tx, org.org_id(), target_id).await?;
    let sealed = sealer.seal(
        &SecretSlot {
            org_id: org.org_id(),
            target_id,
            name,
        },
        value,
    );
    let now = crate::time::now();
    let existing = target_secret::Entity::find()
        .filter(target_secret::Column::OrgId.eq(org.org_id()))
        .filter(target_secret::Column::TargetId.eq(target_id))
        .filter(target_secret::Column::Name.eq(name))
        .one(&tx)
        .await?;
    let action = match existing {
        Some(row) => {
            let mut active: target_secret::ActiveModel = row.into();
            active.sealed = Set(sealed);
            active.updated_at = Set(now);
            active.update(&tx).await?;
            "target.secret_replaced"
        }
        None => {
            let count = target_secret::Entity::find()
                .filter(target_secret::Column::OrgId.eq(org.org_id()))
                .filter(target_secret::Column::TargetId.eq(target_id))
                .count(&tx)
                .await?;
            if count as usize >= MAX_SECRETS {
                return Err(DomainError::QuotaExceeded(format!(
                    "a target holds at most {MAX_SECRETS} secrets"
                )));
            }
            target_secret::Entity::insert(target_secret::ActiveModel {
                id: Set(Uuid::now_v7()),
                org_id: Set(org.org_id()),
                target_id: Set(target_id),
                name: Set(name.to_owned()),
                sealed: Set(sealed),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_without_returning(&tx)
            .await?;
            "target.secret_set"
        }
    };
    audit::record(
        &tx,
        org,
        Entry {
            action,
            target_type: "target",
            target_id: Some(target_id),
            before: None,
            after: Some(json!({ "secret": name })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(target)
}

pub async fn delete_secret(
    db: &Db,
    org: &OrgCtx,
    target_id: Uuid,
    name: &str,
) -> DomainResult<Target> {
    org.require(Role::Manager)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let target = target::Entity::find_in_org(org.org_id(), target_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("target"))?;
    let deleted = target_secret::Entity::delete_many()
        .filter(target_secret::Column::OrgId.eq(org.org_id()))
        .filter(target_secret::Column::TargetId.eq(target_id))
        .filter(target_secret::Column::Name.eq(name))
        .exec(&tx)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("secret"));
    }
    audit::record(
        &tx,
        org,
        Entry {
            action: "target.secret_deleted",
            target_type: "target",
            target_id: Some(target_id),
            before: Some(json!({ "secret": name })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(target)
}

/// Every secret of a target, opened, for a run about to start (the worker only).
pub async fn open_secrets(
    conn: &impl ConnectionTrait,
    sealer: &Sealer,
    org_id: Uuid,
    target_id: Uuid,
) -> DomainResult<BTreeMap<String, String>> {
    let rows = target_secret::Entity::find()
        .filter(target_secret::Column::OrgId.eq(org_id))
        .filter(target_secret::Column::TargetId.eq(target_id))
        .all(conn)
        .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let value = sealer
            .open(
                &SecretSlot {
                    org_id,
                    target_id,
                    name: &row.name,
                },
                &row.sealed,
            )
            .map_err(|e| DomainError::Internal(anyhow::anyhow!("secret {}: {e}", row.name)))?;
        out.insert(row.name, value);
    }
    Ok(out)
}

pub(crate) async fn load_active(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> DomainResult<Target> {
    let row = target::Entity::find_in_org(org_id, id)
        .one(conn)
        .await?
        .ok_or(DomainError::not_found("target"))?;
    if row.archived_at.is_some() {
        return Err(DomainError::conflict("the target is archived"));
    }
    Ok(row)
}

fn stale(t: &Target) -> DomainError {
    let mut details = serde_json::Map::new();
    details.insert("currentVersion".into(), json!(t.version));
    DomainError::Conflict {
        message: format!(
            "the target changed meanwhile (now version {}); reload and retry",
            t.version
        ),
        details,
    }
}

fn name_taken(e: sea_orm::DbErr) -> DomainError {
    if is_unique_violation(&e) {
        DomainError::invalid_field("name", "another active target has this name")
    } else {
        e.into()
    }
}

fn audit_view(t: &Target) -> serde_json::Value {
    json!({
        "name": t.name,
        "baseUrl": t.base_url,
        "allowedHosts": t.allowed_hosts,
        "allowPrivateNetwork": t.allow_private_network,
        "concurrency": t.concurrency,
        "archived": t.archived_at.is_some(),
    })
}

fn parse_base_url(p: &mut Problems, raw: &str) -> Option<url::Url> {
    if raw.len() > 2048 {
        p.add("baseUrl", "at most 2048 characters");
        return None;
    }
    match url::Url::parse(raw.trim()) {
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            p.add("baseUrl", "must be an http or https URL");
            None
        }
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            p.add(
                "baseUrl",
                "must not carry credentials (store them as target secrets)",
            );
            None
        }
        Ok(u) if u.host_str().is_none() => {
            p.add("baseUrl", "must name a host");
            None
        }
        Ok(u) => Some(u),
        Err(e) => {
            p.add("baseUrl", format!("not a URL ({e})"));
            None
        }
    }
}

fn parse_hosts(p: &mut Problems, list: &[String]) -> Vec<String> {
    if list.is_empty() {
        p.add("allowedHosts", "at least one host");
    }
    if list.len() > MAX_ALLOWED_HOSTS {
        p.add("allowedHosts", format!("at most {MAX_ALLOWED_HOSTS} hosts"));
    }
    let mut out = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        match HostPattern::parse(raw) {
            Ok(h) => {
                let h = h.to_string();
                if !out.contains(&h) {
                    out.push(h);
                }
            }
            Err(e) => p.add(format!("allowedHosts[{i}]"), e),
        }
    }
    out
}

fn check_concurrency(p: &mut Problems, c: i32) {
    if !(1..=MAX_CONCURRENCY).contains(&c) {
        p.add("concurrency", format!("between 1 and {MAX_CONCURRENCY}"));
    }
}

/// The base URL must itself be reachable under the target's rules.
fn check_base_against_rules(p: &mut Problems, url: &url::Url, hosts: &[String], private: bool) {
    let host = bare_host(url);
    let host = host.as_str();
    let policy = EgressPolicy {
        allowed_hosts: hosts
            .iter()
            .filter_map(|h| HostPattern::parse(h).ok())
            .collect(),
        allow_private_network: private,
    };
    if policy.check_host(host).is_err() {
        p.add(
            "baseUrl",
            format!("its host {host} is not among allowedHosts"),
        );
    }
    if private {
        return;
    }
    let kind = match literal_ip(host) {
        Some(ip) => internal_kind(ip),
        None if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") => {
            Some("loopback")
        }
        None => None,
    };
    if let Some(kind) = kind {
        p.add(
            "baseUrl",
            format!(
                "{host} is a {kind} address; only an ADMIN can allow private networks (allowPrivateNetwork)"
            ),
        );
    }
}

/// The URL's host without IPv6 brackets, lower-cased.
pub fn bare_host(url: &url::Url) -> String {
    url.host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}
