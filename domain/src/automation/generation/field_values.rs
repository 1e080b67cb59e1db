//! Values for one field: a valid one, the valid values at its edges, and values that
//! break exactly one of its constraints. Every value is checked with the browser's rules
//! (`values::violation`) before it is offered; what cannot be satisfied is said, not
//! guessed.

use chrono::{Duration, NaiveDate, NaiveTime};
use rand::Rng;
use serde_json::{Value, json};

use super::meaning::{self, Meaning};
use super::pattern::PatternGen;
use crate::automation::definition::{FieldType, InputField};
use crate::automation::values::{parse_ranged, violation};

/// Tries before a pattern or length is declared unsatisfiable.
const TRIES: usize = 200;

/// A value at one edge of a field (BOUNDARY) or breaking one constraint (INVALID),
/// described for the scenario's name; `None` leaves the field out.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub what: String,
    /// A short tag: `min`, `maxLength`, `required`, …
    pub constraint: &'static str,
    pub value: Option<Value>,
}

pub struct FieldGen<'a> {
    pub field: &'a InputField,
    meaning: Meaning,
    pattern: Option<PatternGen>,
    /// Values the LLM suggested that passed the field's constraints: used first.
    suggested: &'a [String],
}

impl<'a> FieldGen<'a> {
    pub fn new(field: &'a InputField) -> Self {
        let pattern = field
            .pattern
            .as_deref()
            .filter(|_| field.field_type.has_pattern())
            .and_then(PatternGen::new);
        FieldGen {
            field,
            meaning: meaning::of(field),
            pattern,
            suggested: &[],
        }
    }

    pub fn with_suggestions(mut self, values: &'a [String]) -> Self {
        self.suggested = values;
        self
    }

    fn ok(&self, v: &Value) -> bool {
        violation(self.field, v).is_none()
    }

    /// A value satisfying every constraint, or why there is none.
    pub fn valid(&self, rng: &mut impl Rng) -> Result<Value, String> {
        let f = self.field;
        match f.field_type {
            FieldType::Select | FieldType::Radio => pick(&f.options, rng)
                .map(|o| json!(o))
                .ok_or_else(|| "has no options".to_owned()),
            FieldType::Checkbox if f.options.is_empty() => {
                Ok(json!(f.required || rng.random_bool(0.5)))
            }
            FieldType::Checkbox => {
                let mut chosen: Vec<&String> =
                    f.options.iter().filter(|_| rng.random_bool(0.5)).collect();
                if chosen.is_empty() && !f.options.is_empty() {
                    chosen.push(&f.options[rng.random_range(0..f.options.len())]);
                }
                Ok(json!(chosen))
            }
            FieldType::File => Ok(sample_file(f.accept.as_deref())),
            t if t.is_ranged() => {
                let r = Range::of(f, self.meaning)?;
                let n = rng.random_range(r.first..=r.last);
                Ok(json!(r.format(n)))
            }
            _ if !self.suggested.is_empty() => Ok(json!(
                self.suggested[rng.random_range(0..self.suggested.len())]
            )),
            _ => self.valid_text(rng, None).map(Value::String),
        }
    }

    /// A valid value after `other` (this field's `after` rule), on the field's step.
    pub fn valid_after(
        &self,
        rng: &mut impl Rng,
        other: &str,
        or_equal: bool,
    ) -> Result<Value, String> {
        let r = Range::of(self.field, self.meaning)?;
        let a = parse_ranged(self.field.field_type, other)
            .ok_or_else(|| format!("{other:?} is not a value to come after"))?;
        let at = (a - r.base) / r.step;
        let from = if or_equal {
            (at - 1e-9).ceil() as i64
        } else {
            (at + 1e-9).floor() as i64 + 1
        };
        let first = from.max(r.first);
        if first > r.last {
            return Err(format!("no value after {other} up to the maximum"));
        }
        Ok(json!(r.format(rng.random_range(first..=r.last))))
    }

    /// `other` moved by `steps` of this field's step (the value just after, or before).
    pub fn shifted(&self, other: &str, steps: i64) -> Option<String> {
        let r = Range::of(self.field, self.meaning).ok()?;
        let a = parse_ranged(self.field.field_type, other)?;
        Some(r.format_value(a + steps as f64 * r.step))
    }

