//! Authentication: who presented the request (an API key, an OIDC user, or nobody), then
//! which organization it acts in. Another org, or one the user does not belong to, is
//! `NOT_FOUND`, worded like an org that does not exist.

use entity::user;

use crate::api_keys::{self, Authenticated};
use crate::db::Db;
use crate::error::{DomainError, DomainResult};
use crate::members;
use crate::oidc::OidcVerifier;
use crate::org::{Actor, OrgCtx};
use crate::organizations;
use crate::users;

pub enum Principal {
    Anonymous,
    User(user::Model),
    ApiKey(Box<Authenticated>),
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
}

impl Authenticator {
    pub fn new(db: Db, oidc: Option<OidcVerifier>) -> Self {
        Authenticator { db, oidc }
    }

    /// `bearer` is the credential after `Bearer `; `None` = anonymous. A credential that is
    /// present but invalid is always an error, never a fallback to anonymous.
    pub async fn authenticate(
        &self,
        bearer: Option<&str>,
        request_id: &str,
    ) -> DomainResult<Principal> {
        let Some(bearer) = bearer else {
            return Ok(Principal::Anonymous);
        };
        if api_keys::looks_like_key(bearer) {
            let auth =
                api_keys::authenticate(&self.db, bearer, Some(request_id.to_owned())).await?;
            return Ok(Principal::ApiKey(Box::new(auth)));
        }
        let Some(oidc) = &self.oidc else {
            return Err(DomainError::Unauthenticated(
                "bearer tokens are not accepted: no OIDC issuer is configured".into(),
            ));
        };
        let identity = oidc.verify(bearer).await?;
        Ok(Principal::User(
            users::find_or_create(&self.db, &identity).await?,
        ))
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
                None => Ok(auth.ctx.clone()),
                Some(h) if h == auth.organization.slug || h == auth.organization.id.to_string() => {
                    Ok(auth.ctx.clone())
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
                let org = organizations::find_by_id_or_slug(&self.db, header)
                    .await?
                    .ok_or_else(not_found)?;
                let role = members::role_of(&self.db, org.id, user.id)
                    .await?
                    .ok_or_else(not_found)?;
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
