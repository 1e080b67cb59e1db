//! Walking a form in the browser: read every control of the page (and of its iframes and
//! open shadow roots) with `analyzer.js`, log in first when the page asks for the target's
//! secrets, fill what is shown with generated valid values, re-read after each choice (to
//! catch fields it reveals), press "next" while there is one, and find the submit control.
//! Filling uses the same steps a workflow built from the analysis will run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use domain::automation::analysis::model::{
    Analysis, AnalyzedField, Control, Login, LoginField, Success, WizardStep,
};
use domain::automation::analysis::steps as plan_steps;
use domain::automation::definition::{After, FieldType, Locator, ShownWhen, Step};
use domain::automation::{generation, values};
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::Browser;
use super::steps::{self, StepError, Values};

pub const ANALYZER_JS: &str = include_str!("analyzer.js");

/// Wizard pages walked at most.
const MAX_STEPS: usize = 10;
/// Iframes nested at most this deep are read.
const MAX_FRAME_DEPTH: usize = 3;
/// Re-reads after choices within one step, at most.
const MAX_REVEAL_ROUNDS: usize = 5;
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
const SETTLE: Duration = Duration::from_secs(5);
const SUCCESS_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(150);
/// The values typed to move through a wizard are generated from this seed.
const WALK_SEED: i64 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawField {
    key: String,
    html_name: Option<String>,
    html_id: Option<String>,
    label: Option<String>,
    label_source: Option<String>,
    html_type: String,
    required: bool,
    min: Option<String>,
    max: Option<String>,
    step: Option<String>,
    min_length: Option<i32>,
    max_length: Option<i32>,
    pattern: Option<String>,
    options: Vec<String>,
    accept: Option<String>,
    multiple: bool,
    locator: Locator,
    shadow_path: Vec<String>,
    shown: bool,
    hints: Vec<String>,
    concealment: Option<String>,
    form: Option<String>,
    /// The page's own script says the value is wrong (`setCustomValidity`).
    custom_error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawControl {
    text: String,
    locator: Locator,
    submits_form: bool,
    form: Option<String>,
    next: bool,
    back: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct RawFrame {
    locator: String,
    shown: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct Snapshot {
    fields: Vec<RawField>,
    controls: Vec<RawControl>,
    frames: Vec<RawFrame>,
    texts: Vec<String>,
}

/// One frame's snapshot and where it is.
struct FrameRead {
    path: Vec<String>,
    snap: Snapshot,
}

/// A field as the walk knows it.
struct Tracked {
    raw: RawField,
    frame_path: Vec<String>,
    name: String,
    shown_at: Option<i32>,
    revealed_by: Option<String>,
    shown_when: Option<ShownWhen>,
    after: Option<After>,
    /// What the walk typed into it.
    value: Option<Value>,
    filled: bool,
}

impl Tracked {
    fn key(&self) -> String {
        key_of(&self.frame_path, &self.raw.key)
    }

    fn field_type(&self) -> FieldType {
        field_type(&self.raw)
    }

    fn analyzed(&self, last_step: i32) -> AnalyzedField {
        let r = &self.raw;
        let hidden = self.shown_at.is_none();
        let honeypot = hidden
            && (!r.hints.is_empty() || r.concealment.as_deref() == Some("off-screen"))
            || r.hints.iter().any(|h| h.starts_with("label says"));
        let t = self.field_type();
        // A pattern the browser accepts but our rules cannot read is kept out of the
        // schema (the page still enforces it).
        let pattern = r
            .pattern
            .clone()
            .filter(|p| t.has_pattern() && values::compile_pattern(p).is_ok());
        let ranged = t.is_ranged()
            && [&r.min, &r.max].iter().all(|v| {
                v.as_deref()
                    .is_none_or(|v| values::parse_ranged(t, v).is_some())
            });
        AnalyzedField {
            name: self.name.clone(),
            html_name: r.html_name.clone(),
            html_id: r.html_id.clone(),
            label: r.label.clone(),
            label_source: r.label_source.clone(),
            field_type: t,
            html_type: r.html_type.clone(),
            required: r.required,
            min: r.min.clone().filter(|_| ranged),
            max: r.max.clone().filter(|_| ranged),
            step: r
                .step
                .clone()
                .filter(|s| ranged && (s == "any" || s.parse::<f64>().is_ok_and(|v| v > 0.0))),
            min_length: r.min_length.filter(|_| t.has_length()),
            max_length: r.max_length.filter(|_| t.has_length()),
            pattern,
            options: r.options.clone(),
            accept: r.accept.clone(),
            multiple: r.multiple,
            locator: r.locator.clone(),
            frame_path: self.frame_path.clone(),
            shadow_path: r.shadow_path.clone(),
            hidden: hidden || honeypot,
            honeypot,
            hidden_reason: (hidden || honeypot).then(|| {
                let mut why = vec![
                    r.concealment
                        .clone()
                        .unwrap_or_else(|| "never shown".into()),
                ];
                why.extend(r.hints.iter().cloned());
                why.join(", ")
            }),
            step_index: self.shown_at.unwrap_or(last_step),
            revealed_by: self.revealed_by.clone(),
            shown_when: self.shown_when.clone(),
            after: self.after.clone(),
        }
    }
}

/// A field's identity across reads: its frame path and its key within the frame.
fn key_of(frame_path: &[String], key: &str) -> String {
    format!("{} || {key}", frame_path.join(" >> "))
}

fn field_type(r: &RawField) -> FieldType {
    match r.html_type.as_str() {
        "email" => FieldType::Email,
        "number" | "range" => FieldType::Number,
        "date" => FieldType::Date,
        "time" => FieldType::Time,
        "datetime-local" => FieldType::Datetime,
        "tel" => FieldType::Tel,
        "url" => FieldType::Url,
        "password" => FieldType::Password,
        "textarea" => FieldType::Textarea,
        "select-one" | "select-multiple" => FieldType::Select,
        "radio-group" | "radio" => FieldType::Radio,
        "checkbox-group" | "checkbox" => FieldType::Checkbox,
        "file" => FieldType::File,
        _ => FieldType::Text,
    }
}

/// A workflow input name from the field's name, id or label.
fn input_name(r: &RawField, taken: &BTreeSet<String>) -> String {
    let raw = r
        .html_name
        .clone()
        .or(r.html_id.clone())
        .or(r.label.clone())
        .unwrap_or_else(|| "field".into());
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    name = name.trim_matches('_').chars().take(56).collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name = format!("f_{name}");
    }
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    candidate
}

/// Why an analysis stopped.
#[derive(Debug)]
pub enum WalkError {
    Page(String),
    Browser(String),
}

impl From<StepError> for WalkError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Infra(m) => WalkError::Browser(m),
            StepError::Timeout(m) | StepError::Assertion(m) | StepError::Refused(m) => {
                WalkError::Page(m)
            }
        }
    }
}

