//! The clock for stored timestamps: microsecond precision, PostgreSQL's, so a value
//! returned at creation equals the value read back later on either backend.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
