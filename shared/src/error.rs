//! [`Error`]: everything an operation can fail with, in domain terms, and nothing about HTTP.
//!
//! `http::error` maps it to a response in one `match`; the file processor asks
//! [`Error::is_retryable`]. [`ValidationErrors`] carries per-field messages in FastAPI's shape.

use std::{fmt, time::Duration};

use serde::Serialize;

/// A boxed error from a dependency (AWS SDK, runtime), kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything an operation can fail with.
#[derive(thiserror::Error)]
pub enum Error {
    #[error("{}", .0.summary())]
    Invalid(ValidationErrors),
    #[error("not authenticated")]
    Unauthenticated,
    /// A wrong email and a wrong password alike: the answer must not tell which.
    #[error("incorrect email or password")]
    InvalidCredentials,
    /// A request that is well formed but cannot be done as asked (a wrong current password, a
    /// spent reset token): `400`.
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    /// An owner's status change the lifecycle does not allow.
    #[error("a task cannot move from {from} to {to}")]
    InvalidMove {
        from: crate::tasks::model::TaskStatus,
        to: crate::tasks::model::TaskStatus,
    },
    /// `If-Match` named a version the task has moved past.
    #[error("the task has changed since it was read (it is at version {current}); read it again")]
    PreconditionFailed { current: i64 },
    #[error("request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("the file is larger than {limit_bytes} bytes")]
    FileTooLarge { limit_bytes: u64 },
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("too many attempts; try again later")]
    TooManyRequests { retry_after: Duration },
    #[error("too many tasks created in the last hour; try again later")]
    TooManyTasks { retry_after: Duration },
    #[error(
        "the file ({file_bytes} bytes) would take your uploads past your quota: {used_bytes} of {quota_bytes} bytes are used"
    )]
    OverQuota {
        used_bytes: u64,
        quota_bytes: u64,
        file_bytes: u64,
    },
    #[error("database unavailable")]
    Database(#[from] sqlx::Error),
    #[error("object storage unavailable")]
    Storage(#[source] BoxError),
    #[error("job queue unavailable")]
    Queue(#[source] BoxError),
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Self::Invalid(errors)
    }
}

impl Error {
    /// Whether trying the same work again later could succeed (SQS redelivery, a client retry):
    /// S3 and SQS failures, and a database that could not be reached or shed the query. A query
    /// the database refused (a value it cannot store, a broken invariant) fails the same way every
    /// time, so it is not retryable: it is a bug, answered `500`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Database(e) => database_unavailable(e),
            Self::Storage(_) | Self::Queue(_) => true,
            _ => false,
        }
    }

    /// Wraps an S3 failure; use at the storage boundary only.
    pub fn storage(e: impl Into<BoxError>) -> Self {
        Self::Storage(e.into())
    }

    /// Wraps an SQS failure; use at the queue boundary only.
    pub fn queue(e: impl Into<BoxError>) -> Self {
        Self::Queue(e.into())
    }
}

/// Whether a database error means the database was unavailable rather than that it refused the
/// query: no connection, a pool exhausted or closed, or one of the SQLSTATEs a server sends while
/// it starts, stops, fails over or sheds load.
fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 28: credentials refused (a password rotated since the
            // secret was read; it is read again within minutes); 53: insufficient resources;
            // 57P01–57P03: shutting down or starting up; 57014: cancelled (the statement
            // timeout); 40001/40P01: serialization failure and deadlock, which succeed when run again.
            code.starts_with("08")
                || code.starts_with("28")
                || code.starts_with("53")
                || matches!(
                    &*code,
                    "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

// By hand, walking `source()`, so a logged 5xx shows every `Caused by:` level (zero2prod's
// `error_chain_fmt`); the derived form would print nested variants instead.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{self}")?;
        let mut current = std::error::Error::source(self);
        while let Some(cause) = current {
            writeln!(f, "Caused by:\n\t{cause}")?;
            current = cause.source();
        }
        Ok(())
    }
}

