//! `RequestCtx`: what every resolver knows about the request. The principal is
//! authenticated before execution (a bad credential never reaches a resolver); the org is
//! resolved on first use, once, so `viewer` works without an `X-Opsdeck-Org` header.

use std::sync::Arc;

use axum::http::HeaderMap;
use domain::auth::Principal;
use domain::config::GraphqlLimits;
use domain::db::Db;
use domain::entity::user::Model as UserModel;
use domain::error::{DomainError, DomainResult};
use domain::org::OrgCtx;
use tokio::sync::OnceCell;

use crate::app::AppState;

pub const ORG_HEADER: &str = "x-opsdeck-org";

/// Cheap to clone: one per request, shared by every operation of a batch.
#[derive(Clone)]
pub struct RequestCtx {
    pub request_id: String,
    inner: Arc<Inner>,
}

struct Inner {
    app: Arc<AppState>,
    principal: Principal,
    org_header: Option<String>,
    org: OnceCell<Result<OrgCtx, DomainError>>,
    loaders: OnceCell<Arc<crate::graphql::loaders::Loaders>>,
}

/// The credential of `Authorization: Bearer …`; a malformed header is an error, not absent.
pub fn bearer(headers: &HeaderMap) -> DomainResult<Option<String>> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| DomainError::Unauthenticated("malformed Authorization header".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(DomainError::Unauthenticated(
            "expected Authorization: Bearer <API key or token>".into(),
        )),
    }
}

impl RequestCtx {
    /// Authenticates from headers (`token` overrides them: the graphql-ws init payload).
    pub async fn authenticate(
        app: Arc<AppState>,
        request_id: String,
        headers: &HeaderMap,
        token: Option<String>,
    ) -> DomainResult<Self> {
        let credential = match token {
            Some(t) => Some(t),
            None => bearer(headers)?,
        };
        let principal = app
            .authenticator
            .authenticate(credential.as_deref())
            .await?;
        let org_header = headers
            .get(ORG_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        Ok(RequestCtx {
            request_id,
            inner: Arc::new(Inner {
                app,
                principal,
                org_header,
                org: OnceCell::new(),
                loaders: OnceCell::new(),
            }),
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.app.db
    }

    pub fn store(&self) -> &domain::object_store::ObjectStore {
        &self.inner.app.store
    }

    pub fn sealer(&self) -> &domain::automation::sealing::Sealer {
        &self.inner.app.sealer
    }

    pub fn config(&self) -> &domain::config::Config {
        &self.inner.app.config
    }

    pub fn limits(&self) -> &GraphqlLimits {
        &self.inner.app.config.graphql
    }

    /// A revoked key stops working at once in this process (see `CREDENTIAL_CACHE_TTL`).
    pub fn forget_api_key(&self, key_id: uuid::Uuid) {
        self.inner.app.authenticator.forget_key(key_id);
    }

    /// This request's batch loaders (created on first use, in the request's org).
    pub async fn loaders(&self) -> DomainResult<Arc<crate::graphql::loaders::Loaders>> {
        let org = self.org().await?;
        let loaders = self
            .inner
            .loaders
            .get_or_init(|| async {
                Arc::new(crate::graphql::loaders::Loaders::new(self.db(), &org))
            })
            .await;
        Ok(loaders.clone())
    }

    /// A user's memberships (cached like credentials; see `Authenticator`).
    pub async fn memberships(
        &self,
        user_id: uuid::Uuid,
    ) -> DomainResult<domain::auth::Memberships> {
        self.inner.app.authenticator.memberships(user_id).await
    }

    /// After a membership change: the user's next request sees it, in this process at once.
    pub fn forget_memberships(&self, user_id: uuid::Uuid) {
        self.inner.app.authenticator.forget_memberships(user_id);
    }

    pub fn principal(&self) -> &Principal {
        &self.inner.principal
    }

    /// The signed-in user, or `UNAUTHENTICATED` / `FORBIDDEN` (an API key is no user).
    pub fn require_user(&self) -> DomainResult<&UserModel> {
        match &self.inner.principal {
            Principal::User(u) => Ok(u),
            Principal::Anonymous => Err(DomainError::Unauthenticated(
                "authentication required".into(),
            )),
            Principal::ApiKey(_) => Err(DomainError::ForbiddenOther(
                "requires a signed-in user; API keys act only inside their organization".into(),
            )),
        }
    }

    /// The org this request acts in; resolved once per request.
    pub async fn org(&self) -> DomainResult<OrgCtx> {
        let resolved = self
            .inner
            .org
            .get_or_init(|| async {
                let inner = &self.inner;
                inner
                    .app
                    .authenticator
                    .resolve_org(
                        &inner.principal,
                        inner.org_header.as_deref(),
                        &self.request_id,
                    )
                    .await
            })
            .await;
        match resolved {
            Ok(org) => {
                // The request span was opened before the org was known.
                tracing::Span::current().record("org.id", tracing::field::display(org.org_id()));
                Ok(org.clone())
            }
            Err(e) => Err(duplicate(e)),
        }
    }
}

/// The cached resolution error, again (an internal cause was logged the first time).
fn duplicate(e: &DomainError) -> DomainError {
    match e {
        DomainError::Unauthenticated(m) => DomainError::Unauthenticated(m.clone()),
        DomainError::Forbidden { need } => DomainError::Forbidden { need: *need },
        DomainError::ForbiddenOther(m) => DomainError::ForbiddenOther(m.clone()),
        DomainError::NotFound { entity } => DomainError::NotFound { entity },
        DomainError::InvalidInput {
            message,
            fields,
            details,
        } => DomainError::InvalidInput {
            message: message.clone(),
            fields: fields.clone(),
            details: details.clone(),
        },
        DomainError::Conflict { message, details } => DomainError::Conflict {
            message: message.clone(),
            details: details.clone(),
        },
        DomainError::LeaseLost => DomainError::LeaseLost,
        DomainError::RateLimited(m) => DomainError::RateLimited(m.clone()),
        DomainError::QuotaExceeded(m) => DomainError::QuotaExceeded(m.clone()),
        DomainError::Internal(err) => DomainError::Internal(anyhow::anyhow!("{err:#}")),
    }
}
