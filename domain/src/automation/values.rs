//! Input values against a field's type and constraints, with the browser's own rules
//! (HTML constraint validation): what a `VALID` or `BOUNDARY` scenario must satisfy and
//! what scenario generation checks every value against before saving it.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use regex::Regex;
use serde_json::Value;

use super::definition::{FieldType, InputField};

pub const MAX_VALUE_CHARS: usize = 100_000;
/// A FILE input's content, base64 or text.
pub const MAX_FILE_BYTES: usize = 5 << 20;

/// Field, output and template names: 1 to 64 letters, digits, `_` or `-`.
pub fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// HTML's `pattern` matches the whole value. Compiled patterns are kept (a few hundred):
/// generation checks thousands of values against the same few.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Regex>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = compile_uncached(pattern)?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 512 {
            c.clear();
        }
        c.insert(pattern.to_owned(), re.clone());
    }
    Ok(re)
}

fn compile_uncached(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > 1000 {
        return Err("at most 1000 characters".into());
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(s) => format!(
                "not a supported regular expression (look-around and back-references are not): {}",
                s.lines().last().unwrap_or_default()
            ),
            other => format!("not a supported regular expression: {other}"),
        })
}

/// The browser's e-mail rule (WHATWG "valid e-mail address").
fn email_regex() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$",
        )
        .expect("the e-mail rule compiles")
    })
}

/// A ranged value as a number to compare and step, in the unit HTML's `step` counts:
/// NUMBER as is, DATE in days, TIME in seconds of the day, DATETIME in seconds.
pub fn parse_ranged(t: FieldType, raw: &str) -> Option<f64> {
    let raw = raw.trim();
    match t {
        FieldType::Number => raw.parse::<f64>().ok().filter(|v| v.is_finite()),
        FieldType::Date => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .map(|d| (d - NaiveDate::default()).num_days() as f64),
        FieldType::Time => parse_time(raw).map(|t| t.num_seconds_from_midnight() as f64),
        FieldType::Datetime => parse_datetime(raw).map(|d| d.and_utc().timestamp() as f64),
        _ => None,
    }
}

fn parse_time(raw: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .ok()
}

fn parse_datetime(raw: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}

/// `Value::Null`, an empty string, `false` for a lone checkbox and an empty list count as
/// "not given" for `required`.
pub fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// The value as the browser would hold it in the field (what FILL types).
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Why `value` breaks `field`'s type or constraints, or `None` when the browser would
/// accept it. `None` for a blank optional field.
pub fn violation(field: &InputField, value: &Value) -> Option<String> {
    let t = field.field_type;
    // A lone checkbox's `false` is a value (checked below), not an absent one.
    let absent = !matches!(value, Value::Bool(_)) && is_blank(value);
    if absent {
        return field.required.then(|| "required".to_owned());
    }
    match t {
        FieldType::Checkbox => {
            if field.options.is_empty() {
                return match value {
                    Value::Bool(true) => None,
                    Value::Bool(false) if field.required => {
                        Some("required (must be checked)".into())
                    }
                    Value::Bool(false) => None,
                    _ => Some("true or false".into()),
                };
            }
            let Value::Array(items) = value else {
                return Some("a list of the checked options".into());
            };
            for item in items {
                match item.as_str() {
                    Some(s) if field.options.iter().any(|o| o == s) => {}
                    _ => return Some(format!("{item} is not one of the options")),
                }
            }
            None
        }
        FieldType::Select | FieldType::Radio => match value.as_str() {
            Some(s) if field.options.iter().any(|o| o == s) => None,
            _ => Some(format!("one of the options ({})", field.options.join(", "))),
        },
        FieldType::File => match value {
            Value::String(s) if s.len() <= MAX_FILE_BYTES => None,
            Value::Object(o)
                if o.get("name").and_then(Value::as_str).is_some()
                    && (o.get("content").and_then(Value::as_str).is_some()
                        || o.get("base64").and_then(Value::as_str).is_some()) =>
            {
                let size = o
                    .get("content")
                    .or(o.get("base64"))
                    .and_then(Value::as_str)
                    .map_or(0, str::len);
                (size > MAX_FILE_BYTES).then(|| format!("at most {MAX_FILE_BYTES} bytes"))
            }
            _ => Some("a file: { name, content } or { name, base64 }".into()),
        },
        _ => {
            let Some(text) = as_text(value) else {
                return Some(format!("a {} value", t.as_str().to_lowercase()));
            };
            text_violation(field, &text)
        }
    }
}

