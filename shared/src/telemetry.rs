//! One `tracing` subscriber for every binary: JSON in Lambda, readable text locally.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber once; later calls do nothing.
///
/// In Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set) lines are JSON without timestamps (CloudWatch
/// adds them) and carry the runtime's `requestId` span field; locally they are human-readable
/// and carry the `request_id` of the HTTP span. `RUST_LOG` filters both (default `info`, without Postgres' notices).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        registry
            .with(
                fmt::layer()
                    .json()
                    .without_time()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(false),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().compact().with_target(false))
            .try_init()
    };
    // Already installed (a test binary calling twice) is fine.
    drop(installed);
}
