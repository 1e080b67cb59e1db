//! Incident queries.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, connection::Connection, connection::Edge,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::incidents::{
    self, query::Cursor, query::ListFilter, query::Order, query::OrderField, sla,
};
use uuid::Uuid;

use super::types::{Incident, IncidentMetrics, IncidentStatus, SavedView, Severity, SlaPolicy};
use crate::auth::RequestCtx;
use crate::graphql::authz::FieldGuard;
use crate::graphql::connection::page_size;
use crate::graphql::error::{IntoGqlError, bad_input};
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct IncidentQuery;

/// Narrows `incidents`; all given conditions must hold, a list matches any of its values.
#[derive(InputObject, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentFilter {
    pub status: Option<Vec<IncidentStatus>>,
    pub severity: Option<Vec<Severity>>,
    /// Every tag listed must be on the incident.
    pub tags: Option<Vec<String>>,
    pub service: Option<String>,
    /// Assigned to, or commanding, the incident.
    pub assignee_id: Option<ID>,
    /// Full text over title and description: English stemming (`errors` finds `error`),
    /// every word required; PostgreSQL also takes "quoted phrases", `or` and `-word`.
    pub search: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

impl IncidentFilter {
    /// The domain's filter; `at` names the argument in error messages.
    pub fn into_domain(self, at: &str) -> async_graphql::Result<ListFilter> {
        if self
            .search
            .as_ref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            return Err(bad_input(format!("{at}.search: at most 200 characters")));
        }
        Ok(ListFilter {
            statuses: self
                .status
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            severities: self
                .severity
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            tags: self.tags.unwrap_or_default(),
            service: self.service,
            assignee_id: self
                .assignee_id
                .as_ref()
                .map(|id| parse_id(&format!("{at}.assigneeId"), id))
                .transpose()?,
            search: self.search,
            created_after: self.created_after,
            created_before: self.created_before,
        })
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncidentOrderField {
    CreatedAt,
    UpdatedAt,
    Severity,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderDirection {
    Asc,
    Desc,
}

/// Default: newest first (`CREATED_AT`, `DESC`).
#[derive(InputObject, serde::Serialize, serde::Deserialize)]
pub struct IncidentOrder {
    pub field: IncidentOrderField,
    pub direction: OrderDirection,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MetricsGroupBy {
    None,
    Severity,
    Service,
}

const CURSOR_TAG: &str = "i1";

/// What the selection under `edges.node` asks of each incident, so the list reads it in its
/// own transaction: assignees only when selected, and the first timeline page when every
/// `timeline` selection asks for the same first page (others go through the batch loader).
fn include_for(ctx: &Context<'_>, max_page_size: u64) -> incidents::query::Include {
    let node = ctx.look_ahead().field("edges").field("node");
    let mut firsts = node
        .field("timeline")
        .selection_fields()
        .into_iter()
        .map(|f| {
            let args = f.arguments().ok()?;
            let arg = |name: &str| {
                args.iter()
                    .find(|(n, _)| n.as_str() == name)
                    .map(|(_, v)| v)
            };
            if arg("after").is_some_and(|v| *v != async_graphql::Value::Null) {
                return None;
            }
            let first = match arg("first") {
                None | Some(async_graphql::Value::Null) => None,
                Some(async_graphql::Value::Number(n)) => Some(i32::try_from(n.as_i64()?).ok()?),
                Some(_) => return None,
            };
            page_size(first, max_page_size).ok()
        });
    let timeline_first = match firsts.next() {
        Some(Some(first)) if firsts.all(|f| f == Some(first)) => Some(first),
        _ => None,
    };
    incidents::query::Include {
        assignees: node.field("assignees").exists(),
        timeline_first,
    }
}

fn encode(c: &Cursor, field: OrderField) -> String {
    let f = match field {
        OrderField::CreatedAt => "c",
        OrderField::UpdatedAt => "u",
        OrderField::Severity => "s",
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{CURSOR_TAG}|{f}|{}|{}", c.id, c.key))
}

fn decode(s: &str, field: OrderField) -> async_graphql::Result<Cursor> {
    let invalid = || bad_input("after: not a cursor from this API for this order");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(4, '|');
    let (Some(CURSOR_TAG), Some(f), Some(id), Some(key)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let expected = match field {
        OrderField::CreatedAt => "c",
        OrderField::UpdatedAt => "u",
        OrderField::Severity => "s",
    };
    if f != expected {
        return Err(invalid());
    }
    Ok(Cursor {
        id: Uuid::parse_str(id).map_err(|_| invalid())?,
        key: key.to_owned(),
    })
}

#[Object]
impl IncidentQuery {
    /// One incident by id (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.incident\")")]
    async fn incident(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let found = incidents::query::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(found.into())
    }

    /// One incident by its number, as in `INC-<number>` (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.incidentByNumber\")")]
    async fn incident_by_number(
        &self,
        ctx: &Context<'_>,
        number: i64,
    ) -> async_graphql::Result<Incident> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let found = incidents::query::by_number(rc.db(), &org, number)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(found.into())
    }

    /// Incidents of the organization, filtered and ordered, as a connection (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.incidents\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<IncidentFilter>,
        order_by: Option<IncidentOrder>,
    ) -> async_graphql::Result<Connection<String, Incident>> {
        let rc = ctx.data::<RequestCtx>()?;
        let first = page_size(first, rc.limits().max_page_size)?;
        let order = match order_by {
            None => Order {
                field: OrderField::CreatedAt,
                descending: true,
            },
            Some(o) => Order {
                field: match o.field {
                    IncidentOrderField::CreatedAt => OrderField::CreatedAt,
                    IncidentOrderField::UpdatedAt => OrderField::UpdatedAt,
                    IncidentOrderField::Severity => OrderField::Severity,
                },
                descending: o.direction == OrderDirection::Desc,
            },
        };
        let after = after
            .as_deref()
            .map(|a| decode(a, order.field))
            .transpose()?;
        let filter = filter.unwrap_or_default().into_domain("filter")?;
        let include = include_for(ctx, rc.limits().max_page_size);
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let listed =
            incidents::query::list_with(rc.db(), &org, &filter, order, first, after, include)
                .await
                .map_err(|e| e.into_gql(&rc.request_id))?;
        let mut timelines = listed.timelines;
        let mut c = Connection::new(false, listed.page.has_next_page);
        c.edges.extend(listed.page.items.into_iter().map(|i| {
            let cursor = encode(&Cursor::of(&i, order.field), order.field);
            let first_page = include.timeline_first.zip(timelines.remove(&i.row.id));
            let mut node = Incident::from(i);
            node.timeline_first_page = std::sync::Mutex::new(first_page);
            Edge::new(cursor, node)
        }));
        Ok(c)
    }

    /// Your saved views and the organization's shared ones (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.savedViews\")")]
    async fn saved_views(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SavedView>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let views = incidents::views::list(rc.db(), &org)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(views.into_iter().map(Into::into).collect())
    }

    /// Time to detect, acknowledge, mitigate and resolve over incidents detected in
    /// `[from, to)`, CANCELLED and DUPLICATE excluded; see `IncidentMetrics` (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.incidentMetrics\")")]
    async fn incident_metrics(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default_with = "MetricsGroupBy::None")] group_by: MetricsGroupBy,
    ) -> async_graphql::Result<Vec<IncidentMetrics>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let by = match group_by {
            MetricsGroupBy::None => incidents::metrics::GroupBy::None,
            MetricsGroupBy::Severity => incidents::metrics::GroupBy::Severity,
            MetricsGroupBy::Service => incidents::metrics::GroupBy::Service,
        };
        let groups = incidents::metrics::compute(rc.db(), &org, from, to, by)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(groups.into_iter().map(Into::into).collect())
    }

    /// The organization's SLA policy for each severity (defaults where none was set).
    #[graphql(guard = "FieldGuard(\"Query.slaPolicies\")")]
    async fn sla_policies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SlaPolicy>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let policies = sla::policies(rc.db(), &org)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(policies.into_iter().map(Into::into).collect())
    }
}
