//! One step against the page. Element steps wait for their element (up to the step's
//! timeout), then act through WebDriver so the page sees real clicks and key presses;
//! checks poll until they hold or time out. Errors say what was expected and what the
//! page showed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use domain::automation::definition::{Locator, Segment, Step, StepKind, Strategy, parse_template};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use serde_json::{Value, json};

use super::FINDER_JS;
use super::session::{Browser, DocumentMark, MARK_JS};

const POLL: Duration = Duration::from_millis(100);
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Why a step did not pass.
#[derive(Debug)]
pub enum StepError {
    /// The page did not behave as the step expects (not retried).
    Assertion(String),
    /// The browser refused to submit: constraint validation failed on these fields.
    Refused(String),
    /// The browser or its connection failed (retried on a fresh session).
    Infra(String),
    /// A WebDriver command ran out of time (the page never finished loading, …).
    Timeout(String),
}

/// What the step leaves: an EXTRACT's output.
#[derive(Debug, Default)]
pub struct Done {
    pub output: Option<(String, Value)>,
    /// A SCREENSHOT step's artifact name.
    pub screenshot_name: Option<String>,
    /// The step handed the form's input to the page (SUBMIT, or a click on a button of a
    /// form, such as a wizard's "Next"): what fails after it was the page refusing it.
    pub hands_over: bool,
    /// The document the step's action (a click, a submission) started from, so the run
    /// can wait out a navigation the action began.
    pub mark: Option<DocumentMark>,
}

pub struct Values<'a> {
    pub inputs: &'a Value,
    pub secrets: &'a BTreeMap<String, String>,
    pub base_url: &'a url::Url,
}

impl Values<'_> {
    pub fn render(&self, template: &str) -> Result<String, StepError> {
        let mut out = String::new();
        for seg in parse_template(template).map_err(StepError::Assertion)? {
            match seg {
                Segment::Literal(s) => out.push_str(&s),
                Segment::Input(name) => match self.inputs.get(&name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => out.push_str(s),
                    Some(Value::Object(o)) => {
                        // A FILE input: its file name stands for it in text.
                        out.push_str(o.get("name").and_then(Value::as_str).unwrap_or_default())
                    }
                    Some(Value::Array(items)) => out.push_str(
                        &items
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    Some(other) => out.push_str(&other.to_string()),
                },
                Segment::Secret(name) => match self.secrets.get(&name) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(StepError::Assertion(format!(
                            "secret {name:?} is not set on the target (setTargetSecret)"
                        )));
                    }
                },
            }
        }
        Ok(out)
    }

    /// The template references an input the scenario leaves out (absent, null, empty
    /// text or an empty list; `false` is a value).
    fn references_absent(&self, template: &str) -> bool {
        parse_template(template).is_ok_and(|segs| {
            segs.iter().any(|s| match s {
                Segment::Input(name) => match self.inputs.get(name) {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    _ => false,
                },
                _ => false,
            })
        })
    }

    /// The value of `{{input.X}}` when the template is exactly one input reference.
    fn single_input(&self, template: &str) -> Option<&Value> {
        match parse_template(template).ok()?.as_slice() {
            [Segment::Input(name)] => self.inputs.get(name),
            _ => None,
        }
    }
}

fn classify(e: CmdError) -> StepError {
    use fantoccini::error::ErrorStatus;
    match &e {
        CmdError::Standard(w) => match w.error {
            ErrorStatus::Timeout | ErrorStatus::ScriptTimeout => StepError::Timeout(e.to_string()),
            ErrorStatus::NoSuchElement
            | ErrorStatus::StaleElementReference
            | ErrorStatus::ElementNotInteractable
            | ErrorStatus::ElementClickIntercepted
            | ErrorStatus::InvalidElementState
            | ErrorStatus::InvalidArgument
            | ErrorStatus::JavascriptError
            | ErrorStatus::NoSuchFrame
            | ErrorStatus::InvalidSelector
            | ErrorStatus::UnexpectedAlertOpen => StepError::Assertion(e.to_string()),
            _ => StepError::Infra(e.to_string()),
        },
        _ => StepError::Infra(e.to_string()),
    }
}

