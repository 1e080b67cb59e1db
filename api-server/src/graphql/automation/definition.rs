//! A workflow's input schema and steps on the wire: the domain's definition field for
//! field, so the domain validates everything and one save reports every problem.

use async_graphql::{Enum, InputObject, SimpleObject};
use domain::automation::definition as def;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "def::FieldType")]
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

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "def::StepKind")]
pub enum StepKind {
    /// Opens `url`: a path on the target's base URL or an absolute URL on an allowed host.
    Goto,
    /// Types `value` into the field at `locator` (replacing what it held). Steps whose
    /// `value` (or locator) is one input the scenario leaves out are skipped: the field
    /// stays as the page has it.
    Fill,
    /// Chooses the option of the select at `locator` whose value or label is `value`.
    Select,
    /// Checks the checkbox or radio at `locator`. With a `value`, sets the state it
    /// says: `true`/`false` (`{{input.terms}}`), or for a checkbox group's list, checked
    /// when the list holds the box's value.
    Check,
    Uncheck,
    Click,
    /// Submits the form of the element at `locator` (or the page's first form). A
    /// submission the browser refuses (constraint validation) is a `VALIDATION_ERROR`.
    Submit,
    /// Attaches the file `value` (a FILE input's template) to the file input at `locator`.
    Upload,
    /// Waits until the element at `locator` is visible, `text` is on the page, or the URL
    /// matches the regular expression `url`; at most `timeoutMs`.
    WaitFor,
    /// Checks `url` (regular expression), `text` (on the page), `locator` + `text` (the
    /// element contains it) or `locator` + `value` (an element state: VISIBLE, HIDDEN,
    /// ENABLED, DISABLED, CHECKED, UNCHECKED, VALID, INVALID).
    Assert,
    /// Reads the element's text (or its attribute `value`) into the output `name`.
    Extract,
    Screenshot,
    /// Enters the iframe at `locator`; later steps act inside it.
    EnterFrame,
    /// Back to the parent frame.
    ExitFrame,
}

/// One input of a workflow. `min`, `max` and `step` are written as in HTML attributes
/// (`"18"`, `"2024-01-31"`, `"09:30"`) and read by the field's type.
#[derive(InputObject)]
pub struct InputFieldInput {
    pub name: String,
    #[graphql(name = "type")]
    pub field_type: FieldType,
    #[graphql(default)]
    pub required: bool,
    pub min: Option<String>,
    pub max: Option<String>,
    pub step: Option<String>,
    pub min_length: Option<i32>,
    pub max_length: Option<i32>,
    /// A regular expression the whole value must match (as HTML's `pattern`).
    pub pattern: Option<String>,
    /// The choices of SELECT and RADIO fields, or of a CHECKBOX group.
    pub options: Option<Vec<String>>,
    /// What the page calls the field; scenario generation reads it to pick realistic
    /// values (a "Company" gets a company name).
    pub label: Option<String>,
    /// A FILE field's accepted types, as HTML's `accept` (`.pdf,image/*`).
    pub accept: Option<String>,
    /// The page shows this field only for some values of an earlier choice field.
    pub shown_when: Option<ShownWhenInput>,
    /// The value must come after an earlier field's of the same type (end after start).
    pub after: Option<AfterInput>,
}

#[derive(InputObject)]
pub struct ShownWhenInput {
    /// An earlier SELECT, RADIO or CHECKBOX field.
    pub field: String,
    /// Its values that show this field (`"true"` for a lone checkbox).
    pub values: Vec<String>,
}

#[derive(InputObject)]
pub struct AfterInput {
    pub field: String,
    /// The same value is allowed too.
    #[graphql(default)]
    pub or_equal: bool,
}

#[derive(SimpleObject)]
pub struct ShownWhen {
    pub field: String,
    pub values: Vec<String>,
}

#[derive(SimpleObject)]
pub struct After {
    pub field: String,
    pub or_equal: bool,
}

