//! The embedded deployment's first start: the `default` organization and an ADMIN key.
//! Idempotent: later starts (or a concurrent one) find the org and create nothing.

use crate::api_keys::{self, NewApiKey};
use crate::config::Config;
use crate::db::Db;
use crate::error::{DomainError, DomainResult};
use crate::organizations::{self, NewOrganization};
use crate::role::Role;

pub const DEFAULT_ORG: &str = "default";

pub enum Bootstrap {
    /// Created now. `secret` is the new key, or `None` when the configured key was used.
    Created {
        secret: Option<String>,
    },
    AlreadyDone,
}

pub async fn first_start(db: &Db, config: &Config) -> DomainResult<Bootstrap> {
    if organizations::find_by_id_or_slug(db, DEFAULT_ORG)
        .await?
        .is_some()
    {
        return Ok(Bootstrap::AlreadyDone);
    }
    let org = match organizations::create_system(
        db,
        NewOrganization {
            slug: DEFAULT_ORG.into(),
            name: "Default organization".into(),
        },
    )
    .await
    {
        Ok(org) => org,
        Err(DomainError::Conflict { .. }) => return Ok(Bootstrap::AlreadyDone),
        Err(e) => return Err(e),
    };
    let chosen = config
        .bootstrap_admin_key
        .as_ref()
        .map(|k| k.expose().to_owned());
    let provided = chosen.is_some();
    let created = api_keys::create_system(
        db,
        org.id,
        NewApiKey {
            name: "bootstrap admin".into(),
            role: Role::Admin,
            expires_at: None,
        },
        chosen,
    )
    .await?;
    Ok(Bootstrap::Created {
        secret: (!provided).then_some(created.secret),
    })
}
