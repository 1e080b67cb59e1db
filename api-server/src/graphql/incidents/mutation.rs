//! Incident mutations. Each takes `expectedVersion` where it changes the incident; a stale
//! one is CONFLICT with `currentVersion` and `currentStatus` in the extensions.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use domain::incidents::service::{self, IncidentChanges, NewIncident, TimestampCorrections};
use domain::incidents::{action_items, attachments, sla, views};

use super::query::{IncidentFilter, IncidentOrder};
use super::types::{
    ActionItem, Attachment, AttachmentUpload, HttpHeader, Incident, IncidentStatus, SavedView,
    Severity, SlaPolicy, TimelineEntry,
};
use crate::auth::RequestCtx;
use crate::graphql::authz::MutationGuard;
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct IncidentMutation;

#[derive(InputObject)]
pub struct CreateIncidentInput {
    /// 1–200 characters.
    pub title: String,
    /// Markdown, up to 50,000 characters.
    pub description: Option<String>,
    pub severity: Severity,
    pub service: Option<String>,
    /// Lower-case labels such as `db` or `region:eu-west-1`, at most 20.
    pub tags: Option<Vec<String>>,
    /// When impact began, if earlier than now; never in the future.
    pub impact_started_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct UpdateIncidentInput {
    pub id: ID,
    pub expected_version: i32,
    pub title: Option<String>,
    pub description: Option<String>,
    /// A change recomputes the SLA due times and is recorded on the timeline.
    pub severity: Option<Severity>,
    /// `null` clears it.
    pub service: MaybeUndefined<String>,
    pub tags: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct TransitionIncidentInput {
    pub id: ID,
    pub to: IncidentStatus,
    pub expected_version: i32,
    /// Markdown, on the timeline; required to cancel.
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct MarkIncidentDuplicateInput {
    pub id: ID,
    /// The surviving incident; it gets a timeline entry.
    pub duplicate_of_id: ID,
    pub expected_version: i32,
}

#[derive(InputObject)]
pub struct AssignIncidentInput {
    pub id: ID,
    /// `null` leaves the incident without a commander.
    pub commander_id: Option<ID>,
    /// Replaces the assignees.
    pub assignee_ids: Vec<ID>,
    pub expected_version: i32,
}

#[derive(InputObject)]
pub struct AddIncidentCommentInput {
    pub incident_id: ID,
    /// Markdown, 1–20,000 characters.
    pub body: String,
}

#[derive(InputObject)]
pub struct UpsertSlaPolicyInput {
    pub severity: Severity,
    pub ack_minutes: i32,
    pub resolve_minutes: i32,
    /// Default 75.
    pub at_risk_percent: Option<i32>,
}

#[derive(InputObject)]
pub struct CorrectIncidentTimestampsInput {
    pub id: ID,
    pub expected_version: i32,
    pub impact_started_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Why, on the timeline.
    pub note: Option<String>,
}

#[derive(InputObject)]
pub struct CreateActionItemInput {
    pub incident_id: ID,
    /// 1–200 characters.
    pub title: String,
    /// A member of the organization.
    pub assignee_id: Option<ID>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct CreateSavedViewInput {
    /// 1–100 characters.
    pub name: String,
    pub filter: IncidentFilter,
    pub order_by: Option<IncidentOrder>,
    /// Visible to the whole organization (default: only to you).
    #[graphql(default)]
    pub shared: bool,
}

#[derive(InputObject)]
pub struct CreateIncidentAttachmentUploadInput {
    pub incident_id: ID,
    pub filename: String,
    /// One of the accepted types (images, PDF, text, CSV, JSON, archives).
    pub content_type: String,
    /// Exactly the size that will be uploaded; at most 25 MiB by default.
    pub size_bytes: i64,
}

#[Object]
impl IncidentMutation {
    /// Starts an evidence upload (ENGINEER+): returns a short-lived URL to PUT the file to;
    /// then call `completeIncidentAttachment`.
    #[graphql(guard = "MutationGuard(\"createIncidentAttachmentUpload\")")]
    async fn create_incident_attachment_upload(
        &self,
        ctx: &Context<'_>,
        input: CreateIncidentAttachmentUploadInput,
    ) -> async_graphql::Result<AttachmentUpload> {
        let rc = ctx.data::<RequestCtx>()?;
        let incident_id = parse_id("input.incidentId", &input.incident_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let upload = attachments::create_upload(
            rc.db(),
            rc.store(),
            &org,
            attachments::NewUpload {
                incident_id,
                filename: &input.filename,
                content_type: &input.content_type,
                size_bytes: input.size_bytes,
            },
            rc.config().attachment_max_bytes,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(AttachmentUpload {
            upload_url: upload.upload.url,
            upload_headers: upload
                .upload
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            expires_at: upload.upload.expires_at,
            attachment: upload.attachment.into(),
        })
    }

    /// Confirms an upload (ENGINEER+): the object must exist with the declared size.
    /// Idempotent once complete.
    #[graphql(guard = "MutationGuard(\"completeIncidentAttachment\")")]
    async fn complete_incident_attachment(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Attachment> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let done = attachments::complete(rc.db(), rc.store(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(done.into())
    }

    /// Corrects lifecycle timestamps (MANAGER+): only stages the incident reached, in
    /// order, not in the future; the old values stay on the timeline.
    #[graphql(guard = "MutationGuard(\"correctIncidentTimestamps\")")]
    async fn correct_incident_timestamps(
        &self,
        ctx: &Context<'_>,
        input: CorrectIncidentTimestampsInput,
    ) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let fix = TimestampCorrections {
            impact_started_at: input.impact_started_at,
            detected_at: input.detected_at,
            acknowledged_at: input.acknowledged_at,
            mitigated_at: input.mitigated_at,
            resolved_at: input.resolved_at,
            closed_at: input.closed_at,
        };
        let fixed =
            service::correct_timestamps(rc.db(), &org, id, input.expected_version, fix, input.note)
                .await
                .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(fixed.into())
    }

    /// Adds an action item to an incident (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"createActionItem\")")]
    async fn create_action_item(
        &self,
        ctx: &Context<'_>,
        input: CreateActionItemInput,
    ) -> async_graphql::Result<ActionItem> {
        let rc = ctx.data::<RequestCtx>()?;
        let incident = parse_id("input.incidentId", &input.incident_id)?;
        let assignee = input
            .assignee_id
            .as_ref()
            .map(|a| parse_id("input.assigneeId", a))
            .transpose()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let item = action_items::create(
            rc.db(),
            &org,
            incident,
            &input.title,
            assignee,
            input.due_at,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(item.into())
    }

    /// Completes an action item (ENGINEER+). Idempotent.
    #[graphql(guard = "MutationGuard(\"completeActionItem\")")]
    async fn complete_action_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<ActionItem> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let item = action_items::complete(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(item.into())
    }

    /// Saves an incident filter and order under a name (VIEWER+).
    #[graphql(guard = "MutationGuard(\"createSavedView\")")]
    async fn create_saved_view(
        &self,
        ctx: &Context<'_>,
        input: CreateSavedViewInput,
    ) -> async_graphql::Result<SavedView> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let filter =
            serde_json::to_value(&input.filter).map_err(|e| anyhow_internal(e, &rc.request_id))?;
        let order = input
            .order_by
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| anyhow_internal(e, &rc.request_id))?;
        let view = views::create(rc.db(), &org, &input.name, filter, order, input.shared)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(view.into())
    }

    /// Opens an incident in DETECTED (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"createIncident\")")]
    async fn create_incident(
        &self,
        ctx: &Context<'_>,
        input: CreateIncidentInput,
    ) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let created = service::create(
            rc.db(),
            &org,
            NewIncident {
                title: input.title,
                description: input.description,
                severity: input.severity.into(),
                service: input.service,
                tags: input.tags.unwrap_or_default(),
                impact_started_at: input.impact_started_at,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(created.into())
    }

    /// Edits title, description, severity, service or tags (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"updateIncident\")")]
    async fn update_incident(
        &self,
        ctx: &Context<'_>,
        input: UpdateIncidentInput,
    ) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let changes = IncidentChanges {
            title: input.title,
            description: input.description,
            severity: input.severity.map(Into::into),
            service: match input.service {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(s) => Some(Some(s)),
            },
            tags: input.tags,
        };
        let updated = service::update(rc.db(), &org, id, input.expected_version, changes)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(updated.into())
    }

    /// Moves an incident along its lifecycle. A move that is not allowed is BAD_USER_INPUT
    /// with `allowedNextStates`; POSTMORTEM, CLOSED and CANCELLED need MANAGER.
    #[graphql(guard = "MutationGuard(\"transitionIncident\")")]
    async fn transition_incident(
        &self,
        ctx: &Context<'_>,
        input: TransitionIncidentInput,
    ) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let moved = service::transition(
            rc.db(),
            &org,
            id,
            input.to.into(),
            input.expected_version,
            input.note,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(moved.into())
    }

    /// Marks an open incident as a duplicate of another (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"markIncidentDuplicate\")")]
    async fn mark_incident_duplicate(
        &self,
        ctx: &Context<'_>,
        input: MarkIncidentDuplicateInput,
    ) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let of = parse_id("input.duplicateOfId", &input.duplicate_of_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let marked = service::mark_duplicate(rc.db(), &org, id, of, input.expected_version)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(marked.into())
    }

    /// Sets the commander and the assignees, members of the organization (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"assignIncident\")")]
    async fn assign_incident(
        &self,
        ctx: &Context<'_>,
        input: AssignIncidentInput,
    ) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let commander = input
            .commander_id
            .as_ref()
            .map(|c| parse_id("input.commanderId", c))
            .transpose()?;
        let assignees = input
            .assignee_ids
            .iter()
            .map(|a| parse_id("input.assigneeIds", a))
            .collect::<async_graphql::Result<Vec<_>>>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let assigned = service::assign(
            rc.db(),
            &org,
            id,
            input.expected_version,
            commander,
            assignees,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(assigned.into())
    }

    /// Adds a markdown comment to the timeline (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"addIncidentComment\")")]
    async fn add_incident_comment(
        &self,
        ctx: &Context<'_>,
        input: AddIncidentCommentInput,
    ) -> async_graphql::Result<TimelineEntry> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.incidentId", &input.incident_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let entry = service::comment(rc.db(), &org, id, &input.body)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(entry.into())
    }

    /// Sets the SLA policy for one severity (MANAGER+).
    #[graphql(guard = "MutationGuard(\"upsertSlaPolicy\")")]
    async fn upsert_sla_policy(
        &self,
        ctx: &Context<'_>,
        input: UpsertSlaPolicyInput,
    ) -> async_graphql::Result<SlaPolicy> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let policy = sla::upsert(
            rc.db(),
            &org,
            sla::Policy {
                severity: input.severity.into(),
                ack_minutes: input.ack_minutes,
                resolve_minutes: input.resolve_minutes,
                at_risk_percent: input.at_risk_percent.unwrap_or(75),
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(policy.into())
    }
}

fn anyhow_internal(e: serde_json::Error, request_id: &str) -> async_graphql::Error {
    domain::error::DomainError::Internal(anyhow::Error::new(e)).into_gql(request_id)
}