    /// A text of the field's kind, of exactly `len` characters when given.
    fn valid_text(&self, rng: &mut impl Rng, len: Option<usize>) -> Result<String, String> {
        let f = self.field;
        let (lo, hi) = self.length_bounds();
        if lo > hi {
            return Err(format!("no length between {lo} and {hi}"));
        }
        if let Some(pattern) = &self.pattern {
            // Realistic first: a postcode pattern may well accept a fake postcode.
            for i in 0..TRIES {
                let s = if i < 3 && self.meaning != Meaning::Generic {
                    meaning::sample(self.meaning, rng)
                } else {
                    pattern.sample(rng)
                };
                if len.is_none_or(|n| s.chars().count() == n) && self.ok(&json!(s)) {
                    return Ok(s);
                }
            }
            return Err(match len {
                Some(n) => format!(
                    "no value of {n} characters matching {:?} was found",
                    f.pattern.as_deref().unwrap_or_default()
                ),
                None => format!(
                    "no value matching {:?} within the length limits was found",
                    f.pattern.as_deref().unwrap_or_default()
                ),
            });
        }
        if f.pattern.is_some() {
            return Err(format!(
                "the pattern {:?} cannot be sampled (only printable ASCII values are generated)",
                f.pattern.as_deref().unwrap_or_default()
            ));
        }
        for _ in 0..TRIES {
            let target = match len {
                Some(n) => n,
                None => {
                    let natural = meaning::sample(self.meaning, rng);
                    let n = natural.chars().count();
                    if (lo..=hi).contains(&n) && self.ok(&json!(natural)) {
                        return Ok(natural);
                    }
                    n.clamp(lo, hi)
                }
            };
            let s = self.text_of_length(rng, target);
            if self.ok(&json!(s)) {
                return Ok(s);
            }
        }
        Err(format!("no valid value between {lo} and {hi} characters"))
    }

    /// The meaning's text stretched or cut to `n` characters, keeping the kind's syntax.
    fn text_of_length(&self, rng: &mut impl Rng, n: usize) -> String {
        match self.field.field_type {
            FieldType::Email => email_of_length(n),
            FieldType::Url => {
                let base = "https://example.com/";
                if n <= base.len() {
                    // `a://b` is the shortest absolute URL shape.
                    let host = "x".repeat(n.saturating_sub(4).max(1));
                    format!("a://{host}")
                } else {
                    format!("{base}{}", "p".repeat(n - base.len()))
                }
            }
            FieldType::Tel => (0..n)
                .map(|_| char::from(b'0' + rng.random_range(0..10)))
                .collect(),
            _ => {
                let mut s = meaning::sample(self.meaning, rng);
                while s.chars().count() < n {
                    s.push(' ');
                    s.push_str(&meaning::sample(Meaning::Generic, rng));
                }
                let s: String = s.chars().take(n).collect();
                // A cut may end in a space, which some sites trim away.
                if s.ends_with(' ') {
                    format!("{}x", &s[..s.len() - 1])
                } else {
                    s
                }
            }
        }
    }

    /// Lengths a generated text may have: the field's own, else a natural range.
    fn length_bounds(&self) -> (usize, usize) {
        let f = self.field;
        let lo = f.min_length.map_or(1, |n| n.max(1) as usize);
        let hi = f.max_length.map_or(lo.max(60), |n| n.max(0) as usize);
        (lo, hi)
    }