#[derive(SimpleObject)]
pub struct InputField {
    pub name: String,
    #[graphql(name = "type")]
    pub field_type: FieldType,
    pub required: bool,
    pub min: Option<String>,
    pub max: Option<String>,
    pub step: Option<String>,
    pub min_length: Option<i32>,
    pub max_length: Option<i32>,
    pub pattern: Option<String>,
    pub options: Vec<String>,
    pub label: Option<String>,
    pub accept: Option<String>,
    pub shown_when: Option<ShownWhen>,
    pub after: Option<After>,
}

/// Exactly one strategy. `label` finds a field by its `<label for>`, a wrapping label,
/// `aria-label`, `aria-labelledby` or placeholder; all of them search open shadow roots.
#[derive(InputObject)]
pub struct LocatorInput {
    pub css: Option<String>,
    pub xpath: Option<String>,
    /// An element whose visible text is this (links, buttons, …).
    pub text: Option<String>,
    pub label: Option<String>,
}

#[derive(SimpleObject)]
pub struct Locator {
    pub css: Option<String>,
    pub xpath: Option<String>,
    pub text: Option<String>,
    pub label: Option<String>,
}

/// One step. Which of `url`, `locator`, `value`, `text` and `name` a kind needs is
/// described on `StepKind`; `value`, `url` and `text` are templates over the scenario's
/// inputs and the target's secrets: `{{input.email}}`, `{{secret.password}}`.
#[derive(InputObject)]
pub struct StepInput {
    pub kind: StepKind,
    pub url: Option<String>,
    pub locator: Option<LocatorInput>,
    pub value: Option<String>,
    pub text: Option<String>,
    /// This step's limit (default 30000).
    pub timeout_ms: Option<i32>,
    /// EXTRACT: the output's name; SCREENSHOT: the artifact's; UPLOAD: the file's.
    pub name: Option<String>,
}

#[derive(SimpleObject)]
pub struct Step {
    pub kind: StepKind,
    pub url: Option<String>,
    pub locator: Option<Locator>,
    pub value: Option<String>,
    pub text: Option<String>,
    pub timeout_ms: Option<i32>,
    pub name: Option<String>,
}

pub fn schema_into_domain(input: Vec<InputFieldInput>) -> Vec<def::InputField> {
    input
        .into_iter()
        .map(|f| def::InputField {
            name: f.name,
            field_type: f.field_type.into(),
            required: f.required,
            min: f.min,
            max: f.max,
            step: f.step,
            min_length: f.min_length,
            max_length: f.max_length,
            pattern: f.pattern,
            options: f.options.unwrap_or_default(),
            label: f.label,
            accept: f.accept,
            shown_when: f.shown_when.map(|w| def::ShownWhen {
                field: w.field,
                values: w.values,
            }),
            after: f.after.map(|a| def::After {
                field: a.field,
                or_equal: a.or_equal,
            }),
        })
        .collect()
}

pub fn steps_into_domain(input: Vec<StepInput>) -> Vec<def::Step> {
    input
        .into_iter()
        .map(|s| def::Step {
            kind: s.kind.into(),
            url: s.url,
            locator: s.locator.map(|l| def::Locator {
                css: l.css,
                xpath: l.xpath,
                text: l.text,
                label: l.label,
            }),
            value: s.value,
            text: s.text,
            timeout_ms: s.timeout_ms,
            name: s.name,
        })
        .collect()
}

impl From<def::InputField> for InputField {
    fn from(f: def::InputField) -> Self {
        InputField {
            name: f.name,
            field_type: f.field_type.into(),
            required: f.required,
            min: f.min,
            max: f.max,
            step: f.step,
            min_length: f.min_length,
            max_length: f.max_length,
            pattern: f.pattern,
            options: f.options,
            label: f.label,
            accept: f.accept,
            shown_when: f.shown_when.map(|w| ShownWhen {
                field: w.field,
                values: w.values,
            }),
            after: f.after.map(|a| After {
                field: a.field,
                or_equal: a.or_equal,
            }),
        }
    }
}

impl From<def::Step> for Step {
    fn from(s: def::Step) -> Self {
        Step {
            kind: s.kind.into(),
            url: s.url,
            locator: s.locator.map(|l| Locator {
                css: l.css,
                xpath: l.xpath,
                text: l.text,
                label: l.label,
            }),
            value: s.value,
            text: s.text,
            timeout_ms: s.timeout_ms,
            name: s.name,
        }
    }
}
