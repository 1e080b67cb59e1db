//! Form analysis objects: the domain's analysis model, field for field.

use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};
use domain::automation::analysis::{self, model};

use crate::graphql::automation::definition::{After, FieldType, Locator, ShownWhen};
use crate::graphql::jobs::types::{JobStatus, status_of};

/// A form read in a real browser: its fields, its steps and its submit control. Its
/// status is its job's (QUEUED, RUNNING, SUCCEEDED, FAILED, …); `fields` and the rest are
/// filled once it has SUCCEEDED.
#[derive(SimpleObject)]
pub struct FormAnalysis {
    pub id: ID,
    pub target_id: ID,
    /// The page analyzed.
    pub url: String,
    /// Whether the analysis submits the form once to learn what success looks like.
    pub submit: bool,
    pub status: JobStatus,
    /// 0–100.
    pub progress: i32,
    pub fields: Vec<AnalyzedField>,
    pub submit_control: Option<FormControl>,
    /// The form's pages: one for a plain form, one per wizard step.
    pub steps: Vec<FormStep>,
    /// The login the analysis went through first (fields filled from target secrets).
    pub login: Option<FormLogin>,
    /// What the site showed after the analysis submitted it (with `submit: true`).
    pub success: Option<FormSuccess>,
    /// What the analysis could not do, in words.
    pub warnings: Vec<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One field of the form.
#[derive(SimpleObject)]
pub struct AnalyzedField {
    /// Its input name in a workflow built from the analysis.
    pub name: String,
    pub html_name: Option<String>,
    pub html_id: Option<String>,
    pub label: Option<String>,
    /// Where the label came from: for, wrap, aria-label, aria-labelledby, placeholder,
    /// legend, title.
    pub label_source: Option<String>,
    #[graphql(name = "type")]
    pub field_type: FieldType,
    pub html_type: String,
    pub required: bool,
    pub min: Option<String>,
    pub max: Option<String>,
    pub step: Option<String>,
    pub min_length: Option<i32>,
    pub max_length: Option<i32>,
    pub pattern: Option<String>,
    pub options: Vec<String>,
    pub accept: Option<String>,
    pub multiple: bool,
    /// A label when it names this field alone, else its name or id, else a short CSS path.
    pub locator: Locator,
    /// CSS locators of the iframes it is in, outermost first.
    pub frame_path: Vec<String>,
    /// CSS locators of the shadow hosts it is under, outermost first.
    pub shadow_path: Vec<String>,
    /// Never shown to a person; left empty and kept out of workflows.
    pub hidden: bool,
    /// Hidden and looking like a trap for bots (tempting name, tabindex=-1, off-screen).
    pub honeypot: bool,
    pub hidden_reason: Option<String>,
    /// The wizard step (0-based) it appeared on.
    pub step_index: i32,
    /// The field whose choice revealed it.
    pub revealed_by: Option<String>,
    /// The choices of `revealedBy` that show it.
    pub shown_when: Option<ShownWhen>,
    /// A rule of the page's script, found by probing: the value comes after this field's.
    pub after: Option<After>,
}

#[derive(SimpleObject)]
pub struct FormControl {
    pub text: String,
    pub locator: Locator,
    pub frame_path: Vec<String>,
    /// A form's submit button (else a button or link with a script behind it).
    pub submits_form: bool,
}

#[derive(SimpleObject)]
pub struct FormStep {
    pub index: i32,
    /// The control that moves on; none on the last step.
    pub next: Option<FormControl>,
}

#[derive(SimpleObject)]
pub struct FormLogin {
    pub fields: Vec<FormLoginField>,
    pub submit: FormControl,
}

#[derive(SimpleObject)]
pub struct FormLoginField {
    pub locator: Locator,
    /// The target secret it is filled from.
    pub secret: String,
    pub frame_path: Vec<String>,
}

#[derive(SimpleObject)]
pub struct FormSuccess {
    /// The path after submitting, when it changed.
    pub url: Option<String>,
    /// The message that appeared.
    pub text: Option<String>,
    pub after_ms: i64,
    pub frame_path: Vec<String>,
}

fn locator(l: domain::automation::definition::Locator) -> Locator {
    Locator {
        css: l.css,
        xpath: l.xpath,
        text: l.text,
        label: l.label,
    }
}

fn control(c: model::Control) -> FormControl {
    FormControl {
        text: c.text,
        locator: locator(c.locator),
        frame_path: c.frame_path,
        submits_form: c.submits_form,
    }
}

impl From<analysis::FormAnalysis> for FormAnalysis {
    fn from(a: analysis::FormAnalysis) -> Self {
        let status = status_of(&a.job.status);
        let result = a.result().unwrap_or_default();
        let finished = !matches!(status, JobStatus::Queued | JobStatus::Running);
        FormAnalysis {
            id: ID(a.row.id.to_string()),
            target_id: ID(a.row.target_id.to_string()),
            url: a.row.url.clone(),
            submit: a.row.submit,
            status,
            progress: a.job.progress,
            fields: result
                .fields
                .into_iter()
                .map(|f| AnalyzedField {
                    name: f.name,
                    html_name: f.html_name,
                    html_id: f.html_id,
                    label: f.label,
                    label_source: f.label_source,
                    field_type: f.field_type.into(),
                    html_type: f.html_type,
                    required: f.required,
                    min: f.min,
                    max: f.max,
                    step: f.step,
                    min_length: f.min_length,
                    max_length: f.max_length,
                    pattern: f.pattern,
                    options: f.options,
                    accept: f.accept,
                    multiple: f.multiple,
                    locator: locator(f.locator),
                    frame_path: f.frame_path,
                    shadow_path: f.shadow_path,
                    hidden: f.hidden,
                    honeypot: f.honeypot,
                    hidden_reason: f.hidden_reason,
                    step_index: f.step_index,
                    revealed_by: f.revealed_by,
                    shown_when: f.shown_when.map(|w| ShownWhen {
                        field: w.field,
                        values: w.values,
                    }),
                    after: f.after.map(|a| After {
                        field: a.field,
                        or_equal: a.or_equal,
                    }),
                })
                .collect(),
            submit_control: result.submit_control.map(control),
            steps: result
                .steps
                .into_iter()
                .map(|s| FormStep {
                    index: s.index,
                    next: s.next.map(control),
                })
                .collect(),
            login: result.login.map(|l| FormLogin {
                fields: l
                    .fields
                    .into_iter()
                    .map(|f| FormLoginField {
                        locator: locator(f.locator),
                        secret: f.secret,
                        frame_path: f.frame_path,
                    })
                    .collect(),
                submit: control(l.submit),
            }),
            success: result.success.map(|s| FormSuccess {
                url: s.url,
                text: s.text,
                after_ms: s.after_ms,
                frame_path: s.frame_path,
            }),
            warnings: result.warnings,
            error: (finished && status != JobStatus::Succeeded)
                .then(|| a.job.last_error.clone())
                .flatten(),
            duration_ms: (status == JobStatus::Succeeded).then_some(result.duration_ms),
            created_at: a.row.created_at,
            finished_at: a.job.finished_at,
        }
    }
}
