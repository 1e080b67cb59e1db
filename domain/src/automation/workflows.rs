//! Workflows: an editable draft (input schema and steps) and immutable published versions.
//! Editing changes the draft only; `publish` freezes it as version n+1, and a run pins the
//! version it was launched with, so later edits never change a run.

use entity::{workflow, workflow_version};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::definition::{self, InputField, Step};
use super::problems::{self, Problems};
use super::targets;
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

pub type Workflow = workflow::Model;
pub type Version = workflow_version::Model;

pub const MAX_DESCRIPTION: usize = 20_000;

pub fn schema_of(json: &serde_json::Value) -> Vec<InputField> {
    serde_json::from_value(json.clone()).unwrap_or_default()
}

pub fn steps_of(json: &serde_json::Value) -> Vec<Step> {
    serde_json::from_value(json.clone()).unwrap_or_default()
}

pub struct NewWorkflow {
    pub name: String,
    pub target_id: Uuid,
    pub description: Option<String>,
    pub input_schema: Vec<InputField>,
    pub steps: Vec<Step>,
}

#[derive(Default)]
pub struct DraftPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub input_schema: Option<Vec<InputField>>,
    pub steps: Option<Vec<Step>>,
}

fn check_definition(
    p: &mut Problems,
    target: &targets::Target,
    schema: &[InputField],
    steps: &[Step],
) {
    definition::check_schema(p, "inputSchema", schema);
    let policy = targets::egress_policy(target);
    definition::check_steps(p, "steps", steps, schema, &|host| {
        policy.check_host(host).is_ok()
    });
}

