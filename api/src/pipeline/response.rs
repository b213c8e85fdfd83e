//! What leaves the executor: every error with a code from the closed set and no internal text,
//! fields in the order the query asked for them, and the outcome label metrics count by.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Response, ServerError};

/// Seals a response and restores the field order of the operation that ran. Returns whether it
/// is a request error (nothing executed: `data` is null and no error has a path).
pub fn finish(response: &mut Response, doc: &ExecutableDocument, operation: Option<&str>) -> bool {
    if let Some(set) = operation_selection(doc, operation) {
        restore_field_order(&mut response.data, &[set], doc);
    }
    let request_error = is_request_error(response);
    seal_errors(&mut response.errors, request_error);
    request_error
}

/// A request error: the executor refused the document before running any field (`data` is
/// null and no error has a path).
pub fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Whether any error carries this `extensions.code`.
pub fn has_code(response: &Response, code: &str) -> bool {
    response.errors.iter().any(|e| {
        e.extensions.as_ref().and_then(|x| x.get("code")) == Some(&async_graphql::Value::from(code))
    })
}

/// The longest `retryAfter` among `RATE_LIMITED` errors, if there is one.
pub fn retry_after(response: &Response) -> Option<u64> {
    response
        .errors
        .iter()
        .filter(|e| {
            e.extensions.as_ref().and_then(|x| x.get("code"))
                == Some(&async_graphql::Value::from("RATE_LIMITED"))
        })
        .map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("retryAfter"))
                .and_then(|v| match v {
                    async_graphql::Value::Number(n) => n.as_u64(),
                    _ => None,
                })
                .unwrap_or(1)
        })
        .max()
}

/// Whether any error says the client may retry (database unavailable, deadline).
pub fn is_retryable(response: &Response) -> bool {
    response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("retryable"))
            .is_some()
    })
}

/// The outcome label of an executed response, for metrics.
pub fn outcome(response: &Response, request_error: bool) -> &'static str {
    if has_code(response, "UNAUTHENTICATED") {
        "unauthenticated"
    } else if is_retryable(response) {
        "unavailable"
    } else if request_error {
        "rejected"
    } else if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    }
}

/// Gives every error a code from the closed set and hides internal text.
pub fn seal_errors(errors: &mut [ServerError], request_error: bool) {
    for e in errors {
        let has_code = e
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if has_code {
            continue;
        }
        let user_error = request_error
            || e.message.starts_with("Invalid value for argument")
            || e.message.starts_with("Failed to parse");
        let ext = e.extensions.get_or_insert_with(Default::default);
        if user_error {
            ext.set("code", "BAD_USER_INPUT");
        } else {
            tracing::error!(error = %e.message, "unclassified GraphQL error");
            e.message = "internal error".to_owned();
            ext.set("code", "INTERNAL");
        }
    }
}

/// Response keys of a selection (merged over several sets), in query order, each with the
/// selection sets below it. Fragments are flattened; a fragment already on the path is skipped.
fn ordered_keys<'a>(
    sets: &[&'a SelectionSet],
    doc: &'a ExecutableDocument,
    out: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    seen: &mut Vec<&'a str>,
) {
    for set in sets {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let key = f
                        .node
                        .alias
                        .as_ref()
                        .map_or(f.node.name.node.as_str(), |a| a.node.as_str());
                    let below = &f.node.selection_set.node;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, subs)) => subs.push(below),
                        None => out.push((key, vec![below])),
                    }
                }
                Selection::InlineFragment(i) => {
                    ordered_keys(&[&i.node.selection_set.node], doc, out, seen)
                }
                Selection::FragmentSpread(sp) => {
                    let name = sp.node.fragment_name.node.as_str();
                    if seen.contains(&name) {
                        continue;
                    }
                    if let Some(frag) = doc.fragments.get(&sp.node.fragment_name.node) {
                        seen.push(name);
                        ordered_keys(&[&frag.node.selection_set.node], doc, out, seen);
                        seen.pop();
                    }
                }
            }
        }
    }
}

/// Puts every object's fields in the order the query asked for them. The spec requires it, and
/// async-graphql 7.2 returns parallel fields in the order they finished.
fn restore_field_order(
    value: &mut async_graphql::Value,
    sets: &[&SelectionSet],
    doc: &ExecutableDocument,
) {
    reorder(value, sets, doc, &mut None);
}

/// One response key of a selection, with the selections below it and, once an object under it
/// has been seen, their own keys: the items of a list share one selection, so its order is
/// worked out once per list rather than once per item.
struct KeyOrder<'a> {
    key: &'a str,
    below: Vec<&'a SelectionSet>,
    order: Option<Vec<KeyOrder<'a>>>,
}

