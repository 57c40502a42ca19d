//! [`AppState`]: the handles one process shares between requests, built once per cold start.
//!
//! Building it performs no network I/O: the pool connects on first use and the AWS clients
//! resolve credentials lazily, so a cold start never waits on Postgres, S3 or SQS. A Lambda's
//! `main` then calls [`AppState::warm_up`], which starts reading the secrets and opening the
//! first connection without delaying the end of init; the first request awaits that work.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::{
    Config, Error,
    aws::Sdk,
    clock::Clock,
    config::{DatabaseSource, JwtSecret},
    db,
    files::{queue::JobQueue, storage::Storage},
    mail::Mailer,
    secrets::Secrets,
    users::token::{Claims, TokenKeys, TokenKind},
};

/// Shared handles for one process. Every field is cheap to clone (`Arc` inside).
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub storage: Storage,
    pub jobs: JobQueue,
    /// SES, for the emails the sweeper sends.
    pub mail: Mailer,
    /// The jobs queue's dead-letter queue, when `DEAD_LETTER_QUEUE_URL` names one.
    pub dead_letters: Option<JobQueue>,
    pub config: Arc<Config>,
    /// The time every rule reads; fixed and movable in tests.
    pub clock: Clock,
    keys: Arc<Mutex<KeyCache>>,
    /// When the `DATABASE_SECRET_ARN` secret was last read into the pool's options.
    database_secret_read: Arc<Mutex<Option<Instant>>>,
    secrets: Secrets,
    /// [`AppState::warm_up`]'s work while it is under way: the first request awaits it.
    warming: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

/// How long credentials read from `DATABASE_SECRET_ARN` are used before the secret is read again,
/// so an instance picks up a rotated password within this time (open connections stay open).
pub const DATABASE_SECRET_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// How long token keys read from `JWT_SECRET_ARN` are used before the secret is read again, so
/// warm instances sign with a rotated key, and stop accepting a retired one, within this time.
pub const JWT_SECRET_MAX_AGE: TimeDelta = TimeDelta::minutes(5);

/// A token signed with a key this instance does not know may mean the secret was rotated since
/// it was read: the secret is read again at once, but at most this often.
pub const JWT_UNKNOWN_KEY_REREAD_EVERY: TimeDelta = TimeDelta::minutes(1);

/// The token keys and when they were read (on the clock every rule reads, so tests can move it).
#[derive(Default)]
struct KeyCache {
    loaded: Option<(Arc<TokenKeys>, DateTime<Utc>)>,
    /// The last read a token with an unknown key asked for.
    early_read_at: Option<DateTime<Utc>>,
}

impl AppState {
    /// Builds the pool and the S3 and SQS clients from `config`, without connecting anywhere.
    pub async fn new(config: Config) -> Self {
        let db = db::pool(&config);
        Self::with_pool(config, db).await
    }

    /// Like [`AppState::new`] around an existing pool (the tests' per-test database).
    pub async fn with_pool(config: Config, db: PgPool) -> Self {
        let aws = Sdk::new(&config);
        let secrets = Secrets::from_env(&config.aws_region);
        Self {
            db,
            storage: Storage::new(&aws, &config),
            jobs: JobQueue::new(&aws, &config.queue_url),
            mail: Mailer::new(&aws, &config),
            dead_letters: config
                .dead_letter_queue_url
                .as_deref()
                .map(|url| JobQueue::new(&aws, url)),
            config: Arc::new(config),
            clock: Clock::system(),
            keys: Arc::new(Mutex::new(KeyCache::default())),
            database_secret_read: Arc::new(Mutex::new(None)),
            secrets,
            warming: Arc::default(),
        }
    }

    /// Starts, in the background, what the first request would otherwise do in series: read the
    /// database secret and open the first connection, and (with `token_keys`, for the HTTP
    /// functions) read both versions of the JWT secret, all at once.
    /// Init ends at once; the first request waits for this work ([`AppState::warmed`]), so a cold
    /// start's first response pays for the slowest of them, not their sum. A failure is only
    /// logged: the request that needs what failed tries again, and answers its error.
    pub fn warm_up(&self, token_keys: bool) {
        let state = self.clone();
        let work = tokio::spawn(async move {
            let connect = async {
                state.database_ready().await?;
                drop(state.db.acquire().await?);
                Ok::<_, Error>(())
            };
            let keys = async {
                if token_keys {
                    state.keys().await?;
                }
                Ok::<_, Error>(())
            };
            let (connected, keys) = tokio::join!(connect, keys);
            if let Err(e) = connected {
                tracing::warn!(error.cause_chain = ?e, "warm-up: no database connection yet");
            }
            if let Err(e) = keys {
                tracing::warn!(error.cause_chain = ?e, "warm-up: token keys not loaded yet");
            }
        });
        if let Ok(mut warming) = self.warming.lock() {
            *warming = Some(work);
        }
    }

