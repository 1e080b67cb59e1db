//! GraphQL views of incidents, their timeline and SLA clocks.

use async_graphql::{
    ComplexObject, Context, Enum, ID, Json, Object, SimpleObject, connection::Connection,
};
use chrono::{DateTime, Utc};
use domain::incidents::{self, sla, state_machine};
use uuid::Uuid;

use crate::auth::RequestCtx;
use crate::graphql::connection::{IdCursor, connection, page_request};
use crate::graphql::error::IntoGqlError;
use crate::graphql::foundation::types::User;

/// How bad it is: SEV1 is the most severe.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, serde::Serialize, serde::Deserialize)]
#[graphql(remote = "domain::incidents::Severity")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    #[graphql(name = "SEV1")]
    Sev1,
    #[graphql(name = "SEV2")]
    Sev2,
    #[graphql(name = "SEV3")]
    Sev3,
    #[graphql(name = "SEV4")]
    Sev4,
}

/// Where an incident is in its lifecycle. DETECTED → INVESTIGATING → MITIGATED → RESOLVED →
/// POSTMORTEM → CLOSED; RESOLVED → CLOSED for SEV3–SEV4; RESOLVED → INVESTIGATING re-opens;
/// CANCELLED from DETECTED or INVESTIGATING; DUPLICATE via `markIncidentDuplicate`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, serde::Serialize, serde::Deserialize)]
#[graphql(remote = "domain::incidents::Status")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncidentStatus {
    Detected,
    Investigating,
    Mitigated,
    Resolved,
    Postmortem,
    Closed,
    Cancelled,
    Duplicate,
}

/// The state of one SLA clock.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::incidents::sla::ClockState")]
pub enum SlaState {
    /// Running, less than the at-risk share of its window used.
    OnTrack,
    /// Running, past the at-risk threshold.
    AtRisk,
    /// Past its due time (running or stopped late).
    Breached,
    /// Stopped in time.
    Met,
}

/// An incident: a per-organization number, a strict lifecycle, optimistic concurrency
/// (`version`) and honest timestamps set by transitions.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Incident {
    pub id: ID,
    /// Sequential per organization.
    pub number: i64,
    /// `INC-<number>`.
    pub key: String,
    pub title: String,
    /// Markdown.
    pub description: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    /// Send it back as `expectedVersion` with every change.
    pub version: i32,
    pub service: Option<String>,
    pub tags: Vec<String>,
    /// When impact began, if known (may be before detection, never after).
    pub impact_started_at: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
    /// Set by the first move out of DETECTED.
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Who opened it: `user`, `api_key` or `system`.
    pub created_by_type: String,
    /// The user or API key that opened it.
    pub created_by_id: Option<ID>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub inner: incidents::Incident,
    /// The first timeline page of this size, read with the list the incident came in; taken
    /// by the first `timeline` field that asks for it (a repeat reads it again).
    #[graphql(skip)]
    pub timeline_first_page: PrefetchedTimeline,
}

pub type PrefetchedTimeline =
    std::sync::Mutex<Option<(u64, domain::pagination::Page<incidents::TimelineEntry>)>>;

impl From<incidents::Incident> for Incident {
    fn from(i: incidents::Incident) -> Self {
        let r = &i.row;
        Incident {
            id: ID(r.id.to_string()),
            number: r.number,
            key: i.key(),
            title: r.title.clone(),
            description: r.description.clone(),
            severity: i.severity().into(),
            status: i.status().into(),
            version: r.version,
            service: r.service.clone(),
            tags: i.tags(),
            impact_started_at: r.impact_started_at,
            detected_at: r.detected_at,
            acknowledged_at: r.acknowledged_at,
            mitigated_at: r.mitigated_at,
            resolved_at: r.resolved_at,
            closed_at: r.closed_at,
            created_by_type: r.created_by_type.clone(),
            created_by_id: r.created_by_id.map(|u| ID(u.to_string())),
            created_at: r.created_at,
            updated_at: r.updated_at,
            inner: i,
            timeline_first_page: Default::default(),
        }
    }
}

