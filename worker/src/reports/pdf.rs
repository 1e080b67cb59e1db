//! PDF: a title page (organization, period, filter), a summary page (counts by severity and
//! status, time to acknowledge and resolve: median and p90; a chart of incidents per day
//! and one of time to resolve), then the incident table. The table lists the first
//! [`MAX_TABLE_ROWS`] incidents and says how many more there are (the CSV and JSON
//! reports hold every one); the summary counts them all.
//!
//! Drawn with printpdf's operations and its built-in Helvetica (no font files to ship).

use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::entity::report;
use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Polygon, PolygonRing, Pt, Rgb, TextItem, WindingOrder,
};

use super::ReportRow;
use super::summary::{self, Summary};

pub const MAX_TABLE_ROWS: usize = 1000;
const ROWS_PER_PAGE: usize = 40;
const W: f32 = 210.0;
const H: f32 = 297.0;

struct TableRow {
    key: String,
    severity: String,
    status: String,
    title: String,
    detected: String,
    tta: String,
    ttr: String,
}

pub struct PdfReport {
    path: PathBuf,
    org_name: String,
    request: report::Model,
    summary: Summary,
    table: Vec<TableRow>,
}

impl PdfReport {
    pub fn new(path: PathBuf, org_name: &str, request: &report::Model) -> Self {
        PdfReport {
            path,
            org_name: org_name.to_owned(),
            request: request.clone(),
            summary: Summary::default(),
            table: Vec::new(),
        }
    }