fn text_violation(field: &InputField, text: &str) -> Option<String> {
    let t = field.field_type;
    let chars = text.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Some(format!("at most {MAX_VALUE_CHARS} characters"));
    }
    if t.has_length() {
        if let Some(min) = field.min_length
            && chars < min.max(0) as usize
        {
            return Some(format!("at least {min} characters (has {chars})"));
        }
        if let Some(max) = field.max_length
            && chars > max.max(0) as usize
        {
            return Some(format!("at most {max} characters (has {chars})"));
        }
    }
    match t {
        FieldType::Email if !email_regex().is_match(text) => {
            return Some("not an e-mail address".into());
        }
        FieldType::Url if url::Url::parse(text).is_err() => {
            return Some("not an absolute URL".into());
        }
        FieldType::Tel if text.contains(['\n', '\r']) => {
            return Some("a telephone number has no line breaks".into());
        }
        _ => {}
    }
    if t.has_pattern()
        && let Some(pattern) = &field.pattern
        && let Ok(re) = compile_pattern(pattern)
        && !re.is_match(text)
    {
        return Some(format!("does not match the pattern {pattern}"));
    }
    if t.is_ranged() {
        let Some(v) = parse_ranged(t, text) else {
            return Some(match t {
                FieldType::Number => "not a number".into(),
                FieldType::Date => "a date as YYYY-MM-DD".into(),
                FieldType::Time => "a time as HH:MM or HH:MM:SS".into(),
                _ => "a date and time as YYYY-MM-DDTHH:MM".into(),
            });
        };
        let min = field.min.as_deref().and_then(|m| parse_ranged(t, m));
        let max = field.max.as_deref().and_then(|m| parse_ranged(t, m));
        if let Some(lo) = min
            && v < lo
        {
            return Some(format!(
                "below the minimum {}",
                field.min.as_deref().unwrap_or("")
            ));
        }
        if let Some(hi) = max
            && v > hi
        {
            return Some(format!(
                "above the maximum {}",
                field.max.as_deref().unwrap_or("")
            ));
        }
        let default_step = match t {
            FieldType::Number | FieldType::Date => Some(1.0),
            FieldType::Time | FieldType::Datetime => Some(60.0),
            _ => None,
        };
        let step = match field.step.as_deref() {
            Some("any") => None,
            Some(s) => s.parse::<f64>().ok(),
            // A NUMBER without `step` steps by 1, like the browser.
            None => default_step,
        };
        if let Some(step) = step.filter(|s| *s > 0.0) {
            let base = min.unwrap_or(0.0);
            let n = (v - base) / step;
            if (n - n.round()).abs() > 1e-9 * n.abs().max(1.0) {
                return Some(format!("not on the step {step} from {base}"));
            }
        }
    }
    None
}

/// The page shows `field` for these inputs (its `shownWhen` holds, or it has none).
pub fn is_shown(field: &InputField, inputs: &Value) -> bool {
    let Some(w) = &field.shown_when else {
        return true;
    };
    let holds = |v: &Value| match v {
        Value::String(s) => w.values.contains(s),
        Value::Bool(b) => w.values.contains(&b.to_string()),
        _ => false,
    };
    match inputs.get(&w.field) {
        Some(Value::Array(items)) => items.iter().any(holds),
        Some(v) => holds(v),
        None => false,
    }
}

