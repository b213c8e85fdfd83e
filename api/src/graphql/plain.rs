//! The nodes of a page answered without a future per field.
//!
//! async-graphql resolves each field of each object as a boxed future of its own, gathered in a
//! `FuturesUnordered` and then into a map, and each item of a list as a future too. For the
//! rows of a page (a ward's 50 groups bring hundreds of members and tasks) whose selected
//! fields mostly read the row already in memory, that machinery costs more than the fields do.
//!
//! [`PlainList`] is what a connection's `nodes` returns. When its selection names only fields
//! (no fragment, no directive), it answers the list itself:
//! - each of the node type's [`PlainFields::PLAIN`] fields (and `__typename`), asked without
//!   arguments, is polled once, in place;
//! - every other field (one that loads: a group's `members`, a member's `unit`) is resolved by
//!   its own resolver as async-graphql would, all of the page's at once, so the DataLoader
//!   still gathers the whole page's keys into one batch.
//!
//! It builds the same values async-graphql would: same resolvers, same conversions, the same
//! rule for a key selected twice, and the same handling of a field that fails (its error is
//! recorded with its path and its key is left out of its object). Keys come in the order the
//! query names them, which is the order the response is sealed in anyway. Anything else — a
//! fragment, a directive, a field that loads selected twice under one key, a plain field that
//! did not finish at once — takes async-graphql's path for the whole list, unchanged, before
//! any loading field has started. So the list of plain fields is a promise that they finish at
//! once, never a change to what they answer.
//!
//! The one thing this path skips is async-graphql's per-field extension hooks, and the schema
//! registers no extension (`build_schema` says so where one would be added).

use std::borrow::Cow;

use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_list};
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use futures_util::FutureExt;

/// A node type some of whose fields answer from the row alone.
pub trait PlainFields: ContainerType + OutputType {
    /// The GraphQL names of the fields whose resolvers take no arguments, read nothing but
    /// `self` and never wait. `tests/api/plain_nodes.rs` selects every one of them, so each
    /// must be a field of the type.
    const PLAIN: &'static [&'static str];
}

/// The nodes of a page, typed in the schema exactly as `[T!]!`.
pub struct PlainList<'a, T>(pub &'a [T]);

impl<T: PlainFields> OutputType for PlainList<'_, T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(fields) = selected_fields::<T>(ctx)
            && let Some(values) = answer_in_place(ctx, self.0, &fields).await
        {
            return Ok(Value::List(values));
        }
        resolve_list(ctx, field, self.0, Some(self.0.len())).await
    }
}

/// How one selected field of a node is answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `__typename`.
    TypeName,
    /// One of [`PlainFields::PLAIN`], asked without arguments: polled once, in place.
    InPlace,
    /// Anything else: its resolver, awaited with the page's other loading fields.
    Awaited,
}

/// The fields a node's selection names, each with how it is answered, when the selection is
/// fields alone (no fragment, no directive) and no field answered by waiting shares its
/// response key with another field (async-graphql merges those; this path does not).
fn selected_fields<'a, T: PlainFields>(
    ctx: &ContextSelectionSet<'a>,
) -> Option<Vec<(&'a Positioned<Field>, Answer)>> {
    let fields: Vec<(&'a Positioned<Field>, Answer)> = ctx
        .item
        .node
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) if field.node.directives.is_empty() => {
                let name = field.node.name.node.as_str();
                let answer = if name == "__typename" {
                    Answer::TypeName
                } else if field.node.arguments.is_empty() && T::PLAIN.contains(&name) {
                    Answer::InPlace
                } else {
                    Answer::Awaited
                };
                Some((field, answer))
            }
            _ => None,
        })
        .collect::<Option<_>>()?;
    let key = |field: &Positioned<Field>| field.node.response_key().node.clone();
    let merged = fields.iter().any(|(field, answer)| {
        *answer == Answer::Awaited
            && fields
                .iter()
                .filter(|(other, _)| key(other) == key(field))
                .count()
                > 1
    });
    (!merged).then_some(fields)
}

/// Every item's object: its in-place fields polled once each, then the loading fields of all
/// items awaited together. `None` as soon as an in-place field is not plain after all (it
/// waited, failed or answered nothing), before any loading field has been polled, so the
/// caller resolves the list the ordinary way.
async fn answer_in_place<T: PlainFields>(
    ctx: &ContextSelectionSet<'_>,
    items: &[T],
    fields: &[(&Positioned<Field>, Answer)],
) -> Option<Vec<Value>> {
    let mut objects = Vec::with_capacity(items.len());
    // For each loading field: the item and the position of its key in the item's object.
    let mut awaited = Vec::new();
    let mut resolvers = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let ctx_item = ctx.with_index(index);
        let mut object = async_graphql::indexmap::IndexMap::with_capacity(fields.len());
        for &(field, answer) in fields {
            let key: Name = field.node.response_key().node.clone();
            // A key selected twice keeps its first value, as async-graphql's own merge does for
            // anything but objects and lists (which in-place fields never answer; loading
            // fields selected twice never come here).
            if object.contains_key(&key) {
                continue;
            }
            let value = match answer {
                Answer::TypeName => Value::String(item.introspection_type_name().into_owned()),
                Answer::InPlace => match item
                    .resolve_field(&ctx_item.with_field(field))
                    .now_or_never()
                {
                    Some(Ok(Some(value))) => value,
                    _ => return None,
                },
                Answer::Awaited => {
                    let ctx_item = ctx.with_index(index);
                    awaited.push((index, object.len()));
                    resolvers
                        .push(async move { item.resolve_field(&ctx_item.with_field(field)).await });
                    // Replaced by the resolver's answer below.
                    Value::Null
                }
            };
            object.insert(key, value);
        }
        objects.push(object);
    }
    let answers = futures_util::future::join_all(resolvers).await;
    // Failed fields are left out; their positions are removed last to first so the positions
    // still to come stay valid.
    let mut failed = Vec::new();
    for ((index, position), answer) in awaited.into_iter().zip(answers) {
        match answer {
            // A field the type does not resolve answers null, as async-graphql's does.
            Ok(value) => {
                if let Some((_, slot)) = objects[index].get_index_mut(position) {
                    *slot = value.unwrap_or_default();
                }
            }
            Err(error) => {
                ctx.add_error(error);
                failed.push((index, position));
            }
        }
    }
    for (index, position) in failed.into_iter().rev() {
        objects[index].shift_remove_index(position);
    }
    Some(
        objects
            .into_iter()
            .map(|object| {
                if object.is_empty() {
                    Value::Null
                } else {
                    Value::Object(object)
                }
            })
            .collect(),
    )
}