    /// Valid values at the field's edges.
    pub fn edges(&self, rng: &mut impl Rng) -> Vec<Variant> {
        let f = self.field;
        let mut out = Vec::new();
        let mut push = |what: String, constraint: &'static str, v: Value| {
            if self.ok(&v) && !out.iter().any(|e: &Variant| e.value.as_ref() == Some(&v)) {
                out.push(Variant {
                    what,
                    constraint,
                    value: Some(v),
                });
            }
        };
        match f.field_type {
            FieldType::Select | FieldType::Radio => {
                if let (Some(first), Some(last)) = (f.options.first(), f.options.last()) {
                    push(
                        format!("first option {first:?}"),
                        "firstOption",
                        json!(first),
                    );
                    push(format!("last option {last:?}"), "lastOption", json!(last));
                }
            }
            FieldType::Checkbox if !f.options.is_empty() => {
                push("every option".into(), "allOptions", json!(f.options));
                push(
                    format!("only {:?}", f.options[0]),
                    "firstOption",
                    json!([f.options[0]]),
                );
            }
            t if t.is_ranged() => {
                if let Ok(r) = Range::of(f, self.meaning) {
                    if f.min.is_some() {
                        push(
                            format!("at min {}", r.format(r.first)),
                            "min",
                            json!(r.format(r.first)),
                        );
                    }
                    if f.max.is_some() {
                        push(
                            format!("at max {}", r.format(r.last)),
                            "max",
                            json!(r.format(r.last)),
                        );
                    }
                }
            }
            t if t.has_length() => {
                if let Some(n) = f.min_length.filter(|n| *n > 0)
                    && let Ok(s) = self.valid_text(rng, Some(n as usize))
                {
                    push(format!("at minLength {n}"), "minLength", json!(s));
                }
                if let Some(n) = f.max_length.filter(|n| *n > 0)
                    && let Ok(s) = self.valid_text(rng, Some(n as usize))
                {
                    push(format!("at maxLength {n}"), "maxLength", json!(s));
                }
            }
            _ => {}
        }
        if let Some(a) = f.after.as_ref().filter(|_| f.field_type.is_ranged()) {
            out.insert(
                0,
                Variant {
                    what: format!("just after {}", a.field),
                    constraint: "after",
                    value: None,
                },
            );
        }
        out
    }

    /// Values that break exactly one constraint each: the others still hold.
    pub fn violations(&self, rng: &mut impl Rng) -> Vec<Variant> {
        let f = self.field;
        let mut out = Vec::new();
        let mut push = |what: String, constraint: &'static str, v: Option<Value>| {
            out.push(Variant {
                what,
                constraint,
                value: v,
            })
        };
        if f.required {
            let empty = match f.field_type {
                FieldType::Checkbox if f.options.is_empty() => Some(json!(false)),
                _ => None,
            };
            push("missing (required)".into(), "required", empty);
        }
        let t = f.field_type;
        if let Some(a) = f.after.as_ref().filter(|_| t.is_ranged()) {
            push(format!("not after {}", a.field), "notAfter", None);
        }
        if t.is_ranged()
            && let Ok(r) = Range::of(f, self.meaning)
        {
            if f.min.is_some() {
                let below = r.format(r.first - 1);
                push(format!("below min ({below})"), "min", Some(json!(below)));
            }
            if f.max.is_some() {
                let above = r.format(r.last + 1);
                push(format!("above max ({above})"), "max", Some(json!(above)));
            }
            if f.step.as_deref().is_some_and(|s| s != "any") && r.first < r.last {
                let off = r.format_half(r.first);
                if violation(f, &json!(off)).is_some_and(|w| w.contains("step")) {
                    push(format!("off step ({off})"), "step", Some(json!(off)));
                }
            }
        }
        if t.has_length() {
            let without_pattern = InputField {
                pattern: None,
                ..f.clone()
            };
            if let Some(n) = f.min_length.filter(|n| *n >= 2)
                && let Some(s) = self.broken_length(rng, n as usize - 1)
            {
                push(
                    format!("too short ({} characters)", n - 1),
                    "minLength",
                    Some(json!(s)),
                );
            }
            if let Some(n) = f.max_length
                && let Some(s) = self.broken_length(rng, n as usize + 1)
            {
                push(
                    format!("too long ({} characters)", n + 1),
                    "maxLength",
                    Some(json!(s)),
                );
            }
            if f.pattern.is_some()
                && let Ok(good) = self.valid_text(rng, None)
            {
                let candidates = [
                    format!("{}!", &good[..good.len().saturating_sub(1)]),
                    "!".repeat(good.chars().count()),
                    good.to_lowercase()
                        .replace(|c: char| !c.is_ascii_lowercase(), "z"),
                    "0".repeat(good.chars().count()),
                ];
                if let Some(bad) = candidates.into_iter().find(|c| {
                    violation(f, &json!(c)).is_some_and(|w| w.contains("pattern"))
                        && violation(&without_pattern, &json!(c)).is_none()
                }) {
                    push(
                        "does not match the pattern".into(),
                        "pattern",
                        Some(json!(bad)),
                    );
                }
            }
            if t == FieldType::Email {
                let (lo, hi) = self.length_bounds();
                let n = 12usize.clamp(lo, hi.max(lo));
                let bad: String = "nobody.example".chars().cycle().take(n).collect();
                if violation(f, &json!(bad)).is_some_and(|w| w.contains("e-mail")) {
                    push("not an e-mail address".into(), "email", Some(json!(bad)));
                }
            }
            if t == FieldType::Url {
                let bad = "not a web address";
                if violation(f, &json!(bad)).is_some_and(|w| w.contains("URL")) {
                    push("not a URL".into(), "url", Some(json!(bad)));
                }
            }
        }
        out
    }

    /// A text of `n` characters that breaks only a length limit (the pattern and format
    /// still hold when they can).
    fn broken_length(&self, rng: &mut impl Rng, n: usize) -> Option<String> {
        let relaxed = InputField {
            min_length: None,
            max_length: None,
            ..self.field.clone()
        };
        let relaxed_gen = FieldGen::new(&relaxed);
        let s = relaxed_gen.valid_text(rng, Some(n)).ok()?;
        violation(self.field, &json!(s))
            .is_some_and(|w| w.contains("characters"))
            .then_some(s)
    }
}

