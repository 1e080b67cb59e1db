//! What a workflow is made of: its input schema (fields with HTML-like types and
//! constraints) and its steps (browser actions over locators, with values that are
//! templates over the scenario's inputs and the target's secrets). Both are stored as JSON
//! in the draft and in each published version, and validated as a whole on every save so
//! the author sees every problem at once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::values;

pub const MAX_FIELDS: usize = 100;
pub const MAX_STEPS: usize = 200;
pub const MAX_TEXT: usize = 10_000;
pub const MAX_STEP_TIMEOUT_MS: i32 = 600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldType {
    Text,
    Email,
    Number,
    Date,
    Time,
    Datetime,
    Tel,
    Url,
    Password,
    Textarea,
    Select,
    Radio,
    Checkbox,
    File,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "TEXT",
            FieldType::Email => "EMAIL",
            FieldType::Number => "NUMBER",
            FieldType::Date => "DATE",
            FieldType::Time => "TIME",
            FieldType::Datetime => "DATETIME",
            FieldType::Tel => "TEL",
            FieldType::Url => "URL",
            FieldType::Password => "PASSWORD",
            FieldType::Textarea => "TEXTAREA",
            FieldType::Select => "SELECT",
            FieldType::Radio => "RADIO",
            FieldType::Checkbox => "CHECKBOX",
            FieldType::File => "FILE",
        }
    }

    /// `min`, `max` and `step` apply (as in HTML).
    pub fn is_ranged(self) -> bool {
        matches!(
            self,
            FieldType::Number | FieldType::Date | FieldType::Time | FieldType::Datetime
        )
    }

    /// `minLength`, `maxLength` apply.
    pub fn has_length(self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::Email
                | FieldType::Tel
                | FieldType::Url
                | FieldType::Password
                | FieldType::Textarea
        )
    }

    /// `pattern` applies (HTML ignores it on a textarea).
    pub fn has_pattern(self) -> bool {
        self.has_length() && self != FieldType::Textarea
    }

    pub fn has_options(self) -> bool {
        matches!(
            self,
            FieldType::Select | FieldType::Radio | FieldType::Checkbox
        )
    }
}

/// One input of a workflow. `min`, `max` and `step` are written as in HTML attributes
/// (`"18"`, `"2024-01-31"`, `"09:00"`), interpreted by the field's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputField {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// What the page calls the field ("Company registration number"): generation reads
    /// it to pick realistic values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A FILE field's `accept` (`.pdf,image/*`): generated files match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    /// The page shows the field only for some choices of an earlier field (a select
    /// revealing more inputs); otherwise it is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_when: Option<ShownWhen>,
    /// The value must come after an earlier field's of the same type (an end date after
    /// its start date): a rule of the page's own script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShownWhen {
    pub field: String,
    /// The trigger's values that show it (`"true"` for a checkbox).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct After {
    pub field: String,
    /// The same value is allowed too.
    #[serde(default)]
    pub or_equal: bool,
}

