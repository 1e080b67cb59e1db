//! Scenarios: named inputs for a workflow and the outcome they should have. `VALID` and
//! `BOUNDARY` inputs must satisfy the workflow's input schema; an `INVALID` scenario may
//! break constraints on purpose, but still only names existing fields. Inputs are checked
//! against the draft's schema on save, and against the pinned version's when a run starts.

use entity::scenario;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::definition::InputField;
use super::problems::{self, Problems};
use super::values;
use super::workflows;
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult, is_unique_violation};
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

pub type Scenario = scenario::Model;

pub const MAX_IMPORT_ROWS: usize = 1000;
pub const MAX_IMPORT_BYTES: usize = 2 << 20;
pub const MAX_TAGS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Valid,
    Boundary,
    Invalid,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Valid => "VALID",
            Kind::Boundary => "BOUNDARY",
            Kind::Invalid => "INVALID",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "VALID" => Kind::Valid,
            "BOUNDARY" => Kind::Boundary,
            "INVALID" => Kind::Invalid,
            _ => return None,
        })
    }
    pub fn default_outcome(self) -> Outcome {
        match self {
            Kind::Invalid => Outcome::ValidationError,
            _ => Outcome::Success,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    ValidationError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::ValidationError => "VALIDATION_ERROR",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "SUCCESS" => Outcome::Success,
            "VALIDATION_ERROR" => Outcome::ValidationError,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ScenarioInput {
    pub name: String,
    pub kind: Kind,
    pub expected_outcome: Option<Outcome>,
    pub inputs: Value,
    pub tags: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ScenarioPatch {
    pub name: Option<String>,
    pub kind: Option<Kind>,
    pub expected_outcome: Option<Outcome>,
    pub inputs: Option<Value>,
    pub tags: Option<Vec<String>>,
}

/// Every problem of `inputs` for a scenario of `kind`, under `prefix`.
pub fn check_inputs(
    p: &mut Problems,
    prefix: &str,
    schema: &[InputField],
    kind: Kind,
    inputs: &Value,
) {
    let Some(map) = inputs.as_object() else {
        p.add(prefix, "a JSON object of field name to value");
        return;
    };
    for key in map.keys() {
        if !schema.iter().any(|f| &f.name == key) {
            p.add(
                format!("{prefix}.{key}"),
                "not a field of the workflow's input schema",
            );
        }
    }
    if kind == Kind::Invalid {
        return;
    }
    for field in schema {
        if let Some(why) = values::violation_in(field, inputs) {
            p.add(format!("{prefix}.{}", field.name), why);
        }
    }
}

fn check_tags(p: &mut Problems, tags: &[String]) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        p.add("tags", format!("at most {MAX_TAGS} tags"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tags.iter().enumerate() {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > 50 {
            p.add(format!("tags[{i}]"), "1 to 50 characters");
        } else if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    out
}

pub(super) fn new_row(
    org: &OrgCtx,
    workflow_id: Uuid,
    name: String,
    input: &ScenarioInput,
    tags: Vec<String>,
) -> Scenario {
    let now = crate::time::now();
    scenario::Model {
        id: Uuid::now_v7(),
        org_id: org.org_id(),
        workflow_id,
        name,
        kind: input.kind.as_str().to_owned(),
        expected_outcome: input
            .expected_outcome
            .unwrap_or(input.kind.default_outcome())
            .as_str()
            .to_owned(),
        inputs: input.inputs.clone(),
        tags: json!(tags),
        version: 1,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    }
}

pub async fn create(
    db: &Db,
    org: &OrgCtx,
    workflow_id: Uuid,
    input: ScenarioInput,
) -> DomainResult<Scenario> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let workflow = workflows::load_active(&tx, org.org_id(), workflow_id).await?;
    let schema = workflows::schema_of(&workflow.input_schema);
    let mut p = Problems::default();
    let name = problems::name(&mut p, "name", &input.name, 200);
    let tags = check_tags(&mut p, &input.tags);
    check_inputs(&mut p, "inputs", &schema, input.kind, &input.inputs);
    p.into_result()?;
    let row = new_row(org, workflow_id, name, &input, tags);
    scenario::Entity::insert(scenario::ActiveModel::from(row.clone()))
        .exec_without_returning(&tx)
        .await
        .map_err(name_taken)?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "scenario.created",
            target_type: "scenario",
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
    patch: ScenarioPatch,
) -> DomainResult<Scenario> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = load_live(&tx, org.org_id(), id).await?;
    if let Some(v) = expected_version
        && v != before.version
    {
        let mut details = Map::new();
        details.insert("currentVersion".into(), json!(before.version));
        return Err(DomainError::Conflict {
            message: format!(
                "the scenario changed meanwhile (now version {}); reload and retry",
                before.version
            ),
            details,
        });
    }
    let workflow = workflows::load_active(&tx, org.org_id(), before.workflow_id).await?;
    let schema = workflows::schema_of(&workflow.input_schema);
    let mut p = Problems::default();
    let name = match &patch.name {
        Some(n) => problems::name(&mut p, "name", n, 200),
        None => before.name.clone(),
    };
    let kind = patch
        .kind
        .or(Kind::parse(&before.kind))
        .unwrap_or(Kind::Valid);
    let outcome = match (patch.expected_outcome, patch.kind) {
        (Some(o), _) => o,
        // A new kind without an explicit outcome takes the kind's default.
        (None, Some(k)) => k.default_outcome(),
        (None, None) => Outcome::parse(&before.expected_outcome).unwrap_or(Outcome::Success),
    };
    let inputs = patch.inputs.clone().unwrap_or(before.inputs.clone());
    let tags = match &patch.tags {
        Some(t) => check_tags(&mut p, t),
        None => serde_json::from_value(before.tags.clone()).unwrap_or_default(),
    };
    check_inputs(&mut p, "inputs", &schema, kind, &inputs);
    p.into_result()?;
    let mut active: scenario::ActiveModel = before.clone().into();
    active.name = Set(name);
    active.kind = Set(kind.as_str().to_owned());
    active.expected_outcome = Set(outcome.as_str().to_owned());
    active.inputs = Set(inputs);
    active.tags = Set(json!(tags));
    active.version = Set(before.version + 1);
    active.updated_at = Set(crate::time::now());
    let after = active.update(&tx).await.map_err(name_taken)?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "scenario.updated",
            target_type: "scenario",
            target_id: Some(id),
            before: Some(audit_view(&before)),
            after: Some(audit_view(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Soft delete: runs keep pointing at it; it leaves the lists and cannot be launched.
pub async fn delete(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Scenario> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = load_live(&tx, org.org_id(), id).await?;
    let now = crate::time::now();
    let mut active: scenario::ActiveModel = before.clone().into();
    active.deleted_at = Set(Some(now));
    active.updated_at = Set(now);
    let after = active.update(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "scenario.deleted",
            target_type: "scenario",
            target_id: Some(id),
            before: Some(audit_view(&before)),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Scenario> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let row = scenario::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("scenario"))?;
    tx.commit().await?;
    Ok(row)
}

/// A workflow's live scenarios, oldest first. NOT_FOUND for another org's workflow.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    workflow_id: Uuid,
    page: PageRequest,
) -> DomainResult<Page<Scenario>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    entity::workflow::Entity::find_in_org(org.org_id(), workflow_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("workflow"))?;
    let mut q = scenario::Entity::find()
        .filter(scenario::Column::OrgId.eq(org.org_id()))
        .filter(scenario::Column::WorkflowId.eq(workflow_id))
        .filter(scenario::Column::DeletedAt.is_null());
    if let Some(after) = page.after {
        q = q.filter(scenario::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(scenario::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, page.first))
}

/// Columns of an import besides the fields (a field of the same name wins).
const META_COLUMNS: &[&str] = &["_name", "_kind", "_expectedOutcome", "_tags"];

/// Creates one scenario per CSV row, all or nothing: the header names fields (and
/// optionally `_name`, `_kind`, `_expectedOutcome`, `_tags` with tags split on `|`);
/// every problem is reported as `rows[N].column` (N counts data rows from 1).
pub async fn import_csv(
    db: &Db,
    org: &OrgCtx,
    workflow_id: Uuid,
    csv_text: &str,
) -> DomainResult<Vec<Scenario>> {
    org.require(Role::Engineer)?;
    if csv_text.len() > MAX_IMPORT_BYTES {
        return Err(DomainError::invalid_field(
            "csv",
            format!("at most {MAX_IMPORT_BYTES} bytes"),
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let workflow = workflows::load_active(&tx, org.org_id(), workflow_id).await?;
    let schema = workflows::schema_of(&workflow.input_schema);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| DomainError::invalid_field("csv", format!("unreadable header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut p = Problems::default();
    for (i, h) in headers.iter().enumerate() {
        if !schema.iter().any(|f| &f.name == h) && !META_COLUMNS.contains(&h.as_str()) {
            p.add(
                format!("header[{i}]"),
                format!(
                    "{h:?} is not a field of the workflow (nor one of {})",
                    META_COLUMNS.join(", ")
                ),
            );
        }
        if headers[..i].contains(h) {
            p.add(format!("header[{i}]"), format!("{h:?} appears twice"));
        }
    }
    p.into_result()?;
    let mut p = Problems::default();
    let mut rows = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (n, record) in reader.records().enumerate() {
        let row_no = n + 1;
        if row_no > MAX_IMPORT_ROWS {
            p.add("csv", format!("at most {MAX_IMPORT_ROWS} rows"));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                p.add(format!("rows[{row_no}]"), format!("unreadable: {e}"));
                continue;
            }
        };
        let before = p.len();
        let mut inputs = Map::new();
        let mut name = format!("Row {row_no}");
        let mut kind = Kind::Valid;
        let mut outcome = None;
        let mut tags = Vec::new();
        for (h, cell) in headers.iter().zip(record.iter()) {
            let at = format!("rows[{row_no}].{h}");
            if let Some(field) = schema.iter().find(|f| &f.name == h) {
                match values::from_cell(field, cell) {
                    Ok(Some(v)) => {
                        inputs.insert(h.clone(), v);
                    }
                    Ok(None) => {}
                    Err(e) => p.add(at, e),
                }
                continue;
            }
            match h.as_str() {
                "_name" if !cell.trim().is_empty() => name = cell.trim().to_owned(),
                "_kind" if !cell.trim().is_empty() => match Kind::parse(cell.trim()) {
                    Some(k) => kind = k,
                    None => p.add(at, "VALID, BOUNDARY or INVALID"),
                },
                "_expectedOutcome" if !cell.trim().is_empty() => {
                    match Outcome::parse(cell.trim()) {
                        Some(o) => outcome = Some(o),
                        None => p.add(at, "SUCCESS or VALIDATION_ERROR"),
                    }
                }
                "_tags" => {
                    tags = cell
                        .split('|')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                _ => {}
            }
        }
        if name.chars().count() > 200 {
            p.add(format!("rows[{row_no}]._name"), "1 to 200 characters");
        }
        if !names.insert(name.clone()) {
            p.add(
                format!("rows[{row_no}]._name"),
                format!("{name:?} is used by an earlier row"),
            );
        }
        let inputs = Value::Object(inputs);
        check_inputs(&mut p, &format!("rows[{row_no}]"), &schema, kind, &inputs);
        let mut tag_problems = Problems::default();
        let tags = check_tags(&mut tag_problems, &tags);
        if !tag_problems.is_empty() {
            p.add(
                format!("rows[{row_no}]._tags"),
                format!("at most {MAX_TAGS} tags of 1 to 50 characters"),
            );
        }
        if p.len() == before {
            rows.push(ScenarioInput {
                name,
                kind,
                expected_outcome: outcome,
                inputs,
                tags,
            });
        }
    }
    if rows.is_empty() && p.is_empty() {
        p.add("csv", "no data rows");
    }
    p.into_result()?;
    let mut created = Vec::with_capacity(rows.len());
    for input in rows {
        let tags = input.tags.clone();
        let row = new_row(org, workflow_id, input.name.clone(), &input, tags);
        scenario::Entity::insert(scenario::ActiveModel::from(row.clone()))
            .exec_without_returning(&tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    DomainError::invalid_field(
                        "csv",
                        format!("a scenario named {:?} already exists", row.name),
                    )
                } else {
                    e.into()
                }
            })?;
        created.push(row);
    }
    audit::record(
        &tx,
        org,
        Entry {
            action: "scenario.imported",
            target_type: "workflow",
            target_id: Some(workflow_id),
            before: None,
            after: Some(json!({ "created": created.len() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

async fn load_live(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
) -> DomainResult<Scenario> {
    scenario::Entity::find_in_org(org_id, id)
        .filter(scenario::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .ok_or(DomainError::not_found("scenario"))
}

fn name_taken(e: sea_orm::DbErr) -> DomainError {
    if is_unique_violation(&e) {
        DomainError::invalid_field("name", "the workflow already has a scenario of this name")
    } else {
        e.into()
    }
}

fn audit_view(s: &Scenario) -> Value {
    // Inputs may hold personal data; the audit notes which fields, not their values.
    let fields: Vec<&String> = s
        .inputs
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    json!({
        "name": s.name,
        "kind": s.kind,
        "expectedOutcome": s.expected_outcome,
        "fields": fields,
        "tags": s.tags,
    })
}
