//! Scenario generation: 1,000 scenarios per kind from a 12-field schema (the corpus's
//! constraints page), side by side with the same schema without patterns, so the cost of
//! sampling regular expressions reads as a ratio.
//!
//! `cargo bench --workspace --bench generation` (knob: BENCH_ROUNDS=5)

use std::time::Instant;

use domain::automation::definition::{FieldType, InputField};
use domain::automation::generation::{Request, generate};
use domain::automation::scenarios::Kind;

fn field(name: &str, t: FieldType, edit: impl FnOnce(&mut InputField)) -> InputField {
    let mut f = InputField::new(name, t);
    f.required = true;
    edit(&mut f);
    f
}

fn constraints_page() -> Vec<InputField> {
    vec![
        field("full_name", FieldType::Text, |f| {
            f.label = Some("Full name".into());
            f.min_length = Some(2);
            f.max_length = Some(40);
        }),
        field("email", FieldType::Email, |f| f.max_length = Some(60)),
        field("age", FieldType::Number, |f| {
            f.min = Some("18".into());
            f.max = Some("99".into());
        }),
        field("qty", FieldType::Number, |f| {
            f.required = false;
            f.min = Some("1".into());
            f.max = Some("10".into());
        }),
        field("budget", FieldType::Number, |f| {
            f.required = false;
            f.min = Some("0.5".into());
            f.max = Some("100".into());
            f.step = Some("0.5".into());
        }),
        field("blog", FieldType::Url, |f| f.required = false),
        field("phone", FieldType::Tel, |f| {
            f.required = false;
            f.pattern = Some(r"\+?[0-9]{8,12}".into());
        }),
        field("postcode", FieldType::Text, |f| {
            f.pattern = Some("[0-9]{5}".into())
        }),
        field("start", FieldType::Date, |f| {
            f.min = Some("2026-01-01".into());
            f.max = Some("2026-12-31".into());
        }),
        field("at", FieldType::Time, |f| {
            f.required = false;
            f.min = Some("09:00".into());
            f.max = Some("17:00".into());
        }),
        field("password", FieldType::Password, |f| f.min_length = Some(8)),
        field("notes", FieldType::Textarea, |f| {
            f.required = false;
            f.max_length = Some(200);
        }),
    ]
}

fn main() {
    // A bench's knob, not a setting of the product.
    #[allow(clippy::disallowed_methods)]
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let with_patterns = constraints_page();
    let without: Vec<InputField> = with_patterns
        .iter()
        .cloned()
        .map(|mut f| {
            f.pattern = None;
            f
        })
        .collect();
    let kinds = |k: Vec<Kind>| Request {
        kinds: k,
        count: 1000,
        seed: 42,
        suggestions: Default::default(),
    };
    let cases: Vec<(&str, &[InputField], Request)> = vec![
        ("1,000 VALID", &with_patterns, kinds(vec![Kind::Valid])),
        (
            "1,000 VALID, no patterns",
            &without,
            kinds(vec![Kind::Valid]),
        ),
        (
            "1,000 of each kind",
            &with_patterns,
            kinds(vec![Kind::Valid, Kind::Boundary, Kind::Invalid]),
        ),
    ];
    let mut medians = Vec::new();
    for (name, schema, req) in &cases {
        let mut times = Vec::new();
        let mut made = 0;
        for _ in 0..rounds {
            let t0 = Instant::now();
            let g = generate(schema, req).expect("the schema is satisfiable");
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            made = g.scenarios.len();
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        medians.push(median);
        println!(
            "{name:<28} {made:>5} scenarios  median {median:>8.1} ms  ({:.1} µs per scenario)",
            median * 1000.0 / made as f64
        );
    }
    println!(
        "patterns cost: VALID with / without = {:.2}",
        medians[0] / medians[1]
    );
}