pub async fn create(db: &Db, org: &OrgCtx, input: NewWorkflow) -> DomainResult<Workflow> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let target = targets::load_active(&tx, org.org_id(), input.target_id).await?;
    let mut p = Problems::default();
    let name = problems::name(&mut p, "name", &input.name, 200);
    let description = input.description.unwrap_or_default();
    if description.len() > MAX_DESCRIPTION {
        p.add(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        );
    }
    check_definition(&mut p, &target, &input.input_schema, &input.steps);
    p.into_result()?;
    let now = crate::time::now();
    let row = workflow::Model {
        id: Uuid::now_v7(),
        org_id: org.org_id(),
        target_id: target.id,
        name,
        description,
        input_schema: json!(input.input_schema),
        steps: json!(input.steps),
        version: 1,
        latest_version: 0,
        archived_at: None,
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: now,
        updated_at: now,
    };
    workflow::Entity::insert(workflow::ActiveModel::from(row.clone()))
        .exec_without_returning(&tx)
        .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "workflow.created",
            target_type: "workflow",
            target_id: Some(row.id),
            before: None,
            after: Some(audit_view(&row)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_draft(
    db: &Db,
    org: &OrgCtx,
    id: Uuid,
    expected_version: i32,
    patch: DraftPatch,
) -> DomainResult<Workflow> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = load_active(&tx, org.org_id(), id).await?;
    if before.version != expected_version {
        return Err(stale(&before));
    }
    let target = targets::load_active(&tx, org.org_id(), before.target_id).await?;
    let mut p = Problems::default();
    let name = match &patch.name {
        Some(n) => problems::name(&mut p, "name", n, 200),
        None => before.name.clone(),
    };
    let description = patch
        .description
        .clone()
        .unwrap_or(before.description.clone());
    if description.len() > MAX_DESCRIPTION {
        p.add(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        );
    }
    let schema = patch
        .input_schema
        .unwrap_or_else(|| schema_of(&before.input_schema));
    let steps = patch.steps.unwrap_or_else(|| steps_of(&before.steps));
    check_definition(&mut p, &target, &schema, &steps);
    p.into_result()?;
    let mut active: workflow::ActiveModel = before.clone().into();
    active.name = Set(name);
    active.description = Set(description);
    active.input_schema = Set(json!(schema));
    active.steps = Set(json!(steps));
    active.version = Set(before.version + 1);
    active.updated_at = Set(crate::time::now());
    let after = active.update(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "workflow.draft_updated",
            target_type: "workflow",
            target_id: Some(id),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Freezes the draft as the next version. Publishing a draft identical to the latest
/// version changes nothing (it returns the workflow as it is).
pub async fn publish(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Workflow> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = load_active(&tx, org.org_id(), id).await?;
    let target = targets::load_active(&tx, org.org_id(), before.target_id).await?;
    let schema = schema_of(&before.input_schema);
    let steps = steps_of(&before.steps);
    let mut p = Problems::default();
    if steps.is_empty() {
        p.add(
            "steps",
            "a workflow needs at least one step to be published",
        );
    }
    // The target's rules may have changed since the draft was saved.
    check_definition(&mut p, &target, &schema, &steps);
    p.into_result()?;
    if before.latest_version > 0 {
        let latest = version_row(&tx, org.org_id(), id, before.latest_version).await?;
        if latest.input_schema == before.input_schema && latest.steps == before.steps {
            tx.commit().await?;
            return Ok(before);
        }
    }
    let number = before.latest_version + 1;
    let now = crate::time::now();
    workflow_version::Entity::insert(workflow_version::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org.org_id()),
        workflow_id: Set(id),
        number: Set(number),
        input_schema: Set(before.input_schema.clone()),
        steps: Set(before.steps.clone()),
        published_by_type: Set(org.actor().kind().to_owned()),
        published_by_id: Set(org.actor().id()),
        published_at: Set(now),
    })
    .exec_without_returning(&tx)
    .await?;
    let mut active: workflow::ActiveModel = before.clone().into();
    active.latest_version = Set(number);
    active.updated_at = Set(now);
    let after = active.update(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "workflow.published",
            target_type: "workflow",
            target_id: Some(id),
            before: None,
            after: Some(json!({ "version": number })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn archive(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Workflow> {
    org.require(Role::Manager)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = workflow::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("workflow"))?;
    if before.archived_at.is_some() {
        tx.commit().await?;
        return Ok(before);
    }
    let now = crate::time::now();
    let mut active: workflow::ActiveModel = before.clone().into();
    active.archived_at = Set(Some(now));
    active.updated_at = Set(now);
    let after = active.update(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "workflow.archived",
            target_type: "workflow",
            target_id: Some(id),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Workflow> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let row = workflow::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("workflow"))?;
    tx.commit().await?;
    Ok(row)
}

/// Oldest first, optionally of one target; archived ones only when asked.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    page: PageRequest,
    target_id: Option<Uuid>,
    include_archived: bool,
) -> DomainResult<Page<Workflow>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = workflow::Entity::find().filter(workflow::Column::OrgId.eq(org.org_id()));
    if let Some(t) = target_id {
        q = q.filter(workflow::Column::TargetId.eq(t));
    }
    if !include_archived {
        q = q.filter(workflow::Column::ArchivedAt.is_null());
    }
    if let Some(after) = page.after {
        q = q.filter(workflow::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(workflow::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, page.first))
}

/// Every published version, newest first.
pub async fn versions(db: &Db, org: &OrgCtx, workflow_id: Uuid) -> DomainResult<Vec<Version>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let rows = workflow_version::Entity::find()
        .filter(workflow_version::Column::OrgId.eq(org.org_id()))
        .filter(workflow_version::Column::WorkflowId.eq(workflow_id))
        .order_by_desc(workflow_version::Column::Number)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

pub(crate) async fn version_row(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    workflow_id: Uuid,
    number: i32,
) -> DomainResult<Version> {
    workflow_version::Entity::find()
        .filter(workflow_version::Column::OrgId.eq(org_id))
        .filter(workflow_version::Column::WorkflowId.eq(workflow_id))
        .filter(workflow_version::Column::Number.eq(number))
        .one(conn)
        .await?
        .ok_or(DomainError::not_found("workflow version"))
}

pub(crate) async fn load_active(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> DomainResult<Workflow> {
    let row = workflow::Entity::find_in_org(org_id, id)
        .one(conn)
        .await?
        .ok_or(DomainError::not_found("workflow"))?;
    if row.archived_at.is_some() {
        return Err(DomainError::conflict("the workflow is archived"));
    }
    Ok(row)
}

fn stale(w: &Workflow) -> DomainError {
    let mut details = serde_json::Map::new();
    details.insert("currentVersion".into(), json!(w.version));
    DomainError::Conflict {
        message: format!(
            "the draft changed meanwhile (now version {}); reload and retry",
            w.version
        ),
        details,
    }
}

fn audit_view(w: &Workflow) -> serde_json::Value {
    json!({
        "name": w.name,
        "version": w.version,
        "fields": schema_of(&w.input_schema).len(),
        "steps": steps_of(&w.steps).len(),
        "archived": w.archived_at.is_some(),
    })
}
