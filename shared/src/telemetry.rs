//! One `tracing` subscriber for every binary: JSON in Lambda, readable text locally.

use tracing_subscriber::{filter::Targets, fmt, prelude::*};

/// Installs the global subscriber once; later calls do nothing.
///
/// In Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set) lines are JSON without timestamps (CloudWatch
/// adds them) and carry the runtime's `requestId` span field; locally they are human-readable
/// and carry the `request_id` of the HTTP span. `RUST_LOG` filters both (default `info`, without
/// Postgres' notices): a level, and `target=level` pairs, comma-separated. That is `EnvFilter`'s
/// syntax without its span and field filters, whose regex engine every binary would carry.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            Targets::new()
                .with_default(tracing::Level::INFO)
                .with_target("sqlx::postgres::notice", tracing::Level::WARN)
        });
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
