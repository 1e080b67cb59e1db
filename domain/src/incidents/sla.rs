//! SLA clocks. Each severity has minutes to acknowledge and to resolve, and an at-risk
//! threshold (a share of the window). Clocks are computed from stored timestamps, never
//! stored themselves: a severity change moves the due times at once.
//!
//! - acknowledge clock: `detectedAt` → `acknowledgedAt`, due `detectedAt + ackMinutes`;
//! - resolve clock: `detectedAt` → `resolvedAt`, due `detectedAt + resolveMinutes`.
//!
//! A running clock is `ON_TRACK`, then `AT_RISK` once `atRiskPercent` of its window has
//! passed, then `BREACHED` at its due time; a stopped clock is `MET` if it stopped in time,
//! else `BREACHED`. Cancelled and duplicate incidents stop their clocks when they end.

use chrono::{DateTime, Duration, Utc};
use entity::sla_policy;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{Incident, Severity, Status};
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub severity: Severity,
    pub ack_minutes: i32,
    pub resolve_minutes: i32,
    pub at_risk_percent: i32,
}

/// The defaults every organization starts with.
pub fn default_policy(severity: Severity) -> Policy {
    let (ack, resolve) = match severity {
        Severity::Sev1 => (5, 60),
        Severity::Sev2 => (15, 240),
        Severity::Sev3 => (60, 1440),
        Severity::Sev4 => (240, 4320),
    };
    Policy {
        severity,
        ack_minutes: ack,
        resolve_minutes: resolve,
        at_risk_percent: 75,
    }
}

fn from_row(row: &sla_policy::Model) -> Option<Policy> {
    Some(Policy {
        severity: row.severity.parse().ok()?,
        ack_minutes: row.ack_minutes,
        resolve_minutes: row.resolve_minutes,
        at_risk_percent: row.at_risk_percent,
    })
}

/// The org's four policies, defaults where none was set.
pub async fn policies(db: &Db, org: &OrgCtx) -> DomainResult<Vec<Policy>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let rows = sla_policy::Entity::find()
        .filter(sla_policy::Column::OrgId.eq(org.org_id()))
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(merge(&rows))
}

pub(crate) fn merge(rows: &[sla_policy::Model]) -> Vec<Policy> {
    Severity::ALL
        .into_iter()
        .map(|sev| {
            rows.iter()
                .filter_map(from_row)
                .find(|p| p.severity == sev)
                .unwrap_or_else(|| default_policy(sev))
        })
        .collect()
}

pub(crate) async fn policy_for(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: uuid::Uuid,
    severity: Severity,
) -> DomainResult<Policy> {
    let row = sla_policy::Entity::find_by_id((org_id, severity.as_str().to_owned()))
        .one(conn)
        .await?;
    Ok(row
        .as_ref()
        .and_then(from_row)
        .unwrap_or_else(|| default_policy(severity)))
}

