//! Asking the LLM about what the rules cannot decide: free-text fields whose label means
//! something the fake-data crate does not know ("Company registration number"), and
//! fields no generated value satisfies (a pattern the sampler cannot read). One call per
//! generation asks for several values per field; each value is checked against the
//! field's constraints, and only those that pass are used.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::field_values::FieldGen;
use super::meaning::{self, Meaning};
use crate::automation::definition::{FieldType, InputField};
use crate::automation::values;
use crate::llm::client::{Answer, Client, LlmError};

/// Values asked per field, at most.
const PER_FIELD: usize = 10;
/// Fields asked about in one call, at most.
const MAX_FIELDS: usize = 20;

/// A field to ask about, and why.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub field: &'a InputField,
    pub why: &'static str,
}

/// The fields of `schema` the rules cannot decide.
pub fn undecided(schema: &[InputField], seed: i64) -> Vec<Question<'_>> {
    schema
        .iter()
        .filter_map(|f| {
            let g = FieldGen::new(f);
            if g.valid(&mut super::rng(seed, super::BASE, 0)).is_err() {
                return Some(Question {
                    field: f,
                    why: "no generated value satisfies its constraints",
                });
            }
            let free_text = matches!(f.field_type, FieldType::Text | FieldType::Textarea)
                && f.pattern.is_none()
                && f.label.is_some();
            (free_text && meaning::of(f) == Meaning::Generic).then_some(Question {
                field: f,
                why: "its label says what it is, and the rules do not know it",
            })
        })
        .take(MAX_FIELDS)
        .collect()
}

/// The user message: each field with its label and constraints, as JSON.
fn prompt(questions: &[Question], count: usize) -> String {
    let fields: Vec<Value> = questions
        .iter()
        .map(|q| {
            let f = q.field;
            json!({
                "name": f.name,
                "label": f.label,
                "type": f.field_type.as_str(),
                "required": f.required,
                "minLength": f.min_length,
                "maxLength": f.max_length,
                "pattern": f.pattern,
                "min": f.min,
                "max": f.max,
            })
        })
        .collect();
    format!(
        "Give {count} distinct, realistic values for each of these web form fields. Each value must satisfy the field's constraints (a pattern is a regular expression the whole value matches). Answer with JSON: {{\"values\": {{\"<field name>\": [\"value\", …]}}}}.\n\nFields:\n{}",
        serde_json::to_string_pretty(&fields).unwrap_or_default()
    )
}

fn schema_for(questions: &[Question]) -> Value {
    let props: serde_json::Map<String, Value> = questions
        .iter()
        .map(|q| {
            (
                q.field.name.clone(),
                json!({ "type": "array", "items": { "type": "string" } }),
            )
        })
        .collect();
    let names: Vec<&str> = questions.iter().map(|q| q.field.name.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "values": {
                "type": "object",
                "properties": props,
                "required": names,
                "additionalProperties": false,
            }
        },
        "required": ["values"],
        "additionalProperties": false,
    })
}

/// What one call gave.
#[derive(Debug, Default)]
pub struct Suggestions {
    /// Field → values that passed its constraints.
    pub accepted: BTreeMap<String, Vec<String>>,
    /// Values the model gave that broke a constraint.
    pub refused: usize,
}

pub async fn ask(
    client: &Client,
    questions: &[Question<'_>],
    count: usize,
    seed: i64,
) -> Result<(Suggestions, Answer), LlmError> {
    let count = count.clamp(1, PER_FIELD);
    let answer = client
        .json(
            "You write test data for web forms. Answer only with the JSON asked for.",
            &prompt(questions, count),
            "form_field_values",
            schema_for(questions),
            seed,
        )
        .await?;
    let Some(given) = answer.content["values"].as_object() else {
        return Err(LlmError::Malformed {
            why: "no \"values\" object".into(),
            tokens: answer.tokens,
        });
    };
    let mut out = Suggestions::default();
    for q in questions {
        let Some(list) = given.get(&q.field.name).and_then(Value::as_array) else {
            continue;
        };
        for v in list.iter().take(PER_FIELD) {
            let Some(text) = v.as_str() else {
                out.refused += 1;
                continue;
            };
            let ok = values::violation(q.field, &json!(text)).is_none() && !text.is_empty();
            let entry = out.accepted.entry(q.field.name.clone()).or_default();
            if ok && !entry.iter().any(|e| e == text) {
                entry.push(text.to_owned());
            } else if !ok {
                out.refused += 1;
            }
        }
    }
    out.accepted.retain(|_, v| !v.is_empty());
    Ok((out, answer))
}
