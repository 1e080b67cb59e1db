//! CSV (RFC 4180: quoted as needed, CRLF line ends), safe to open in a spreadsheet: a cell
//! that would start a formula (`=`, `+`, `-`, `@`, or a tab or carriage return) is
//! prefixed with `'`, so it shows as text instead of running.

use std::io::Write;

use super::ReportRow;

const HEADER: &[&str] = &[
    "number",
    "key",
    "id",
    "title",
    "severity",
    "status",
    "service",
    "tags",
    "createdAt",
    "impactStartedAt",
    "detectedAt",
    "acknowledgedAt",
    "mitigatedAt",
    "resolvedAt",
    "closedAt",
    "timeToDetectSeconds",
    "timeToAcknowledgeSeconds",
    "timeToMitigateSeconds",
    "timeToResolveSeconds",
];

pub struct CsvReport {
    out: csv::Writer<Box<dyn Write + Send>>,
}

/// Neutralises spreadsheet formulas (OWASP's CSV injection advice).
pub fn safe_cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn num(n: Option<f64>) -> String {
    n.map(|n| format!("{n:.3}")).unwrap_or_default()
}

impl CsvReport {
    pub fn new(file: impl Write + Send + 'static) -> std::io::Result<Self> {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Box::new(file) as Box<dyn Write + Send>);
        out.write_record(HEADER)?;
        Ok(CsvReport { out })
    }

    pub fn row(&mut self, r: &ReportRow) -> std::io::Result<()> {
        let fields = [
            r.number.to_string(),
            r.key.clone(),
            r.id.clone(),
            safe_cell(&r.title).into_owned(),
            r.severity.clone(),
            r.status.clone(),
            safe_cell(r.service.as_deref().unwrap_or("")).into_owned(),
            safe_cell(&r.tags.join(";")).into_owned(),
            time(Some(r.created_at)),
            time(r.impact_started_at),
            time(Some(r.detected_at)),
            time(r.acknowledged_at),
            time(r.mitigated_at),
            time(r.resolved_at),
            time(r.closed_at),
            num(r.time_to_detect_seconds),
            num(r.time_to_acknowledge_seconds),
            num(r.time_to_mitigate_seconds),
            num(r.time_to_resolve_seconds),
        ];
        self.out.write_record(&fields)?;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formula_cells_are_made_text() {
        for bad in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"] {
            assert_eq!(safe_cell(bad), format!("'{bad}"));
        }
        for good in ["db down", "", "1=1", "a-b"] {
            assert_eq!(safe_cell(good), good);
        }
    }
}
