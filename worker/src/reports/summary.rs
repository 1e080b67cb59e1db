//! What a report's summary says, accumulated row by row: counts by severity and status,
//! time to acknowledge and to resolve (median and p90, with `incidentMetrics`' definitions
//! and exclusions), incidents per day and the spread of time to resolve.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::ReportRow;

pub const SEVERITIES: [&str; 4] = ["SEV1", "SEV2", "SEV3", "SEV4"];
pub const STATUSES: [&str; 9] = [
    "DETECTED",
    "INVESTIGATING",
    "MITIGATED",
    "RESOLVED",
    "POSTMORTEM",
    "CLOSED",
    "CANCELLED",
    "DUPLICATE",
    "OTHER",
];
/// Upper bounds (seconds) of the time-to-resolve buckets; the last is open.
pub const RESOLVE_BUCKETS: [(f64, &str); 6] = [
    (15.0 * 60.0, "< 15 min"),
    (3600.0, "15 min - 1 h"),
    (4.0 * 3600.0, "1 - 4 h"),
    (86400.0, "4 - 24 h"),
    (7.0 * 86400.0, "1 - 7 d"),
    (f64::INFINITY, "> 7 d"),
];

#[derive(Debug, Default)]
pub struct Summary {
    pub total: u64,
    pub by_severity: [u64; 4],
    pub by_status: [u64; 9],
    pub time_to_acknowledge: Vec<f64>,
    pub time_to_resolve: Vec<f64>,
    pub unacknowledged: u64,
    pub per_day: BTreeMap<NaiveDate, u64>,
    pub resolve_buckets: [u64; 6],
}

impl Summary {
    pub fn add(&mut self, r: &ReportRow) {
        self.total += 1;
        if let Some(i) = SEVERITIES.iter().position(|s| *s == r.severity) {
            self.by_severity[i] += 1;
        }
        let status = STATUSES
            .iter()
            .position(|s| *s == r.status)
            .unwrap_or(STATUSES.len() - 1);
        self.by_status[status] += 1;
        *self.per_day.entry(r.created_at.date_naive()).or_default() += 1;
        // The metrics' population: cancelled and duplicate incidents are left out.
        if r.status == "CANCELLED" || r.status == "DUPLICATE" {
            return;
        }
        match r.time_to_acknowledge_seconds {
            Some(s) => self.time_to_acknowledge.push(s),
            None => self.unacknowledged += 1,
        }
        if let Some(s) = r.time_to_resolve_seconds {
            self.time_to_resolve.push(s);
            let b = RESOLVE_BUCKETS
                .iter()
                .position(|(upper, _)| s < *upper)
                .unwrap_or(RESOLVE_BUCKETS.len() - 1);
            self.resolve_buckets[b] += 1;
        }
    }
}

/// `p` in 0..=1, interpolated between closest ranks (PostgreSQL's `percentile_cont`).
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = (values.len() - 1) as f64 * p;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    Some(values[lo] + (values[hi] - values[lo]) * (rank - lo as f64))
}

/// `4m 12s`, `2h 05m`, `3d 04h`.
pub fn human(seconds: Option<f64>) -> String {
    let Some(s) = seconds else {
        return "-".into();
    };
    let s = s.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {:02}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        let mut v = vec![40.0, 10.0, 30.0, 20.0];
        assert_eq!(percentile(&mut v, 0.5), Some(25.0));
        assert!((percentile(&mut v, 0.9).unwrap() - 37.0).abs() < 1e-9);
        assert_eq!(percentile(&mut [], 0.5), None);
        assert_eq!(percentile(&mut [7.0], 0.9), Some(7.0));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Some(42.4)), "42s");
        assert_eq!(human(Some(252.0)), "4m 12s");
        assert_eq!(human(Some(7500.0)), "2h 05m");
        assert_eq!(human(Some(273600.0)), "3d 04h");
        assert_eq!(human(None), "-");
    }
}
