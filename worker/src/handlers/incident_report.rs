//! `incident_report`: renders the report's incidents page by page into a temporary file
//! (memory stays bounded whatever the count), uploads it, and leaves the file's record to
//! the outcome's transaction.

use domain::incidents::query::{self, Cursor, Order, OrderField};
use domain::jobs::JobFailure;
use domain::jobs::contracts::IncidentReport;
use domain::org::OrgCtx;
use domain::reports::{self, Format};
use serde_json::json;

use crate::execute::{Completion, Effect, JobCtx};
use crate::reports::Renderer;

const PAGE: u64 = 500;

pub async fn run(ctx: JobCtx, job: IncidentReport) -> Result<Completion, JobFailure> {
    let rt = &ctx.rt;
    let org_id = ctx.lease.org_id;
    let request = reports::load_for_job(&rt.db, org_id, job.report_id).await?;
    let format = Format::parse(&request.format)
        .ok_or_else(|| JobFailure::Permanent(format!("unknown format {}", request.format)))?;
    let mut filter = reports::filter_from_json(&request.filter)?;
    filter.created_after = Some(
        filter
            .created_after
            .map_or(request.period_from, |t| t.max(request.period_from)),
    );
    filter.created_before = Some(
        filter
            .created_before
            .map_or(request.period_to, |t| t.min(request.period_to)),
    );
    let org = OrgCtx::system(org_id);
    let org_name = domain::organizations::get(&rt.db, &org).await?.name;
    // The attempt's token in the name: a stale attempt never writes over the live one's file.
    let path = std::env::temp_dir().join(format!(
        "opsdeck-report-{}-{}.{}",
        job.report_id,
        ctx.lease.token,
        format.extension()
    ));
    let mut renderer = Renderer::create(format, &path, &org_name, &request)
        .map_err(|e| JobFailure::Retryable(format!("cannot write the report file: {e}")))?;
    let order = Order {
        field: OrderField::CreatedAt,
        descending: false,
    };
    let span = (request.period_to - request.period_from)
        .num_seconds()
        .max(1);
    let mut after: Option<Cursor> = None;
    let mut rows = 0u64;
    loop {
        let page = query::list(&rt.db, &org, &filter, order, PAGE, after.clone()).await?;
        for incident in &page.items {
            renderer
                .row(&incident.row)
                .map_err(|e| JobFailure::Retryable(format!("writing the report: {e}")))?;
            rows += 1;
        }
        if let Some(last) = page.items.last() {
            let covered = (last.row.created_at - request.period_from).num_seconds();
            ctx.progress.set((covered * 90 / span) as i32);
            after = Some(Cursor::of(last, OrderField::CreatedAt));
        }
        if !page.has_next_page {
            break;
        }
    }
    renderer
        .finish()
        .map_err(|e| JobFailure::Retryable(format!("finishing the report: {e}")))?;
    ctx.progress.set(95);
    let key = reports::object_key(org_id, job.report_id, format);
    let uploaded = rt.store.put_file(&key, &path, format.content_type()).await;
    let _ = std::fs::remove_file(&path);
    let size =
        uploaded.map_err(|e| JobFailure::Retryable(format!("uploading the report: {e:#}")))?;
    Ok(Completion {
        result: Some(json!({ "rows": rows, "sizeBytes": size })),
        effect: Effect::ReportFile {
            report_id: job.report_id,
            object_key: key,
            size_bytes: size,
            row_count: rows,
        },
    })
}
