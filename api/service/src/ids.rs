//! Opaque global IDs for the Relay `Node` interface: base64url of `"<Type>:<row id>"`. Clients
//! must treat them as opaque; the type prefix lets `node(id:)` route without guessing and stops
//! an ID of one type from being accepted where another is expected.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The types that implement `Node`; the name is the GraphQL type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    AdminUnit,
    Group,
    Member,
    Membership,
    Task,
    Activity,
    Product,
    Listing,
    UnitSurvey,
    User,
    AuditEvent,
    ApiKey,
}

impl NodeType {
    const ALL: [NodeType; 12] = [
        NodeType::AdminUnit,
        NodeType::Group,
        NodeType::Member,
        NodeType::Membership,
        NodeType::Task,
        NodeType::Activity,
        NodeType::Product,
        NodeType::Listing,
        NodeType::UnitSurvey,
        NodeType::User,
        NodeType::AuditEvent,
        NodeType::ApiKey,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NodeType::AdminUnit => "AdminUnit",
            NodeType::Group => "Group",
            NodeType::Member => "Member",
            NodeType::Membership => "Membership",
            NodeType::Task => "Task",
            NodeType::Activity => "Activity",
            NodeType::Product => "Product",
            NodeType::Listing => "Listing",
            NodeType::UnitSurvey => "UnitSurvey",
            NodeType::User => "User",
            NodeType::AuditEvent => "AuditEvent",
            NodeType::ApiKey => "ApiKey",
        }
    }
}

/// The global ID of a row: opaque to clients, the same on every transport. (The GraphQL layer
/// wraps it in its `ID` type.)
pub fn global_id(node_type: NodeType, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", node_type.name()))
}

/// Any well-formed global ID, whatever its type.
pub fn decode_any(id: &str) -> Option<(NodeType, i64)> {
    let raw = URL_SAFE_NO_PAD.decode(id.trim()).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (name, row) = text.split_once(':')?;
    let node_type = NodeType::ALL.into_iter().find(|t| t.name() == name)?;
    let row: i64 = row.parse().ok()?;
    (row > 0).then_some((node_type, row))
}

/// A global ID of the expected type, or `None` for garbage or an ID of another type.
pub fn decode(expected: NodeType, id: &str) -> Option<i64> {
    decode_any(id).and_then(|(t, row)| (t == expected).then_some(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_types() {
        let id = global_id(NodeType::Group, 42);
        assert_eq!(decode(NodeType::Group, &id), Some(42));
        assert_eq!(decode(NodeType::Task, &id), None);
        assert_eq!(decode_any("not base64!"), None);
        assert_eq!(decode_any(&URL_SAFE_NO_PAD.encode("Group:-1")), None);
        assert_eq!(decode_any(&URL_SAFE_NO_PAD.encode("Nope:1")), None);
    }
}
