//! JSON: `{ "organization", "from", "to", "generatedAt", "incidents": [ … ] }`, written
//! element by element so no list of incidents is ever held in memory.

use std::io::Write;

use domain::entity::report;
use serde_json::json;

use super::ReportRow;

pub struct JsonReport {
    out: Box<dyn Write + Send>,
    first: bool,
    rows: u64,
}

impl JsonReport {
    pub fn new(
        file: impl Write + Send + 'static,
        org_name: &str,
        request: &report::Model,
    ) -> std::io::Result<Self> {
        let mut out: Box<dyn Write + Send> = Box::new(file);
        let head = json!({
            "reportId": request.id,
            "organization": org_name,
            "from": request.period_from,
            "to": request.period_to,
            "filter": request.filter,
            "generatedAt": domain::time::now(),
        });
        // The head object without its closing brace, then the array.
        let head = serde_json::to_string(&head)?;
        out.write_all(&head.as_bytes()[..head.len() - 1])?;
        out.write_all(b",\"incidents\":[")?;
        Ok(JsonReport {
            out,
            first: true,
            rows: 0,
        })
    }

    pub fn row(&mut self, r: &ReportRow) -> std::io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, r)?;
        self.rows += 1;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        write!(self.out, "],\"count\":{}}}", self.rows)?;
        self.out.flush()
    }
}