async fn users(ctx: &Context<'_>, ids: Vec<Uuid>) -> async_graphql::Result<Vec<User>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rc = ctx.data::<RequestCtx>()?;
    let loaders = rc.loaders().await.map_err(|e| e.into_gql(&rc.request_id))?;
    let found = loaders
        .users
        .load_many(ids.iter().copied())
        .await
        .map_err(|e| loader_error(e, &rc.request_id))?;
    Ok(ids
        .iter()
        .filter_map(|id| found.get(id).cloned().map(User::from))
        .collect())
}

fn loader_error(e: crate::graphql::loaders::LoadError, request_id: &str) -> async_graphql::Error {
    tracing::error!(request.id = %request_id, error = ?e, "batch load failed");
    crate::graphql::error::coded(domain::error::ErrorCode::Internal, "internal error")
}

#[ComplexObject]
impl Incident {
    /// Who leads the response.
    async fn commander(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let ids = self.inner.row.commander_id.into_iter().collect();
        Ok(users(ctx, ids).await?.pop())
    }

    async fn assignees(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let ids = match &self.inner.assignee_ids {
            Some(ids) => ids.clone(),
            None => {
                let rc = ctx.data::<RequestCtx>()?;
                let loaders = rc.loaders().await.map_err(|e| e.into_gql(&rc.request_id))?;
                loaders
                    .assignees
                    .load_one(self.inner.row.id)
                    .await
                    .map_err(|e| loader_error(e, &rc.request_id))?
                    .unwrap_or_default()
            }
        };
        users(ctx, ids).await
    }

    /// The surviving incident, when this one is a DUPLICATE.
    async fn duplicate_of(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Incident>> {
        let Some(id) = self.inner.row.duplicate_of_id else {
            return Ok(None);
        };
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let found = incidents::query::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(Some(found.into()))
    }

    /// Both SLA clocks now, under the organization's policy for this severity.
    async fn sla(&self, ctx: &Context<'_>) -> async_graphql::Result<IncidentSla> {
        let rc = ctx.data::<RequestCtx>()?;
        let loaders = rc.loaders().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let sev = self.inner.severity();
        let policy = loaders
            .policies()
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?
            .iter()
            .find(|p| p.severity == sev)
            .copied()
            .unwrap_or_else(|| sla::default_policy(sev));
        let s = sla::compute(&self.inner, &policy, Utc::now());
        Ok(IncidentSla {
            ack_due_at: s.ack.due_at,
            resolve_due_at: s.resolve.due_at,
            ack_state: s.ack.state.into(),
            resolve_state: s.resolve.state.into(),
        })
    }

    /// Follow-up work from this incident, oldest first.
    async fn action_items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ActionItem>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let items = incidents::action_items::of_incident(rc.db(), &org, self.inner.row.id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(items.into_iter().map(ActionItem::from).collect())
    }

    /// Completed evidence attachments, oldest first.
    async fn attachments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Attachment>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = incidents::attachments::of_incident(rc.db(), &org, self.inner.row.id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(rows.into_iter().map(Attachment::from).collect())
    }

    /// Open action items past their due time.
    async fn overdue_action_items(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ActionItem>> {
        let all = self.action_items(ctx).await?;
        Ok(all.into_iter().filter(|a| a.overdue).collect())
    }

    /// Where `transitionIncident` can move it now, for any role (the mutation checks roles).
    async fn allowed_transitions(&self) -> Vec<IncidentStatus> {
        state_machine::moves(self.inner.status(), self.inner.severity())
            .into_iter()
            .map(|m| m.to.into())
            .collect()
    }

    /// The append-only history, oldest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, TimelineEntry>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let prefetched = if page.after.is_none() {
            let mut slot = self
                .timeline_first_page
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match slot.take() {
                Some((first, entries)) if first == page.first => Some(entries),
                other => {
                    *slot = other;
                    None
                }
            }
        } else {
            None
        };
        let entries = if let Some(entries) = prefetched {
            entries
        } else if page.after.is_none() {
            // First pages of every incident in the response come in one batch.
            let loaders = rc.loaders().await.map_err(|e| e.into_gql(&rc.request_id))?;
            loaders
                .timeline
                .load_one((self.inner.row.id, page.first))
                .await
                .map_err(|e| loader_error(e, &rc.request_id))?
                .unwrap_or(domain::pagination::Page {
                    items: vec![],
                    has_next_page: false,
                })
        } else {
            let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
            incidents::timeline(rc.db(), &org, self.inner.row.id, page)
                .await
                .map_err(|e| e.into_gql(&rc.request_id))?
        };
        Ok(connection(entries, |e| e.id, TimelineEntry::from))
    }
}

