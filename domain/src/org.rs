//! Who acts, and for which organization. An `OrgCtx` is built only by authentication
//! (`auth::resolve_org`, after a membership or API-key check) or for system work (CLI,
//! bootstrap, jobs): holding one means the actor may act in that org with that role.

use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    ApiKey(Uuid),
    /// The operator's CLI, the embedded bootstrap, scheduled jobs.
    System,
}

impl Actor {
    pub fn kind(self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::ApiKey(_) => "api_key",
            Actor::System => "system",
        }
    }

    pub fn id(self) -> Option<Uuid> {
        match self {
            Actor::User(id) | Actor::ApiKey(id) => Some(id),
            Actor::System => None,
        }
    }

    pub fn user_id(self) -> Option<Uuid> {
        match self {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrgCtx {
    org_id: Uuid,
    role: Role,
    actor: Actor,
    request_id: Option<String>,
}

impl OrgCtx {
    /// Only for callers that have verified membership or key ownership (see module doc).
    pub(crate) fn new(org_id: Uuid, role: Role, actor: Actor, request_id: Option<String>) -> Self {
        OrgCtx {
            org_id,
            role,
            actor,
            request_id,
        }
    }

    /// The operator's own authority over one org (CLI and embedded bootstrap).
    pub fn system(org_id: Uuid) -> Self {
        OrgCtx::new(org_id, Role::Admin, Actor::System, None)
    }

    /// The same authority for another request (a cached credential's context).
    pub(crate) fn with_request_id(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_owned());
        self
    }

    pub fn org_id(&self) -> Uuid {
        self.org_id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn actor(&self) -> Actor {
        self.actor
    }
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// `FORBIDDEN` unless the actor's role is at least `need`.
    pub fn require(&self, need: Role) -> DomainResult<()> {
        if self.role.at_least(need) {
            Ok(())
        } else {
            Err(DomainError::Forbidden { need })
        }
    }
}
