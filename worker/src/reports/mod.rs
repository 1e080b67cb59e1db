//! Report rendering: one writer per format over a file, fed one incident at a time.

mod csv;
mod json;
mod pdf;
mod row;
mod summary;

use std::path::Path;

use domain::entity::{incident, report};
use domain::reports::Format;

pub use row::ReportRow;

pub enum Renderer {
    Csv(Box<csv::CsvReport>),
    Json(json::JsonReport),
    Pdf(Box<pdf::PdfReport>),
}

impl Renderer {
    pub fn create(
        format: Format,
        path: &Path,
        org_name: &str,
        request: &report::Model,
    ) -> std::io::Result<Self> {
        if format == Format::Pdf {
            // The summary needs every row before the first page: rows are collected and
            // the document is written at `finish`.
            return Ok(Renderer::Pdf(Box::new(pdf::PdfReport::new(
                path.to_owned(),
                org_name,
                request,
            ))));
        }
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        Ok(match format {
            Format::Csv => Renderer::Csv(Box::new(csv::CsvReport::new(file)?)),
            _ => Renderer::Json(json::JsonReport::new(file, org_name, request)?),
        })
    }

    pub fn row(&mut self, incident: &incident::Model) -> std::io::Result<()> {
        let row = ReportRow::of(incident);
        match self {
            Renderer::Csv(r) => r.row(&row),
            Renderer::Json(r) => r.row(&row),
            Renderer::Pdf(r) => r.row(&row),
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Renderer::Csv(r) => r.finish(),
            Renderer::Json(r) => r.finish(),
            Renderer::Pdf(r) => r.finish(),
        }
    }
}
