//! The shape of a parsed document, measured with fragments expanded, against the shape limits.
//!
//! A fragment with 50 aliases spread ten times costs 500 aliases at execution, so each spread
//! counts its fragment's whole cost. Fragment costs are computed once each (memoised) and added
//! with saturation, so a document that nests spreads to multiply its cost is measured in linear
//! time and simply comes out huge. A fragment that spreads itself (a cycle, which validation
//! refuses on its own) counts nothing more on the way round.

use std::collections::HashMap;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, SelectionSet};

use crate::error::ApiError;

pub use crate::limits::ShapeLimits;

/// What a document costs, fragments expanded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub aliases: u64,
    pub fields: u64,
    /// The most directives on any one field, spread or operation.
    pub max_directives: usize,
    /// Whether it asks for `__schema` or `__type` anywhere.
    pub introspects: bool,
}

impl Shape {
    fn add(&mut self, other: &Shape) {
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.fields = self.fields.saturating_add(other.fields);
        self.max_directives = self.max_directives.max(other.max_directives);
        self.introspects |= other.introspects;
    }
}

struct Measure<'a> {
    doc: &'a ExecutableDocument,
    /// Fragment name → its expanded cost; `None` while it is being measured (a cycle).
    fragments: HashMap<&'a str, Option<Shape>>,
}

impl<'a> Measure<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Shape {
        use async_graphql::parser::types::Selection;
        let mut shape = Shape::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    shape.fields = shape.fields.saturating_add(1);
                    if f.alias.is_some() {
                        shape.aliases = shape.aliases.saturating_add(1);
                    }
                    if matches!(f.name.node.as_str(), "__schema" | "__type") {
                        shape.introspects = true;
                    }
                    shape.max_directives = shape.max_directives.max(f.directives.len());
                    let below = self.selection_set(&f.selection_set.node);
                    shape.add(&below);
                }
                Selection::InlineFragment(i) => {
                    shape.max_directives = shape.max_directives.max(i.node.directives.len());
                    let below = self.selection_set(&i.node.selection_set.node);
                    shape.add(&below);
                }
                Selection::FragmentSpread(s) => {
                    shape.max_directives = shape.max_directives.max(s.node.directives.len());
                    let below = self.fragment(s.node.fragment_name.node.as_str());
                    shape.add(&below);
                }
            }
        }
        shape
    }

    fn fragment(&mut self, name: &'a str) -> Shape {
        match self.fragments.get(name) {
            Some(Some(done)) => return *done,
            Some(None) => return Shape::default(),
            None => {}
        }
        let Some((key, frag)) = self.doc.fragments.iter().find(|(k, _)| k.as_str() == name) else {
            // An unknown fragment is a validation error, reported by the schema.
            return Shape::default();
        };
        self.fragments.insert(key.as_str(), None);
        let mut shape = self.selection_set(&frag.node.selection_set.node);
        shape.max_directives = shape.max_directives.max(frag.node.directives.len());
        self.fragments.insert(key.as_str(), Some(shape));
        shape
    }
}

/// Measures every operation of the document (all of them are parsed and validated, whichever
/// one runs) and every fragment definition (validated even when unused).
pub fn measure(doc: &ExecutableDocument) -> Shape {
    let mut m = Measure {
        doc,
        fragments: HashMap::new(),
    };
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(map) => map.values().collect(),
    };
    let mut total = Shape::default();
    for op in ops {
        total.max_directives = total.max_directives.max(op.node.directives.len());
        let shape = m.selection_set(&op.node.selection_set.node);
        total.add(&shape);
    }
    // Fragments no operation uses still cost validation: count each once.
    for name in doc.fragments.keys() {
        if !m.fragments.contains_key(name.as_str()) {
            let shape = m.fragment(name.as_str());
            total.add(&shape);
        }
    }
    total
}

/// Refuses a document past any shape limit, naming the limit and the value found.
pub fn check(shape: &Shape, limits: &ShapeLimits) -> Result<(), ApiError> {
    if shape.aliases > limits.max_aliases {
        return Err(ApiError::bad_input(
            "query",
            format!(
                "uses {} aliases (fragments expanded); at most {} are allowed",
                shape.aliases, limits.max_aliases
            ),
        ));
    }
    if shape.fields > limits.max_fields {
        return Err(ApiError::bad_input(
            "query",
            format!(
                "selects {} fields (fragments expanded); at most {} are allowed",
                shape.fields, limits.max_fields
            ),
        ));
    }
    if shape.max_directives > limits.max_directives_per_field {
        return Err(ApiError::bad_input(
            "query",
            format!(
                "has {} directives on one field; at most {} are allowed",
                shape.max_directives, limits.max_directives_per_field
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(q: &str) -> Shape {
        measure(&async_graphql::parser::parse_query(q).expect("parses"))
    }

    #[test]
    fn spreads_count_their_fragment_each_time() {
        let s = shape(
            "query { a: me { id } b: me { ...F } c: me { ...F } } fragment F on User { x: id y: id }",
        );
        // 3 aliases at the root, 2 per spread of F.
        assert_eq!(s.aliases, 3 + 2 * 2);
        // 3 root fields, 1 inside a, 2 per spread.
        assert_eq!(s.fields, 3 + 1 + 2 * 2);
    }

    #[test]
    fn nested_spreads_multiply_and_saturate_instead_of_looping() {
        let mut q =
            String::from("query { ...F0 } fragment F0 on Query { a: me { id } b: me { id } }");
        for i in 1..80 {
            q.push_str(&format!(
                " fragment F{i} on Query {{ ...F{p} ...F{p} }}",
                p = i - 1
            ));
        }
        q = q.replacen("{ ...F0 }", "{ ...F79 }", 1);
        let s = shape(&q);
        assert_eq!(s.aliases, u64::MAX, "2^80 aliases saturate");
    }

    #[test]
    fn cycles_terminate() {
        let s = shape(
            "query { ...A } fragment A on Query { x: me { id } ...B } fragment B on Query { ...A }",
        );
        assert_eq!(s.aliases, 1);
    }

    #[test]
    fn introspection_is_found_inside_fragments() {
        assert!(
            shape("query { ...I } fragment I on Query { __schema { queryType { name } } }")
                .introspects
        );
        assert!(!shape("{ me { id } }").introspects);
    }

    #[test]
    fn limits_refuse_just_past_the_value() {
        let limits = ShapeLimits {
            max_aliases: 2,
            max_fields: 10,
            max_directives_per_field: 1,
        };
        assert!(check(&shape("{ a: me { id } b: me { id } }"), &limits).is_ok());
        assert!(
            check(
                &shape("{ a: me { id } b: me { id } c: me { id } }"),
                &limits
            )
            .is_err()
        );
        let fields = format!("{{ me {{ {} }} }}", "id ".repeat(9));
        assert!(check(&shape(&fields), &limits).is_ok(), "10 fields");
        let fields = format!("{{ me {{ {} }} }}", "id ".repeat(10));
        assert!(check(&shape(&fields), &limits).is_err(), "11 fields");
    }
}
