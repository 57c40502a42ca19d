//! [`Error`] to HTTP, in one `match`: every 4xx gets a JSON `detail`, no 5xx leaks internals.

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::{Error, error::FieldError};

/// Every error response: a human-readable `detail`; `422` adds the failing fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
    /// Present on `422`: FastAPI's `[{loc, msg, type}]` items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// How long a client should wait before retrying after a dependency failed.
const DEPENDENCY_RETRY_AFTER: Duration = Duration::from_secs(5);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::InvalidMove { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } | Self::FileTooLarge { .. } | Self::OverQuota { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } | Self::TooManyTasks { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            // Only a dependency that was unavailable invites a retry; a query the database
            // refused would be refused again.
            _ if self.is_retryable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Storage(_) | Self::Queue(_) | Self::Unexpected(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let retry_after = match &self {
            Self::TooManyRequests { retry_after } | Self::TooManyTasks { retry_after } => {
                Some(*retry_after)
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(DEPENDENCY_RETRY_AFTER),
            _ => None,
        };
        let body = if status.is_server_error() {
            // Logged once, here, with the whole cause chain; the client learns only what failed.
            tracing::error!(error.cause_chain = ?self, error.message = %self, "request failed");
            let detail = match status {
                StatusCode::SERVICE_UNAVAILABLE => format!("{self}; try again shortly"),
                _ => "internal server error".to_owned(),
            };
            json!({ "detail": detail })
        } else {
            tracing::debug!(error.message = %self, "request refused");
            match &self {
                Self::Invalid(errors) => json!({ "detail": self.to_string(), "errors": errors }),
                _ => json!({ "detail": self.to_string() }),
            }
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(after) = retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        if let Self::PreconditionFailed { current } = &self
            && let Ok(etag) = HeaderValue::from_str(&format!("\"{current}\""))
        {
            headers.insert(header::ETAG, etag);
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The fallback for paths no route serves.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "detail": "not found" })),
    )
        .into_response()
}

/// The fallback for a served path asked with another method.
pub async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "detail": "method not allowed" })),
    )
        .into_response()
}