fn strategy_args(loc: &Locator) -> Result<Vec<Value>, StepError> {
    let (s, v) = match loc.strategy() {
        Some(Strategy::Css(v)) => ("css", v),
        Some(Strategy::Xpath(v)) => ("xpath", v),
        Some(Strategy::Text(v)) => ("text", v),
        Some(Strategy::Label(v)) => ("label", v),
        None => return Err(StepError::Assertion("the step's locator is invalid".into())),
    };
    Ok(vec![json!(s), json!(v)])
}

/// What the finder tells of the element it found, in the same command.
#[derive(Debug)]
struct Facts {
    /// Shown, as WebDriver's "is displayed" means it.
    displayed: bool,
    /// The input's `type`, else the tag name, lower-case.
    kind: String,
    /// `maxlength`, or -1.
    max_length: i64,
    /// No value yet (nothing to clear before typing).
    empty: bool,
}

async fn find_now(b: &Browser, loc: &Locator) -> Result<Option<(Element, Facts)>, StepError> {
    let found = b
        .client
        .execute(FINDER_JS, strategy_args(loc)?)
        .await
        .map_err(classify)?;
    let Some(id) = found[0].get(ELEMENT_KEY).and_then(Value::as_str) else {
        return Ok(None);
    };
    let facts = &found[1];
    Ok(Some((
        Element::from_element_id(b.client.clone(), id.to_owned().into()),
        Facts {
            displayed: facts["displayed"].as_bool().unwrap_or(false),
            kind: facts["kind"].as_str().unwrap_or_default().to_owned(),
            max_length: facts["maxLength"].as_i64().unwrap_or(-1),
            empty: facts["empty"].as_bool().unwrap_or(false),
        },
    )))
}

/// Waits for the element (present; visible when `visible`).
async fn find(
    b: &Browser,
    loc: &Locator,
    timeout: Duration,
    visible: bool,
) -> Result<Element, StepError> {
    find_with_facts(b, loc, timeout, visible)
        .await
        .map(|(el, _)| el)
}

