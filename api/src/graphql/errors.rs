//! Service errors at the GraphQL edge: each becomes a GraphQL error whose `extensions.code` is
//! the variant's code, with `field`, `retryAfter` or `retryable` where the variant has them.
//! Internal detail is logged here and replaced by "internal error".

use async_graphql::ErrorExtensions;

use crate::error::ApiError;

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        if let ApiError::Internal(detail) = &err {
            tracing::error!(error = %detail, "internal error");
        }
        let message = err.public_message();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                ApiError::BadUserInput { field, .. } => ext.set("field", field.as_str()),
                ApiError::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs)
                }
                ApiError::Unavailable | ApiError::TimedOut => ext.set("retryable", true),
                ApiError::Duplicate {
                    existing: (node_type, id),
                    ..
                } => ext.set("existingId", crate::ids::encode(*node_type, *id).0),
                _ => {}
            }
        })
    }
}
