//! The only place a `DomainError` becomes a GraphQL error: `extensions.code` from the
//! domain's code, `extensions.requestId` always, internal causes to the log only.

use async_graphql::ErrorExtensions;
use domain::error::{DomainError, ErrorCode};

pub trait IntoGqlError {
    fn into_gql(self, request_id: &str) -> async_graphql::Error;
}

impl IntoGqlError for DomainError {
    fn into_gql(self, request_id: &str) -> async_graphql::Error {
        let message = match &self {
            DomainError::Internal(e) => {
                tracing::error!(request.id = %request_id, error = ?e, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let code = self.code();
        let details = self.details();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            for (k, v) in details {
                if let Ok(v) = async_graphql::Value::from_json(v) {
                    ext.set(k, v);
                }
            }
        })
    }
}

/// An error of the API layer itself (bad cursor, bad id) with its code.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, ext| ext.set("code", code.as_str()))
}

pub fn bad_input(message: impl Into<String>) -> async_graphql::Error {
    coded(ErrorCode::BadUserInput, message)
}
