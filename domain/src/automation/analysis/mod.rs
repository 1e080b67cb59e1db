//! Form analysis: `analyzeForm` queues a `form_analysis` job that reads a target's form
//! in a real browser (the worker's `form_analysis` handler); its result says which fields
//! the form has, with their labels and constraints, how to move through its steps and
//! what submits it. `create_workflow` turns a finished analysis into an editable draft.

pub mod model;
pub mod steps;

use std::collections::BTreeSet;

use entity::{form_analysis, job};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use self::model::Analysis;
use super::{targets, values, workflows};
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::jobs::contracts::FormAnalysis as FormAnalysisJob;
use crate::jobs::store::{self, Policy};
use crate::jobs::{self, Status};
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

pub const MAX_URL: usize = 2000;

/// An analysis request and its job.
#[derive(Debug, Clone)]
pub struct FormAnalysis {
    pub row: form_analysis::Model,
    pub job: job::Model,
}

impl FormAnalysis {
    /// The result, once the job has succeeded.
    pub fn result(&self) -> Option<Analysis> {
        (Status::parse(&self.job.status) == Some(Status::Succeeded))
            .then(|| serde_json::from_value(self.job.result.clone()?).ok())
            .flatten()
    }
}

pub struct Request {
    pub target_id: Uuid,
    /// A path on the target's base URL, or an absolute URL on an allowed host.
    pub url: String,
    pub submit: bool,
}

/// Where `raw` leads from the target's base URL, if the target allows it.
pub fn resolve(target: &targets::Target, raw: &str) -> Result<url::Url, String> {
    if raw.trim().is_empty() || raw.len() > MAX_URL {
        return Err(format!("1 to {MAX_URL} characters"));
    }
    let base =
        url::Url::parse(&target.base_url).map_err(|e| format!("the target's base URL: {e}"))?;
    let url = base
        .join(raw.trim())
        .map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https pages can be analyzed".into());
    }
    let host = targets::bare_host(&url);
    targets::egress_policy(target)
        .check_host(&host)
        .map_err(|r| format!("{r} (the target's allowedHosts decide where browsers may go)"))?;
    Ok(url)
}

pub async fn request(
    db: &Db,
    org: &OrgCtx,
    input: Request,
    policy: &Policy,
) -> DomainResult<FormAnalysis> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let target = targets::load_active(&tx, org.org_id(), input.target_id).await?;
    let url = resolve(&target, &input.url).map_err(|e| DomainError::invalid_field("url", e))?;
    let id = Uuid::now_v7();
    let job = store::enqueue_in_group(
        &tx,
        org.org_id(),
        id,
        &FormAnalysisJob { analysis_id: id },
        policy.max_attempts,
        Some(super::runs::target_group(&target)),
    )
    .await?;
    let row = form_analysis::Model {
        id,
        org_id: org.org_id(),
        target_id: target.id,
        url: url.to_string(),
        submit: input.submit,
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: crate::time::now(),
    };
    form_analysis::Entity::insert(form_analysis::ActiveModel::from(row.clone()))
        .exec_without_returning(&tx)
        .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "form_analysis.requested",
            target_type: "target",
            target_id: Some(target.id),
            before: None,
            after: Some(json!({ "analysis": id, "url": row.url, "submit": row.submit })),
        },
    )
    .await?;
    tx.commit().await?;
    jobs::relay::wake();
    Ok(FormAnalysis { row, job })
}

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<FormAnalysis> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let found = load(&tx, org.org_id(), id).await?;
    tx.commit().await?;
    Ok(found)
}

async fn load(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> DomainResult<FormAnalysis> {
    let row = form_analysis::Entity::find_in_org(org_id, id)
        .one(conn)
        .await?
        .ok_or(DomainError::not_found("form analysis"))?;
    let job = job::Entity::find_in_org(org_id, id)
        .one(conn)
        .await?
        .ok_or(DomainError::not_found("form analysis"))?;
    Ok(FormAnalysis { row, job })
}

/// A target's analyses, newest first. NOT_FOUND for another org's target.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    target_id: Uuid,
    page: PageRequest,
) -> DomainResult<Page<FormAnalysis>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    entity::target::Entity::find_in_org(org.org_id(), target_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("target"))?;
    let mut q = form_analysis::Entity::find()
        .filter(form_analysis::Column::OrgId.eq(org.org_id()))
        .filter(form_analysis::Column::TargetId.eq(target_id));
    if let Some(after) = page.after {
        q = q.filter(form_analysis::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(form_analysis::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    let page = Page::from_rows(rows, page.first);
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let jobs = job::Entity::find()
        .filter(job::Column::OrgId.eq(org.org_id()))
        .filter(job::Column::Id.is_in(ids))
        .all(&tx)
        .await?;
    tx.commit().await?;
    let items = page
        .items
        .into_iter()
        .filter_map(|row| {
            let job = jobs.iter().find(|j| j.id == row.id)?.clone();
            Some(FormAnalysis { row, job })
        })
        .collect();
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
    })
}

/// The worker's view: what to analyze, and where.
pub async fn plan(
    db: &Db,
    org_id: Uuid,
    id: Uuid,
) -> DomainResult<(form_analysis::Model, targets::Target)> {
    let tx = db::begin_read(db, Scope::org(org_id)).await?;
    let found = load(&tx, org_id, id).await?;
    let target = entity::target::Entity::find_in_org(org_id, found.row.target_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("target"))?;
    tx.commit().await?;
    Ok((found.row, target))
}

/// A workflow draft from a finished analysis: its shown fields as the input schema, and
/// steps that fill them, move through the wizard, submit and wait for the outcome.
pub async fn create_workflow(
    db: &Db,
    org: &OrgCtx,
    analysis_id: Uuid,
    name: String,
) -> DomainResult<workflows::Workflow> {
    org.require(Role::Engineer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let found = load(&tx, org.org_id(), analysis_id).await?;
    let Some(analysis) = found.result() else {
        return Err(DomainError::invalid_field(
            "analysisId",
            format!(
                "the analysis has not succeeded (it is {})",
                found.job.status
            ),
        ));
    };
    let target = targets::load_active(&tx, org.org_id(), found.row.target_id).await?;
    tx.commit().await?;
    let base = url::Url::parse(&target.base_url).ok();
    let goto = match (base, url::Url::parse(&found.row.url)) {
        (Some(b), Ok(u)) if b.origin() == u.origin() => {
            let mut path = u.path().to_owned();
            if let Some(q) = u.query() {
                path = format!("{path}?{q}");
            }
            path
        }
        _ => found.row.url.clone(),
    };
    let mut seen = BTreeSet::new();
    let schema = analysis
        .fields
        .iter()
        .filter(|f| f.is_input())
        .filter(|f| values::valid_field_name(&f.name) && seen.insert(f.name.clone()))
        .map(|f| f.input_field())
        .collect();
    workflows::create(
        db,
        org,
        workflows::NewWorkflow {
            name,
            target_id: found.row.target_id,
            description: Some(format!(
                "Built from the form analysis of {} ({} fields, {} step{}).",
                found.row.url,
                analysis.fields.iter().filter(|f| f.is_input()).count(),
                analysis.steps.len(),
                if analysis.steps.len() == 1 { "" } else { "s" }
            )),
            input_schema: schema,
            steps: steps::workflow(&analysis, goto),
        },
    )
    .await
}