    pub fn row(&mut self, r: &ReportRow) -> std::io::Result<()> {
        self.summary.add(r);
        if self.table.len() < MAX_TABLE_ROWS {
            self.table.push(TableRow {
                key: r.key.clone(),
                severity: r.severity.clone(),
                status: r.status.clone(),
                title: r.title.clone(),
                detected: r.detected_at.format("%Y-%m-%d %H:%M").to_string(),
                tta: summary::human(r.time_to_acknowledge_seconds),
                ttr: summary::human(r.time_to_resolve_seconds),
            });
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        let mut pages = vec![self.title_page(), self.summary_page()];
        let chunks: Vec<&[TableRow]> = self.table.chunks(ROWS_PER_PAGE).collect();
        let table_pages = chunks.len().max(1);
        for (i, chunk) in chunks.iter().enumerate() {
            pages.push(self.table_page(chunk, i, table_pages));
        }
        if self.table.is_empty() {
            pages.push(self.table_page(&[], 0, 1));
        }
        let total = pages.len();
        let pages = pages
            .into_iter()
            .enumerate()
            .map(|(i, mut ops)| {
                text(
                    &mut ops,
                    &format!("Opsdeck - {} - page {} of {total}", self.org_name, i + 1),
                    8.0,
                    15.0,
                    10.0,
                    false,
                );
                PdfPage::new(Mm(W), Mm(H), ops)
            })
            .collect();
        let mut warnings = Vec::new();
        let bytes = PdfDocument::new(&format!("Incident report - {}", self.org_name))
            .with_pages(pages)
            .save(&PdfSaveOptions::default(), &mut warnings);
        std::fs::write(&self.path, bytes)?;
        self.table.clear();
        Ok(())
    }

    fn period(&self) -> String {
        format!(
            "{} to {} (UTC)",
            self.request.period_from.format("%Y-%m-%d %H:%M"),
            self.request.period_to.format("%Y-%m-%d %H:%M")
        )
    }

    fn title_page(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        rect(&mut ops, 0.0, H - 80.0, W, 80.0, (0.11, 0.24, 0.45));
        fill(&mut ops, (1.0, 1.0, 1.0));
        text(&mut ops, "Incident report", 30.0, 20.0, H - 40.0, true);
        text(&mut ops, &self.org_name, 18.0, 20.0, H - 58.0, false);
        fill(&mut ops, (0.0, 0.0, 0.0));
        let mut y = H - 110.0;
        let filter = filter_words(&self.request.filter);
        for (label, value) in [
            ("Period", self.period()),
            ("Incidents", self.summary.total.to_string()),
            ("Filter", filter),
            (
                "Generated",
                domain::time::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            ),
            ("Report id", self.request.id.to_string()),
        ] {
            text(&mut ops, label, 12.0, 20.0, y, true);
            text(&mut ops, &value, 12.0, 60.0, y, false);
            y -= 10.0;
        }
        ops
    }

    fn summary_page(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        let s = &mut self.summary;
        text(&mut ops, "Summary", 20.0, 15.0, H - 25.0, true);
        text(
            &mut ops,
            &format!("{} incidents, {}", s.total, self_period(&self.request)),
            10.0,
            15.0,
            H - 33.0,
            false,
        );

        // Counts by severity and by status, side by side.
        let mut y = H - 48.0;
        text(&mut ops, "By severity", 11.0, 15.0, y, true);
        text(&mut ops, "By status", 11.0, 75.0, y, true);
        y -= 7.0;
        let statuses: Vec<(usize, &str)> = summary::STATUSES
            .iter()
            .enumerate()
            .filter(|(i, _)| s.by_status[*i] > 0 || *i < 6)
            .map(|(i, n)| (i, *n))
            .collect();
        for row in 0..statuses.len().max(4) {
            if let Some(sev) = summary::SEVERITIES.get(row) {
                text(&mut ops, sev, 10.0, 15.0, y, false);
                text(
                    &mut ops,
                    &s.by_severity[row].to_string(),
                    10.0,
                    45.0,
                    y,
                    false,
                );
            }
            if let Some((i, name)) = statuses.get(row) {
                text(&mut ops, name, 10.0, 75.0, y, false);
                text(
                    &mut ops,
                    &s.by_status[*i].to_string(),
                    10.0,
                    115.0,
                    y,
                    false,
                );
            }
            y -= 6.0;
        }

        // Time to acknowledge and resolve.
        y -= 4.0;
        text(
            &mut ops,
            "Response times (cancelled and duplicate incidents excluded)",
            11.0,
            15.0,
            y,
            true,
        );
        y -= 7.0;
        for (x, h) in [
            (15.0, ""),
            (75.0, "median"),
            (105.0, "p90"),
            (135.0, "sample"),
        ] {
            text(&mut ops, h, 10.0, x, y, true);
        }
        y -= 6.0;
        let tta_n = s.time_to_acknowledge.len();
        let ttr_n = s.time_to_resolve.len();
        let rows = [
            (
                "Time to acknowledge",
                summary::percentile(&mut s.time_to_acknowledge, 0.5),
                summary::percentile(&mut s.time_to_acknowledge, 0.9),
                tta_n,
            ),
            (
                "Time to resolve",
                summary::percentile(&mut s.time_to_resolve, 0.5),
                summary::percentile(&mut s.time_to_resolve, 0.9),
                ttr_n,
            ),
        ];
        for (label, median, p90, n) in rows {
            text(&mut ops, label, 10.0, 15.0, y, false);
            text(&mut ops, &summary::human(median), 10.0, 75.0, y, false);
            text(&mut ops, &summary::human(p90), 10.0, 105.0, y, false);
            text(&mut ops, &n.to_string(), 10.0, 135.0, y, false);
            y -= 6.0;
        }
        text(
            &mut ops,
            &format!("Never acknowledged: {}", s.unacknowledged),
            9.0,
            15.0,
            y,
            false,
        );

        // Incidents per day (per week when the period is long).
        let (bars, unit) = per_period(&s.per_day, self.request.period_from, self.request.period_to);
        let chart_top = y - 12.0;
        text(
            &mut ops,
            &format!("Incidents per {unit}"),
            11.0,
            15.0,
            chart_top,
            true,
        );
        bar_chart(
            &mut ops,
            &bars,
            15.0,
            chart_top - 62.0,
            180.0,
            52.0,
            (0.16, 0.38, 0.71),
        );

        // Time to resolve.
        let top = chart_top - 78.0;
        text(&mut ops, "Time to resolve", 11.0, 15.0, top, true);
        let buckets: Vec<(String, u64)> = summary::RESOLVE_BUCKETS
            .iter()
            .zip(s.resolve_buckets)
            .map(|((_, label), n)| ((*label).to_owned(), n))
            .collect();
        bar_chart(
            &mut ops,
            &buckets,
            15.0,
            top - 62.0,
            180.0,
            52.0,
            (0.85, 0.45, 0.13),
        );
        ops
    }

    fn table_page(&self, rows: &[TableRow], index: usize, of: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        let heading = if of > 1 {
            format!("Incidents ({} of {of})", index + 1)
        } else {
            "Incidents".to_owned()
        };
        text(&mut ops, &heading, 16.0, 15.0, H - 22.0, true);
        let cols: [(f32, &str); 7] = [
            (15.0, "Key"),
            (32.0, "Sev"),
            (44.0, "Status"),
            (70.0, "Title"),
            (140.0, "Detected (UTC)"),
            (167.0, "TTA"),
            (184.0, "TTR"),
        ];
        let mut y = H - 34.0;
        for (x, h) in cols {
            text(&mut ops, h, 8.5, x, y, true);
        }
        line(&mut ops, 15.0, y - 2.0, W - 10.0, y - 2.0);
        y -= 7.0;
        for r in rows {
            let title = truncate(&r.title, 42);
            let cells = [
                &r.key,
                &r.severity,
                &r.status,
                &title,
                &r.detected,
                &r.tta,
                &r.ttr,
            ];
            for ((x, _), cell) in cols.iter().zip(cells) {
                text(&mut ops, cell, 8.0, *x, y, false);
            }
            y -= 5.6;
        }
        if rows.is_empty() {
            text(
                &mut ops,
                "No incidents match this report.",
                10.0,
                15.0,
                y,
                false,
            );
        }
        let shown = self.table.len() as u64;
        if index + 1 == of && self.summary.total > shown {
            text(
                &mut ops,
                &format!(
                    "...and {} more: the CSV and JSON reports list every incident.",
                    self.summary.total - shown
                ),
                9.0,
                15.0,
                y - 4.0,
                false,
            );
        }
        ops
    }
}

fn self_period(request: &report::Model) -> String {
    format!(
        "{} to {}",
        request.period_from.format("%Y-%m-%d"),
        request.period_to.format("%Y-%m-%d")
    )
}

/// The stored filter in words (`severity SEV1, SEV2; tags db`), or `none`.
fn filter_words(filter: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(map) = filter.as_object() {
        for (k, v) in map {
            let value = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::Array(a) if a.is_empty() => continue,
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{k} {value}"));
        }
    }
    if parts.is_empty() {
        "none".into()
    } else {
        truncate(&parts.join("; "), 90)
    }
}

/// Bars per day, or per week when the period has more than 62 days.
fn per_period(
    per_day: &std::collections::BTreeMap<NaiveDate, u64>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<(String, u64)>, &'static str) {
    let first = from.date_naive();
    let last = (to - Duration::microseconds(1)).date_naive();
    let days = (last - first).num_days() + 1;
    let step = if days > 62 { 7 } else { 1 };
    let mut bars = Vec::new();
    let mut day = first;
    while day <= last {
        let end = day + Duration::days(step);
        let n: u64 = per_day.range(day..end).map(|(_, n)| n).sum();
        bars.push((day.format("%m-%d").to_string(), n));
        day = end;
        if bars.len() > 600 {
            break;
        }
    }
    (bars, if step == 1 { "day" } else { "week" })
}

fn bar_chart(
    ops: &mut Vec<Op>,
    bars: &[(String, u64)],
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    color: (f32, f32, f32),
) {
    let max = bars.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    fill(ops, (0.0, 0.0, 0.0));
    line(ops, x, y, x + w, y);
    line(ops, x, y, x, y + h);
    text(
        ops,
        &max.to_string(),
        7.0,
        x - 1.0 - 2.0 * max.to_string().len() as f32,
        y + h - 2.0,
        false,
    );
    text(ops, "0", 7.0, x - 3.0, y, false);
    if bars.is_empty() {
        return;
    }
    let slot = w / bars.len() as f32;
    let bar_w = (slot * 0.75).max(0.3);
    // Label every bar when they fit, else about eight of them.
    let label_every = if bars.len() <= 12 {
        1
    } else {
        bars.len().div_ceil(8)
    };
    for (i, (label, n)) in bars.iter().enumerate() {
        let bx = x + i as f32 * slot + (slot - bar_w) / 2.0;
        let bh = h * (*n as f32) / (max as f32);
        if *n > 0 {
            rect(ops, bx, y, bar_w, bh.max(0.3), color);
        }
        fill(ops, (0.0, 0.0, 0.0));
        if i % label_every == 0 {
            text(ops, label, 6.5, bx, y - 4.0, false);
        }
        if bars.len() <= 12 && *n > 0 {
            text(ops, &n.to_string(), 7.0, bx, y + bh + 1.0, false);
        }
    }
}

/// Built-in fonts speak WinAnsi: anything beyond ASCII prints as `?`.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}...", s.chars().take(max - 3).collect::<String>())
    }
}

