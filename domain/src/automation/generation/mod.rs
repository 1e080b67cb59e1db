//! Scenario generation: from a workflow's input schema and a seed, `VALID` scenarios
//! (every constraint satisfied, realistic where the label says what a field is),
//! `BOUNDARY` ones (one field at an edge, still valid) and `INVALID` ones (one field
//! breaking exactly one constraint, expected to be refused). The same schema and seed
//! always give the same scenarios; every value is checked before it is saved.

pub mod assist;
mod field_values;
mod meaning;
mod pattern;

use std::collections::BTreeMap;

use entity::scenario;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use self::field_values::{FieldGen, Variant};
use super::definition::InputField;
use super::problems::Problems;
use super::scenarios::{self, Kind, Scenario};
use super::{values, workflows};
use crate::audit::{self, Entry};
use crate::config::LlmConfig;
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::llm::client::Client;
use crate::llm::usage;
use crate::org::OrgCtx;
use crate::role::Role;

pub const MAX_COUNT: usize = 1000;

#[derive(Debug, Clone)]
pub struct Request {
    pub kinds: Vec<Kind>,
    /// Per kind.
    pub count: usize,
    pub seed: i64,
    /// Field → values suggested by the LLM (already checked against the field).
    pub suggestions: BTreeMap<String, Vec<String>>,
}

/// A scenario to save.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub name: String,
    pub kind: Kind,
    pub inputs: Value,
    pub tags: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Generation {
    pub scenarios: Vec<Generated>,
    /// Optional fields no value was found for (left empty), with the reason.
    pub unfilled: Vec<(String, String)>,
}

/// One valid value for `field` (what a form analysis types to move through a wizard).
pub fn valid_value(field: &InputField, seed: i64) -> Option<Value> {
    FieldGen::new(field).valid(&mut rng(seed, BASE, 0)).ok()
}

/// `value` moved by `steps` of `field`'s step (for probing a rule between fields).
pub fn shift(field: &InputField, value: &str, steps: i64) -> Option<String> {
    FieldGen::new(field).shifted(value, steps)
}

/// A seed for a request without one: small, so it reads well in names and tags.
pub fn random_seed() -> i64 {
    i64::from(rand::random::<u16>())
}

