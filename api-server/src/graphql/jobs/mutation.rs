//! Job and report mutations.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use domain::jobs::contracts::{FleetProbe, ProbeBehaviour};
use domain::jobs::service;
use domain::jobs::store::Policy;

use super::types::{Job, Report, ReportFormat};
use crate::auth::RequestCtx;
use crate::graphql::authz::MutationGuard;
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;
use crate::graphql::incidents::query::IncidentFilter;

#[derive(Default)]
pub struct JobMutation;

#[derive(InputObject)]
pub struct RequestIncidentReportInput {
    pub format: ReportFormat,
    /// The same filter as `incidents`.
    pub filter: Option<IncidentFilter>,
    /// Incidents created at or after this instant…
    pub from: DateTime<Utc>,
    /// …and before this one (at most 3660 days after `from`).
    pub to: DateTime<Utc>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FleetProbeBehaviour {
    Succeed,
    /// A retryable failure on every attempt: ends dead-lettered.
    FailRetryable,
    FailPermanent,
    Panic,
}

#[derive(InputObject)]
pub struct RunFleetProbeInput {
    /// How long the probe works (heart-beating) before it behaves as asked; ≤ 3600000.
    #[graphql(default = 0)]
    pub sleep_ms: i64,
    #[graphql(default_with = "FleetProbeBehaviour::Succeed")]
    pub behaviour: FleetProbeBehaviour,
}

#[Object]
impl JobMutation {
    /// Queues an incident report and returns it at once, `QUEUED` (VIEWER+).
    #[graphql(guard = "MutationGuard(\"requestIncidentReport\")")]
    async fn request_incident_report(
        &self,
        ctx: &Context<'_>,
        input: RequestIncidentReportInput,
    ) -> async_graphql::Result<Report> {
        let rc = ctx.data::<RequestCtx>()?;
        let filter = input
            .filter
            .unwrap_or_default()
            .into_domain("input.filter")?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let report = domain::reports::request(
            rc.db(),
            &org,
            domain::reports::NewReport {
                format: input.format.into(),
                filter,
                from: input.from,
                to: input.to,
            },
            &Policy::from(&rc.config().jobs),
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(report.into())
    }

    /// Cancels a job (ENGINEER+): a queued one at once; a running one at its worker's next
    /// heartbeat. CONFLICT if it has already finished.
    #[graphql(guard = "MutationGuard(\"cancelJob\")")]
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Job> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = service::cancel(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Queues a DEAD or FAILED job again with fresh attempts (MANAGER+).
    #[graphql(guard = "MutationGuard(\"retryJob\")")]
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Job> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = service::retry(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Queues a fleet probe, an end-to-end check of the workers (ADMIN).
    #[graphql(guard = "MutationGuard(\"runFleetProbe\")")]
    async fn run_fleet_probe(
        &self,
        ctx: &Context<'_>,
        input: RunFleetProbeInput,
    ) -> async_graphql::Result<Job> {
        let rc = ctx.data::<RequestCtx>()?;
        if !(0..=3_600_000).contains(&input.sleep_ms) {
            return Err(crate::graphql::error::bad_input(
                "input.sleepMs: between 0 and 3600000",
            ));
        }
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let probe = FleetProbe {
            sleep_ms: input.sleep_ms as u64,
            behaviour: match input.behaviour {
                FleetProbeBehaviour::Succeed => ProbeBehaviour::Succeed,
                FleetProbeBehaviour::FailRetryable => ProbeBehaviour::FailRetryable,
                FleetProbeBehaviour::FailPermanent => ProbeBehaviour::FailPermanent,
                FleetProbeBehaviour::Panic => ProbeBehaviour::Panic,
            },
        };
        let row = service::probe(rc.db(), &org, probe, &Policy::from(&rc.config().jobs))
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }
}