/// `upsertSlaPolicy`: MANAGER+.
pub async fn upsert(db: &Db, org: &OrgCtx, p: Policy) -> DomainResult<Policy> {
    org.require(Role::Manager)?;
    const MAX_MINUTES: i32 = 525_600; // a year
    if !(1..=MAX_MINUTES).contains(&p.ack_minutes) {
        return Err(DomainError::invalid_field(
            "ackMinutes",
            "between 1 and 525600",
        ));
    }
    if !(1..=MAX_MINUTES).contains(&p.resolve_minutes) {
        return Err(DomainError::invalid_field(
            "resolveMinutes",
            "between 1 and 525600",
        ));
    }
    if p.resolve_minutes < p.ack_minutes {
        return Err(DomainError::invalid_field(
            "resolveMinutes",
            "must not be shorter than ackMinutes",
        ));
    }
    if !(1..=99).contains(&p.at_risk_percent) {
        return Err(DomainError::invalid_field(
            "atRiskPercent",
            "between 1 and 99",
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = policy_for(&tx, org.org_id(), p.severity).await?;
    let row = sla_policy::ActiveModel {
        org_id: Set(org.org_id()),
        severity: Set(p.severity.as_str().to_owned()),
        ack_minutes: Set(p.ack_minutes),
        resolve_minutes: Set(p.resolve_minutes),
        at_risk_percent: Set(p.at_risk_percent),
        updated_at: Set(crate::time::now()),
    };
    sla_policy::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                sla_policy::Column::OrgId,
                sla_policy::Column::Severity,
            ])
            .update_columns([
                sla_policy::Column::AckMinutes,
                sla_policy::Column::ResolveMinutes,
                sla_policy::Column::AtRiskPercent,
                sla_policy::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&tx)
        .await?;
    let snap = |p: &Policy| json!({ "severity": p.severity.as_str(), "ackMinutes": p.ack_minutes, "resolveMinutes": p.resolve_minutes, "atRiskPercent": p.at_risk_percent });
    audit::record(
        &tx,
        org,
        Entry {
            action: "sla_policy.updated",
            target_type: "sla_policy",
            target_id: None,
            before: Some(snap(&before)),
            after: Some(snap(&p)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    OnTrack,
    AtRisk,
    Breached,
    Met,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::OnTrack => "ON_TRACK",
            ClockState::AtRisk => "AT_RISK",
            ClockState::Breached => "BREACHED",
            ClockState::Met => "MET",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub due_at: DateTime<Utc>,
    pub at_risk_at: DateTime<Utc>,
    pub state: ClockState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sla {
    pub ack: Clock,
    pub resolve: Clock,
}

fn clock(
    start: DateTime<Utc>,
    minutes: i32,
    at_risk_percent: i32,
    stopped: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Clock {
    let window = Duration::minutes(minutes as i64);
    let due_at = start + window;
    let at_risk_at = start + window * at_risk_percent / 100;
    let state = match stopped {
        Some(t) if t <= due_at => ClockState::Met,
        Some(_) => ClockState::Breached,
        None if now >= due_at => ClockState::Breached,
        None if now >= at_risk_at => ClockState::AtRisk,
        None => ClockState::OnTrack,
    };
    Clock {
        due_at,
        at_risk_at,
        state,
    }
}

/// Both clocks of `incident` at `now` under `policy`.
pub fn compute(incident: &Incident, policy: &Policy, now: DateTime<Utc>) -> Sla {
    let row = &incident.row;
    // A cancelled or duplicate incident stops both clocks when it ended.
    let ended = matches!(incident.status(), Status::Cancelled | Status::Duplicate)
        .then_some(row.updated_at);
    let ack_stop = row.acknowledged_at.or(ended);
    let resolve_stop = row.resolved_at.or(row.closed_at).or(ended);
    Sla {
        ack: clock(
            row.detected_at,
            policy.ack_minutes,
            policy.at_risk_percent,
            ack_stop,
            now,
        ),
        resolve: clock(
            row.detected_at,
            policy.resolve_minutes,
            policy.at_risk_percent,
            resolve_stop,
            now,
        ),
    }
}

/// The SLA sweep: evaluates every open incident of every organization at `now` and records
/// AT_RISK and BREACHED for each running clock that has reached them. Exactly once per
/// incident, clock and state: the insert is guarded by a unique constraint, and only the
/// evaluator whose insert landed writes the timeline entry and the outbox event, so any
/// number of processes may run it at once. Returns the events this call recorded.
///
/// Sweepers visit organizations and incidents in id order, so two of them wait on each
/// other's inserts in one order only, and no wait outlasts `LOCK_WAIT`: an organization that
/// cannot be swept now fails alone, after the others were swept (its first error is returned).
pub async fn evaluate(db: &Db, now: DateTime<Utc>) -> DomainResult<usize> {
    use sea_orm::QueryOrder;
    let orgs = entity::organization::Entity::find()
        .order_by_asc(entity::organization::Column::Id)
        .all(db)
        .await?;
    let mut recorded = 0;
    let mut failed = None;
    for org in orgs {
        match evaluate_org(db, org.id, now).await {
            Ok(n) => recorded += n,
            Err(e) => {
                tracing::warn!(org_id = %org.id, error = %e, "SLA sweep of an organization failed");
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(recorded),
    }
}

/// The longest a sweep waits on another transaction's lock (PostgreSQL).
const LOCK_WAIT: &str = "5s";

async fn evaluate_org(db: &Db, org_id: uuid::Uuid, now: DateTime<Utc>) -> DomainResult<usize> {
    use entity::{incident, sla_event};
    use sea_orm::sea_query::OnConflict;
    use sea_orm::{ConnectionTrait, QueryOrder};

    let org = OrgCtx::system(org_id);
    let tx = db::begin(db, Scope::org(org_id)).await?;
    if tx.get_database_backend() == sea_orm::DbBackend::Postgres {
        tx.execute_unprepared(&format!("SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
            .await?;
    }
    let open = incident::Entity::find()
        .filter(incident::Column::OrgId.eq(org_id))
        .order_by_asc(incident::Column::Id)
        .filter(incident::Column::Status.is_in([
            Status::Detected.as_str(),
            Status::Investigating.as_str(),
            Status::Mitigated.as_str(),
        ]))
        .all(&tx)
        .await?;
    if open.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let rows = sla_policy::Entity::find()
        .filter(sla_policy::Column::OrgId.eq(org_id))
        .all(&tx)
        .await?;
    let policies = merge(&rows);
    let mut recorded = 0;
    for row in open {
        let incident = Incident {
            row,
            assignee_ids: Some(vec![]),
        };
        let sev = incident.severity();
        let policy = policies
            .iter()
            .find(|p| p.severity == sev)
            .copied()
            .unwrap_or_else(|| default_policy(sev));
        let s = compute(&incident, &policy, now);
        let running = [
            ("ACK", s.ack, incident.row.acknowledged_at.is_none()),
            ("RESOLVE", s.resolve, incident.row.resolved_at.is_none()),
        ];
        for (clock, c, is_running) in running {
            if !is_running {
                continue;
            }
            for (state, reached) in [
                ("AT_RISK", now >= c.at_risk_at),
                ("BREACHED", now >= c.due_at),
            ] {
                if !reached {
                    continue;
                }
                let event = sla_event::ActiveModel {
                    id: Set(uuid::Uuid::now_v7()),
                    org_id: Set(org_id),
                    incident_id: Set(incident.row.id),
                    clock: Set(clock.to_owned()),
                    state: Set(state.to_owned()),
                    due_at: Set(c.due_at),
                    recorded_at: Set(now),
                };
                let inserted = sla_event::Entity::insert(event)
                    .on_conflict(
                        OnConflict::columns([
                            sla_event::Column::IncidentId,
                            sla_event::Column::Clock,
                            sla_event::Column::State,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .exec_without_returning(&tx)
                    .await?;
                if inserted == 0 {
                    continue; // recorded before, by this process or another
                }
                recorded += 1;
                let data = json!({ "clock": clock, "state": state, "dueAt": c.due_at });
                super::timeline::append(&tx, &org, incident.row.id, "sla", None, data.clone())
                    .await?;
                let name = if state == "AT_RISK" {
                    "incident.sla_at_risk"
                } else {
                    "incident.sla_breached"
                };
                let mut payload = data;
                payload["incidentId"] = json!(incident.row.id);
                payload["number"] = json!(incident.row.number);
                payload["severity"] = json!(incident.row.severity);
                crate::outbox::enqueue(&tx, org_id, name, payload).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use entity::incident;

    fn incident(status: Status, acknowledged: Option<i64>, resolved: Option<i64>) -> Incident {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let at = |m: i64| t0 + Duration::minutes(m);
        Incident {
            row: incident::Model {
                id: uuid::Uuid::now_v7(),
                org_id: uuid::Uuid::now_v7(),
                number: 1,
                title: "t".into(),
                description: String::new(),
                severity: "SEV2".into(),
                status: status.as_str().into(),
                version: 1,
                commander_id: None,
                service: None,
                tags: serde_json::json!([]),
                impact_started_at: None,
                detected_at: t0,
                acknowledged_at: acknowledged.map(at),
                mitigated_at: None,
                resolved_at: resolved.map(at),
                closed_at: None,
                duplicate_of_id: None,
                created_by_type: "user".into(),
                created_by_id: None,
                created_at: t0,
                updated_at: at(1),
            },
            assignee_ids: Some(vec![]),
        }
    }

    fn at(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(m)
    }

    #[test]
    fn a_running_clock_goes_on_track_at_risk_breached() {
        let p = default_policy(Severity::Sev2); // 15 / 240, at risk at 75 %
        let i = incident(Status::Detected, None, None);
        assert_eq!(compute(&i, &p, at(11)).ack.state, ClockState::OnTrack);
        assert_eq!(
            compute(&i, &p, at(12)).ack.state,
            ClockState::AtRisk,
            "75 % of 15 minutes"
        );
        assert_eq!(
            compute(&i, &p, at(15)).ack.state,
            ClockState::Breached,
            "due is inclusive"
        );
        assert_eq!(compute(&i, &p, at(15)).ack.due_at, at(15));
        assert_eq!(compute(&i, &p, at(179)).resolve.state, ClockState::OnTrack);
        assert_eq!(compute(&i, &p, at(180)).resolve.state, ClockState::AtRisk);
    }

    #[test]
    fn a_stopped_clock_is_met_or_breached_for_good() {
        let p = default_policy(Severity::Sev2);
        let in_time = incident(Status::Investigating, Some(15), None);
        assert_eq!(compute(&in_time, &p, at(10_000)).ack.state, ClockState::Met);
        let late = incident(Status::Resolved, Some(16), Some(300));
        let s = compute(&late, &p, at(10_000));
        assert_eq!(
            (s.ack.state, s.resolve.state),
            (ClockState::Breached, ClockState::Breached)
        );
        // Cancelled at minute 1 (updated_at): both clocks stopped in time.
        let cancelled = incident(Status::Cancelled, None, None);
        let s = compute(&cancelled, &p, at(10_000));
        assert_eq!(
            (s.ack.state, s.resolve.state),
            (ClockState::Met, ClockState::Met)
        );
    }
}
