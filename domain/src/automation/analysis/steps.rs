//! The steps that fill an analyzed form: what `createWorkflowFromAnalysis` writes into a
//! draft, and what the analysis itself runs to walk a wizard (so both move through the
//! form the same way).

use crate::automation::definition::{FieldType, Locator, Step, StepKind};

use super::model::{Analysis, AnalyzedField, Control};

/// After submitting, how long to wait for the outcome when the analysis did not see it.
pub const OUTCOME_TIMEOUT_MS: i32 = 5_000;
/// How long the first field of a wizard's next step may take to show.
pub const NEXT_STEP_TIMEOUT_MS: i32 = 5_000;

fn step(kind: StepKind) -> Step {
    Step {
        kind,
        url: None,
        locator: None,
        value: None,
        text: None,
        timeout_ms: None,
        name: None,
    }
}

fn css(s: String) -> Locator {
    Locator {
        css: Some(s),
        ..Locator::default()
    }
}

/// `"` and `\` escaped for a CSS attribute value.
fn attr(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Steps that give `field` the scenario input `{{input.NAME}}` (or `value_template`).
pub fn fill(field: &AnalyzedField, value_template: &str) -> Vec<Step> {
    let located = |kind: StepKind, locator: Locator| Step {
        locator: Some(locator),
        value: Some(value_template.to_owned()),
        ..step(kind)
    };
    let group = |input_type: &str| {
        field
            .html_name
            .as_deref()
            .map(|n| format!("input[type=\"{input_type}\"][name=\"{}\"]", attr(n)))
    };
    let steps = match field.field_type {
        FieldType::Select => vec![located(StepKind::Select, field.locator.clone())],
        FieldType::File => vec![located(StepKind::Upload, field.locator.clone())],
        FieldType::Radio => match group("radio") {
            // The radio whose value is the input's (a locator is a template too).
            Some(base) => vec![located(
                StepKind::Check,
                css(format!("{base}[value=\"{value_template}\"]")),
            )],
            None => vec![],
        },
        FieldType::Checkbox if !field.options.is_empty() => match group("checkbox") {
            Some(base) => field
                .options
                .iter()
                .map(|o| {
                    located(
                        StepKind::Check,
                        css(format!("{base}[value=\"{}\"]", attr(o))),
                    )
                })
                .collect(),
            None => vec![],
        },
        FieldType::Checkbox => vec![located(StepKind::Check, field.locator.clone())],
        _ => vec![located(StepKind::Fill, field.locator.clone())],
    };
    in_frames(&field.frame_path, steps)
}

/// `steps` wrapped in ENTER_FRAME/EXIT_FRAME for each frame of the path.
pub fn in_frames(path: &[String], steps: Vec<Step>) -> Vec<Step> {
    if path.is_empty() || steps.is_empty() {
        return steps;
    }
    let mut out: Vec<Step> = path
        .iter()
        .map(|f| Step {
            locator: Some(css(f.clone())),
            ..step(StepKind::EnterFrame)
        })
        .collect();
    out.extend(steps);
    out.extend(path.iter().map(|_| step(StepKind::ExitFrame)));
    out
}

/// Clicking a control: SUBMIT for a form's submit button (the browser's validation
/// decides first), CLICK for anything else.
pub fn press(control: &Control) -> Vec<Step> {
    let kind = if control.submits_form {
        StepKind::Submit
    } else {
        StepKind::Click
    };
    in_frames(
        &control.frame_path,
        vec![Step {
            locator: Some(control.locator.clone()),
            ..step(kind)
        }],
    )
}

/// A whole workflow for the analysis: open the page (log in first when the analysis
/// did), fill each step's fields and move on, submit, then wait for the outcome the
/// analysis saw, or for the form to go away.
pub fn workflow(analysis: &Analysis, goto: String) -> Vec<Step> {
    let mut out = vec![Step {
        url: Some(goto),
        ..step(StepKind::Goto)
    }];
    if let Some(login) = &analysis.login {
        for f in &login.fields {
            out.extend(in_frames(
                &f.frame_path,
                vec![Step {
                    locator: Some(f.locator.clone()),
                    value: Some(format!("{{{{secret.{}}}}}", f.secret)),
                    ..step(StepKind::Fill)
                }],
            ));
        }
        out.extend(press(&login.submit));
    }
    for wizard in &analysis.steps {
        for (i, f) in analysis
            .fields
            .iter()
            .filter(|f| f.is_input() && f.step_index == wizard.index)
            .enumerate()
        {
            let mut steps = fill(f, &format!("{{{{input.{}}}}}", f.name));
            // The first field of a later step shows only if the page accepted the last
            // one: a refusal is seen within this time, not the whole step timeout.
            if i == 0 && wizard.index > 0 {
                for s in &mut steps {
                    s.timeout_ms = Some(NEXT_STEP_TIMEOUT_MS);
                }
            }
            out.extend(steps);
        }
        if let Some(next) = &wizard.next {
            out.extend(press(next));
        }
    }
    if let Some(submit) = &analysis.submit_control {
        out.extend(press(submit));
        let timeout = analysis.success.as_ref().map_or(OUTCOME_TIMEOUT_MS, |s| {
            (s.after_ms as i32)
                .saturating_mul(3)
                .clamp(OUTCOME_TIMEOUT_MS, 60_000)
        });
        let wait = match &analysis.success {
            Some(s) if s.text.is_some() => Step {
                text: s.text.clone(),
                timeout_ms: Some(timeout),
                ..step(StepKind::WaitFor)
            },
            Some(s) if s.url.is_some() => Step {
                // The path the site went to, whatever the query or fragment.
                url: s
                    .url
                    .as_deref()
                    .map(|u| format!("://[^/]+{}([?#]|$)", regex::escape(u))),
                timeout_ms: Some(timeout),
                ..step(StepKind::WaitFor)
            },
            // Unseen: success is the form going away (a new page, or the form replaced).
            _ => Step {
                locator: Some(submit.locator.clone()),
                value: Some("HIDDEN".into()),
                timeout_ms: Some(timeout),
                ..step(StepKind::Assert)
            },
        };
        let frames = match &analysis.success {
            Some(s) if wait.kind == StepKind::WaitFor => &s.frame_path,
            _ => &submit.frame_path,
        };
        out.extend(in_frames(frames, vec![wait]));
    }
    out
}
