//! Writers: a task-management API for writers, as AWS Lambda functions over one shared library.
//!
//! # Layout
//!
//! - [`config`]: [`Config`] read once from the environment; secrets never print.
//! - [`state`]: [`AppState`], the pool and AWS clients built once per cold start.
//! - [`error`]: [`Error`], what operations fail with; `http::error` maps it to responses.
//! - [`aws`]: the AWS SDK configuration every client shares, and clients built on first use.
//! - [`secrets`]: Secrets Manager reads, signed and sent without the SDK.
//! - [`db`]: the lazily connecting pool, and (in [`db::migrate`]) the embedded migrations.
//! - [`files`]: S3 under the `STORAGE_ROOT` prefix, the SQS jobs queue and its messages, the
//!   streaming analyzer and the `.docx` reader.
//! - [`http`]: the one route table, shared by the local server, each Lambda function and the
//!   OpenAPI document.
//! - [`users`]: accounts, sessions, tokens, cookies and the brute-force limits; the profile,
//!   password, devices, reset by email and deletion of one's own account.
//! - [`admin`]: administrators' users table, account changes and their audit.
//! - [`mail`]: email through SES.
//! - [`tasks`]: tasks, their uploads and the job that processes them; [`tasks::lifecycle`] makes
//!   every status change and [`tasks::objects`] owns the S3 key layout.
//! - [`processor`]: the file processor behind the jobs queue, and the local poller that feeds it.
//! - [`sweeper`]: scheduled housekeeping (outbox delivery, cancelling jobs that keep failing).
//! - [`clock`]: the time every rule reads, movable in tests.
//! - [`health`]: the local server's dependency check.
//! - [`telemetry`]: the `tracing` subscriber.
//!
//! # Request flow
//!
//! ```text
//! API Gateway → functions/<name>::main ─┐
//! local-api / integration tests ────────┴→ http::routes → <feature>::http → <feature> → <feature>::db, files
//!
//! SQS → functions/file-processor::main ─┐
//! local-api's poller ───────────────────┴→ processor::handle_batch → files::{analysis, docx}, tasks::lifecycle
//! ```

pub mod admin;
pub mod aws;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod health;
pub mod http;
pub mod mail;
pub mod processor;
pub mod secrets;
pub mod state;
pub mod sweeper;
pub mod tasks;
pub mod telemetry;
pub mod users;

pub use config::Config;
pub use error::{Error, ValidationErrors};
pub use state::AppState;
