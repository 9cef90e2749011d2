//! The one error type at the HTTP edge. Clients get a stable `code` and a message; internal
//! faults are logged once with their cause and answered with a generic message.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::catalog::CatalogError;
use crate::db::DbError;
use crate::domain::InvalidName;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidPath(#[from] InvalidName),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed: the mirror is read-only (GET and HEAD)")]
    MethodNotAllowed,
    #[error("{0}")]
    Unavailable(String),
    /// An origin registry could not answer (down, unreachable, throttling): nothing wrong
    /// with the request, and the message says where and why.
    #[error("{0}")]
    UpstreamUnavailable(String),
    /// A fault of ours. The cause chain is logged once, at the edge; the client sees a
    /// generic message.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
    #[error("{0}")]
    BadRequest(String),
    /// Invalid input with positions (a definitions file): the first problems, and how many
    /// there are in all.
    #[error("{message}")]
    Validation {
        message: String,
        errors: Vec<FieldError>,
        total: usize,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{message}")]
    Throttled { message: String, retry_after: u64 },
    #[error("{0}")]
    RequestTimeout(String),
    /// The package store has no space left: nothing was stored.
    #[error("{0}")]
    InsufficientStorage(String),
}

/// One problem at a position in submitted text.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_errors: Option<usize>,
}

impl AppError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    /// A request body that could not be read: too slow (408) or broken (400).
    pub fn payload(e: &actix_web::error::PayloadError, doing: &str) -> Self {
        if crate::http::body_deadline::is_too_slow(e) {
            Self::RequestTimeout(crate::http::body_deadline::TOO_SLOW.into())
        } else {
            Self::BadRequest(format!("{doing}: {e}"))
        }
    }

    /// A fault with its cause kept.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    fn code(&self) -> &'static str {
        match self {
            Self::InvalidPath(_) => "invalid_path",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unavailable(_) => "unavailable",
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::Internal(_) => "internal",
            Self::BadRequest(_) => "bad_request",
            Self::Validation { .. } => "invalid_definitions",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::Throttled { .. } => "throttled",
            Self::RequestTimeout(_) => "request_timeout",
            Self::InsufficientStorage(_) => "insufficient_storage",
        }
    }
}

/// `.or_internal("what we were doing")?`: a fault, with its cause and what it interrupted.
pub trait OrInternal<T> {
    fn or_internal(self, doing: &'static str) -> Result<T, AppError>;
}

impl<T, E: Into<anyhow::Error>> OrInternal<T> for Result<T, E> {
    fn or_internal(self, doing: &'static str) -> Result<T, AppError> {
        self.map_err(|e| AppError::Internal(e.into().context(doing)))
    }
}

impl From<CatalogError> for AppError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Db(e) => e.into(),
            CatalogError::Storage(e) => e.into(),
            CatalogError::Unavailable(m) => {
                Self::Unavailable(format!("the database does not answer: {m}"))
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// The one place database errors meet HTTP: a missing row is a 404, a unique violation a
/// 409 (someone created it first), a database that does not answer a 503 with
/// `Retry-After` (the pool gives up after `database.acquire_timeout_ms`, well inside a
/// client's patience), everything else a fault.
impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(format!("the database does not answer: {e}"))
        } else if e.is_bad_value() {
            Self::BadRequest(
                "a value in the request cannot be stored (text with a NUL character?)".into(),
            )
        } else if e.is_unique_violation() {
            Self::Conflict("it already exists".into())
        } else if e.is_not_found() {
            Self::NotFound("no such resource".into())
        } else {
            Self::Internal(e.into())
        }
    }
}

/// An object store that is down is a 503 with `Retry-After` (clients retry); a full one a
/// 507 that says so (an operator must act); anything else about storage is a fault.
impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(cause) => Self::Unavailable(cause),
            full @ StorageError::Full(_) => {
                tracing::error!(error = %full, "the package store is full");
                Self::InsufficientStorage(format!("{full}; nothing was stored"))
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidPath(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadRequest(_) | Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::Internal(cause) => {
                tracing::error!(cause = format!("{cause:#}"), "request failed");
                "internal server error".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "not ready");
                "service unavailable".to_owned()
            }
            other => other.to_string(),
        };
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header(("Cache-Control", "no-store"));
        if let Self::Throttled { retry_after, .. } = self {
            res.insert_header(("Retry-After", retry_after.to_string()));
        }
        if let Self::Unavailable(_) = self {
            res.insert_header(("Retry-After", "5"));
        }
        if let Self::Unauthorized(_) = self {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Self::MethodNotAllowed = self {
            // RFC 9110 15.5.6: a 405 lists the methods the resource does support.
            res.insert_header(("Allow", "GET, HEAD"));
        }
        res.json(Body {
            code: self.code(),
            message,
            errors: match self {
                Self::Validation { errors, .. } => Some(errors),
                _ => None,
            },
            total_errors: match self {
                Self::Validation { total, .. } => Some(*total),
                _ => None,
            },
        })
    }
}