/// Why `field`'s value breaks a rule between fields (`after`), if it does.
pub fn relation_violation(field: &InputField, inputs: &Value) -> Option<String> {
    let after = field.after.as_ref()?;
    let t = field.field_type;
    let mine = inputs.get(&field.name).and_then(as_text)?;
    let theirs = inputs.get(&after.field).and_then(as_text)?;
    let (a, b) = (parse_ranged(t, &theirs)?, parse_ranged(t, &mine)?);
    let ok = if after.or_equal { b >= a } else { b > a };
    (!ok).then(|| {
        format!(
            "must be after {}{} ({theirs})",
            after.field,
            if after.or_equal { " or the same" } else { "" }
        )
    })
}

/// Every rule of `field` for these inputs: its own constraints when the page shows it
/// (a hidden field must be left out), and its relation to other fields.
pub fn violation_in(field: &InputField, inputs: &Value) -> Option<String> {
    let value = inputs.get(&field.name).unwrap_or(&Value::Null);
    if !is_shown(field, inputs) {
        let absent = !matches!(value, Value::Bool(_)) && is_blank(value);
        return (!absent).then(|| {
            format!(
                "the page shows it only when {} is one of {}",
                field.shown_when.as_ref().map_or("", |w| w.field.as_str()),
                field
                    .shown_when
                    .as_ref()
                    .map_or(String::new(), |w| w.values.join(", "))
            )
        });
    }
    violation(field, value).or_else(|| relation_violation(field, inputs))
}

/// A CSV cell as the field's value: numbers stay text (the browser types them), a
/// checkbox reads `true/false/1/0/yes/no/on/off`, a checkbox group `a|b`; empty is absent.
pub fn from_cell(field: &InputField, cell: &str) -> Result<Option<Value>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    Ok(Some(match field.field_type {
        FieldType::Checkbox if field.options.is_empty() => {
            match cell.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "checked" => Value::Bool(true),
                "false" | "0" | "no" | "off" | "" => Value::Bool(false),
                other => return Err(format!("{other:?} is not true or false")),
            }
        }
        FieldType::Checkbox => Value::Array(
            cell.split('|')
                .map(|s| Value::String(s.trim().to_owned()))
                .collect(),
        ),
        _ => Value::String(cell.to_owned()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(t: FieldType) -> InputField {
        InputField {
            required: true,
            ..InputField::new("f", t)
        }
    }

    #[test]
    fn browser_rules() {
        let mut age = field(FieldType::Number);
        age.min = Some("18".into());
        age.max = Some("99".into());
        assert_eq!(violation(&age, &json!("18")), None);
        assert_eq!(violation(&age, &json!(99)), None);
        assert!(violation(&age, &json!("17")).unwrap().contains("minimum"));
        assert!(violation(&age, &json!("18.5")).unwrap().contains("step"));
        assert!(violation(&age, &json!("")).unwrap().contains("required"));
        age.step = Some("0.5".into());
        assert_eq!(violation(&age, &json!("18.5")), None);

        let mut code = field(FieldType::Text);
        code.pattern = Some("[A-Z]{2}[0-9]{3}".into());
        assert_eq!(violation(&code, &json!("AB123")), None);
        assert!(violation(&code, &json!("AB1234")).is_some(), "anchored");

        let email = field(FieldType::Email);
        assert_eq!(violation(&email, &json!("a@b")), None);
        assert!(violation(&email, &json!("a@")).is_some());

        let mut day = field(FieldType::Date);
        day.min = Some("2024-01-01".into());
        assert_eq!(violation(&day, &json!("2024-02-29")), None);
        assert!(violation(&day, &json!("2023-12-31")).is_some());
        assert!(violation(&day, &json!("2024-02-30")).is_some());

        let mut pick = field(FieldType::Select);
        pick.options = vec!["a".into(), "b".into()];
        assert_eq!(violation(&pick, &json!("b")), None);
        assert!(violation(&pick, &json!("c")).is_some());

        let agree = field(FieldType::Checkbox);
        assert_eq!(violation(&agree, &json!(true)), None);
        assert!(violation(&agree, &json!(false)).is_some());

        assert!(compile_pattern("(?=a)").is_err());
    }
}