impl InputField {
    /// An optional field without constraints.
    pub fn new(name: &str, field_type: FieldType) -> Self {
        InputField {
            name: name.to_owned(),
            field_type,
            required: false,
            min: None,
            max: None,
            step: None,
            min_length: None,
            max_length: None,
            pattern: None,
            options: vec![],
            label: None,
            accept: None,
            shown_when: None,
            after: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepKind {
    Goto,
    Fill,
    Select,
    Check,
    Uncheck,
    Click,
    Submit,
    Upload,
    WaitFor,
    Assert,
    Extract,
    Screenshot,
    EnterFrame,
    ExitFrame,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Goto => "GOTO",
            StepKind::Fill => "FILL",
            StepKind::Select => "SELECT",
            StepKind::Check => "CHECK",
            StepKind::Uncheck => "UNCHECK",
            StepKind::Click => "CLICK",
            StepKind::Submit => "SUBMIT",
            StepKind::Upload => "UPLOAD",
            StepKind::WaitFor => "WAIT_FOR",
            StepKind::Assert => "ASSERT",
            StepKind::Extract => "EXTRACT",
            StepKind::Screenshot => "SCREENSHOT",
            StepKind::EnterFrame => "ENTER_FRAME",
            StepKind::ExitFrame => "EXIT_FRAME",
        }
    }
}

/// How a step finds its element: exactly one strategy is set (checked on save).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub css: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xpath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A locator's one strategy. `Label` finds a form field by its `<label for>`, a wrapping
/// label, `aria-label`, `aria-labelledby` or placeholder. All of them also search open
/// shadow roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy<'a> {
    Css(&'a str),
    Xpath(&'a str),
    Text(&'a str),
    Label(&'a str),
}

impl Locator {
    fn set(&self) -> Vec<Strategy<'_>> {
        [
            self.css.as_deref().map(Strategy::Css),
            self.xpath.as_deref().map(Strategy::Xpath),
            self.text.as_deref().map(Strategy::Text),
            self.label.as_deref().map(Strategy::Label),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The strategy, when exactly one is set.
    pub fn strategy(&self) -> Option<Strategy<'_>> {
        let mut set = self.set();
        (set.len() == 1).then(|| set.remove(0))
    }

    pub fn describe(&self) -> String {
        match self.strategy() {
            Some(Strategy::Css(s)) => format!("css {s:?}"),
            Some(Strategy::Xpath(s)) => format!("xpath {s:?}"),
            Some(Strategy::Text(s)) => format!("text {s:?}"),
            Some(Strategy::Label(s)) => format!("label {s:?}"),
            None => "an invalid locator".to_owned(),
        }
    }
}

/// The element states an `ASSERT` with a locator can check (its `value`).
pub const ELEMENT_STATES: &[&str] = &[
    "VISIBLE",
    "HIDDEN",
    "ENABLED",
    "DISABLED",
    "CHECKED",
    "UNCHECKED",
    "VALID",
    "INVALID",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub kind: StepKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<Locator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A piece of a value template: `Hello {{input.name}}` is a literal and an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Input(String),
    Secret(String),
}

/// Parses `{{input.NAME}}` and `{{secret.NAME}}` references (spaces inside the braces are
/// allowed); anything else between `{{` and `}}` is an error.
pub fn parse_template(raw: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Segment::Literal(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "an unclosed `{{` (references look like {{input.name}})".to_owned())?;
        let inner = after[..end].trim();
        let segment = match inner.split_once('.') {
            Some(("input", name)) if values::valid_field_name(name) => {
                Segment::Input(name.to_owned())
            }
            Some(("secret", name)) if super::targets::valid_secret_name(name) => {
                Segment::Secret(name.to_owned())
            }
            _ => {
                return Err(format!(
                    "`{{{{{inner}}}}}` is not a reference; use {{{{input.FIELD}}}} or {{{{secret.NAME}}}}"
                ));
            }
        };
        out.push(segment);
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Segment::Literal(rest.to_owned()));
    }
    Ok(out)
}

/// Every problem of an input schema, under `prefix` (e.g. `inputSchema`).
pub fn check_schema(p: &mut Problems, prefix: &str, fields: &[InputField]) {
    if fields.len() > MAX_FIELDS {
        p.add(prefix, format!("at most {MAX_FIELDS} fields"));
    }
    let mut seen = BTreeSet::new();
    for (i, f) in fields.iter().enumerate() {
        let at = |what: &str| format!("{prefix}[{i}].{what}");
        if !values::valid_field_name(&f.name) {
            p.add(
                at("name"),
                "1 to 64 letters, digits, `_` or `-`, starting with a letter or `_`",
            );
        } else if !seen.insert(f.name.as_str()) {
            p.add(at("name"), format!("{:?} is already a field", f.name));
        }
        let t = f.field_type;
        for (what, set) in [("min", &f.min), ("max", &f.max)] {
            let Some(raw) = set else { continue };
            if !t.is_ranged() {
                p.add(at(what), format!("not used by {} fields", t.as_str()));
            } else if values::parse_ranged(t, raw).is_none() {
                p.add(
                    at(what),
                    format!("{raw:?} is not a {} value", t.as_str().to_lowercase()),
                );
            }
        }
        if let (Some(min), Some(max)) = (&f.min, &f.max)
            && let (Some(lo), Some(hi)) =
                (values::parse_ranged(t, min), values::parse_ranged(t, max))
            && lo > hi
        {
            p.add(at("max"), "must not be below min");
        }
        if let Some(step) = &f.step {
            if !t.is_ranged() {
                p.add(at("step"), format!("not used by {} fields", t.as_str()));
            } else if step != "any" && !step.parse::<f64>().is_ok_and(|s| s > 0.0 && s.is_finite())
            {
                p.add(at("step"), "a positive number, or \"any\"");
            }
        }
        for (what, set) in [("minLength", f.min_length), ("maxLength", f.max_length)] {
            if set.is_some() && !t.has_length() {
                p.add(at(what), format!("not used by {} fields", t.as_str()));
            }
            if set.is_some_and(|n| n < 0 || n as usize > values::MAX_VALUE_CHARS) {
                p.add(
                    at(what),
                    format!("between 0 and {}", values::MAX_VALUE_CHARS),
                );
            }
        }
        if let (Some(lo), Some(hi)) = (f.min_length, f.max_length)
            && lo > hi
        {
            p.add(at("maxLength"), "must not be below minLength");
        }
        if let Some(pattern) = &f.pattern {
            if !t.has_pattern() {
                p.add(at("pattern"), format!("not used by {} fields", t.as_str()));
            } else if let Err(e) = values::compile_pattern(pattern) {
                p.add(at("pattern"), e);
            }
        }
        if let Some(w) = &f.shown_when {
            match fields[..i].iter().find(|o| o.name == w.field) {
                None => p.add(at("shownWhen.field"), "the name of an earlier field"),
                Some(o) if !o.field_type.has_options() => {
                    p.add(at("shownWhen.field"), "a SELECT, RADIO or CHECKBOX field")
                }
                Some(_) if w.values.is_empty() || w.values.len() > 100 => {
                    p.add(at("shownWhen.values"), "1 to 100 values")
                }
                Some(_) => {}
            }
        }
        if let Some(a) = &f.after {
            match fields[..i].iter().find(|o| o.name == a.field) {
                None => p.add(at("after.field"), "the name of an earlier field"),
                Some(o) if o.field_type != t || !t.is_ranged() => p.add(
                    at("after.field"),
                    "a field of the same NUMBER, DATE, TIME or DATETIME type",
                ),
                Some(_) => {}
            }
        }
        if f.label.as_ref().is_some_and(|l| l.chars().count() > 500) {
            p.add(at("label"), "at most 500 characters");
        }
        if let Some(accept) = &f.accept {
            if t != FieldType::File {
                p.add(at("accept"), format!("not used by {} fields", t.as_str()));
            } else if accept.len() > 500 {
                p.add(at("accept"), "at most 500 characters");
            }
        }
        if t.has_options() {
            if f.options.is_empty() && t != FieldType::Checkbox {
                p.add(
                    at("options"),
                    format!("{} fields need their options", t.as_str()),
                );
            }
            let distinct: BTreeSet<&String> = f.options.iter().collect();
            if distinct.len() != f.options.len() {
                p.add(at("options"), "options must be distinct");
            }
            if f.options.len() > 1000 || f.options.iter().any(|o| o.len() > 500) {
                p.add(at("options"), "at most 1000 options of 500 characters");
            }
        } else if !f.options.is_empty() {
            p.add(at("options"), format!("not used by {} fields", t.as_str()));
        }
    }
}

/// Every problem of a step list, under `prefix` (e.g. `steps`). `fields` are the input
/// names templates may reference; `hosts` checks absolute `GOTO` URLs.
pub fn check_steps(
    p: &mut Problems,
    prefix: &str,
    steps: &[Step],
    fields: &[InputField],
    host_allowed: &dyn Fn(&str) -> bool,
) {
    if steps.len() > MAX_STEPS {
        p.add(prefix, format!("at most {MAX_STEPS} steps"));
    }
    let names: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let mut frames = 0i32;
    let mut outputs = BTreeSet::new();
    for (i, s) in steps.iter().enumerate() {
        let at = |what: &str| format!("{prefix}[{i}].{what}");
        let kind = s.kind.as_str();
        let need = |p: &mut Problems, what: &str, present: bool| {
            if !present {
                p.add(at(what), format!("required by {kind}"));
            }
        };
        let unused = |p: &mut Problems, what: &str, present: bool| {
            if present {
                p.add(at(what), format!("not used by {kind}"));
            }
        };
        let (url, loc, value, text) = (
            s.url.is_some(),
            s.locator.is_some(),
            s.value.is_some(),
            s.text.is_some(),
        );
        match s.kind {
            StepKind::Goto => {
                need(p, "url", url);
                unused(p, "locator", loc);
                unused(p, "value", value);
                unused(p, "text", text);
            }
            StepKind::Fill | StepKind::Select | StepKind::Upload => {
                need(p, "locator", loc);
                need(p, "value", value);
                unused(p, "url", url);
                unused(p, "text", text);
            }
            // CHECK's optional value sets the state: `{{input.terms}}` (true/false), a
            // checkbox group's list (checked when it holds the box's value).
            StepKind::Check => {
                need(p, "locator", loc);
                unused(p, "url", url);
                unused(p, "text", text);
            }
            StepKind::Uncheck | StepKind::Click | StepKind::EnterFrame => {
                need(p, "locator", loc);
                unused(p, "url", url);
                unused(p, "value", value);
                unused(p, "text", text);
            }
            StepKind::Submit | StepKind::Screenshot => {
                if s.kind == StepKind::Screenshot {
                    unused(p, "locator", loc);
                }
                unused(p, "url", url);
                unused(p, "value", value);
                unused(p, "text", text);
            }
            StepKind::ExitFrame => {
                unused(p, "locator", loc);
                unused(p, "url", url);
                unused(p, "value", value);
                unused(p, "text", text);
            }
            StepKind::WaitFor => {
                if [url, loc, text].iter().filter(|b| **b).count() != 1 {
                    p.add(
                        at("kind"),
                        "WAIT_FOR needs exactly one of locator (visible), text (present) or url (matches)",
                    );
                }
                unused(p, "value", value);
            }
            StepKind::Assert => {
                let ok = matches!(
                    (url, loc, text, value),
                    (true, false, false, false)
                        | (false, false, true, false)
                        | (false, true, false, true)
                        | (false, true, true, false)
                );
                if !ok {
                    p.add(
                        at("kind"),
                        "ASSERT checks one of: url (matches), text (on the page), locator + text (element contains), locator + value (element state)",
                    );
                }
                if loc
                    && let Some(state) = &s.value
                    && !ELEMENT_STATES.contains(&state.as_str())
                {
                    p.add(
                        at("value"),
                        format!("an element state: one of {}", ELEMENT_STATES.join(", ")),
                    );
                }
            }
            StepKind::Extract => {
                need(p, "locator", loc);
                need(p, "name", s.name.is_some());
                unused(p, "url", url);
                unused(p, "text", text);
                if let Some(n) = &s.name {
                    if !values::valid_field_name(n) {
                        p.add(at("name"), "an output name: letters, digits, `_` or `-`");
                    } else if !outputs.insert(n.clone()) {
                        p.add(at("name"), format!("output {n:?} is already extracted"));
                    }
                }
            }
        }
        if let Some(loc) = &s.locator {
            match loc.set().as_slice() {
                [one] => {
                    let (what, raw) = match one {
                        Strategy::Css(v) => ("css", v),
                        Strategy::Xpath(v) => ("xpath", v),
                        Strategy::Text(v) => ("text", v),
                        Strategy::Label(v) => ("label", v),
                    };
                    if raw.trim().is_empty() || raw.len() > 2000 {
                        p.add(
                            format!("{prefix}[{i}].locator.{what}"),
                            "1 to 2000 characters",
                        );
                    }
                }
                _ => p.add(at("locator"), "exactly one of css, xpath, text or label"),
            }
        }
        if let Some(t) = s.timeout_ms
            && !(1..=MAX_STEP_TIMEOUT_MS).contains(&t)
        {
            p.add(
                at("timeoutMs"),
                format!("between 1 and {MAX_STEP_TIMEOUT_MS}"),
            );
        }
        if s.name.as_ref().is_some_and(|n| n.len() > 200) {
            p.add(at("name"), "at most 200 characters");
        }
        let locator_values = s.locator.as_ref().map(|l| {
            [
                ("locator.css", &l.css),
                ("locator.xpath", &l.xpath),
                ("locator.text", &l.text),
                ("locator.label", &l.label),
            ]
        });
        for (what, raw) in [("url", &s.url), ("value", &s.value), ("text", &s.text)]
            .into_iter()
            .chain(locator_values.into_iter().flatten())
        {
            let Some(raw) = raw else { continue };
            if raw.len() > MAX_TEXT {
                p.add(at(what), format!("at most {MAX_TEXT} characters"));
                continue;
            }
            match parse_template(raw) {
                Err(e) => p.add(at(what), e),
                Ok(segments) => {
                    for seg in segments {
                        if let Segment::Input(n) = seg
                            && !names.contains(n.as_str())
                        {
                            p.add(
                                at(what),
                                format!("{{{{input.{n}}}}} is not a field of the input schema"),
                            );
                        }
                    }
                }
            }
        }
        // A URL to match is a regular expression; a URL to open is a path or an allowed URL.
        if let Some(u) = &s.url {
            match s.kind {
                StepKind::WaitFor | StepKind::Assert => {
                    if let Err(e) = regex::Regex::new(u) {
                        p.add(at("url"), format!("not a regular expression: {e}"));
                    }
                }
                StepKind::Goto if !u.starts_with('/') && !u.starts_with("{{") => {
                    match url::Url::parse(u) {
                        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                            let host = parsed.host_str().unwrap_or_default();
                            if !host_allowed(host) {
                                p.add(
                                    at("url"),
                                    format!("{host} is not among the target's allowed hosts"),
                                );
                            }
                        }
                        _ => p.add(
                            at("url"),
                            "a path starting with `/` or an http(s) URL on an allowed host",
                        ),
                    }
                }
                _ => {}
            }
        }
        match s.kind {
            StepKind::EnterFrame => frames += 1,
            StepKind::ExitFrame => {
                frames -= 1;
                if frames < 0 {
                    p.add(at("kind"), "EXIT_FRAME outside any frame");
                    frames = 0;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("Hi {{ input.first_name }}, {{secret.pw}}!").unwrap(),
            vec![
                Segment::Literal("Hi ".into()),
                Segment::Input("first_name".into()),
                Segment::Literal(", ".into()),
                Segment::Secret("pw".into()),
                Segment::Literal("!".into()),
            ]
        );
        assert!(parse_template("{{input.x").is_err());
        assert!(parse_template("{{env.HOME}}").is_err());
        assert_eq!(parse_template("").unwrap(), vec![]);
    }
}
