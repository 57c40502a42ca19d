//! [`AppState`]: the handles one process shares between requests, built once per cold start.
//!
//! Building it performs no network I/O: the pool connects on first use and the AWS clients
//! resolve credentials lazily, so a cold start never waits on Postgres, S3 or SQS.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::sync::{Mutex, OnceCell};

use crate::{
    Config, Error,
    aws::read_secret,
    clock::Clock,
    config::{DatabaseSource, JwtSecret},
    db,
    files::{queue::JobQueue, storage::Storage},
    users::token::TokenKeys,
};

/// Shared handles for one process. Every field is cheap to clone (`Arc` inside).
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub storage: Storage,
    pub jobs: JobQueue,
    /// The jobs queue's dead-letter queue, when `DEAD_LETTER_QUEUE_URL` names one.
    pub dead_letters: Option<JobQueue>,
    pub config: Arc<Config>,
    /// The time every rule reads; fixed and movable in tests.
    pub clock: Clock,
    keys: Arc<OnceCell<TokenKeys>>,
    /// When the `DATABASE_SECRET_ARN` secret was last read into the pool's options.
    database_secret_read: Arc<Mutex<Option<Instant>>>,
    secrets: aws_sdk_secretsmanager::Client,
}

/// How long credentials read from `DATABASE_SECRET_ARN` are used before the secret is read again,
/// so an instance picks up a rotated password within this time (open connections stay open).
pub const DATABASE_SECRET_MAX_AGE: Duration = Duration::from_secs(5 * 60);

impl AppState {
    /// Builds the pool and the S3 and SQS clients from `config`, without connecting anywhere.
    pub async fn new(config: Config) -> Self {
        let db = db::pool(&config);
        Self::with_pool(config, db).await
    }

    /// Like [`AppState::new`] around an existing pool (the tests' per-test database).
    pub async fn with_pool(config: Config, db: PgPool) -> Self {
        let aws = crate::aws::sdk_config(&config).await;
        Self {
            db,
            storage: Storage::new(&aws, &config),
            jobs: JobQueue::new(&aws, &config.queue_url),
            dead_letters: config
                .dead_letter_queue_url
                .as_deref()
                .map(|url| JobQueue::new(&aws, url)),
            config: Arc::new(config),
            clock: Clock::system(),
            keys: Arc::new(OnceCell::new()),
            database_secret_read: Arc::new(Mutex::new(None)),
            secrets: aws_sdk_secretsmanager::Client::new(&aws),
        }
    }

    /// The token keys, loaded on first use and kept for the life of the process.
    ///
    /// From `JWT_SECRET` directly, or from Secrets Manager (`JWT_SECRET_ARN`): that read happens
    /// on the first request that needs a token, never at cold start.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when Secrets Manager cannot be read or the secret is too short;
    /// the next request tries again.
    pub async fn keys(&self) -> Result<&TokenKeys, Error> {
        self.keys
            .get_or_try_init(|| async {
                match &self.config.jwt_secret {
                    JwtSecret::Value { current, previous } => {
                        TokenKeys::new(current, previous.as_ref())
                    }
                    JwtSecret::SecretsManager { arn } => {
                        let current =
                            read_secret(&self.secrets, arn, "AWSCURRENT", "the JWT secret")
                                .await?
                                .ok_or_else(|| {
                                    anyhow::anyhow!(
                                        "JWT_SECRET_ARN names a secret with no current value"
                                    )
                                })?;
                        let previous =
                            read_secret(&self.secrets, arn, "AWSPREVIOUS", "the JWT secret")
                                .await?;
                        tracing::info!(
                            rotation = previous.is_some(),
                            "token keys loaded from Secrets Manager"
                        );
                        TokenKeys::new(&current, previous.as_ref())
                    }
                }
            })
            .await
    }

    /// Makes sure the pool can connect: with `DATABASE_SECRET_ARN`, reads the secret on first use
    /// and again once it is [`DATABASE_SECRET_MAX_AGE`] old. Without it, does nothing.
    ///
    /// Every entry point that touches the database calls this first: the HTTP routes (a layer),
    /// the file processor's batch and the sweeper's run.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when the secret cannot be read or lacks what a connection needs;
    /// the next call tries again.
    pub async fn database_ready(&self) -> Result<(), Error> {
        let DatabaseSource::Secret { arn, .. } = &self.config.database.source else {
            return Ok(());
        };
        let mut read_at = self.database_secret_read.lock().await;
        if read_at.is_some_and(|at| at.elapsed() < DATABASE_SECRET_MAX_AGE) {
            return Ok(());
        }
        let secret = read_secret(&self.secrets, arn, "AWSCURRENT", "the database secret")
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!("DATABASE_SECRET_ARN names a secret with no current value")
            })?;
        let options = db::secret_options(
            secrecy::ExposeSecret::expose_secret(&secret),
            &self.config.database,
        )
        .map_err(|problem| anyhow::anyhow!("DATABASE_SECRET_ARN: {problem}"))?;
        self.db.set_connect_options(options);
        *read_at = Some(Instant::now());
        tracing::info!("database credentials loaded from Secrets Manager");
        Ok(())
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
