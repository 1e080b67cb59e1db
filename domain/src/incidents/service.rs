//! Incident commands. Each runs in one org-scoped transaction: check the rule, write the
//! incident with a version check (a conditional UPDATE, so of two concurrent changes exactly
//! one wins), then its timeline entry, the audit row and the outbox event.

use chrono::{DateTime, Utc};
use entity::{incident, incident_assignee, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::state_machine::{self, Refusal};
use super::timeline::{self, TimelineEntry};
use super::{Incident, Severity, Status, query, sla};
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::outbox;
use crate::role::Role;

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 50_000;
pub const MAX_COMMENT: usize = 20_000;
pub const MAX_TAGS: usize = 20;

pub struct NewIncident {
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub service: Option<String>,
    pub tags: Vec<String>,
    pub impact_started_at: Option<DateTime<Utc>>,
}

/// `None` leaves a field as it is; `service: Some(None)` clears it.
#[derive(Default)]
pub struct IncidentChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<Severity>,
    pub service: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

fn title(raw: &str) -> DomainResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > MAX_TITLE {
        return Err(DomainError::invalid_field(
            "title",
            format!("1 to {MAX_TITLE} characters"),
        ));
    }
    Ok(t.to_owned())
}

fn description(raw: &str) -> DomainResult<String> {
    if raw.chars().count() > MAX_DESCRIPTION {
        return Err(DomainError::invalid_field(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(raw.to_owned())
}

fn service(raw: Option<&str>) -> DomainResult<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() <= 100 => Ok(Some(s.to_owned())),
        Some(_) => Err(DomainError::invalid_field(
            "service",
            "at most 100 characters",
        )),
    }
}

/// Tags are short lower-case labels (`db`, `region:eu-west-1`), deduplicated, in order.
fn tags(raw: &[String]) -> DomainResult<Vec<String>> {
    if raw.len() > MAX_TAGS {
        return Err(DomainError::invalid_field(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let ok = (1..=50).contains(&t.len())
            && t.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_:.".contains(&b));
        if !ok {
            return Err(DomainError::invalid_field(
                "tags",
                format!(
                    "{t:?}: 1 to 50 characters of a-z, 0-9, '-', '_', ':' and '.', starting with a letter or digit"
                ),
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn snapshot(row: &incident::Model) -> Value {
    json!({
        "id": row.id, "number": row.number, "title": row.title, "severity": row.severity,
        "status": row.status, "version": row.version, "service": row.service, "tags": row.tags,
        "commanderId": row.commander_id,
    })
}

/// The next per-org number, atomically (an upsert on the counter row).
async fn next_number(tx: &DatabaseTransaction, org_id: Uuid) -> DomainResult<i64> {
    let backend = tx.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO incident_counters (org_id, last_number) VALUES ($1, 1) \
             ON CONFLICT (org_id) DO UPDATE SET last_number = incident_counters.last_number + 1 \
             RETURNING last_number"
        }
        _ => {
            "INSERT INTO incident_counters (org_id, last_number) VALUES (?, 1) \
             ON CONFLICT (org_id) DO UPDATE SET last_number = incident_counters.last_number + 1 \
             RETURNING last_number"
        }
    };
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [org_id.into()],
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("incident counter returned no row"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// Emits the three records every change leaves: audit row, outbox event (timeline is the
/// caller's, since its kind and body differ).
async fn record(
    tx: &DatabaseTransaction,
    org: &OrgCtx,
    action: &'static str,
    before: Option<&incident::Model>,
    after: &incident::Model,
    extra: Value,
) -> DomainResult<()> {
    audit::record(
        tx,
        org,
        Entry {
            action,
            target_type: "incident",
            target_id: Some(after.id),
            before: before.map(snapshot),
            after: Some(snapshot(after)),
        },
    )
    .await?;
    let mut payload = json!({ "incidentId": after.id, "number": after.number, "status": after.status, "severity": after.severity, "version": after.version });
    if let (Some(obj), Value::Object(more)) = (payload.as_object_mut(), extra) {
        obj.extend(more);
    }
    outbox::enqueue(tx, org.org_id(), action, payload).await
}

/// The end of every change to an existing incident: its audit row and outbox event, then
/// the incident as it now is, committed.
async fn finish(
    tx: DatabaseTransaction,
    org: &OrgCtx,
    action: &'static str,
    before: &incident::Model,
    saved: incident::Model,
    extra: Value,
) -> DomainResult<Incident> {
    record(&tx, org, action, Some(before), &saved, extra).await?;
    let incident = query::with_assignees(&tx, saved).await?;
    tx.commit().await?;
    Ok(incident)
}

pub async fn create(db: &Db, org: &OrgCtx, input: NewIncident) -> DomainResult<Incident> {
    org.require(Role::Engineer)?;
    let title = title(&input.title)?;
    let description = description(input.description.as_deref().unwrap_or(""))?;
    let service = service(input.service.as_deref())?;
    let tags = tags(&input.tags)?;
    let now = crate::time::now();
    if input.impact_started_at.is_some_and(|t| t > now) {
        return Err(DomainError::invalid_field(
            "impactStartedAt",
            "must not be after detectedAt (now)",
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let number = next_number(&tx, org.org_id()).await?;
    let row = incident::Model {
        id: Uuid::now_v7(),
        org_id: org.org_id(),
        number,
        title,
        description,
        severity: input.severity.as_str().to_owned(),
        status: Status::Detected.as_str().to_owned(),
        version: 1,
        commander_id: None,
        service,
        tags: json!(tags),
        impact_started_at: input.impact_started_at,
        detected_at: now,
        acknowledged_at: None,
        mitigated_at: None,
        resolved_at: None,
        closed_at: None,
        duplicate_of_id: None,
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: now,
        updated_at: now,
    };
    incident::Entity::insert(incident::ActiveModel::from(row.clone()))
        .exec_without_returning(&tx)
        .await?;
    timeline::append(
        &tx,
        org,
        row.id,
        "created",
        None,
        json!({ "severity": row.severity, "title": row.title }),
    )
    .await?;
    record(&tx, org, "incident.created", None, &row, json!({})).await?;
    tx.commit().await?;
    Ok(Incident {
        row,
        assignee_ids: Some(vec![]),
    })
}

/// Loads an incident for a change: NOT_FOUND outside the org, CONFLICT on a stale version.
async fn load_for_change(
    tx: &DatabaseTransaction,
    org: &OrgCtx,
    id: Uuid,
    expected_version: i32,
) -> DomainResult<incident::Model> {
    let row = incident::Entity::find_in_org(org.org_id(), id)
        .one(tx)
        .await?
        .ok_or(DomainError::not_found("incident"))?;
    if row.version != expected_version {
        return Err(stale(&row));
    }
    Ok(row)
}

fn stale(current: &incident::Model) -> DomainError {
    let mut details = Map::new();
    details.insert("currentVersion".into(), json!(current.version));
    details.insert("currentStatus".into(), json!(current.status));
    DomainError::Conflict {
        message: format!(
            "incident changed since version you read; it is at version {}",
            current.version
        ),
        details,
    }
}

/// Writes `next` if the row is still at `current.version`. Losing the race is CONFLICT with
/// the winner's version, exactly as if the stale version had been sent.
async fn save(
    tx: &DatabaseTransaction,
    current: &incident::Model,
    mut next: incident::Model,
) -> DomainResult<incident::Model> {
    next.version = current.version + 1;
    next.updated_at = crate::time::now().max(current.updated_at);
    // Every column is written (reset_all marks them Set); the key columns never change.
    let mut active = incident::ActiveModel::from(next.clone()).reset_all();
    active.id = sea_orm::ActiveValue::NotSet;
    active.org_id = sea_orm::ActiveValue::NotSet;
    active.number = sea_orm::ActiveValue::NotSet;
    let result = incident::Entity::update_many()
        .set(active)
        .filter(incident::Column::Id.eq(current.id))
        .filter(incident::Column::OrgId.eq(current.org_id))
        .filter(incident::Column::Version.eq(current.version))
        .exec(tx)
        .await?;
    if result.rows_affected == 0 {
        let now = incident::Entity::find_by_id(current.id)
            .one(tx)
            .await?
            .ok_or(DomainError::not_found("incident"))?;
        return Err(stale(&now));
    }
    Ok(next)
}

fn refuse_terminal(row: &incident::Model) -> DomainResult<()> {
    let status: Status = row.status.parse().unwrap_or(Status::Closed);
    if status.is_terminal() {
        return Err(DomainError::invalid(format!(
            "incident is {status}; it can no longer change"
        )));
    }
    Ok(())
}

pub async fn update(
    db: &Db,
    org: &OrgCtx,
    id: Uuid,
    expected_version: i32,
    changes: IncidentChanges,
) -> DomainResult<Incident> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let current = load_for_change(&tx, org, id, expected_version).await?;
    refuse_terminal(&current)?;
    let mut next = current.clone();
    let mut changed = Vec::new();
    if let Some(t) = &changes.title {
        next.title = title(t)?;
        changed.push("title");
    }
    if let Some(d) = &changes.description {
        next.description = description(d)?;
        changed.push("description");
    }
    if let Some(s) = &changes.service {
        next.service = service(s.as_deref())?;
        changed.push("service");
    }
    if let Some(t) = &changes.tags {
        next.tags = json!(tags(t)?);
        changed.push("tags");
    }
    let severity_change = changes.severity.filter(|s| s.as_str() != current.severity);
    if let Some(sev) = severity_change {
        next.severity = sev.as_str().to_owned();
    }
    if changed.is_empty() && severity_change.is_none() {
        return Err(DomainError::invalid("nothing to change"));
    }
    let saved = save(&tx, &current, next).await?;
    if !changed.is_empty() {
        timeline::append(&tx, org, id, "updated", None, json!({ "fields": changed })).await?;
    }
    if let Some(sev) = severity_change {
        // The clocks are recomputed from the new severity; the timeline says to what.
        let policy = sla::policy_for(&tx, org.org_id(), sev).await?;
        let clocks = sla::compute(
            &Incident {
                row: saved.clone(),
                assignee_ids: Some(vec![]),
            },
            &policy,
            crate::time::now(),
        );
        timeline::append(
            &tx,
            org,
            id,
            "severity_changed",
            None,
            json!({ "from": current.severity, "to": sev.as_str(), "ackDueAt": clocks.ack.due_at, "resolveDueAt": clocks.resolve.due_at }),
        )
        .await?;
    }
    finish(
        tx,
        org,
        "incident.updated",
        &current,
        saved,
        json!({ "fields": changed }),
    )
    .await
}

pub async fn transition(
    db: &Db,
    org: &OrgCtx,
    id: Uuid,
    to: Status,
    expected_version: i32,
    note: Option<String>,
) -> DomainResult<Incident> {
    org.require(Role::Engineer)?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_COMMENT)
    {
        return Err(DomainError::invalid_field(
            "note",
            format!("at most {MAX_COMMENT} characters"),
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let current = load_for_change(&tx, org, id, expected_version).await?;
    let from: Status = current
        .status
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let severity: Severity = current
        .severity
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    match state_machine::check(from, to, severity, org.role(), note.as_deref()) {
        Ok(_) => {}
        Err(Refusal::NotAllowed { allowed }) => {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            let mut details = Map::new();
            details.insert("allowedNextStates".into(), json!(names));
            details.insert("currentStatus".into(), json!(from.as_str()));
            let hint = if to == Status::Closed
                && from == Status::Resolved
                && severity.requires_postmortem()
            {
                format!(" ({severity} needs a postmortem before closing)")
            } else {
                String::new()
            };
            return Err(DomainError::invalid_with(
                format!("cannot move from {from} to {to}{hint}"),
                details,
            ));
        }
        Err(Refusal::Role { need }) => return Err(DomainError::Forbidden { need }),
        Err(Refusal::NoteRequired) => {
            return Err(DomainError::invalid_field(
                "note",
                format!("a reason is required to move to {to}"),
            ));
        }
    }
    let now = crate::time::now();
    let mut next = current.clone();
    next.status = to.as_str().to_owned();
    if from == Status::Detected && next.acknowledged_at.is_none() {
        next.acknowledged_at = Some(now);
    }
    match to {
        Status::Mitigated => next.mitigated_at = Some(now),
        Status::Resolved => next.resolved_at = Some(now),
        Status::Closed => next.closed_at = Some(now),
        // Re-opened: resolution starts over (the timeline keeps the earlier one).
        Status::Investigating if from == Status::Resolved => next.resolved_at = None,
        _ => {}
    }
    let saved = save(&tx, &current, next).await?;
    timeline::append(
        &tx,
        org,
        id,
        "status_changed",
        note.clone(),
        json!({ "from": from.as_str(), "to": to.as_str() }),
    )
    .await?;
    finish(
        tx,
        org,
        "incident.status_changed",
        &current,
        saved,
        json!({ "from": from.as_str(), "to": to.as_str() }),
    )
    .await
}

pub async fn mark_duplicate(
    db: &Db,
    org: &OrgCtx,
    id: Uuid,
    duplicate_of: Uuid,
    expected_version: i32,
) -> DomainResult<Incident> {
    org.require(Role::Engineer)?;
    if id == duplicate_of {
        return Err(DomainError::invalid_field(
            "duplicateOfId",
            "an incident cannot duplicate itself",
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let current = load_for_change(&tx, org, id, expected_version).await?;
    let from: Status = current
        .status
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    if !from.is_open() {
        let mut details = Map::new();
        details.insert("currentStatus".into(), json!(from.as_str()));
        return Err(DomainError::invalid_with(
            format!("only an open incident can be marked duplicate; this one is {from}"),
            details,
        ));
    }
    let survivor = incident::Entity::find_in_org(org.org_id(), duplicate_of)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("incident"))?;
    let survivor_status: Status = survivor
        .status
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    if matches!(survivor_status, Status::Duplicate | Status::Cancelled) {
        return Err(DomainError::invalid_field(
            "duplicateOfId",
            format!("the surviving incident is {survivor_status}"),
        ));
    }
    let now = crate::time::now();
    let mut next = current.clone();
    next.status = Status::Duplicate.as_str().to_owned();
    next.duplicate_of_id = Some(duplicate_of);
    if from == Status::Detected && next.acknowledged_at.is_none() {
        next.acknowledged_at = Some(now);
    }
    let saved = save(&tx, &current, next).await?;
    timeline::append(&tx, org, id, "duplicate_marked", None, json!({ "from": from.as_str(), "duplicateOfId": duplicate_of, "duplicateOfNumber": survivor.number })).await?;
    timeline::append(
        &tx,
        org,
        duplicate_of,
        "duplicate_received",
        None,
        json!({ "incidentId": id, "number": current.number }),
    )
    .await?;
    finish(
        tx,
        org,
        "incident.status_changed",
        &current,
        saved,
        json!({ "from": from.as_str(), "to": "DUPLICATE", "duplicateOfId": duplicate_of }),
    )
    .await
}

/// Members of the org among `ids`; any other id is NOT_FOUND ("user"), whoever it is.
async fn require_members(tx: &DatabaseTransaction, org: &OrgCtx, ids: &[Uuid]) -> DomainResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found = membership::Entity::find_in_org(org.org_id())
        .filter(membership::Column::UserId.is_in(ids.iter().copied()))
        .count(tx)
        .await?;
    if found as usize != ids.len() {
        return Err(DomainError::not_found("user"));
    }
    Ok(())
}

pub async fn assign(
    db: &Db,
    org: &OrgCtx,
    id: Uuid,
    expected_version: i32,
    commander_id: Option<Uuid>,
    assignee_ids: Vec<Uuid>,
) -> DomainResult<Incident> {
    org.require(Role::Engineer)?;
    let mut assignees: Vec<Uuid> = Vec::new();
    for a in assignee_ids {
        if !assignees.contains(&a) {
            assignees.push(a);
        }
    }
    if assignees.len() > 50 {
        return Err(DomainError::invalid_field(
            "assigneeIds",
            "at most 50 assignees",
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let current = load_for_change(&tx, org, id, expected_version).await?;
    refuse_terminal(&current)?;
    let mut everyone = assignees.clone();
    everyone.extend(commander_id);
    everyone.sort();
    everyone.dedup();
    require_members(&tx, org, &everyone).await?;
    let mut next = current.clone();
    next.commander_id = commander_id;
    let saved = save(&tx, &current, next).await?;
    incident_assignee::Entity::delete_many()
        .filter(incident_assignee::Column::IncidentId.eq(id))
        .filter(incident_assignee::Column::OrgId.eq(org.org_id()))
        .exec(&tx)
        .await?;
    if !assignees.is_empty() {
        incident_assignee::Entity::insert_many(assignees.iter().map(|u| {
            incident_assignee::ActiveModel {
                incident_id: Set(id),
                user_id: Set(*u),
                org_id: Set(org.org_id()),
            }
        }))
        .exec_without_returning(&tx)
        .await?;
    }
    timeline::append(
        &tx,
        org,
        id,
        "assigned",
        None,
        json!({ "commanderId": commander_id, "assigneeIds": assignees }),
    )
    .await?;
    record(
        &tx,
        org,
        "incident.assigned",
        Some(&current),
        &saved,
        json!({ "commanderId": commander_id, "assigneeIds": assignees }),
    )
    .await?;
    tx.commit().await?;
    Ok(Incident {
        row: saved,
        assignee_ids: Some(assignees),
    })
}

/// A markdown comment on the timeline. Comments do not change the incident's version.
pub async fn comment(
    db: &Db,
    org: &OrgCtx,
    incident_id: Uuid,
    body: &str,
) -> DomainResult<TimelineEntry> {
    org.require(Role::Engineer)?;
    if body.trim().is_empty() || body.chars().count() > MAX_COMMENT {
        return Err(DomainError::invalid_field(
            "body",
            format!("1 to {MAX_COMMENT} characters"),
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let incident = incident::Entity::find_in_org(org.org_id(), incident_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("incident"))?;
    let entry = timeline::append(
        &tx,
        org,
        incident_id,
        "comment",
        Some(body.to_owned()),
        json!({}),
    )
    .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "incident.commented",
            target_type: "incident",
            target_id: Some(incident_id),
            before: None,
            after: Some(json!({ "timelineEntryId": entry.id })),
        },
    )
    .await?;
    outbox::enqueue(&tx, org.org_id(), "incident.commented", json!({ "incidentId": incident_id, "number": incident.number, "timelineEntryId": entry.id })).await?;
    tx.commit().await?;
    Ok(entry)
}

/// One correctable field: its name, the new value, where it lives, and whether it may be
/// set on an incident that never had it (only impact start may).
type Correction<'a> = (
    &'static str,
    Option<DateTime<Utc>>,
    &'a mut Option<DateTime<Utc>>,
    bool,
);

/// Explicit corrections of lifecycle timestamps; `None` keeps a value.
#[derive(Default)]
pub struct TimestampCorrections {
    pub impact_started_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// `correctIncidentTimestamps` (MANAGER+): only stages the incident has reached, never in
/// the future, always in lifecycle order; recorded on the timeline with the old values.
pub async fn correct_timestamps(
    db: &Db,
    org: &OrgCtx,
    id: Uuid,
    expected_version: i32,
    fix: TimestampCorrections,
    note: Option<String>,
) -> DomainResult<Incident> {
    org.require(Role::Manager)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let current = load_for_change(&tx, org, id, expected_version).await?;
    let now = crate::time::now();
    let mut next = current.clone();
    let mut changes = Map::new();
    {
        let fields: [Correction<'_>; 5] = [
            (
                "impactStartedAt",
                fix.impact_started_at,
                &mut next.impact_started_at,
                true,
            ),
            (
                "acknowledgedAt",
                fix.acknowledged_at,
                &mut next.acknowledged_at,
                false,
            ),
            (
                "mitigatedAt",
                fix.mitigated_at,
                &mut next.mitigated_at,
                false,
            ),
            ("resolvedAt", fix.resolved_at, &mut next.resolved_at, false),
            ("closedAt", fix.closed_at, &mut next.closed_at, false),
        ];
        for (name, value, slot, may_add) in fields {
            let Some(v) = value else { continue };
            if slot.is_none() && !may_add {
                return Err(DomainError::invalid_field(
                    name,
                    "the incident has not reached this stage",
                ));
            }
            if *slot != Some(v) {
                changes.insert(name.into(), json!({ "from": *slot, "to": v }));
                *slot = Some(v);
            }
        }
    }
    if let Some(v) = fix.detected_at
        && v != next.detected_at
    {
        changes.insert(
            "detectedAt".into(),
            json!({ "from": next.detected_at, "to": v }),
        );
        next.detected_at = v;
    }
    if changes.is_empty() {
        return Err(DomainError::invalid("nothing to correct"));
    }
    let order = [
        ("impactStartedAt", next.impact_started_at),
        ("detectedAt", Some(next.detected_at)),
        ("acknowledgedAt", next.acknowledged_at),
        ("mitigatedAt", next.mitigated_at),
        ("resolvedAt", next.resolved_at),
        ("closedAt", next.closed_at),
    ];
    let mut previous: Option<(&str, DateTime<Utc>)> = None;
    for (name, value) in order {
        let Some(v) = value else { continue };
        if v > now {
            return Err(DomainError::invalid_field(
                name,
                "must not be in the future",
            ));
        }
        if let Some((before, at)) = previous
            && v < at
        {
            return Err(DomainError::invalid_field(
                name,
                format!("must not be before {before}"),
            ));
        }
        previous = Some((name, v));
    }
    let saved = save(&tx, &current, next).await?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    timeline::append(
        &tx,
        org,
        id,
        "timestamps_corrected",
        note,
        Value::Object(changes.clone()),
    )
    .await?;
    finish(
        tx,
        org,
        "incident.timestamps_corrected",
        &current,
        saved,
        json!({ "changes": changes }),
    )
    .await
}
