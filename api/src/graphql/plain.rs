//! The nodes of a page answered without a future per field.
//!
//! async-graphql resolves each field of each object as a boxed future of its own, gathered in a
//! `FuturesUnordered` and then into a map, and each item of a list as a future too. For the
//! rows of a page (a ward's 50 groups bring hundreds of members and tasks) whose selected
//! fields only read the row already in memory, that machinery costs more than the fields do.
//!
//! [`PlainList`] is what a connection's `nodes` returns. When every field its selection names
//! is one of the node type's [`PlainFields::PLAIN`] (or `__typename`), it polls each field's own
//! resolver once, in place, and builds the same values async-graphql would: same resolvers,
//! same conversions, same key order and the same rule for a key selected twice. Anything else
//! — a fragment, a directive, an argument, a field that loads something — takes async-graphql's
//! path for the whole list, unchanged. So the list of plain fields is a promise that they
//! finish at once, never a change to what they answer: a field named there that did await
//! would only send its list down the ordinary path.
//!
//! The one thing the in-place path skips is async-graphql's per-field extension hooks, and the
//! schema registers no extension (`build_schema` says so where one would be added).

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
        if let Some(values) = answer_in_place(ctx, self.0) {
            return Ok(Value::List(values));
        }
        resolve_list(ctx, field, self.0, Some(self.0.len())).await
    }
}

/// The fields a selection names, when all of them are plain fields of `T` (or `__typename`)
/// asked without arguments or directives.
fn plain_selection<'a, T: PlainFields>(
    ctx: &ContextSelectionSet<'a>,
) -> Option<Vec<&'a Positioned<Field>>> {
    ctx.item
        .node
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field)
                if field.node.arguments.is_empty()
                    && field.node.directives.is_empty()
                    && (field.node.name.node == "__typename"
                        || T::PLAIN.contains(&field.node.name.node.as_str())) =>
            {
                Some(field)
            }
            _ => None,
        })
        .collect()
}

/// Every item's object, built by polling its fields' resolvers once each; `None` as soon as
/// one of them is not plain after all (it waited, failed or answered nothing), so the caller
/// resolves the list the ordinary way.
fn answer_in_place<T: PlainFields>(
    ctx: &ContextSelectionSet<'_>,
    items: &[T],
) -> Option<Vec<Value>> {
    let fields = plain_selection::<T>(ctx)?;
    let mut values = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let ctx_item = ctx.with_index(index);
        let mut object = async_graphql::indexmap::IndexMap::with_capacity(fields.len());
        for &field in &fields {
            let key: Name = field.node.response_key().node.clone();
            // A key selected twice keeps its first value, as async-graphql's own merge does for
            // anything but objects and lists (which plain fields never answer).
            if object.contains_key(&key) {
                continue;
            }
            let value = if field.node.name.node == "__typename" {
                Value::String(item.introspection_type_name().into_owned())
            } else {
                match item
                    .resolve_field(&ctx_item.with_field(field))
                    .now_or_never()
                {
                    Some(Ok(Some(value))) => value,
                    _ => return None,
                }
            };
            object.insert(key, value);
        }
        values.push(if object.is_empty() {
            Value::Null
        } else {
            Value::Object(object)
        });
    }
    Some(values)
}
