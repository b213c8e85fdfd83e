//! Service errors at the GraphQL edge: each becomes a GraphQL error whose `extensions.code` is
//! the variant's code, with `field`, `retryAfter` or `retryable` where the variant has them.
//! Internal detail is logged here and replaced by "internal error".
//!
//! Resolvers return this module's [`Result`], whose error is [`GqlError`]: the service's
//! `ApiError` and async-graphql's `Error` are both foreign to this crate, and Rust lets only a
//! type of this crate carry a conversion between them. A `?` on a service call therefore always
//! goes through [`to_graphql`], which sets the code.

use async_graphql::ErrorExtensions;

use crate::error::ApiError;

/// A resolver's error: an async-graphql error, from a service error with its code or from
/// async-graphql itself.
#[derive(Debug)]
pub struct GqlError(pub async_graphql::Error);

/// What resolvers return.
pub type Result<T, E = GqlError> = std::result::Result<T, E>;

impl From<ApiError> for GqlError {
    fn from(err: ApiError) -> Self {
        GqlError(to_graphql(err))
    }
}

impl From<async_graphql::Error> for GqlError {
    fn from(err: async_graphql::Error) -> Self {
        GqlError(err)
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(err: GqlError) -> Self {
        err.0
    }
}

/// The GraphQL error a service error becomes.
pub fn to_graphql(err: ApiError) -> async_graphql::Error {
    if let ApiError::Internal(detail) = &err {
        tracing::error!(error = %detail, "internal error");
    }
    let message = err.public_message();
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", err.code());
        match &err {
            ApiError::BadUserInput { field, .. } => ext.set("field", field.as_str()),
            ApiError::RateLimited { retry_after_secs } => ext.set("retryAfter", *retry_after_secs),
            ApiError::Unavailable | ApiError::TimedOut => ext.set("retryable", true),
            ApiError::Duplicate {
                existing: (node_type, id),
                ..
            } => ext.set("existingId", crate::ids::global_id(*node_type, *id)),
            _ => {}
        }
    })
}
