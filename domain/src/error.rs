//! The domain's one error type. Each variant has exactly one public code; the edges
//! (GraphQL, problem+json) map it once and never show `Internal` details to a client.

use serde_json::{Map, Value};

use crate::role::Role;

/// The codes of ARCHITECTURE.md, as clients see them in `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    QuotaExceeded,
    PayloadTooLarge,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The HTTP status a plain endpoint answers with this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::BadUserInput => 400,
            ErrorCode::Conflict => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::QuotaExceeded => 429,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Internal => 500,
        }
    }
}

/// One invalid input field, as listed in `extensions.fields`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("requires role {need} or higher")]
    Forbidden { need: Role },
    #[error("{0}")]
    ForbiddenOther(String),
    /// Worded like an id that never existed, whoever owns it.
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// `details` are merged into the extensions (e.g. `allowedNextStates`).
    #[error("{message}")]
    InvalidInput {
        message: String,
        fields: Vec<FieldError>,
        details: Map<String, Value>,
    },
    /// `details` are merged into the error's extensions (e.g. the current version).
    #[error("{message}")]
    Conflict {
        message: String,
        details: Map<String, Value>,
    },
    /// A write of a job attempt whose fencing token is no longer the job's: the lease
    /// expired and the job was reclaimed, or it finished or was cancelled meanwhile.
    #[error("the job's lease has passed on; this attempt's writes are refused")]
    LeaseLost,
    #[error("{0}")]
    RateLimited(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DomainError {
    /// Exhaustive on purpose: a new variant does not compile until it has a code.
    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            DomainError::Forbidden { .. } | DomainError::ForbiddenOther(_) => ErrorCode::Forbidden,
            DomainError::NotFound { .. } => ErrorCode::NotFound,
            DomainError::InvalidInput { .. } => ErrorCode::BadUserInput,
            DomainError::Conflict { .. } | DomainError::LeaseLost => ErrorCode::Conflict,
            DomainError::RateLimited(_) => ErrorCode::RateLimited,
            DomainError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            DomainError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn not_found(entity: &'static str) -> Self {
        DomainError::NotFound { entity }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        DomainError::InvalidInput {
            message: message.into(),
            fields: Vec::new(),
            details: Map::new(),
        }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        DomainError::InvalidInput {
            message: format!("{field}: {message}"),
            fields: vec![FieldError {
                field: field.to_owned(),
                message,
            }],
            details: Map::new(),
        }
    }

    /// Several invalid fields at once (a form's whole error list); the message names the first.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [] => "invalid input".to_owned(),
            [one] => format!("{}: {}", one.field, one.message),
            [first, rest @ ..] => format!(
                "{}: {} (and {} more invalid field{})",
                first.field,
                first.message,
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
        };
        DomainError::InvalidInput {
            message,
            fields,
            details: Map::new(),
        }
    }

    pub fn invalid_with(message: impl Into<String>, details: Map<String, Value>) -> Self {
        DomainError::InvalidInput {
            message: message.into(),
            fields: Vec::new(),
            details,
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        DomainError::Conflict {
            message: message.into(),
            details: Map::new(),
        }
    }

    /// Extra extension entries beyond `code` (field lists, current versions).
    pub fn details(&self) -> Map<String, Value> {
        match self {
            DomainError::InvalidInput {
                fields, details, ..
            } => {
                let mut m = details.clone();
                if !fields.is_empty() {
                    m.insert(
                        "fields".into(),
                        serde_json::to_value(fields).unwrap_or(Value::Null),
                    );
                }
                m
            }
            DomainError::Conflict { details, .. } => details.clone(),
            _ => Map::new(),
        }
    }
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(e: sea_orm::DbErr) -> Self {
        DomainError::Internal(anyhow::Error::new(e))
    }
}

/// True when `e` is a unique-constraint violation (callers turn it into `Conflict`).
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

pub type DomainResult<T> = Result<T, DomainError>;
