//! Per-request batch loaders: a page of incidents asks for its users, SLA policies and first
//! timeline pages in a fixed number of statements, whatever its size (no N+1).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use domain::db::Db;
use domain::entity::user;
use domain::incidents::{self, TimelineEntry, sla};
use domain::org::OrgCtx;
use domain::pagination::Page;
use uuid::Uuid;

/// Loader errors are database failures: logged where raised, INTERNAL to the client.
pub type LoadError = Arc<domain::error::DomainError>;

pub struct UserLoader {
    db: Db,
}

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, user::Model>, LoadError> {
        let users = domain::users::find_many(&self.db, keys)
            .await
            .map_err(Arc::new)?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}

pub struct TimelineLoader {
    db: Db,
    org: OrgCtx,
}

impl Loader<(Uuid, u64)> for TimelineLoader {
    type Value = Page<TimelineEntry>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[(Uuid, u64)],
    ) -> Result<HashMap<(Uuid, u64), Page<TimelineEntry>>, LoadError> {
        // One statement per distinct page size (in practice one per request).
        let mut sizes: Vec<u64> = keys.iter().map(|(_, n)| *n).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let mut out = HashMap::new();
        for first in sizes {
            let ids: Vec<Uuid> = keys
                .iter()
                .filter(|(_, n)| *n == first)
                .map(|(id, _)| *id)
                .collect();
            let pages = incidents::timeline_first_pages(&self.db, &self.org, &ids, first)
                .await
                .map_err(Arc::new)?;
            out.extend(pages.into_iter().map(|(id, page)| ((id, first), page)));
        }
        Ok(out)
    }
}

pub struct AssigneeLoader {
    db: Db,
    org: OrgCtx,
}

impl Loader<Uuid> for AssigneeLoader {
    type Value = Vec<Uuid>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Uuid>>, LoadError> {
        incidents::query::assignees_of(&self.db, &self.org, keys)
            .await
            .map_err(Arc::new)
    }
}

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub timeline: DataLoader<TimelineLoader>,
    pub assignees: DataLoader<AssigneeLoader>,
    db: Db,
    org: OrgCtx,
    policies: tokio::sync::OnceCell<Vec<sla::Policy>>,
}

impl Loaders {
    pub fn new(db: &Db, org: &OrgCtx) -> Self {
        // A short delay lets sibling resolvers join one batch; they run in the same poll.
        let delay = Duration::from_micros(200);
        let (db, org) = (db.clone(), org.clone());
        Loaders {
            users: DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn).delay(delay),
            timeline: DataLoader::new(
                TimelineLoader {
                    db: db.clone(),
                    org: org.clone(),
                },
                tokio::spawn,
            )
            .delay(delay),
            assignees: DataLoader::new(
                AssigneeLoader {
                    db: db.clone(),
                    org: org.clone(),
                },
                tokio::spawn,
            )
            .delay(delay),
            db,
            org,
            policies: tokio::sync::OnceCell::new(),
        }
    }

    /// The org's SLA policies, read once per request and only if asked for.
    pub async fn policies(&self) -> domain::error::DomainResult<&[sla::Policy]> {
        let p = self
            .policies
            .get_or_try_init(|| sla::policies(&self.db, &self.org))
            .await?;
        Ok(p)
    }
}