/// The two SLA clocks of an incident: acknowledge (`detectedAt` → `acknowledgedAt`) and
/// resolve (`detectedAt` → `resolvedAt`).
#[derive(SimpleObject)]
pub struct IncidentSla {
    pub ack_due_at: DateTime<Utc>,
    pub resolve_due_at: DateTime<Utc>,
    pub ack_state: SlaState,
    pub resolve_state: SlaState,
}

// Fields are read from the row when selected: a page of timelines is hundreds of entries,
// and most clients ask for a few fields of each.
pub struct TimelineEntry(incidents::TimelineEntry);

/// One entry of an incident's timeline. Entries are never edited; a correction is a new one.
#[Object]
impl TimelineEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// `created`, `status_changed`, `severity_changed`, `updated`, `assigned`, `comment`,
    /// `duplicate_marked`, `duplicate_received`, `sla`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// `user`, `api_key` or `system`.
    async fn actor_type(&self) -> &str {
        &self.0.actor_type
    }

    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(|i| ID(i.to_string()))
    }

    /// Markdown: the comment, or a transition's note.
    async fn body(&self) -> Option<&str> {
        self.0.body.as_deref()
    }

    /// What changed, by kind (e.g. `{ "from": "DETECTED", "to": "INVESTIGATING" }`).
    async fn data(&self) -> Json<&serde_json::Value> {
        Json(&self.0.data)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

impl From<incidents::TimelineEntry> for TimelineEntry {
    fn from(e: incidents::TimelineEntry) -> Self {
        TimelineEntry(e)
    }
}

/// Minutes to acknowledge and to resolve for one severity.
#[derive(SimpleObject)]
pub struct SlaPolicy {
    pub severity: Severity,
    pub ack_minutes: i32,
    pub resolve_minutes: i32,
    /// Share of a window after which a running clock is AT_RISK.
    pub at_risk_percent: i32,
}

impl From<sla::Policy> for SlaPolicy {
    fn from(p: sla::Policy) -> Self {
        SlaPolicy {
            severity: p.severity.into(),
            ack_minutes: p.ack_minutes,
            resolve_minutes: p.resolve_minutes,
            at_risk_percent: p.at_risk_percent,
        }
    }
}

/// Follow-up work from an incident.
#[derive(SimpleObject)]
pub struct ActionItem {
    pub id: ID,
    pub incident_id: ID,
    pub title: String,
    pub assignee_id: Option<ID>,
    pub due_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Open and past `dueAt`.
    pub overdue: bool,
    pub created_at: DateTime<Utc>,
}

impl From<incidents::action_items::ActionItem> for ActionItem {
    fn from(a: incidents::action_items::ActionItem) -> Self {
        ActionItem {
            overdue: incidents::action_items::is_overdue(&a, Utc::now()),
            id: ID(a.id.to_string()),
            incident_id: ID(a.incident_id.to_string()),
            title: a.title,
            assignee_id: a.assignee_id.map(|u| ID(u.to_string())),
            due_at: a.due_at,
            completed_at: a.completed_at,
            created_at: a.created_at,
        }
    }
}

/// A named incident filter and order. `filter` and `orderBy` are in the shape of the
/// `incidents` arguments, ready to send back.
#[derive(SimpleObject)]
pub struct SavedView {
    pub id: ID,
    pub name: String,
    pub filter: Json<serde_json::Value>,
    pub order_by: Option<Json<serde_json::Value>>,
    /// Visible to the whole organization; otherwise to its owner only.
    pub shared: bool,
    /// `user` or `api_key`.
    pub owner_type: String,
    pub owner_id: Option<ID>,
    pub created_at: DateTime<Utc>,
}

impl From<incidents::views::SavedView> for SavedView {
    fn from(v: incidents::views::SavedView) -> Self {
        SavedView {
            id: ID(v.id.to_string()),
            name: v.name,
            filter: Json(v.filter),
            order_by: v.order_by.map(Json),
            shared: v.shared,
            owner_type: v.owner_type,
            owner_id: v.owner_id.map(|u| ID(u.to_string())),
            created_at: v.created_at,
        }
    }
}

/// Duration statistics in seconds; null when there is no sample.
#[derive(SimpleObject)]
pub struct DurationStats {
    /// The 50th percentile (linear interpolation between closest ranks).
    pub median_seconds: Option<f64>,
    /// The 90th percentile (linear interpolation between closest ranks).
    pub p90_seconds: Option<f64>,
    pub mean_seconds: Option<f64>,
    pub sample_size: i64,
}

impl From<incidents::metrics::Stats> for DurationStats {
    fn from(s: incidents::metrics::Stats) -> Self {
        DurationStats {
            median_seconds: s.median,
            p90_seconds: s.p90,
            mean_seconds: s.mean,
            sample_size: s.sample_size,
        }
    }
}

/// Incident metrics for one group. The population is the incidents detected in the period,
/// CANCELLED and DUPLICATE excluded.
#[derive(SimpleObject)]
pub struct IncidentMetrics {
    /// The severity or service of the group; null for NONE (or incidents without a service).
    pub key: Option<String>,
    pub count: i64,
    /// Never acknowledged: counted here, left out of time to acknowledge.
    pub unacknowledged: i64,
    /// `detectedAt → acknowledgedAt` (MTTA from its mean).
    pub time_to_acknowledge: DurationStats,
    /// `detectedAt → mitigatedAt`.
    pub time_to_mitigate: DurationStats,
    /// `detectedAt → resolvedAt` (MTTR from its mean).
    pub time_to_resolve: DurationStats,
    /// `impactStartedAt → detectedAt`, where impact start is known.
    pub time_to_detect: DurationStats,
}

impl From<incidents::metrics::Group> for IncidentMetrics {
    fn from(g: incidents::metrics::Group) -> Self {
        IncidentMetrics {
            key: g.key,
            count: g.count,
            unacknowledged: g.unacknowledged,
            time_to_acknowledge: g.time_to_acknowledge.into(),
            time_to_mitigate: g.time_to_mitigate.into(),
            time_to_resolve: g.time_to_resolve.into(),
            time_to_detect: g.time_to_detect.into(),
        }
    }
}

/// An evidence file on an incident.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Attachment {
    pub id: ID,
    pub incident_id: ID,
    /// Reduced to letters, digits, `.`, `-` and `_`.
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// `PENDING` until `completeIncidentAttachment` finds the upload, then `COMPLETE`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub row: incidents::attachments::Attachment,
}

impl From<incidents::attachments::Attachment> for Attachment {
    fn from(a: incidents::attachments::Attachment) -> Self {
        Attachment {
            id: ID(a.id.to_string()),
            incident_id: ID(a.incident_id.to_string()),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size_bytes: a.size_bytes,
            status: a.status.clone(),
            created_at: a.created_at,
            completed_at: a.completed_at,
            row: a,
        }
    }
}

#[ComplexObject]
impl Attachment {
    /// A download link valid for five minutes; null until the attachment is complete.
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let rc = ctx.data::<RequestCtx>()?;
        let link = incidents::attachments::download_url(rc.store(), &self.row)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(link.map(|(url, _)| url))
    }
}

/// One header an upload must send.
#[derive(SimpleObject)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// Where to PUT the file: the URL, the headers to send with it, and when the URL expires.
#[derive(SimpleObject)]
pub struct AttachmentUpload {
    pub attachment: Attachment,
    /// PUT the bytes here (a presigned S3 URL, or the api-server's own signed URL).
    pub upload_url: String,
    pub upload_headers: Vec<HttpHeader>,
    pub expires_at: DateTime<Utc>,
}
