//! Who may call what. `MUTATION_ROLES` is the one list of every mutation's minimum role; the
//! guard reads it by field name and refuses anything unlisted (deny by default). A test
//! checks that every mutation in the schema has a row and that each boundary holds.

use async_graphql::{Context, Guard};
use domain::error::DomainError;
use domain::role::Role;

use super::error::IntoGqlError;
use crate::auth::RequestCtx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A signed-in user (OIDC), whatever the org: creating an organization.
    User,
    /// At least this role in the request's organization.
    Role(Role),
}

pub const MUTATION_ROLES: &[(&str, Need)] = &[
    ("createOrganization", Need::User),
    ("updateOrganization", Need::Role(Role::Admin)),
    ("addMember", Need::Role(Role::Admin)),
    ("setMemberRole", Need::Role(Role::Admin)),
    ("removeMember", Need::Role(Role::Admin)),
    ("createApiKey", Need::Role(Role::Admin)),
    ("revokeApiKey", Need::Role(Role::Admin)),
    ("createIncident", Need::Role(Role::Engineer)),
    ("updateIncident", Need::Role(Role::Engineer)),
    // The lifecycle asks more for some moves (POSTMORTEM, CLOSED, CANCELLED: MANAGER).
    ("transitionIncident", Need::Role(Role::Engineer)),
    ("markIncidentDuplicate", Need::Role(Role::Engineer)),
    ("assignIncident", Need::Role(Role::Engineer)),
    ("addIncidentComment", Need::Role(Role::Engineer)),
    ("upsertSlaPolicy", Need::Role(Role::Manager)),
    ("correctIncidentTimestamps", Need::Role(Role::Manager)),
    ("createActionItem", Need::Role(Role::Engineer)),
    ("completeActionItem", Need::Role(Role::Engineer)),
    ("createSavedView", Need::Role(Role::Viewer)),
    ("createIncidentAttachmentUpload", Need::Role(Role::Engineer)),
    ("completeIncidentAttachment", Need::Role(Role::Engineer)),
    ("requestIncidentReport", Need::Role(Role::Viewer)),
    ("cancelJob", Need::Role(Role::Engineer)),
    ("retryJob", Need::Role(Role::Manager)),
    ("runFleetProbe", Need::Role(Role::Admin)),
    // Targets say where browsers may go; `allowPrivateNetwork: true` asks ADMIN.
    ("createTarget", Need::Role(Role::Manager)),
    ("updateTarget", Need::Role(Role::Manager)),
    ("archiveTarget", Need::Role(Role::Manager)),
    ("setTargetSecret", Need::Role(Role::Manager)),
    ("deleteTargetSecret", Need::Role(Role::Manager)),
    ("createWorkflow", Need::Role(Role::Engineer)),
    ("updateWorkflowDraft", Need::Role(Role::Engineer)),
    ("publishWorkflow", Need::Role(Role::Engineer)),
    ("archiveWorkflow", Need::Role(Role::Manager)),
    ("createScenario", Need::Role(Role::Engineer)),
    ("updateScenario", Need::Role(Role::Engineer)),
    ("deleteScenario", Need::Role(Role::Engineer)),
    ("importScenarios", Need::Role(Role::Engineer)),
    ("generateScenarios", Need::Role(Role::Engineer)),
    ("analyzeForm", Need::Role(Role::Engineer)),
    ("createWorkflowFromAnalysis", Need::Role(Role::Engineer)),
    ("launchRun", Need::Role(Role::Engineer)),
    ("launchRuns", Need::Role(Role::Engineer)),
    ("cancelRun", Need::Role(Role::Engineer)),
    ("retryRun", Need::Role(Role::Engineer)),
];

/// Minimum roles of sensitive query fields (`Type.field`).
pub const FIELD_ROLES: &[(&str, Role)] = &[
    ("Query.organization", Role::Viewer),
    ("Organization.members", Role::Viewer),
    ("Organization.apiKeys", Role::Admin),
    ("Query.auditLog", Role::Admin),
    ("Query.usage", Role::Admin),
    ("Query.incident", Role::Viewer),
    ("Query.incidentByNumber", Role::Viewer),
    ("Query.incidents", Role::Viewer),
    ("Query.slaPolicies", Role::Viewer),
    ("Query.savedViews", Role::Viewer),
    ("Query.incidentMetrics", Role::Viewer),
    ("Query.job", Role::Viewer),
    ("Query.jobs", Role::Viewer),
    ("Query.report", Role::Viewer),
    ("Query.reports", Role::Viewer),
    ("Query.targets", Role::Viewer),
    ("Query.target", Role::Viewer),
    ("Query.workflows", Role::Viewer),
    ("Query.workflow", Role::Viewer),
    ("Query.scenarios", Role::Viewer),
    ("Query.scenario", Role::Viewer),
    ("Query.runs", Role::Viewer),
    ("Query.run", Role::Viewer),
    ("Query.formAnalysis", Role::Viewer),
    ("Query.formAnalyses", Role::Viewer),
];

pub fn mutation_need(name: &str) -> Option<Need> {
    MUTATION_ROLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, need)| *need)
}

/// Guards a mutation by its row in [`MUTATION_ROLES`].
pub struct MutationGuard(pub &'static str);

impl Guard for MutationGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let rc = ctx.data::<RequestCtx>()?;
        let result = match mutation_need(self.0) {
            None => Err(DomainError::ForbiddenOther(format!(
                "{} is not permitted",
                self.0
            ))),
            Some(Need::User) => rc.require_user().map(|_| ()),
            Some(Need::Role(role)) => rc.org().await.and_then(|org| org.require(role)),
        };
        result.map_err(|e| e.into_gql(&rc.request_id))
    }
}

/// Guards a query field by its row in [`FIELD_ROLES`].
pub struct FieldGuard(pub &'static str);

impl Guard for FieldGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let rc = ctx.data::<RequestCtx>()?;
        let need = FIELD_ROLES
            .iter()
            .find(|(n, _)| *n == self.0)
            .map(|(_, r)| *r);
        let result = match need {
            None => Err(DomainError::ForbiddenOther(format!(
                "{} is not permitted",
                self.0
            ))),
            Some(role) => rc.org().await.and_then(|org| org.require(role)),
        };
        result.map_err(|e| e.into_gql(&rc.request_id))
    }
}