/// One random stream per purpose, so adding a field or a kind does not reshuffle the
/// values of the others.
pub(super) fn rng(seed: i64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&purpose.to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

const VALID: u64 = 1;
const EDGES: u64 = 2;
const BROKEN: u64 = 3;
pub(super) const BASE: u64 = 4;

/// Scenarios for `schema`, or every required field no valid value exists for.
pub fn generate(schema: &[InputField], req: &Request) -> Result<Generation, Problems> {
    let gens: Vec<FieldGen> = schema
        .iter()
        .map(|f| {
            FieldGen::new(f).with_suggestions(
                req.suggestions
                    .get(&f.name)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut out = Generation::default();
    let mut p = Problems::default();
    // Probe each field once: a required field without a valid value stops everything.
    for (i, g) in gens.iter().enumerate() {
        if let Err(why) = g.valid(&mut rng(req.seed, BASE, i as u64)) {
            if g.field.required {
                p.add(format!("inputSchema.{}", g.field.name), why);
            } else {
                out.unfilled.push((g.field.name.clone(), why));
            }
        }
    }
    if !p.is_empty() {
        return Err(p);
    }
    // Which values of a choice field show others (`shownWhen`): a scenario that means to
    // cover the dependent fields picks one of them.
    let mut revealing: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for f in schema {
        if let Some(w) = &f.shown_when {
            revealing
                .entry(w.field.as_str())
                .or_default()
                .extend(&w.values);
        }
    }
    let base = |purpose: u64, index: u64, reveal: bool| -> Map<String, Value> {
        let mut r = rng(req.seed, purpose, index);
        let mut map = Map::new();
        for g in &gens {
            let f = g.field;
            if !values::is_shown(f, &Value::Object(map.clone())) {
                continue;
            }
            let value = match &f.after {
                Some(a) => match map.get(&a.field).and_then(values::as_text) {
                    Some(other) => g.valid_after(&mut r, &other, a.or_equal),
                    None => g.valid(&mut r),
                },
                None => g.valid(&mut r),
            };
            let Ok(mut value) = value else { continue };
            if reveal && let Some(choices) = revealing.get(f.name.as_str()) {
                let pick = choices[r.random_range(0..choices.len())].clone();
                value = match (&value, f.options.is_empty()) {
                    (Value::Bool(_), _) => Value::Bool(pick == "true"),
                    (Value::Array(_), false) => json!([pick]),
                    _ => Value::String(pick),
                };
            }
            map.insert(f.name.clone(), value);
        }
        map
    };
    // Fields the page would no longer show (their trigger changed or was left out).
    let prune = |map: &mut Map<String, Value>| loop {
        let current = Value::Object(map.clone());
        let hidden: Vec<String> = schema
            .iter()
            .filter(|f| map.contains_key(&f.name) && !values::is_shown(f, &current))
            .map(|f| f.name.clone())
            .collect();
        if hidden.is_empty() {
            break;
        }
        for name in hidden {
            map.remove(&name);
        }
    };
    let dependent = |f: &InputField| f.shown_when.is_some();
    let seed = req.seed;
    let tags = |extra: Option<String>| -> Vec<String> {
        let mut t = vec!["generated".to_owned(), format!("seed:{seed}")];
        t.extend(extra);
        t
    };
    for kind in &req.kinds {
        match kind {
            Kind::Valid => {
                for i in 0..req.count {
                    out.scenarios.push(Generated {
                        name: format!("VALID {} · seed {seed}", i + 1),
                        kind: Kind::Valid,
                        // Every other one shows the fields a choice reveals.
                        inputs: Value::Object(base(VALID, i as u64, i % 2 == 0)),
                        tags: tags(None),
                    });
                }
            }
            Kind::Boundary => {
                let mut per_field: Vec<(usize, Vec<Variant>)> = gens
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (i, g.edges(&mut rng(seed, EDGES, i as u64))))
                    .collect();
                if schema.iter().any(|f| !f.required) {
                    per_field.push((
                        usize::MAX,
                        vec![Variant {
                            what: "optional fields left empty".into(),
                            constraint: "optional",
                            value: None,
                        }],
                    ));
                }
                for (j, (field, edge)) in round_robin(per_field).take(req.count).enumerate() {
                    let reveal = field != usize::MAX && dependent(&schema[field]);
                    let mut inputs = base(EDGES, 1_000_000 + j as u64, reveal);
                    let (name, tag) = if field == usize::MAX {
                        inputs.retain(|k, _| schema.iter().any(|f| &f.name == k && f.required));
                        prune(&mut inputs);
                        (edge.what.clone(), "edge:optional".to_owned())
                    } else {
                        let f = &schema[field];
                        let value = relative(&gens[field], &edge, &inputs);
                        set(&mut inputs, &f.name, value);
                        (
                            format!("{} {}", f.name, edge.what),
                            format!("edge:{}:{}", f.name, edge.constraint),
                        )
                    };
                    out.scenarios.push(Generated {
                        name: format!("BOUNDARY {name} · seed {seed}"),
                        kind: Kind::Boundary,
                        inputs: Value::Object(inputs),
                        tags: tags(Some(tag)),
                    });
                }
            }
            Kind::Invalid => {
                let per_field: Vec<(usize, Vec<Variant>)> = gens
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (i, g.violations(&mut rng(seed, BROKEN, i as u64))))
                    .collect();
                for (j, (field, broken)) in round_robin(per_field).take(req.count).enumerate() {
                    let f = &schema[field];
                    let mut inputs = base(BROKEN, 1_000_000 + j as u64, dependent(f));
                    let value = relative(&gens[field], &broken, &inputs);
                    set(&mut inputs, &f.name, value);
                    prune(&mut inputs);
                    out.scenarios.push(Generated {
                        name: format!("INVALID {} {} · seed {seed}", f.name, broken.what),
                        kind: Kind::Invalid,
                        inputs: Value::Object(inputs),
                        tags: tags(Some(format!("violates:{}:{}", f.name, broken.constraint))),
                    });
                }
            }
        }
    }
    for s in &mut out.scenarios {
        // Said on the scenario too: the field is empty because no value was found.
        for (field, _) in out.unfilled.iter().take(scenarios::MAX_TAGS - 3) {
            s.tags.push(format!("unfilled:{field}"));
        }
        s.name = s.name.chars().take(200).collect();
        s.tags = s
            .tags
            .iter()
            .map(|t| t.chars().take(50).collect())
            .collect();
    }
    // A value that cannot hold with the others (an end date when the start is at the
    // maximum) drops its scenario rather than save one that lies about its kind.
    out.scenarios.retain(|s| checks(schema, s));
    Ok(out)
}

/// What a saved scenario must satisfy: valid kinds pass every rule; an INVALID one
/// breaks exactly one field's.
pub fn checks(schema: &[InputField], s: &Generated) -> bool {
    let broken = schema
        .iter()
        .filter(|f| values::violation_in(f, &s.inputs).is_some())
        .count();
    match s.kind {
        Kind::Invalid => broken == 1,
        _ => broken == 0,
    }
}

/// A variant's value; one relative to another field (`after`) is computed from the
/// scenario's value of it.
fn relative(g: &FieldGen, v: &Variant, inputs: &Map<String, Value>) -> Option<Value> {
    let (Some(after), "after" | "notAfter") = (&g.field.after, v.constraint) else {
        return v.value.clone();
    };
    let other = inputs.get(&after.field).and_then(values::as_text)?;
    let steps = match (v.constraint, after.or_equal) {
        ("after", true) | ("notAfter", false) => 0,
        ("after", false) => 1,
        _ => -1,
    };
    g.shifted(&other, steps).map(Value::String)
}

fn set(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            map.insert(name.to_owned(), v);
        }
        None => {
            map.remove(name);
        }
    }
}