fn infra(e: fantoccini::error::CmdError) -> WalkError {
    WalkError::Browser(e.to_string())
}

pub struct Walker<'a> {
    pub browser: &'a Browser,
    pub base_url: &'a url::Url,
    pub secrets: &'a BTreeMap<String, String>,
    pub progress: &'a (dyn Fn(i32) + Sync),
    /// Where files for upload fields are written.
    pub uploads: &'a std::path::Path,
}

impl Walker<'_> {
    async fn read_frame(&self) -> Result<Snapshot, WalkError> {
        let v = self
            .browser
            .client
            .execute(ANALYZER_JS, vec![])
            .await
            .map_err(|e| WalkError::Page(format!("reading the page: {e}")))?;
        serde_json::from_value(v).map_err(|e| WalkError::Page(format!("reading the page: {e}")))
    }

    /// The page and its iframes (entered through WebDriver: cross-origin ones too).
    async fn read_all(&self) -> Result<Vec<FrameRead>, WalkError> {
        let mut out = Vec::new();
        let top = self.read_frame().await?;
        let mut pending: Vec<(Vec<String>, Vec<RawFrame>)> = vec![(vec![], top.frames.clone())];
        out.push(FrameRead {
            path: vec![],
            snap: top,
        });
        while let Some((path, frames)) = pending.pop() {
            if path.len() >= MAX_FRAME_DEPTH {
                continue;
            }
            for frame in frames.into_iter().filter(|f| f.shown) {
                let mut inner = path.clone();
                inner.push(frame.locator.clone());
                if self.enter(&inner).await.is_err() {
                    self.to_top().await;
                    continue;
                }
                let read = self.read_frame().await;
                self.to_top().await;
                if let Ok(snap) = read {
                    pending.push((inner.clone(), snap.frames.clone()));
                    out.push(FrameRead { path: inner, snap });
                }
            }
        }
        Ok(out)
    }

    /// Back to the page itself (leaving a frame at the top is a no-op).
    async fn to_top(&self) {
        for _ in 0..=MAX_FRAME_DEPTH {
            if self.browser.client.enter_parent_frame().await.is_err() {
                break;
            }
        }
    }

    /// Into the frame at `path`, from the top.
    async fn enter(&self, path: &[String]) -> Result<(), WalkError> {
        self.to_top().await;
        for css in path {
            let el = self
                .browser
                .client
                .find(fantoccini::Locator::Css(css))
                .await
                .map_err(|e| WalkError::Page(format!("frame {css}: {e}")))?;
            el.enter_frame().await.map_err(infra)?;
        }
        Ok(())
    }

    async fn run(&self, steps_: &[Step], inputs: &Value) -> Result<(), StepError> {
        let values = Values {
            inputs,
            secrets: self.secrets,
            base_url: self.base_url,
        };
        // Files stay until the analysis ends: the page reads them when it submits.
        std::fs::create_dir_all(self.uploads).map_err(|e| StepError::Infra(e.to_string()))?;
        let mut result = Ok(());
        for s in steps_ {
            if let Err(e) = steps::run(self.browser, s, &values, STEP_TIMEOUT, self.uploads).await {
                result = Err(e);
                break;
            }
        }
        // Back to the top whatever happened inside a frame.
        self.to_top().await;
        result
    }

    pub async fn analyze(&self, url: &url::Url, submit: bool) -> Result<Analysis, WalkError> {
        let started = Instant::now();
        let mut warnings: Vec<String> = Vec::new();
        self.browser
            .client
            .goto(url.as_str())
            .await
            .map_err(|e| WalkError::Page(format!("opening {url}: {e}")))?;
        let mut reads = self.read_all().await?;
        let login = self.log_in(&reads).await?;
        if login.is_some() {
            reads = self.read_all().await?;
            if reads.iter().all(|r| r.snap.fields.iter().all(|f| !f.shown)) {
                self.browser
                    .client
                    .goto(url.as_str())
                    .await
                    .map_err(infra)?;
                reads = self.read_all().await?;
            }
        }
        (self.progress)(20);
        let mut tracked: Vec<Tracked> = Vec::new();
        let mut wizard = Vec::new();
        let mut submit_control = None;
        for index in 0..MAX_STEPS as i32 {
            // Each step's page may hold its own form (a wizard across pages).
            let (frame, form) = main_form(&reads);
            merge(&mut tracked, &reads, &frame, &form, index, None);
            let mut last_choice = None;
            for _ in 0..MAX_REVEAL_ROUNDS {
                let todo: Vec<usize> = (0..tracked.len())
                    .filter(|&i| {
                        let t = &tracked[i];
                        !t.filled && t.shown_at.is_some() && t.raw.hints.is_empty()
                    })
                    .collect();
                if todo.is_empty() {
                    break;
                }
                for i in todo {
                    let field = tracked[i].analyzed(index);
                    tracked[i].filled = true;
                    let Some(value) = generation::valid_value(&field.input_field(), WALK_SEED)
                    else {
                        warnings.push(format!("{}: no valid value to move on with", field.name));
                        continue;
                    };
                    let choice = matches!(field.field_type, FieldType::Select | FieldType::Radio)
                        || (field.field_type == FieldType::Checkbox && field.options.is_empty());
                    // A choice may show hidden fields or make the script add new ones: try each.
                    let value = if choice {
                        self.explore(&field, value, &mut tracked, &frame, &form, index)
                            .await?
                    } else {
                        value
                    };
                    if let Err(e) = self.set(&field, &value).await {
                        warnings.push(format!("{}: filling it failed: {}", field.name, message(e)));
                    }
                    tracked[i].value = Some(value);
                    if choice || field.field_type == FieldType::Checkbox {
                        last_choice = Some(field.name.clone());
                        // A choice may reveal fields: read again before going on.
                        reads = self.read_all().await?;
                        merge(
                            &mut tracked,
                            &reads,
                            &frame,
                            &form,
                            index,
                            last_choice.clone(),
                        );
                    }
                }
                reads = self.read_all().await?;
                merge(
                    &mut tracked,
                    &reads,
                    &frame,
                    &form,
                    index,
                    last_choice.clone(),
                );
                self.probe_relations(&mut tracked, &reads, &frame, &form)
                    .await?;
            }
            let controls = controls_of(&reads, &frame, &form);
            let next = controls.iter().find(|c| c.next && !c.back).cloned();
            (self.progress)((20 + 10 * (index + 1)).min(80));
            if let Some(next) = next {
                let control = to_control(&next, &frame);
                let before = shown_keys(&tracked);
                let url_before = self.browser.client.current_url().await.map_err(infra)?;
                if let Err(e) = self.run(&plan_steps::press(&control), &json!({})).await {
                    return Err(WalkError::Page(format!(
                        "step {}: pressing {:?} failed: {}",
                        index + 1,
                        control.text,
                        message(e)
                    )));
                }
                wizard.push(WizardStep {
                    index,
                    next: Some(control),
                });
                // The next step is there when new fields show (or the page changed).
                let deadline = Instant::now() + SETTLE;
                loop {
                    tokio::time::sleep(POLL).await;
                    reads = self.read_all().await?;
                    let url_now = self.browser.client.current_url().await.map_err(infra)?;
                    let now: BTreeSet<String> = reads
                        .iter()
                        .flat_map(|r| {
                            r.snap
                                .fields
                                .iter()
                                .filter(|f| f.shown)
                                .map(|f| key_of(&r.path, &f.key))
                        })
                        .collect();
                    if now.iter().any(|k| !before.contains(k))
                        || url_now != url_before
                        || Instant::now() > deadline
                    {
                        break;
                    }
                }
                continue;
            }
            wizard.push(WizardStep { index, next: None });
            submit_control = pick_submit(&controls).map(|c| to_control(c, &frame));
            break;
        }
        let last_step = wizard.last().map_or(0, |w| w.index);
        let fields: Vec<AnalyzedField> = tracked.iter().map(|t| t.analyzed(last_step)).collect();
        let mut success = None;
        if submit {
            match &submit_control {
                Some(control) => match self.submit_and_watch(control, &reads).await {
                    Ok(s) => success = s,
                    Err(m) => warnings.push(m),
                },
                None => warnings.push("no submit control was found to submit the form".into()),
            }
        }
        (self.progress)(95);
        Ok(Analysis {
            url: url.to_string(),
            fields,
            submit_control,
            steps: wizard,
            login,
            success,
            warnings,
            duration_ms: started.elapsed().as_millis() as i64,
        })
    }

    /// Gives `field` the value, as a workflow's steps would.
    async fn set(&self, field: &AnalyzedField, value: &Value) -> Result<(), StepError> {
        let inputs = json!({ field.name.clone(): value });
        let fill = plan_steps::fill(field, &format!("{{{{input.{}}}}}", field.name));
        self.run(&fill, &inputs).await
    }

    /// Tries each choice of `field` (at most a dozen) and notes which fields each one
    /// shows; returns the choice that shows the most (else `value`), with the fields it
    /// reveals marked `shownWhen`.
    async fn explore(
        &self,
        field: &AnalyzedField,
        value: Value,
        tracked: &mut Vec<Tracked>,
        frame: &[String],
        form: &Option<String>,
        step: i32,
    ) -> Result<Value, WalkError> {
        let choices: Vec<(String, Value)> = if field.field_type == FieldType::Checkbox {
            vec![("true".into(), json!(true)), ("false".into(), json!(false))]
        } else {
            field
                .options
                .iter()
                .take(12)
                .map(|o| (o.clone(), json!(o)))
                .collect()
        };
        let shown_now = |reads: &[FrameRead]| -> BTreeSet<String> {
            reads
                .iter()
                .filter(|r| r.path == frame)
                .flat_map(|r| {
                    r.snap
                        .fields
                        .iter()
                        .filter(|f| f.shown && (form.is_none() || &f.form == form))
                        .map(|f| key_of(&r.path, &f.key))
                })
                .collect()
        };
        let before = shown_now(&self.read_all().await?);
        let mut reveals: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut best: Option<(usize, Value)> = None;
        for (label, v) in &choices {
            if self.set(field, v).await.is_err() {
                continue;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = shown_now(&self.read_all().await?);
            let new: Vec<&String> = now.difference(&before).collect();
            for k in &new {
                reveals.entry((*k).clone()).or_default().push(label.clone());
            }
            if !new.is_empty() && best.as_ref().is_none_or(|(n, _)| new.len() > *n) {
                best = Some((new.len(), v.clone()));
            }
        }
        let chosen = best.map_or(value, |(_, v)| v);
        self.set(field, &chosen)
            .await
            .map_err(|e| WalkError::Page(format!("{}: {}", field.name, message(e))))?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let reads = self.read_all().await?;
        merge(tracked, &reads, frame, form, step, Some(field.name.clone()));
        for t in tracked.iter_mut() {
            if let Some(values) = reveals.get(&t.key()) {
                t.revealed_by = Some(field.name.clone());
                t.shown_when = Some(ShownWhen {
                    field: field.name.clone(),
                    values: values.clone(),
                });
                if t.shown_at.is_none() {
                    t.shown_at = Some(step);
                }
            }
        }
        Ok(chosen)
    }

    /// A ranged field the page's script marks wrong once filled (`setCustomValidity`)
    /// is probed against the earlier fields of its type: when a value just after one of
    /// them clears the error, the field must come after it.
    async fn probe_relations(
        &self,
        tracked: &mut [Tracked],
        reads: &[FrameRead],
        frame: &[String],
        form: &Option<String>,
    ) -> Result<(), WalkError> {
        let custom = |reads: &[FrameRead], key: &str| {
            reads.iter().filter(|r| r.path == frame).any(|r| {
                r.snap.fields.iter().any(|f| {
                    f.custom_error.is_some()
                        && key_of(&r.path, &f.key) == key
                        && (form.is_none() || &f.form == form)
                })
            })
        };
        for b in 0..tracked.len() {
            let t = tracked[b].field_type();
            if !t.is_ranged() || tracked[b].after.is_some() || !custom(reads, &tracked[b].key()) {
                continue;
            }
            let field_b = tracked[b].analyzed(0);
            for a in 0..b {
                if tracked[a].field_type() != t {
                    continue;
                }
                let Some(other) = tracked[a].value.as_ref().and_then(values::as_text) else {
                    continue;
                };
                let input_b = field_b.input_field();
                let Some(just_after) = generation::shift(&input_b, &other, 1) else {
                    continue;
                };
                let _ = self.set(&field_b, &json!(just_after)).await;
                if custom(&self.read_all().await?, &tracked[b].key()) {
                    continue;
                }
                let _ = self.set(&field_b, &json!(other)).await;
                let or_equal = !custom(&self.read_all().await?, &tracked[b].key());
                let _ = self.set(&field_b, &json!(just_after)).await;
                tracked[b].value = Some(json!(just_after));
                tracked[b].after = Some(After {
                    field: tracked[a].name.clone(),
                    or_equal,
                });
                break;
            }
        }
        Ok(())
    }

    /// The page asks for credentials the target holds: fill them from its secrets and
    /// submit, once.
    async fn log_in(&self, reads: &[FrameRead]) -> Result<Option<Login>, WalkError> {
        if self.secrets.is_empty() {
            return Ok(None);
        }
        let Some(read) = reads.iter().find(|r| {
            r.snap
                .fields
                .iter()
                .any(|f| f.shown && f.html_type == "password")
        }) else {
            return Ok(None);
        };
        let shown: Vec<&RawField> = read.snap.fields.iter().filter(|f| f.shown).collect();
        let mut fields = Vec::new();
        for f in &shown {
            match secret_for(f, self.secrets) {
                Some(secret) => fields.push(LoginField {
                    locator: f.locator.clone(),
                    secret,
                    frame_path: read.path.clone(),
                }),
                // A field no secret answers: not a login form (a sign-up, say).
                None if f.required => return Ok(None),
                None => {}
            }
        }
        if !fields.iter().any(|f| {
            shown
                .iter()
                .any(|s| s.html_type == "password" && s.locator == f.locator)
        }) {
            return Ok(None);
        }
        let form = shown
            .iter()
            .find(|f| f.html_type == "password")
            .and_then(|f| f.form.clone());
        let controls: Vec<&RawControl> = read
            .snap
            .controls
            .iter()
            .filter(|c| form.is_none() || c.form == form)
            .collect();
        let Some(submit) = pick_submit(&controls.into_iter().cloned().collect::<Vec<_>>())
            .map(|c| to_control(c, &read.path))
        else {
            return Ok(None);
        };
        let mut steps_: Vec<Step> = Vec::new();
        for f in &fields {
            steps_.extend(plan_steps::in_frames(
                &f.frame_path,
                vec![Step {
                    kind: domain::automation::definition::StepKind::Fill,
                    url: None,
                    locator: Some(f.locator.clone()),
                    value: Some(format!("{{{{secret.{}}}}}", f.secret)),
                    text: None,
                    timeout_ms: None,
                    name: None,
                }],
            ));
        }
        steps_.extend(plan_steps::press(&submit));
        self.run(&steps_, &json!({}))
            .await
            .map_err(|e| WalkError::Page(format!("logging in: {}", message(e))))?;
        // The login led somewhere when its password field is gone.
        let deadline = Instant::now() + SETTLE;
        loop {
            tokio::time::sleep(POLL).await;
            let still = self.read_all().await?.iter().any(|r| {
                r.snap
                    .fields
                    .iter()
                    .any(|f| f.shown && f.html_type == "password")
            });
            if !still {
                break;
            }
            if Instant::now() > deadline {
                return Err(WalkError::Page(
                    "the login form stayed after submitting the target's secrets (wrong credentials?)".into(),
                ));
            }
        }
        Ok(Some(Login { fields, submit }))
    }

    /// Submits the form (filled with generated valid values) and watches what changes:
    /// a new heading or status line, or the URL.
    async fn submit_and_watch(
        &self,
        control: &Control,
        reads: &[FrameRead],
    ) -> Result<Option<Success>, String> {
        let before: BTreeSet<String> = reads
            .iter()
            .flat_map(|r| r.snap.texts.iter().cloned())
            .collect();
        let url_before = self
            .browser
            .client
            .current_url()
            .await
            .map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        self.run(&plan_steps::press(control), &json!({}))
            .await
            .map_err(|e| {
                format!(
                    "submitting the form with generated valid values failed: {}",
                    message(e)
                )
            })?;
        let deadline = t0 + SUCCESS_WAIT;
        let mut url_changed = None;
        while Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            let Ok(reads) = self.read_all().await else {
                continue;
            };
            let url_now = self
                .browser
                .client
                .current_url()
                .await
                .map_err(|e| e.to_string())?;
            if url_now != url_before && url_changed.is_none() {
                url_changed = Some((url_now.path().to_owned(), t0.elapsed()));
            }
            for r in &reads {
                if let Some(text) = r
                    .snap
                    .texts
                    .iter()
                    .find(|t| !before.contains(*t) && !looks_like_error(t))
                {
                    return Ok(Some(Success {
                        url: url_changed.as_ref().map(|(u, _)| u.clone()),
                        text: Some(text.clone()),
                        after_ms: t0.elapsed().as_millis() as i64,
                        frame_path: r.path.clone(),
                    }));
                }
                if let Some(error) = r
                    .snap
                    .texts
                    .iter()
                    .find(|t| !before.contains(*t) && looks_like_error(t))
                {
                    return Err(format!(
                        "the site refused the generated valid values: {error}"
                    ));
                }
            }
        }
        Ok(url_changed.map(|(u, after)| Success {
            url: Some(u),
            text: None,
            after_ms: after.as_millis() as i64,
            frame_path: vec![],
        }))
    }
}

