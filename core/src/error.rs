//! The error types of the pure core: [`ValidationError`] for rejected input, and
//! [`UnknownValue`] for a stored spelling that names no value of an enum.
//!
//! Every rule in `cdtg-core` that rejects input says *which field* was wrong and *why*, in a short
//! English sentence. The server maps this to a GraphQL error with `extensions.code =
//! BAD_USER_INPUT` and `extensions.field = field`; the Android companion maps it to its Kotlin
//! exception with the same code and field. Keeping it a plain struct (not an enum of cases) keeps
//! both mappings trivial and the messages in one place: the validating function.

/// A rejected input value: the input field it came from and a human-readable reason.
///
/// `field` uses the client's (GraphQL input) name of the field, e.g. `"residentsHelped"`, so a
/// front end can put the message next to the right form control without a lookup table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// Name of the offending input field, as the client spelled it.
    pub field: String,
    /// Short English sentence saying what is wrong, safe to show to the user.
    pub message: String,
}

impl ValidationError {
    /// Builds an error for `field` with `message`; takes anything string-like so call sites stay short.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Text that names no value of an enum: written by a newer version or by hand. Reading it is
/// not the client's mistake, so the server reports it as an internal error naming the type and
/// the text; nothing panics on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a {type_name} value")]
pub struct UnknownValue {
    /// The enum's Rust name, e.g. `"TaskKind"`.
    pub type_name: &'static str,
    /// The text that was read.
    pub text: String,
}

impl UnknownValue {
    /// Builds the error for `text`, which `type_name` could not parse.
    pub fn new(type_name: &'static str, text: impl Into<String>) -> Self {
        Self {
            type_name,
            text: text.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_value_names_type_and_text() {
        let e = UnknownValue::new("TaskKind", "TELEPORT");
        assert_eq!(e.to_string(), "\"TELEPORT\" is not a TaskKind value");
    }

    #[test]
    fn display_names_field_then_message() {
        let e = ValidationError::new("phone", "Enter a mobile number.");
        assert_eq!(e.to_string(), "phone: Enter a mobile number.");
        assert_eq!(e.field, "phone");
        assert_eq!(e.message, "Enter a mobile number.");
    }

    #[test]
    fn equal_when_field_and_message_match() {
        assert_eq!(
            ValidationError::new("a", "b"),
            ValidationError::new(String::from("a"), "b")
        );
        assert_ne!(
            ValidationError::new("a", "b"),
            ValidationError::new("a", "c")
        );
    }
}
