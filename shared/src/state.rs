//! [`AppState`]: the handles one process shares between requests, built once per cold start.
//!
//! Building it performs no network I/O: the pool connects on first use and the AWS clients
//! resolve credentials lazily, so a cold start never waits on Postgres, S3 or SQS.

use std::{sync::Arc, time::Duration};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use sqlx::PgPool;

use crate::{
    Config, db,
    files::{queue::JobQueue, storage::Storage},
};

/// Shared handles for one process. Every field is cheap to clone (`Arc` inside).
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub storage: Storage,
    pub jobs: JobQueue,
    pub config: Arc<Config>,
}

impl AppState {
    /// Builds the pool and the S3 and SQS clients from `config`, without connecting anywhere.
    pub async fn new(config: Config) -> Self {
        let db = db::pool(&config);
        Self::with_pool(config, db).await
    }

    /// Like [`AppState::new`] around an existing pool (the tests' per-test database).
    pub async fn with_pool(config: Config, db: PgPool) -> Self {
        let aws = aws_config(&config).await;
        Self {
            db,
            storage: Storage::new(&aws, &config),
            jobs: JobQueue::new(&aws, &config),
            config: Arc::new(config),
        }
    }
}

/// The SDK configuration both clients share: explicit region (no instance-metadata lookup at
/// cold start) and short timeouts, so an unreachable S3 or SQS becomes a quick `503`, not a
/// request hanging until API Gateway gives up at 30 s.
async fn aws_config(config: &Config) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.aws_region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                // Until the response arrives; a streamed body is bounded by the read timeout instead,
                // since large objects stream for longer than this.
                .operation_timeout(Duration::from_secs(15))
                .read_timeout(Duration::from_secs(10))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