    /// Waits for [`AppState::warm_up`]'s work if it is still under way (only the first requests
    /// of a cold start ever do).
    pub async fn warmed(&self) {
        let work = self.warming.lock().ok().and_then(|mut w| w.take());
        if let Some(work) = work {
            // A panic in it is only a warm-up that did not happen: the request does the work.
            let _ = work.await;
        }
    }

    /// The token keys, loaded on first use.
    ///
    /// From `JWT_SECRET` directly (kept for the life of the process), or from Secrets Manager
    /// (`JWT_SECRET_ARN`): read when first needed (an HTTP function's [`AppState::warm_up`] starts
    /// that during init, beside it, never delaying it), and again once the keys are
    /// [`JWT_SECRET_MAX_AGE`] old. If that re-read fails, the keys in hand
    /// are used for another minute before it is tried again.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when Secrets Manager cannot be read and no keys were read before, or
    /// the secret is too short; the next request tries again.
    pub async fn keys(&self) -> Result<Arc<TokenKeys>, Error> {
        let now = self.clock.now();
        let mut cache = self.keys.lock().await;
        let from_secret = matches!(self.config.jwt_secret, JwtSecret::SecretsManager { .. });
        match &cache.loaded {
            Some((keys, read_at)) if !from_secret || now - *read_at < JWT_SECRET_MAX_AGE => {
                return Ok(keys.clone());
            }
            _ => {}
        }
        match self.read_keys().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                cache.loaded = Some((keys.clone(), now));
                Ok(keys)
            }
            Err(e) => match &mut cache.loaded {
                Some((keys, read_at)) => {
                    tracing::warn!(error.cause_chain = ?e, "token keys not re-read; using the ones in hand for another minute");
                    *read_at = now - JWT_SECRET_MAX_AGE + TimeDelta::minutes(1);
                    Ok(keys.clone())
                }
                None => Err(e),
            },
        }
    }

    /// Verifies a token of `kind` at the clock's now. A token signed with a key this instance
    /// does not know makes it read the secret again first (at most every
    /// [`JWT_UNKNOWN_KEY_REREAD_EVERY`]): after a rotation, a warm instance accepts tokens that
    /// newer instances signed.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for anything but a valid, unexpired token of that kind.
    pub async fn verify_token(&self, token: &str, kind: TokenKind) -> Result<Claims, Error> {
        let now = self.clock.now();
        let keys = self.keys().await?;
        let verdict = keys.verify(token, kind, now);
        if verdict.is_ok()
            || !keys.signed_with_unknown_key(token)
            || !matches!(self.config.jwt_secret, JwtSecret::SecretsManager { .. })
        {
            return verdict;
        }
        {
            let mut cache = self.keys.lock().await;
            if cache
                .early_read_at
                .is_some_and(|at| now - at < JWT_UNKNOWN_KEY_REREAD_EVERY)
            {
                return verdict;
            }
            cache.early_read_at = Some(now);
            // Stale now: the next `keys()` reads the secret.
            if let Some((_, read_at)) = &mut cache.loaded {
                *read_at = now - JWT_SECRET_MAX_AGE;
            }
        }
        tracing::info!("a token names an unknown key: reading the JWT secret again");
        self.keys().await?.verify(token, kind, now)
    }

    async fn read_keys(&self) -> Result<TokenKeys, Error> {
        match &self.config.jwt_secret {
            JwtSecret::Value { current, previous } => TokenKeys::new(current, previous.as_ref()),
            JwtSecret::SecretsManager { arn } => {
                // Both versions at once: one round trip to Secrets Manager's latency, not two.
                let (current, previous) = tokio::try_join!(
                    self.secrets.read(arn, "AWSCURRENT", "the JWT secret"),
                    self.secrets.read(arn, "AWSPREVIOUS", "the JWT secret"),
                )?;
                let current = current.ok_or_else(|| {
                    anyhow::anyhow!("JWT_SECRET_ARN names a secret with no current value")
                })?;
                tracing::info!(
                    rotation = previous.is_some(),
                    "token keys loaded from Secrets Manager"
                );
                TokenKeys::new(&current, previous.as_ref())
            }
        }
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
        let secret = self
            .secrets
            .read(arn, "AWSCURRENT", "the database secret")
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