fn text(ops: &mut Vec<Op>, s: &str, size: f32, x: f32, y: f32, bold: bool) {
    let font = if bold {
        BuiltinFont::HelveticaBold
    } else {
        BuiltinFont::Helvetica
    };
    ops.extend([
        Op::StartTextSection,
        Op::SetTextCursor {
            pos: Point::new(Mm(x), Mm(y)),
        },
        Op::SetFont {
            font: PdfFontHandle::Builtin(font),
            size: Pt(size),
        },
        Op::ShowText {
            items: vec![TextItem::Text(ascii(s))],
        },
        Op::EndTextSection,
    ]);
}

fn fill(ops: &mut Vec<Op>, (r, g, b): (f32, f32, f32)) {
    ops.push(Op::SetFillColor {
        col: Color::Rgb(Rgb {
            r,
            g,
            b,
            icc_profile: None,
        }),
    });
}

fn point(x: f32, y: f32) -> LinePoint {
    LinePoint {
        p: Point::new(Mm(x), Mm(y)),
        bezier: false,
    }
}

fn rect(ops: &mut Vec<Op>, x: f32, y: f32, w: f32, h: f32, color: (f32, f32, f32)) {
    fill(ops, color);
    ops.push(Op::DrawPolygon {
        polygon: Polygon {
            rings: vec![PolygonRing {
                points: vec![
                    point(x, y),
                    point(x + w, y),
                    point(x + w, y + h),
                    point(x, y + h),
                ],
            }],
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        },
    });
}

fn line(ops: &mut Vec<Op>, x1: f32, y1: f32, x2: f32, y2: f32) {
    ops.push(Op::SetOutlineThickness { pt: Pt(0.6) });
    ops.push(Op::DrawLine {
        line: Line {
            points: vec![point(x1, y1), point(x2, y2)],
            is_closed: false,
        },
    });
}
