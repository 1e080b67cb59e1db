//! The request limits async-graphql lacks: aliases per request and root fields per
//! operation, checked on the parsed document before validation or execution. (Depth and
//! complexity are the schema builder's own limits.) Applied by the transports (`admit`)
//! rather than as a schema extension: with any extension installed, async-graphql routes
//! every field of every response through the extension chain and a registry lookup.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Request, Response, ServerError};

#[derive(Debug, Clone)]
pub struct DocumentLimits {
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Names of the schema's root fields: the only values a metric label may take.
    pub root_fields: Arc<HashSet<String>>,
    /// When false, `__schema` and `__type` are refused with a clear error rather than
    /// answered with nulls.
    pub introspection: bool,
}

impl DocumentLimits {
    /// Parses the request's document (kept in the request: execution does not parse it
    /// again) and holds it to the limits. The operation's metric label, and the response to
    /// send instead when the document does not parse or breaks a limit.
    pub fn admit(&self, request: &mut Request) -> (String, Option<Response>) {
        let doc = match request.parsed_query() {
            Ok(doc) => doc,
            Err(e) => return ("unknown".into(), Some(Response::from_errors(vec![e]))),
        };
        let label = operation_label(doc, &self.root_fields);
        match check(doc, self) {
            Ok(()) => (label, None),
            Err(message) => {
                let mut e = ServerError::new(message, None);
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", "BAD_USER_INPUT");
                e.extensions = Some(ext);
                (label, Some(Response::from_errors(vec![e])))
            }
        }
    }
}

/// The root field names of `Query` and `Mutation` in `sdl`.
pub fn root_field_names(sdl: &str) -> HashSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
        return HashSet::new();
    };
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t)
                if matches!(t.node.name.node.as_str(), "Query" | "Mutation") =>
            {
                match &t.node.kind {
                    TypeKind::Object(o) => Some(
                        o.fields
                            .iter()
                            .map(|f| f.node.name.node.to_string())
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                }
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// `query.viewer`, `mutation.createApiKey`: the operation's type and first root field.
fn operation_label(doc: &ExecutableDocument, known: &HashSet<String>) -> String {
    let Some((_, op)) = doc.operations.iter().next() else {
        return "unknown".into();
    };
    let kind = match op.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let field = op
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.as_str()),
            _ => None,
        });
    match field {
        Some(name) if known.contains(name) => format!("{kind}.{name}"),
        Some(name) if name.starts_with("__") => format!("{kind}.introspection"),
        _ => format!("{kind}.other"),
    }
}

pub fn check(doc: &ExecutableDocument, limits: &DocumentLimits) -> Result<(), String> {
    let mut aliases = 0;
    let sets = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node));
    for set in sets {
        count_aliases(set, &mut aliases);
    }
    if aliases > limits.max_aliases {
        return Err(format!(
            "query uses {aliases} aliases; the limit is {}",
            limits.max_aliases
        ));
    }
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(map) => map.values().collect(),
    };
    for op in ops {
        if !limits.introspection && selects_introspection(&op.node.selection_set.node) {
            return Err("introspection is disabled".into());
        }
        let mut seen = HashSet::new();
        let roots = count_root_fields(doc, &op.node.selection_set.node, &mut seen);
        if roots > limits.max_root_fields {
            return Err(format!(
                "operation selects {roots} root fields; the limit is {}",
                limits.max_root_fields
            ));
        }
    }
    Ok(())
}

fn selects_introspection(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => matches!(f.node.name.node.as_str(), "__schema" | "__type"),
        Selection::InlineFragment(f) => selects_introspection(&f.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

fn count_aliases(set: &SelectionSet, n: &mut usize) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                if f.node.alias.is_some() {
                    *n += 1;
                }
                count_aliases(&f.node.selection_set.node, n);
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node, n),
            // Fragment definitions are counted once, where they are defined.
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Root fields, with fragments at the root expanded (each fragment once: a cycle is a
/// validation error reported later, and must not loop here).
fn count_root_fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    seen: &mut HashSet<&'a str>,
) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(f) => {
                count_root_fields(doc, &f.node.selection_set.node, seen)
            }
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                match doc.fragments.get(&s.node.fragment_name.node) {
                    Some(f) if seen.insert(name) => {
                        count_root_fields(doc, &f.node.selection_set.node, seen)
                    }
                    _ => 0,
                }
            }
        })
        .sum()
}