async fn find_with_facts(
    b: &Browser,
    loc: &Locator,
    timeout: Duration,
    visible: bool,
) -> Result<(Element, Facts), StepError> {
    let deadline = Instant::now() + timeout;
    loop {
        // A lookup still running at the deadline (a page too busy to answer) is a miss,
        // not a hang: the step's own timeout decides.
        let remaining = deadline.saturating_duration_since(Instant::now()).max(POLL);
        let look = async {
            Ok::<_, StepError>(match find_now(b, loc).await? {
                Some(found) if !visible || found.1.displayed => Some(found),
                _ => None,
            })
        };
        if let Ok(found) = tokio::time::timeout(remaining, look).await
            && let Some(el) = found?
        {
            return Ok(el);
        }
        if Instant::now() >= deadline {
            return Err(StepError::Assertion(format!(
                "no {}element found by {} within {} ms",
                if visible { "visible " } else { "" },
                loc.describe(),
                timeout.as_millis()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn js(b: &Browser, script: &str, args: Vec<Value>) -> Result<Value, StepError> {
    b.client.execute(script, args).await.map_err(classify)
}

fn el_arg(el: &Element) -> Value {
    json!({ ELEMENT_KEY: el.element_id().to_string() })
}

async fn page_text(b: &Browser) -> Result<String, StepError> {
    let v = js(
        b,
        "const parts = [document.body ? document.body.innerText : ''];
         const walk = (root) => { for (const el of root.querySelectorAll('*')) {
           if (el.shadowRoot) { parts.push(el.shadowRoot.textContent || ''); walk(el.shadowRoot); } } };
         walk(document); return parts.join('\\n');",
        vec![],
    )
    .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// What a CHECK's value asks for: a boolean, or (a checkbox group's list, a radio
/// group's choice) whether it names the box's own value.
async fn check_state(
    b: &Browser,
    el: &Element,
    values: &Values<'_>,
    template: &str,
) -> Result<bool, StepError> {
    let own = || async {
        Ok::<_, StepError>(
            js(b, "return arguments[0].value;", vec![el_arg(el)])
                .await?
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    if let Some(Value::Array(items)) = values.single_input(template) {
        let own = own().await?;
        return Ok(items.iter().any(|i| i.as_str() == Some(own.as_str())));
    }
    let v = values.render(template)?;
    Ok(match v.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" | "checked" => true,
        "false" | "off" | "no" | "0" | "" => false,
        _ => v == own().await?,
    })
}

async fn element_state(b: &Browser, el: &Element, state: &str) -> Result<bool, StepError> {
    let v = js(
        b,
        "const [el, state] = arguments;
         const r = el.getBoundingClientRect(); const st = getComputedStyle(el);
         const visible = r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none';
         switch (state) {
           case 'VISIBLE': return visible;
           case 'HIDDEN': return !visible;
           case 'ENABLED': return !el.disabled;
           case 'DISABLED': return !!el.disabled;
           case 'CHECKED': return !!el.checked;
           case 'UNCHECKED': return !el.checked;
           case 'VALID': return el.checkValidity ? el.checkValidity() : true;
           case 'INVALID': return el.checkValidity ? !el.checkValidity() : false;
         } return false;",
        vec![el_arg(el), json!(state)],
    )
    .await?;
    Ok(v.as_bool().unwrap_or(false))
}

/// Polls `check` until it holds or `timeout` passes; `Err` carries the last observation.
async fn until<F, Fut>(timeout: Duration, mut check: F) -> Result<(), StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Result<(), String>, StepError>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = "the condition did not hold".to_owned();
    loop {
        // A check still running at the deadline counts as not holding (see `find`).
        let remaining = deadline.saturating_duration_since(Instant::now()).max(POLL);
        if let Ok(result) = tokio::time::timeout(remaining, check()).await {
            match result? {
                Ok(()) => return Ok(()),
                Err(seen) => last = seen,
            }
        }
        if Instant::now() >= deadline {
            return Err(StepError::Assertion(format!(
                "{last} (after {} ms)",
                timeout.as_millis()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the current URL matches the regular expression `pattern`.
async fn url_matches(b: &Browser, pattern: &str, timeout: Duration) -> Result<(), StepError> {
    let re = regex::Regex::new(pattern).map_err(|e| StepError::Assertion(e.to_string()))?;
    until(timeout, || async {
        let now = b.client.current_url().await.map_err(classify)?;
        Ok(if re.is_match(now.as_str()) {
            Ok(())
        } else {
            Err(format!("the URL is {now}, not matching {pattern:?}"))
        })
    })
    .await
}

/// Waits until the page (open shadow roots included) shows `text`.
async fn on_page(b: &Browser, text: &str, timeout: Duration) -> Result<(), StepError> {
    until(timeout, || async {
        let page = page_text(b).await?;
        Ok(if page.contains(text) {
            Ok(())
        } else {
            Err(format!("the page does not show {text:?}"))
        })
    })
    .await
}

pub async fn run(
    b: &Browser,
    step: &Step,
    values: &Values<'_>,
    timeout: Duration,
    upload_dir: &std::path::Path,
) -> Result<Done, StepError> {
    // Locators are templates too: `{ label: "{{input.size}}" }` picks the radio to click.
    let rendered_locator = match &step.locator {
        Some(l) => Some(Locator {
            css: l.css.as_deref().map(|v| values.render(v)).transpose()?,
            xpath: l.xpath.as_deref().map(|v| values.render(v)).transpose()?,
            text: l.text.as_deref().map(|v| values.render(v)).transpose()?,
            label: l.label.as_deref().map(|v| values.render(v)).transpose()?,
        }),
        None => None,
    };
    let locator = || {
        rendered_locator
            .as_ref()
            .ok_or_else(|| StepError::Assertion("the step has no locator".into()))
    };
    let rendered = |raw: &Option<String>| -> Result<String, StepError> {
        values.render(raw.as_deref().unwrap_or_default())
    };
    // An element step for an input the scenario leaves out does nothing: the field keeps
    // what the page gave it (and one revealed only by another choice is not waited for).
    let acts_on_input = matches!(
        step.kind,
        StepKind::Fill
            | StepKind::Select
            | StepKind::Check
            | StepKind::Uncheck
            | StepKind::Click
            | StepKind::Upload
    );
    if acts_on_input {
        let mut templates = vec![step.value.as_deref()];
        if let Some(l) = &step.locator {
            templates.extend([
                l.css.as_deref(),
                l.xpath.as_deref(),
                l.text.as_deref(),
                l.label.as_deref(),
            ]);
        }
        if templates
            .into_iter()
            .flatten()
            .any(|t| values.references_absent(t))
        {
            return Ok(Done::default());
        }
    }
    match step.kind {
        StepKind::Goto => {
            let raw = rendered(&step.url)?;
            let url = values
                .base_url
                .join(&raw)
                .map_err(|e| StepError::Assertion(format!("{raw:?} is not a URL: {e}")))?;
            // Only the web goes through the egress proxy: a rendered `file:`, `data:` or
            // `javascript:` URL would go around it.
            if !matches!(url.scheme(), "http" | "https") {
                return Err(StepError::Assertion(format!(
                    "egress refused: {}: URLs are not opened (only http and https)",
                    url.scheme()
                )));
            }
            b.client.goto(url.as_str()).await.map_err(classify)?;
            Ok(Done::default())
        }
        StepKind::Fill => {
            let (el, facts) = find_with_facts(b, locator()?, timeout, true).await?;
            let value = rendered(&step.value)?;
            let (kind, max_length) = (facts.kind.as_str(), facts.max_length);
            // Typing into date and time inputs depends on the browser's locale: set those.
            // A value longer than `maxlength` is set too: typing would cut it short, and
            // a scenario that means to send it too long would silently send a valid one.
            let too_long = max_length >= 0 && value.chars().count() as i64 > max_length;
            if too_long
                || [
                    "date",
                    "time",
                    "datetime-local",
                    "month",
                    "week",
                    "color",
                    "range",
                ]
                .contains(&kind)
            {
                js(
                    b,
                    "const [el, v] = arguments; el.focus(); el.value = v;
                     el.dispatchEvent(new Event('input', { bubbles: true }));
                     el.dispatchEvent(new Event('change', { bubbles: true }));",
                    vec![el_arg(&el), json!(value)],
                )
                .await?;
            } else {
                if !facts.empty {
                    el.clear().await.map_err(classify)?;
                }
                el.send_keys(&value).await.map_err(classify)?;
            }
            Ok(Done::default())
        }
        StepKind::Select => {
            let el = find(b, locator()?, timeout, true).await?;
            let value = rendered(&step.value)?;
            let chosen = js(
                b,
                "const [el, v] = arguments;
                 const opt = [...el.options].find((o) => o.value === v) || [...el.options].find((o) => o.text.trim() === v);
                 // No value (an optional input left out): the select stays as it is.
                 if (!opt && v === '') return true;
                 if (!opt) return [...el.options].map((o) => o.value);
                 el.value = opt.value;
                 el.dispatchEvent(new Event('input', { bubbles: true }));
                 el.dispatchEvent(new Event('change', { bubbles: true }));
                 return true;",
                vec![el_arg(&el), json!(value)],
            )
            .await?;
            if chosen != json!(true) {
                return Err(StepError::Assertion(format!(
                    "no option {value:?}; the select offers {chosen}"
                )));
            }
            Ok(Done::default())
        }
        StepKind::Check | StepKind::Uncheck => {
            let el = find(b, locator()?, timeout, true).await?;
            let want = match (&step.kind, &step.value) {
                (StepKind::Uncheck, _) => false,
                (_, None) => true,
                (_, Some(t)) => check_state(b, &el, values, t).await?,
            };
            if el.is_selected().await.map_err(classify)? != want {
                el.click().await.map_err(classify)?;
            }
            if el.is_selected().await.map_err(classify)? != want {
                return Err(StepError::Assertion(format!(
                    "{} did not become {}",
                    locator()?.describe(),
                    if want { "checked" } else { "unchecked" }
                )));
            }
            Ok(Done::default())
        }
        StepKind::Click => {
            let el = find(b, locator()?, timeout, true).await?;
            let form_button = js(
                b,
                "const el = arguments[0];
                 const button = el.closest('button, input[type=submit], input[type=button], input[type=image], [role=button]');
                 return !!button && !!(button.form || button.closest('form'));",
                vec![el_arg(&el)],
            )
            .await?;
            let mark = b.mark_document().await;
            el.click().await.map_err(classify)?;
            Ok(Done {
                hands_over: form_button == json!(true),
                mark,
                ..Done::default()
            })
        }
        StepKind::Submit => {
            let located = match &rendered_locator {
                Some(loc) => el_arg(&find(b, loc, timeout, false).await?),
                None => Value::Null,
            };
            // One script: the form, what constraint validation says of it, its submit
            // button, and the document marked (see `Browser::settle`).
            let mark = DocumentMark::fresh();
            let seen = js(
                b,
                &format!(
                    "const [el, token] = arguments;
                     const f = el ? (el.tagName === 'FORM' ? el : (el.form || el.closest('form')))
                                  : (document.forms[0] || null);
                     if (!f) return null;
                     const invalid = f.noValidate ? [] : [...f.elements]
                       .filter((e) => e.willValidate && !e.checkValidity())
                       .map((e) => (e.name || e.id || e.type) + ': ' + e.validationMessage);
                     if (invalid.length) return {{ invalid }};
                     {MARK_JS}
                     return {{ invalid, form: f,
                       button: f.querySelector('button[type=submit], input[type=submit], button:not([type])') }};"
                ),
                vec![located, json!(mark.token())],
            )
            .await?;
            if seen.is_null() {
                return Err(StepError::Assertion("no form to submit".into()));
            }
            if let Some(list) = seen["invalid"].as_array().filter(|l| !l.is_empty()) {
                let fields: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                return Err(StepError::Refused(format!(
                    "the browser refused to submit the form: {}",
                    fields.join("; ")
                )));
            }
            // The form's own submit button when it has one, clicked through WebDriver (its
            // handlers run, and the driver waits for the navigation it starts); else
            // requestSubmit (submit events and validation, like a user pressing Enter).
            match seen["button"].get(ELEMENT_KEY).and_then(Value::as_str) {
                Some(id) => {
                    Element::from_element_id(b.client.clone(), id.to_owned().into())
                        .click()
                        .await
                        .map_err(classify)?;
                }
                None => {
                    js(
                        b,
                        "const f = arguments[0]; setTimeout(() => f.requestSubmit(), 0);",
                        vec![seen["form"].clone()],
                    )
                    .await?;
                }
            }
            Ok(Done {
                mark: Some(mark),
                ..Done::default()
            })
        }
        StepKind::Upload => {
            let el = find(b, locator()?, timeout, false).await?;
            let (name, bytes) = match step.value.as_deref().and_then(|v| values.single_input(v)) {
                Some(Value::Object(o)) => {
                    let name = o
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("upload.bin")
                        .to_owned();
                    let bytes = match (
                        o.get("base64").and_then(Value::as_str),
                        o.get("content").and_then(Value::as_str),
                    ) {
                        (Some(b64), _) => {
                            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
                                .map_err(|e| {
                                    StepError::Assertion(format!(
                                        "the file's base64 does not decode: {e}"
                                    ))
                                })?
                        }
                        (None, Some(text)) => text.as_bytes().to_vec(),
                        _ => Vec::new(),
                    };
                    (name, bytes)
                }
                _ => (
                    step.name.clone().unwrap_or_else(|| "upload.txt".into()),
                    rendered(&step.value)?.into_bytes(),
                ),
            };
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let path = upload_dir.join(if safe.is_empty() {
                "upload".into()
            } else {
                safe
            });
            std::fs::write(&path, bytes).map_err(|e| StepError::Infra(e.to_string()))?;
            el.send_keys(&path.display().to_string())
                .await
                .map_err(classify)?;
            Ok(Done::default())
        }
        StepKind::WaitFor => {
            if let Some(loc) = &rendered_locator {
                find(b, loc, timeout, true).await?;
            } else if step.text.is_some() {
                on_page(b, &rendered(&step.text)?, timeout).await?;
            } else {
                url_matches(b, &rendered(&step.url)?, timeout).await?;
            }
            Ok(Done::default())
        }
        StepKind::Assert => {
            match (&rendered_locator, &step.text, &step.url, &step.value) {
                (Some(loc), None, _, Some(state)) => {
                    let state = state.clone();
                    until(timeout, || async {
                        let Some((el, _)) = find_now(b, loc).await? else {
                            // An element that is not there is not shown either.
                            if state == "HIDDEN" {
                                return Ok(Ok(()));
                            }
                            return Ok(Err(format!("no element found by {}", loc.describe())));
                        };
                        Ok(if element_state(b, &el, &state).await? {
                            Ok(())
                        } else {
                            Err(format!(
                                "{} is not {}",
                                loc.describe(),
                                state.to_lowercase()
                            ))
                        })
                    })
                    .await?;
                }
                (Some(loc), Some(_), _, _) => {
                    let text = rendered(&step.text)?;
                    until(timeout, || async {
                        let Some((el, _)) = find_now(b, loc).await? else {
                            return Ok(Err(format!("no element found by {}", loc.describe())));
                        };
                        let has = el.text().await.map_err(classify)?;
                        Ok(if has.contains(&text) {
                            Ok(())
                        } else {
                            Err(format!("{} shows {has:?}, not {text:?}", loc.describe()))
                        })
                    })
                    .await?;
                }
                (None, Some(_), _, _) => {
                    on_page(b, &rendered(&step.text)?, timeout).await?;
                }
                _ => {
                    url_matches(b, &rendered(&step.url)?, timeout).await?;
                }
            }
            Ok(Done::default())
        }
        StepKind::Extract => {
            let el = find(b, locator()?, timeout, false).await?;
            let value = match &step.value {
                Some(attr) => js(b, "const [el, a] = arguments; const v = el[a]; return v === undefined || v === null ? el.getAttribute(a) : String(v);", vec![el_arg(&el), json!(attr)]).await?,
                None => js(b, "const el = arguments[0]; return ('value' in el && el.tagName !== 'BUTTON' && el.tagName !== 'LI') ? el.value : (el.innerText || el.textContent || '').trim();", vec![el_arg(&el)]).await?,
            };
            let name = step.name.clone().unwrap_or_else(|| "output".into());
            Ok(Done {
                output: Some((name, value)),
                ..Done::default()
            })
        }
        StepKind::Screenshot => Ok(Done {
            screenshot_name: Some(step.name.clone().unwrap_or_else(|| "screenshot".into())),
            ..Done::default()
        }),
        StepKind::EnterFrame => {
            let el = find(b, locator()?, timeout, false).await?;
            el.enter_frame().await.map_err(classify)?;
            Ok(Done::default())
        }
        StepKind::ExitFrame => {
            b.client.enter_parent_frame().await.map_err(classify)?;
            Ok(Done::default())
        }
    }
}