/// The first variant of each field, then the second of each, …: a small count still
/// covers many fields.
fn round_robin(per_field: Vec<(usize, Vec<Variant>)>) -> impl Iterator<Item = (usize, Variant)> {
    let depth = per_field.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for level in 0..depth {
        for (field, variants) in &per_field {
            if let Some(v) = variants.get(level) {
                out.push((*field, v.clone()));
            }
        }
    }
    out.into_iter()
}

/// What `generate_and_save` did.
pub struct Saved {
    pub scenarios: Vec<Scenario>,
    pub unfilled: Vec<(String, String)>,
}

/// What the LLM did for one generation (for the audit row).
#[derive(Default)]
struct Assisted {
    asked: Vec<String>,
    accepted: usize,
    refused: usize,
    tokens: i64,
    error: Option<String>,
}

/// Generates and saves scenarios for a workflow's draft schema, in one transaction.
/// Generating again with the same seed returns the scenarios it saved before; one of
/// those names holding other inputs (the schema changed) is refused. Fields the rules
/// cannot decide are asked of the LLM when the organization enabled it (metered, capped
/// per month); its failures never fail the generation.
pub async fn generate_and_save(
    db: &Db,
    org: &OrgCtx,
    workflow_id: Uuid,
    req: Request,
    llm: &LlmConfig,
) -> DomainResult<Saved> {
    org.require(Role::Engineer)?;
    let mut p = Problems::default();
    if req.count == 0 || req.count > MAX_COUNT {
        p.add("count", format!("between 1 and {MAX_COUNT} (per kind)"));
    }
    if req.kinds.is_empty() {
        p.add("kinds", "at least one of VALID, BOUNDARY, INVALID");
    }
    p.into_result()?;
    let mut kinds = req.kinds.clone();
    kinds.dedup();
    let mut req = Request { kinds, ..req };
    let month = usage::month_of(crate::time::now());
    let (schema, usage_now) = {
        let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
        let workflow = workflows::load_active(&tx, org.org_id(), workflow_id).await?;
        let u = usage::read(&tx, org.org_id(), &month, llm).await?;
        tx.commit().await?;
        (workflows::schema_of(&workflow.input_schema), u)
    };
    if schema.is_empty() {
        return Err(DomainError::invalid_field(
            "workflowId",
            "the workflow's draft has no input fields to generate values for",
        ));
    }
    let mut assisted = Assisted::default();
    // A repeat of a generation the model helped with: its saved values stand (the rules
    // alone would give others).
    let mut repeat = false;
    let questions = assist::undecided(&schema, req.seed);
    let client = Client::from_config(llm).filter(|_| usage_now.may_call());
    if let (Some(client), false) = (client, questions.is_empty()) {
        // Names do not depend on values: a repeat of a saved generation needs no call.
        let names = match generate(&schema, &req) {
            Ok(g) => g.scenarios.into_iter().map(|s| s.name).collect(),
            Err(_) => Vec::new(),
        };
        repeat = !names.is_empty() && all_saved(db, org, workflow_id, &names).await?;
        if !repeat {
            usage::check_cap(&usage_now)?;
            assisted.asked = questions.iter().map(|q| q.field.name.clone()).collect();
            let result = assist::ask(&client, &questions, req.count, req.seed).await;
            let (failed, tokens) = match &result {
                Ok((_, answer)) => (false, answer.tokens),
                Err(e) => (true, e.tokens()),
            };
            usage::record(db, org.org_id(), &month, failed, tokens).await?;
            assisted.tokens = tokens.prompt + tokens.completion;
            match result {
                Ok((suggestions, _)) => {
                    assisted.accepted = suggestions.accepted.values().map(Vec::len).sum();
                    assisted.refused = suggestions.refused;
                    req.suggestions = suggestions.accepted;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the LLM did not help; generating with rules only");
                    assisted.error = Some(e.to_string());
                }
            }
        }
    }
    let generation = generate(&schema, &req).map_err(|p| match p.into_result() {
        Err(e) => e,
        Ok(()) => DomainError::invalid_field("workflowId", "nothing to generate"),
    })?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    workflows::load_active(&tx, org.org_id(), workflow_id).await?;
    let names: Vec<String> = generation
        .scenarios
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let existing: BTreeMap<String, Scenario> = scenario::Entity::find()
        .filter(scenario::Column::OrgId.eq(org.org_id()))
        .filter(scenario::Column::WorkflowId.eq(workflow_id))
        .filter(scenario::Column::DeletedAt.is_null())
        .filter(scenario::Column::Name.is_in(names))
        .all(&tx)
        .await?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut out = Vec::with_capacity(generation.scenarios.len());
    let mut created = 0usize;
    let mut rows = Vec::new();
    for g in generation.scenarios {
        if let Some(old) = existing.get(&g.name) {
            if (old.inputs != g.inputs && !repeat) || old.kind != g.kind.as_str() {
                return Err(DomainError::invalid_field(
                    "seed",
                    format!(
                        "{:?} already exists with other inputs (the schema changed since); \
                         delete it or use another seed",
                        g.name
                    ),
                ));
            }
            out.push(old.clone());
            continue;
        }
        let row = scenarios::new_row(
            org,
            workflow_id,
            g.name,
            &scenarios::ScenarioInput {
                name: String::new(),
                kind: g.kind,
                expected_outcome: None,
                inputs: g.inputs,
                tags: g.tags.clone(),
            },
            g.tags,
        );
        rows.push(scenario::ActiveModel::from(row.clone()));
        out.push(row);
        created += 1;
    }
    for chunk in rows.chunks(200) {
        scenario::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&tx)
            .await?;
    }
    audit::record(
        &tx,
        org,
        Entry {
            action: "scenario.generated",
            target_type: "workflow",
            target_id: Some(workflow_id),
            before: None,
            after: Some(json!({
                "seed": req.seed.to_string(),
                "kinds": req.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "count": req.count,
                "created": created,
                "reused": out.len() - created,
                "unfilled": generation.unfilled.iter().map(|(f, _)| f).collect::<Vec<_>>(),
                "llm": (!assisted.asked.is_empty()).then(|| json!({
                    "asked": assisted.asked,
                    "accepted": assisted.accepted,
                    "refused": assisted.refused,
                    "tokens": assisted.tokens,
                    "error": assisted.error,
                })),
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Saved {
        scenarios: out,
        unfilled: generation.unfilled,
    })
}

/// Every one of these scenario names is saved for the workflow already.
async fn all_saved(
    db: &Db,
    org: &OrgCtx,
    workflow_id: Uuid,
    names: &[String],
) -> DomainResult<bool> {
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let found = scenario::Entity::find()
        .filter(scenario::Column::OrgId.eq(org.org_id()))
        .filter(scenario::Column::WorkflowId.eq(workflow_id))
        .filter(scenario::Column::DeletedAt.is_null())
        .filter(scenario::Column::Name.is_in(names.to_vec()))
        .count(&tx)
        .await?;
    tx.commit().await?;
    Ok(found as usize == names.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::definition::FieldType;

    fn f(name: &str, t: FieldType, edit: impl FnOnce(&mut InputField)) -> InputField {
        let mut field = InputField::new(name, t);
        field.required = true;
        edit(&mut field);
        field
    }

    fn schema() -> Vec<InputField> {
        vec![
            f("fullName", FieldType::Text, |x| {
                x.label = Some("Full name".into());
                x.min_length = Some(3);
                x.max_length = Some(40);
            }),
            f("email", FieldType::Email, |x| x.max_length = Some(50)),
            f("age", FieldType::Number, |x| {
                x.min = Some("18".into());
                x.max = Some("99".into());
            }),
            f("price", FieldType::Number, |x| {
                x.min = Some("0.5".into());
                x.max = Some("10".into());
                x.step = Some("0.25".into());
            }),
            f("start", FieldType::Date, |x| {
                x.min = Some("2026-01-01".into());
                x.max = Some("2026-12-31".into());
            }),
            f("at", FieldType::Time, |x| x.step = Some("900".into())),
            f("code", FieldType::Text, |x| {
                x.pattern = Some("[A-Z]{2}-[0-9]{4}".into());
            }),
            f("plan", FieldType::Select, |x| {
                x.options = vec!["free".into(), "pro".into(), "team".into()];
            }),
            f("colour", FieldType::Radio, |x| {
                x.options = vec!["red".into(), "blue".into()];
            }),
            f("topics", FieldType::Checkbox, |x| {
                x.required = false;
                x.options = vec!["a".into(), "b".into(), "c".into()];
            }),
            f("terms", FieldType::Checkbox, |_| {}),
            f("site", FieldType::Url, |x| x.required = false),
            f("phone", FieldType::Tel, |x| {
                x.required = false;
                x.pattern = Some(r"\+?[0-9]{8,12}".into());
            }),
            f("cv", FieldType::File, |x| {
                x.required = false;
                x.accept = Some(".pdf".into());
            }),
            f("bio", FieldType::Textarea, |x| {
                x.required = false;
                x.max_length = Some(200);
            }),
        ]
    }

    fn all(count: usize, seed: i64) -> Request {
        Request {
            kinds: vec![Kind::Valid, Kind::Boundary, Kind::Invalid],
            count,
            seed,
            suggestions: BTreeMap::new(),
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_scenarios() {
        let a = generate(&schema(), &all(5, 42)).unwrap().scenarios;
        let b = generate(&schema(), &all(5, 42)).unwrap().scenarios;
        let c = generate(&schema(), &all(5, 43)).unwrap().scenarios;
        assert_eq!(a, b);
        assert_ne!(a[0].inputs, c[0].inputs);
        let names: std::collections::BTreeSet<&String> = a.iter().map(|s| &s.name).collect();
        assert_eq!(names.len(), a.len(), "names are unique");
    }

    #[test]
    fn valid_and_boundary_values_pass_every_rule_and_invalid_ones_break_one() {
        let schema = schema();
        for seed in 0..40 {
            let g = generate(&schema, &all(3, seed)).unwrap();
            assert!(g.unfilled.is_empty(), "{:?}", g.unfilled);
            for s in &g.scenarios {
                assert!(checks(&schema, s), "seed {seed}: {} {}", s.name, s.inputs);
            }
        }
        let g = generate(&schema, &all(1000, 9)).unwrap().scenarios;
        let count = |k: Kind| g.iter().filter(|s| s.kind == k).count();
        assert_eq!(count(Kind::Valid), 1000);
        let v = &g[0].inputs;
        assert!(
            v["price"].as_str().unwrap().parse::<f64>().unwrap() * 4.0 % 1.0 == 0.0,
            "{v}"
        );
        // Realistic where the label says what a field is: a name has a space.
        assert!(v["fullName"].as_str().unwrap().contains(' '), "{v}");
        assert_eq!(v["terms"], json!(true));
        assert_eq!(v["cv"]["name"], json!("sample.pdf"));
    }

    #[test]
    fn edges_and_violations_are_named() {
        let g = generate(&schema(), &all(1000, 1)).unwrap().scenarios;
        let tagged = |tag: &str| {
            g.iter()
                .find(|s| s.tags.iter().any(|t| t == tag))
                .unwrap_or_else(|| panic!("no scenario tagged {tag}"))
        };
        assert_eq!(tagged("edge:age:min").inputs["age"], json!("18"));
        assert_eq!(tagged("edge:age:max").inputs["age"], json!("99"));
        assert_eq!(tagged("edge:price:max").inputs["price"], json!("10.00"));
        assert_eq!(
            tagged("edge:start:max").inputs["start"],
            json!("2026-12-31")
        );
        assert_eq!(tagged("edge:plan:lastOption").inputs["plan"], json!("team"));
        let at_max = tagged("edge:fullName:maxLength").inputs["fullName"].clone();
        assert_eq!(at_max.as_str().unwrap().chars().count(), 40);
        let optional = tagged("edge:optional");
        assert!(optional.inputs.get("bio").is_none());
        assert!(optional.inputs.get("email").is_some());

        let below = tagged("violates:age:min");
        assert_eq!(below.inputs["age"], json!("17"));
        assert!(below.name.contains("age below min"), "{}", below.name);
        assert!(
            tagged("violates:email:required")
                .inputs
                .get("email")
                .is_none()
        );
        assert_eq!(
            tagged("violates:terms:required").inputs["terms"],
            json!(false)
        );
        assert_eq!(
            tagged("violates:price:step").inputs["price"],
            json!("0.625")
        );
        let long = tagged("violates:fullName:maxLength").inputs["fullName"].clone();
        assert_eq!(long.as_str().unwrap().chars().count(), 41);
        tagged("violates:code:pattern");
        tagged("violates:email:email");
        tagged("violates:site:url");
        assert!(
            g.iter()
                .filter(|s| s.kind == Kind::Invalid)
                .all(|s| s.tags.iter().any(|t| t.starts_with("violates:")))
        );
    }

    #[test]
    fn a_small_count_spreads_over_fields() {
        let g = generate(&schema(), &all(4, 1)).unwrap().scenarios;
        let invalid: Vec<&Generated> = g.iter().filter(|s| s.kind == Kind::Invalid).collect();
        assert_eq!(invalid.len(), 4);
        assert!(invalid[0].name.contains("fullName"));
        assert!(invalid[1].name.contains("email"));
        assert!(invalid[2].name.contains("age"));
    }

    #[test]
    fn an_unsatisfiable_required_field_is_reported_not_guessed() {
        let schema = vec![
            f("code", FieldType::Text, |x| {
                x.pattern = Some("[0-9]{6}".into());
                x.max_length = Some(4);
            }),
            f("nick", FieldType::Text, |x| {
                x.required = false;
                x.pattern = Some("[é]+".into());
            }),
        ];
        let err = generate(&schema, &all(1, 1)).unwrap_err();
        let DomainError::InvalidInput { fields, .. } = err.into_result().unwrap_err() else {
            panic!("invalid input expected")
        };
        assert!(
            fields.iter().any(|e| e.field == "inputSchema.code"),
            "{fields:?}"
        );
        let schema = vec![schema[1].clone(), f("ok", FieldType::Text, |_| {})];
        let g = generate(&schema, &all(2, 1)).unwrap();
        assert_eq!(g.unfilled[0].0, "nick");
        assert!(g.scenarios.iter().all(|s| s.inputs.get("nick").is_none()));
    }

    #[test]
    fn revealed_fields_follow_their_choice_and_dates_keep_their_order() {
        use crate::automation::definition::{After, ShownWhen};
        let schema = vec![
            f("kind", FieldType::Select, |x| {
                x.options = vec!["personal".into(), "business".into()];
            }),
            f("company", FieldType::Text, |x| {
                x.shown_when = Some(ShownWhen {
                    field: "kind".into(),
                    values: vec!["business".into()],
                });
            }),
            f("start", FieldType::Date, |x| {
                x.min = Some("2026-01-01".into());
                x.max = Some("2026-12-31".into());
            }),
            f("end", FieldType::Date, |x| {
                x.min = Some("2026-01-01".into());
                x.max = Some("2026-12-31".into());
                x.after = Some(After {
                    field: "start".into(),
                    or_equal: false,
                });
            }),
        ];
        let g = generate(&schema, &all(50, 3)).unwrap().scenarios;
        for s in &g {
            assert!(checks(&schema, s), "{} {}", s.name, s.inputs);
            let business = s.inputs["kind"] == "business";
            if s.kind != Kind::Invalid {
                assert_eq!(s.inputs.get("company").is_some(), business, "{}", s.inputs);
                assert!(
                    s.inputs["end"].as_str() > s.inputs["start"].as_str(),
                    "{}",
                    s.inputs
                );
            }
        }
        let valid: Vec<&Generated> = g.iter().filter(|s| s.kind == Kind::Valid).collect();
        assert_eq!(
            valid[0].inputs["kind"], "business",
            "the first VALID shows what a choice reveals"
        );
        assert!(
            valid.iter().any(|s| s.inputs["kind"] == "personal"),
            "others choose freely"
        );
        let tagged = |tag: &str| g.iter().find(|s| s.tags.iter().any(|t| t == tag)).unwrap();
        let just = &tagged("edge:end:after").inputs;
        let day =
            |v: &Value| chrono::NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert_eq!(
            day(&just["end"]) - day(&just["start"]),
            chrono::Duration::days(1)
        );
        let not_after = &tagged("violates:end:notAfter").inputs;
        assert_eq!(not_after["end"], not_after["start"]);
        let missing = &tagged("violates:company:required").inputs;
        assert_eq!(
            (missing["kind"].as_str(), missing.get("company")),
            (Some("business"), None)
        );
    }

    #[test]
    fn emails_of_any_length_keep_the_browser_rule() {
        let field = f("e", FieldType::Email, |_| {});
        for n in [3, 5, 15, 16, 40, 76, 77, 78, 120, 254] {
            let e = field_values::email_of_length_for_tests(n);
            assert_eq!(e.chars().count(), n, "{e}");
            assert_eq!(values::violation(&field, &json!(e)), None, "{e}");
        }
    }
}