// A Lambda invocation that fails reports the error with its cause chain, once, in CloudWatch.
impl From<Error> for lambda_http::lambda_runtime::Diagnostic {
    fn from(e: Error) -> Self {
        tracing::error!(error.cause_chain = ?e, "invocation failed");
        let error_type = if e.is_retryable() {
            "DependencyUnavailable"
        } else {
            "Failed"
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

pub trait ResultExt<T> {
    /// Replaces a violation of the named constraint with `err`; passes everything else through.
    ///
    /// # Errors
    /// `err` for that violation, the original error (as [`Error`]) otherwise.
    fn on_constraint(self, name: &str, err: Error) -> Result<T, Error>;
}

impl<T, E: Into<Error>> ResultExt<T> for Result<T, E> {
    fn on_constraint(self, name: &str, err: Error) -> Result<T, Error> {
        self.map_err(|e| match e.into() {
            Error::Database(sqlx::Error::Database(db)) if db.constraint() == Some(name) => err,
            other => other,
        })
    }
}

/// Per-field validation failures, serialised as FastAPI's `[{loc, msg, type}]` items.
///
/// Messages describe the rule that failed and never echo the input back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

/// One failed rule: where (`["body", "email"]`), what, and a machine-readable type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl ValidationErrors {
    /// A JSON merge patch's members: the object `body` is, with one error per member that is
    /// not among `allowed` (`what` names the thing patched, for the message). A body that is not
    /// an object is an error at `["body"]` and nothing else.
    ///
    /// # Errors
    /// The error for a body that is not an object.
    pub fn merge_patch<'a>(
        body: &'a serde_json::Value,
        allowed: &[&str],
        what: &str,
        errors: &mut Self,
    ) -> Result<&'a serde_json::Map<String, serde_json::Value>, Self> {
        let serde_json::Value::Object(members) = body else {
            return Err(Self::at(
                &["body"],
                "must be a JSON object of the members to change",
                "model_type",
            ));
        };
        for name in members.keys().filter(|k| !allowed.contains(&k.as_str())) {
            errors.merge(Self::at(
                &["body", name],
                format!(
                    "is not a member {what} has; it may be one of {}",
                    allowed.join(", ")
                ),
                "extra_forbidden",
            ));
        }
        Ok(members)
    }

    /// One failure of a body field.
    pub fn field(name: &str, msg: impl Into<String>) -> Self {
        Self::at(&["body", name], msg, "value_error")
    }

    /// One failure at an explicit location, e.g. `["query", "limit"]`.
    pub fn at(loc: &[&str], msg: impl Into<String>, kind: &'static str) -> Self {
        Self(vec![FieldError {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            msg: msg.into(),
            kind,
        }])
    }

    /// Adds the failures of `other`, so every bad field is reported at once.
    pub fn merge(&mut self, other: Self) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn items(&self) -> &[FieldError] {
        &self.0
    }

    /// A one-line `detail`: the first failure, prefixed by its field.
    fn summary(&self) -> String {
        match self.0.first() {
            None => "invalid input".to_owned(),
            Some(first) => {
                let field = first.loc.last().map_or("input", String::as_str);
                let more = match self.0.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                format!("{field}: {}{more}", first.msg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_detail_names_the_field_and_counts_the_rest() {
        let mut errors = ValidationErrors::field("title", "must not be blank");
        errors.merge(ValidationErrors::at(
            &["query", "limit"],
            "must be at most 100",
            "less_than_equal",
        ));
        assert_eq!(
            Error::from(errors).to_string(),
            "title: must not be blank (and 1 more)"
        );
    }

    #[test]
    fn validation_items_have_fastapis_shape() {
        let errors = ValidationErrors::at(
            &["query", "skip"],
            "must be at least 0",
            "greater_than_equal",
        );
        assert_eq!(
            serde_json::to_value(&errors).expect("serialises"),
            serde_json::json!([{"loc": ["query", "skip"], "msg": "must be at least 0", "type": "greater_than_equal"}])
        );
    }

    #[test]
    fn debug_output_walks_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let printed = format!("{:?}", Error::storage(io));
        assert!(
            printed.starts_with("object storage unavailable"),
            "{printed}"
        );
        assert!(
            printed.contains("Caused by:\n\tconnection refused"),
            "{printed}"
        );
    }

    #[test]
    fn only_dependency_failures_are_retryable() {
        assert!(Error::queue("timeout").is_retryable());
        assert!(Error::Database(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!Error::Database(sqlx::Error::RowNotFound).is_retryable());
        assert!(!Error::NotFound("task").is_retryable());
        assert!(!Error::Invalid(ValidationErrors::field("title", "blank")).is_retryable());
    }
}
