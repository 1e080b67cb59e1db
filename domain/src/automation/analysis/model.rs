//! What a form analysis found, as the worker records it (the job's `result`) and the API
//! serves it: fields with their labels, constraints and where they live (frames, shadow
//! roots, wizard steps), the controls that move through the form, and what success
//! looked like when the analysis submitted it.

use serde::{Deserialize, Serialize};

use crate::automation::definition::{After, FieldType, InputField, Locator, ShownWhen};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// The page analyzed, after redirects (and after the login, when there was one).
    pub url: String,
    pub fields: Vec<AnalyzedField>,
    pub submit_control: Option<Control>,
    /// The form's pages: one for a plain form, one per wizard step.
    pub steps: Vec<WizardStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<Login>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<Success>,
    /// What the analysis could not do (a field no value was found for, a submission the
    /// site refused), in words.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// How long the analysis took in the browser.
    #[serde(default)]
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzedField {
    /// The input's name in a workflow built from the analysis (from the field's `name`,
    /// `id` or label; unique).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Where the label came from: `for`, `wrap`, `aria-label`, `aria-labelledby`,
    /// `placeholder`, `legend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_source: Option<String>,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// The element's own type (`text`, `select-one`, `textarea`, …).
    pub html_type: String,
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
    /// Values of a select's options (its empty placeholder left out), of a radio group
    /// or of a checkbox group.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    #[serde(default)]
    pub multiple: bool,
    pub locator: Locator,
    /// CSS locators of the iframes it is in, outermost first.
    #[serde(default)]
    pub frame_path: Vec<String>,
    /// CSS locators of the shadow hosts it is under, outermost first.
    #[serde(default)]
    pub shadow_path: Vec<String>,
    /// Never shown to a person (display:none, off-screen, a honeypot): reported, left
    /// empty, and kept out of workflows.
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub honeypot: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_reason: Option<String>,
    /// The wizard step (0-based) it appeared on.
    #[serde(default)]
    pub step_index: i32,
    /// The field whose choice revealed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealed_by: Option<String>,
    /// The choices of `revealedBy` that show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_when: Option<ShownWhen>,
    /// A rule of the page's script found by probing: it must come after this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
}

impl AnalyzedField {
    /// The workflow input this field becomes.
    pub fn input_field(&self) -> InputField {
        let t = self.field_type;
        InputField {
            name: self.name.clone(),
            field_type: t,
            required: self.required,
            min: self.min.clone().filter(|_| t.is_ranged()),
            max: self.max.clone().filter(|_| t.is_ranged()),
            step: self.step.clone().filter(|_| t.is_ranged()),
            min_length: self.min_length.filter(|_| t.has_length()),
            max_length: self.max_length.filter(|_| t.has_length()),
            pattern: self.pattern.clone().filter(|_| t.has_pattern()),
            options: if t.has_options() {
                self.options.clone()
            } else {
                vec![]
            },
            label: self.label.clone(),
            accept: self.accept.clone().filter(|_| t == FieldType::File),
            shown_when: self.shown_when.clone(),
            after: self.after.clone().filter(|_| t.is_ranged()),
        }
    }

    /// A person fills it: shown, and not a login field.
    pub fn is_input(&self) -> bool {
        !self.hidden && !self.honeypot
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    pub text: String,
    pub locator: Locator,
    #[serde(default)]
    pub frame_path: Vec<String>,
    /// A submit button of a form (else a plain button or link with a script behind it).
    pub submits_form: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WizardStep {
    pub index: i32,
    /// The control that moves to the next step; `None` on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Control>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    /// Login fields, each filled from the target secret it names.
    pub fields: Vec<LoginField>,
    pub submit: Control,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginField {
    pub locator: Locator,
    pub secret: String,
    #[serde(default)]
    pub frame_path: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Success {
    /// The URL after submitting, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A message that appeared (a heading, a status line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// How long after submitting it appeared.
    pub after_ms: i64,
    /// The iframes it appeared in (a form in a frame answers in the frame).
    #[serde(default)]
    pub frame_path: Vec<String>,
}