fn looks_like_error(t: &str) -> bool {
    let t = t.to_lowercase();
    [
        "error",
        "invalid",
        "required",
        "must ",
        "please ",
        "failed",
        "not valid",
        "too ",
    ]
    .iter()
    .any(|w| t.contains(w))
}

fn message(e: StepError) -> String {
    match e {
        StepError::Assertion(m)
        | StepError::Refused(m)
        | StepError::Infra(m)
        | StepError::Timeout(m) => m,
    }
}

/// The form with the most shown fields (a page may also have a search box).
fn main_form(reads: &[FrameRead]) -> (Vec<String>, Option<String>) {
    let mut counts: BTreeMap<(Vec<String>, Option<String>), usize> = BTreeMap::new();
    for r in reads {
        for f in &r.snap.fields {
            *counts.entry((r.path.clone(), f.form.clone())).or_default() +=
                usize::from(f.shown) * 100 + 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(k, n)| (*n, std::cmp::Reverse(k.0.len())))
        .map(|(k, _)| k)
        .unwrap_or_default()
}

/// Adds the main form's new fields and notes which are shown now.
fn merge(
    tracked: &mut Vec<Tracked>,
    reads: &[FrameRead],
    frame: &[String],
    form: &Option<String>,
    step: i32,
    revealed_by: Option<String>,
) {
    for r in reads.iter().filter(|r| r.path == frame) {
        for f in r
            .snap
            .fields
            .iter()
            .filter(|f| &f.form == form || form.is_none())
        {
            let key = key_of(&r.path, &f.key);
            match tracked.iter_mut().find(|t| t.key() == key) {
                Some(t) => {
                    if f.shown && t.shown_at.is_none() {
                        t.shown_at = Some(step);
                        t.revealed_by = revealed_by.clone();
                    }
                    // Options and constraints may change with a choice; the latest read wins.
                    let shown = t.raw.shown || f.shown;
                    t.raw = f.clone();
                    t.raw.shown = shown;
                }
                None => {
                    let taken: BTreeSet<String> = tracked.iter().map(|t| t.name.clone()).collect();
                    tracked.push(Tracked {
                        name: input_name(f, &taken),
                        raw: f.clone(),
                        frame_path: r.path.clone(),
                        shown_at: f.shown.then_some(step),
                        revealed_by: if f.shown { revealed_by.clone() } else { None },
                        shown_when: None,
                        after: None,
                        value: None,
                        filled: false,
                    });
                }
            }
        }
    }
}

fn shown_keys(tracked: &[Tracked]) -> BTreeSet<String> {
    tracked
        .iter()
        .filter(|t| t.raw.shown)
        .map(Tracked::key)
        .collect()
}

fn controls_of(reads: &[FrameRead], frame: &[String], form: &Option<String>) -> Vec<RawControl> {
    reads
        .iter()
        .filter(|r| r.path == frame)
        .flat_map(|r| r.snap.controls.iter())
        .filter(|c| form.is_none() || &c.form == form || c.form.is_none())
        .cloned()
        .collect()
}

const SUBMIT_WORDS: &[&str] = &[
    "submit", "send", "register", "sign up", "sign in", "log in", "login", "save", "apply", "book",
    "order", "create", "confirm", "pay", "finish", "done", "request",
];

/// The form's submit button; else a button whose words say it submits.
fn pick_submit(controls: &[RawControl]) -> Option<&RawControl> {
    controls
        .iter()
        .find(|c| c.submits_form && !c.next && !c.back)
        .or_else(|| {
            controls.iter().find(|c| {
                let t = c.text.to_lowercase();
                !c.back && SUBMIT_WORDS.iter().any(|w| t.contains(w))
            })
        })
}

fn to_control(c: &RawControl, frame: &[String]) -> Control {
    Control {
        text: c.text.clone(),
        locator: c.locator.clone(),
        frame_path: frame.to_vec(),
        submits_form: c.submits_form,
    }
}

/// The target secret a login field asks for, by its type, name and label.
fn secret_for(f: &RawField, secrets: &BTreeMap<String, String>) -> Option<String> {
    let words = format!(
        "{} {} {}",
        f.html_name.as_deref().unwrap_or_default(),
        f.html_id.as_deref().unwrap_or_default(),
        f.label.as_deref().unwrap_or_default()
    )
    .to_lowercase();
    let find = |cands: &[&str]| {
        secrets
            .keys()
            .find(|k| cands.iter().any(|c| k.to_lowercase().contains(c)))
            .cloned()
    };
    if let Some(exact) = secrets.keys().find(|k| {
        let k = k.to_lowercase();
        words.split(|c: char| !c.is_alphanumeric()).any(|w| w == k)
    }) {
        return Some(exact.clone());
    }
    if f.html_type == "password" {
        return find(&["password", "pass", "pwd"]);
    }
    if f.html_type == "email"
        || ["user", "login", "email", "account"]
            .iter()
            .any(|w| words.contains(w))
    {
        return find(&["user", "login", "email", "account"]);
    }
    None
}
