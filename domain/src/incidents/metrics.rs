//! Incident metrics, computed in the database.
//!
//! Population: incidents detected in `[from, to)`, CANCELLED and DUPLICATE excluded.
//! - time to acknowledge: `detectedAt → acknowledgedAt` (never-acknowledged incidents are
//!   left out of it and counted in `unacknowledged`);
//! - time to mitigate: `detectedAt → mitigatedAt`; time to resolve: `detectedAt → resolvedAt`;
//! - time to detect: `impactStartedAt → detectedAt`, where impact start is known.
//!
//! Each has median and p90 (linear interpolation between closest ranks, as PostgreSQL's
//! `percentile_cont`), mean and sample size, in seconds. One SQL shape serves both backends:
//! percentiles come from window functions, so no row leaves the database.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    None,
    Severity,
    Service,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub mean: Option<f64>,
    pub sample_size: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// The severity or service; `None` for the whole population or incidents without a service.
    pub key: Option<String>,
    pub count: i64,
    pub unacknowledged: i64,
    pub time_to_acknowledge: Stats,
    pub time_to_mitigate: Stats,
    pub time_to_resolve: Stats,
    pub time_to_detect: Stats,
}

fn seconds(backend: DbBackend, from: &str, to: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("EXTRACT(EPOCH FROM ({to} - {from}))::float8"),
        _ => format!("((julianday({to}) - julianday({from})) * 86400.0)"),
    }
}

/// `p` as a whole percentage: interpolate between ranks `lo` and `lo + 1` (0-based).
fn percentile(p: u32) -> String {
    format!(
        "SUM(CASE WHEN i = ((n - 1) * {p}) / 100 THEN secs * (1.0 - (((n - 1) * {p}) % 100) / 100.0) \
                  WHEN i = ((n - 1) * {p}) / 100 + 1 THEN secs * ((((n - 1) * {p}) % 100) / 100.0) \
                  ELSE 0 END)"
    )
}

pub async fn compute(
    db: &Db,
    org: &OrgCtx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: GroupBy,
) -> DomainResult<Vec<Group>> {
    org.require(Role::Viewer)?;
    if to <= from {
        return Err(DomainError::invalid_field("to", "must be after from"));
    }
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let backend = tx.get_database_backend();
    let (p1, p2, p3) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3"),
        _ => ("?", "?", "?"),
    };
    let key = match group_by {
        GroupBy::None => "CAST(NULL AS TEXT)",
        GroupBy::Severity => "severity",
        GroupBy::Service => "service",
    };
    let base = format!(
        "base AS (SELECT {key} AS grp, detected_at, acknowledged_at, mitigated_at, resolved_at, impact_started_at \
         FROM incidents WHERE org_id = {p1} AND detected_at >= {p2} AND detected_at < {p3} \
         AND status NOT IN ('CANCELLED', 'DUPLICATE'))"
    );
    let sample = |metric: &str, a: &str, b: &str| {
        format!(
            "SELECT grp, '{metric}' AS metric, {} AS secs FROM base WHERE {a} IS NOT NULL AND {b} IS NOT NULL",
            seconds(backend, a, b)
        )
    };
    let stats_sql = format!(
        "WITH {base}, samples AS ({} UNION ALL {} UNION ALL {} UNION ALL {}), \
         ranked AS (SELECT grp, metric, secs, \
            ROW_NUMBER() OVER (PARTITION BY grp, metric ORDER BY secs) - 1 AS i, \
            COUNT(*) OVER (PARTITION BY grp, metric) AS n FROM samples) \
         SELECT grp, metric, COUNT(*) AS n, AVG(secs) AS mean, {} AS p50, {} AS p90 FROM ranked GROUP BY grp, metric",
        sample("ack", "detected_at", "acknowledged_at"),
        sample("mitigate", "detected_at", "mitigated_at"),
        sample("resolve", "detected_at", "resolved_at"),
        sample("detect", "impact_started_at", "detected_at"),
        percentile(50),
        percentile(90),
    );
    let count_sql = format!(
        "WITH {base} SELECT grp, COUNT(*) AS n, SUM(CASE WHEN acknowledged_at IS NULL THEN 1 ELSE 0 END) AS unack \
         FROM base GROUP BY grp ORDER BY grp"
    );
    let values = || -> Vec<sea_orm::Value> { vec![org.org_id().into(), from.into(), to.into()] };
    let counts = tx
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            &count_sql,
            values(),
        ))
        .await?;
    let stats = tx
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            &stats_sql,
            values(),
        ))
        .await?;
    tx.commit().await?;

    let mut groups: Vec<Group> = Vec::new();
    for row in counts {
        groups.push(Group {
            key: row.try_get_by_index::<Option<String>>(0)?,
            count: row.try_get_by_index::<i64>(1)?,
            unacknowledged: row.try_get_by_index::<i64>(2)?,
            ..Default::default()
        });
    }
    for row in stats {
        let key: Option<String> = row.try_get_by_index(0)?;
        let metric: String = row.try_get_by_index(1)?;
        let s = Stats {
            sample_size: row.try_get_by_index::<i64>(2)?,
            mean: row.try_get_by_index::<Option<f64>>(3)?,
            median: row.try_get_by_index::<Option<f64>>(4)?,
            p90: row.try_get_by_index::<Option<f64>>(5)?,
        };
        let Some(g) = groups.iter_mut().find(|g| g.key == key) else {
            continue;
        };
        match metric.as_str() {
            "ack" => g.time_to_acknowledge = s,
            "mitigate" => g.time_to_mitigate = s,
            "resolve" => g.time_to_resolve = s,
            _ => g.time_to_detect = s,
        }
    }
    if groups.is_empty() && group_by == GroupBy::None {
        groups.push(Group::default());
    }
    Ok(groups)
}