fn reorder<'a>(
    value: &mut async_graphql::Value,
    sets: &[&'a SelectionSet],
    doc: &'a ExecutableDocument,
    order: &mut Option<Vec<KeyOrder<'a>>>,
) {
    match value {
        async_graphql::Value::List(items) => {
            items.iter_mut().for_each(|v| reorder(v, sets, doc, order))
        }
        async_graphql::Value::Object(map) => {
            let keys = order.get_or_insert_with(|| {
                let mut keys = Vec::new();
                ordered_keys(sets, doc, &mut keys, &mut Vec::new());
                keys.into_iter()
                    .map(|(key, below)| KeyOrder {
                        key,
                        below,
                        order: None,
                    })
                    .collect()
            });
            // Most objects already are in order (their fields finished in turn): check before
            // rebuilding the map. In order, the object's keys are the query's keys with some
            // left out (a `@skip`, say), so one walk along both finds each key's place.
            let mut rest = keys.iter();
            let in_order = map.keys().all(|name| rest.any(|k| k.key == name.as_str()));
            if !in_order {
                let mut old = std::mem::take(map);
                for k in keys.iter() {
                    if let Some((name, v)) = old.swap_remove_entry(k.key) {
                        map.insert(name, v);
                    }
                }
                // Keys the query does not name (none are expected) stay, after the rest.
                map.extend(old);
            }
            let mut rest = keys.iter_mut();
            for (name, v) in map.iter_mut() {
                match rest.find(|k| k.key == name.as_str()) {
                    Some(k) => reorder(v, &k.below, doc, &mut k.order),
                    None => break,
                }
            }
        }
        _ => {}
    }
}

/// The selection set of the operation that ran.
fn operation_selection<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a SelectionSet> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node.selection_set.node),
        (DocumentOperations::Multiple(map), Some(n)) => map
            .iter()
            .find(|(k, _)| k.as_str() == n)
            .map(|(_, op)| &op.node.selection_set.node),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            map.values().next().map(|op| &op.node.selection_set.node)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{Name, Value};

    use super::*;

    fn object(fields: Vec<(&str, Value)>) -> Value {
        Value::Object(fields.into_iter().map(|(k, v)| (Name::new(k), v)).collect())
    }

    fn keys(v: &Value) -> Vec<String> {
        match v {
            Value::Object(map) => map.keys().map(|k| k.to_string()).collect(),
            _ => panic!("not an object: {v}"),
        }
    }

    /// The items of a list share one worked-out order, yet each is put in order on its own: one
    /// arrives in order, the next does not, and their nested lists (through a fragment) likewise.
    #[test]
    fn every_item_of_a_list_comes_back_in_query_order() {
        let doc = async_graphql::parser::parse_query(
            "{ groups { id ...G tasks { title id } } } fragment G on Group { name status }",
        )
        .unwrap();
        let task = |first: &str| {
            if first == "title" {
                object(vec![("title", Value::from("t")), ("id", Value::from("1"))])
            } else {
                object(vec![("id", Value::from("2")), ("title", Value::from("u"))])
            }
        };
        let in_order = object(vec![
            ("id", Value::from("a")),
            ("name", Value::from("A")),
            ("status", Value::from("ACTIVE")),
            ("tasks", Value::List(vec![task("title"), task("id")])),
        ]);
        let shuffled = object(vec![
            ("tasks", Value::List(vec![task("id"), task("title")])),
            ("status", Value::from("ACTIVE")),
            ("id", Value::from("b")),
            ("name", Value::from("B")),
        ]);
        // A field left out (`@skip`) and a key the query does not name: the named ones are put
        // in order and their lists too, the stranger goes last.
        let partial = object(vec![
            ("status", Value::from("ACTIVE")),
            ("stranger", Value::from(1)),
            ("tasks", Value::List(vec![task("id")])),
            ("id", Value::from("c")),
        ]);
        let mut data = object(vec![(
            "groups",
            Value::List(vec![in_order, shuffled, partial]),
        )]);
        let set = operation_selection(&doc, None).unwrap();
        restore_field_order(&mut data, &[set], &doc);

        let Value::Object(top) = &data else { panic!() };
        let Value::List(groups) = &top["groups"] else {
            panic!()
        };
        let (partial, groups) = groups.split_last().unwrap();
        assert_eq!(keys(partial), ["id", "status", "tasks", "stranger"]);
        let Value::Object(p) = partial else { panic!() };
        let Value::List(tasks) = &p["tasks"] else {
            panic!()
        };
        assert_eq!(keys(&tasks[0]), ["title", "id"]);
        for group in groups {
            assert_eq!(keys(group), ["id", "name", "status", "tasks"]);
            let Value::Object(g) = group else { panic!() };
            let Value::List(tasks) = &g["tasks"] else {
                panic!()
            };
            for t in tasks {
                assert_eq!(keys(t), ["title", "id"]);
            }
        }
        // Values travel with their keys.
        let Value::Object(second) = &groups[1] else {
            panic!()
        };
        assert_eq!(second["id"], Value::from("b"));
    }
}