fn pick<'o>(options: &'o [String], rng: &mut impl Rng) -> Option<&'o String> {
    (!options.is_empty()).then(|| &options[rng.random_range(0..options.len())])
}

/// The shortest e-mail shape is `a@b`; longer ones grow the local part, then the domain
/// in labels the browser's rule allows (at most 63 characters).
fn email_of_length(n: usize) -> String {
    let n = n.max(3);
    if n <= 64 + 12 {
        let domain = if n >= 16 { "example.com" } else { "b" };
        let local = n - domain.len() - 1;
        return format!("{}@{domain}", "a".repeat(local.max(1)));
    }
    let mut domain = String::from("example.com");
    let local = 64;
    while local + 1 + domain.len() < n {
        let room = n - (local + 1 + domain.len());
        let label = room.saturating_sub(1).clamp(1, 60);
        if room == 1 {
            // One character short: lengthen the first label.
            domain.insert(0, 'd');
            continue;
        }
        domain = format!("{}.{domain}", "d".repeat(label));
    }
    format!("{}@{domain}", "a".repeat(local))
}

#[cfg(test)]
pub fn email_of_length_for_tests(n: usize) -> String {
    email_of_length(n)
}

/// A tiny file the field's `accept` allows: a PDF, a PNG, or text.
fn sample_file(accept: Option<&str>) -> Value {
    let accept = accept.unwrap_or_default().to_ascii_lowercase();
    if accept.contains("pdf") {
        return json!({ "name": "sample.pdf", "content": "%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" });
    }
    if accept.contains("image") || accept.contains(".png") {
        return json!({ "name": "sample.png", "base64": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==" });
    }
    if accept.contains(".csv") || accept.contains("text/csv") {
        return json!({ "name": "sample.csv", "content": "a,b\n1,2\n" });
    }
    json!({ "name": "sample.txt", "content": "Opsdeck sample upload\n" })
}

/// A ranged field's values on its step grid: `base + n × step` for `n` in
/// `first..=last`, in the units HTML counts steps in (days, seconds).
struct Range {
    field_type: FieldType,
    base: f64,
    step: f64,
    decimals: usize,
    first: i64,
    last: i64,
}

impl Range {
    fn of(f: &InputField, meaning: Meaning) -> Result<Range, String> {
        let t = f.field_type;
        let unit = match t {
            FieldType::Number | FieldType::Date => 1.0,
            _ => 60.0,
        };
        let min = f.min.as_deref().and_then(|m| parse_ranged(t, m));
        let max = f.max.as_deref().and_then(|m| parse_ranged(t, m));
        let (step, decimals) = match f.step.as_deref() {
            // Any value: two decimals for numbers, whole units for the rest.
            Some("any") if t == FieldType::Number => (0.01, 2),
            Some("any") => (unit, 0),
            Some(s) => (
                s.parse::<f64>().unwrap_or(unit),
                s.split_once('.').map_or(0, |(_, d)| d.len()),
            ),
            None => (unit, 0),
        };
        let decimals = decimals.max(
            f.min
                .as_deref()
                .filter(|_| t == FieldType::Number)
                .and_then(|m| m.split_once('.'))
                .map_or(0, |(_, d)| d.len()),
        );
        // Natural ranges when the page sets none (fixed, so a seed always gives the
        // same values).
        let (default_lo, default_hi) = match (t, meaning) {
            (FieldType::Number, Meaning::Age) => (18.0, 90.0),
            (FieldType::Number, Meaning::Quantity) => (1.0, 10.0),
            (FieldType::Number, _) => (1.0, 100.0),
            (FieldType::Date, Meaning::BirthDate) => (day(1950, 1, 1), day(2004, 12, 31)),
            (FieldType::Date, _) => (day(2025, 1, 1), day(2027, 12, 31)),
            (FieldType::Time, _) => (9.0 * 3600.0, 17.0 * 3600.0),
            _ => (
                day(2025, 1, 1) * 86_400.0 + 9.0 * 3600.0,
                day(2027, 12, 31) * 86_400.0 + 17.0 * 3600.0,
            ),
        };
        let span = (default_hi - default_lo).max(step);
        let (lo, hi) = match (min, max) {
            (Some(lo), Some(hi)) => (lo, hi),
            (Some(lo), None) if lo <= default_lo => (lo, default_hi),
            (Some(lo), None) => (lo, lo + span),
            (None, Some(hi)) if hi >= default_hi => (default_lo, hi),
            (None, Some(hi)) => (hi - span, hi),
            (None, None) => (default_lo, default_hi),
        };
        let base = min.unwrap_or(0.0);
        let first = ((lo - base) / step - 1e-9).ceil() as i64;
        let last = ((hi - base) / step + 1e-9).floor() as i64;
        if first > last {
            return Err(format!("no value on step {step} between min and max"));
        }
        Ok(Range {
            field_type: t,
            base,
            step,
            decimals,
            first,
            last,
        })
    }

    fn format(&self, n: i64) -> String {
        self.format_value(self.base + n as f64 * self.step)
    }

    /// Halfway to the next step: off the grid, inside the range.
    fn format_half(&self, n: i64) -> String {
        let v = self.base + (n as f64 + 0.5) * self.step;
        match self.field_type {
            FieldType::Number => {
                let decimals = self.decimals + 1 + (self.step.fract() == 0.0) as usize;
                format!("{v:.decimals$}")
            }
            _ => self.format_value(v),
        }
    }

    fn format_value(&self, v: f64) -> String {
        match self.field_type {
            FieldType::Number => {
                let d = self.decimals;
                let s = format!("{v:.d$}");
                if s == "-0" { "0".into() } else { s }
            }
            FieldType::Date => (epoch() + Duration::days(v.round() as i64))
                .format("%Y-%m-%d")
                .to_string(),
            FieldType::Time => {
                let secs = v.round().rem_euclid(86_400.0) as u32;
                let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or_default();
                if secs.is_multiple_of(60) {
                    t.format("%H:%M").to_string()
                } else {
                    t.format("%H:%M:%S").to_string()
                }
            }
            _ => {
                let secs = v.round() as i64;
                let d = chrono::DateTime::from_timestamp(secs, 0)
                    .unwrap_or_default()
                    .naive_utc();
                if secs.rem_euclid(60) == 0 {
                    d.format("%Y-%m-%dT%H:%M").to_string()
                } else {
                    d.format("%Y-%m-%dT%H:%M:%S").to_string()
                }
            }
        }
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::default()
}

fn day(y: i32, m: u32, d: u32) -> f64 {
    let date = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    (date - epoch()).num_days() as f64
}
