//! Global IDs as GraphQL sees them: the service layer's [`cdtg_service::ids`], with
//! [`encode`] giving async-graphql's `ID` type.

pub use cdtg_service::ids::{NodeType, decode, decode_any, global_id};

/// The global ID of a row, as a GraphQL `ID`.
pub fn encode(node_type: NodeType, id: i64) -> async_graphql::ID {
    async_graphql::ID(global_id(node_type, id))
}
