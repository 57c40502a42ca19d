//! Settings read once from the environment at cold start into a typed [`Config`].
//!
//! This is the only module that reads the process environment (besides `RUST_LOG`, which
//! `telemetry` hands to `tracing`). A missing or malformed variable stops start-up with an error
//! that names it. Secrets are [`SecretString`]s, so `Debug` output is safe to log.

use std::{fmt, str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgSslMode;

/// Everything the functions and the local server need to know about their surroundings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the Postgres connection comes from, and how it is made.
    pub database: Database,
    /// The seed's `STORAGE_ROOT`, mapped to an S3 bucket and key prefix.
    pub storage_root: StorageRoot,
    /// The SQS queue that carries file-processing jobs.
    pub queue_url: String,
    /// The jobs queue's dead-letter queue, which the sweeper reads to cancel tasks whose job
    /// failed every delivery; without it, only the time limit catches them.
    pub dead_letter_queue_url: Option<String>,
    /// Where the HMAC key for access and refresh tokens comes from.
    pub jwt_secret: JwtSecret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Whether auth cookies carry `Secure` (browsers accept it from `http://localhost` too).
    pub cookie_secure: bool,
    /// Origins allowed to make credentialed, state-changing requests (CSRF check, CORS).
    pub allowed_origins: Vec<String>,
    /// Largest file accepted by the multipart upload endpoint.
    pub max_upload_bytes: usize,
    /// Largest file a client may declare for a direct (presigned) upload to S3.
    pub max_direct_upload_bytes: u64,
    /// How long a presigned upload URL stays valid.
    pub upload_url_ttl: Duration,
    /// Postgres pool size per process: one Lambda instance serves one request at a time.
    pub db_max_connections: u32,
    /// Failed logins from one source address within 15 minutes before it is refused.
    pub login_failures_per_ip: i64,
    /// Registrations from one source address within an hour before it is refused.
    pub registrations_per_ip_per_hour: i64,
    /// Within this time of its rotation, a refresh token presented again (a second tab, a retry
    /// after a lost response) yields new tokens of the same session instead of revoking it.
    pub refresh_reuse_grace: Duration,
    /// A session ends this long after its login, however often it is refreshed.
    pub session_max_lifetime: Duration,
    /// How long after its URL expires a direct upload is still awaited, and how old an unowned
    /// upload object must be before the sweeper deletes it.
    pub upload_grace: Duration,
    /// How old the record of a create request's upload must be before the sweeper deletes its
    /// object (the request died between its PUT and its commit); longer than any request lasts.
    pub unfinished_upload_after: Duration,
    /// The jobs queue's visibility timeout: how long a received job stays hidden (template.yaml
    /// sets the queue's; the two must agree).
    pub job_visibility_timeout: Duration,
    /// The jobs queue's `maxReceiveCount`: receives before SQS moves a job to the dead-letter queue.
    pub job_max_receives: i32,
    /// Bytes of uploads one user may store (multipart files, and direct uploads at their declared size).
    pub user_quota_bytes: u64,
    /// Tasks one user may create within an hour before creation is refused.
    pub tasks_per_user_per_hour: i64,
    /// How often `local-api` runs the sweeper (in AWS a schedule runs it once a minute).
    pub sweep_interval: Duration,
    /// How long a task stays in the trash before the sweeper purges it.
    pub trash_retention: Duration,
    /// The verified SES identity reset emails come from (`MAIL_FROM`); none: no email is sent.
    pub mail_from: Option<String>,
    /// The web app's origin (`APP_URL`), the only base of links in emails (never a request's `Host`).
    pub app_url: String,
    /// Port of the local server (`local-api`); Lambda ignores it.
    pub port: u16,
    /// AWS region for the SDK clients (set by Lambda; `us-east-1` locally).
    pub aws_region: String,
    /// Whether an `AWS_ENDPOINT_URL[_S3]` override is set (LocalStack): S3 then uses path-style URLs.
    pub aws_endpoint_overridden: bool,
    /// The origin browsers PUT presigned uploads to (the Content-Security-Policy's `connect-src`):
    /// the endpoint override's (LocalStack), else the bucket's virtual-hosted S3 origin.
    pub uploads_origin: String,
    /// The value of the `X-Origin-Verify` header the CloudFront distribution adds
    /// (`ORIGIN_VERIFY_SECRET`): a request carrying it is trusted to name its viewer's address in
    /// `CloudFront-Viewer-Address`. Unset: that header is never trusted.
    pub origin_verify_secret: Option<SecretString>,
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable that is missing or malformed.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable that is missing or malformed.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let jwt_secret = jwt_secret(&env)?;
        Ok(Self {
            database: database(&env)?,
            storage_root: env.parsed("STORAGE_ROOT")?,
            queue_url: env.required("QUEUE_URL")?,
            dead_letter_queue_url: env.optional("DEAD_LETTER_QUEUE_URL"),
            jwt_secret,
            access_token_ttl: Duration::from_secs(env.parsed_or("ACCESS_TOKEN_TTL_SECS", 30 * 60)?),
            refresh_token_ttl: Duration::from_secs(
                env.parsed_or("REFRESH_TOKEN_TTL_SECS", 7 * 24 * 60 * 60)?,
            ),
            cookie_secure: env.parsed_or("COOKIE_SECURE", true)?,
            allowed_origins: env
                .optional("ALLOWED_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                        .filter(|origin| !origin.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            // API Gateway and Lambda cap a request at 6 MB, base64 included: 4 MiB of file fits.
            max_upload_bytes: env.parsed_or("MAX_UPLOAD_BYTES", 4 * 1024 * 1024)?,
            max_direct_upload_bytes: env.parsed_or("MAX_DIRECT_UPLOAD_BYTES", 100 * 1024 * 1024)?,
            upload_url_ttl: upload_url_ttl(&env)?,
            db_max_connections: env.parsed_or("DB_MAX_CONNECTIONS", 2)?,
            login_failures_per_ip: env.parsed_or("LOGIN_FAILURES_PER_IP", 100)?,
            registrations_per_ip_per_hour: env.parsed_or("REGISTRATIONS_PER_IP_PER_HOUR", 20)?,
            refresh_reuse_grace: secs(env.parsed_or("REFRESH_REUSE_GRACE_SECS", 30)?),
            session_max_lifetime: secs(
                env.parsed_or("SESSION_MAX_LIFETIME_SECS", 30 * 24 * 60 * 60)?,
            ),
            upload_grace: secs(env.parsed_or("UPLOAD_GRACE_SECS", 10 * 60)?),
            unfinished_upload_after: unfinished_upload_after(&env)?,
            job_visibility_timeout: secs(env.parsed_or("JOB_VISIBILITY_TIMEOUT_SECS", 360)?),
            job_max_receives: positive(&env, "JOB_MAX_RECEIVES", 5)?,
            user_quota_bytes: env.parsed_or("USER_QUOTA_BYTES", 1024 * 1024 * 1024)?,
            tasks_per_user_per_hour: positive(&env, "TASKS_PER_USER_PER_HOUR", 100)?.into(),
            sweep_interval: secs(
                positive(&env, "SWEEP_INTERVAL_SECS", 5)?
                    .unsigned_abs()
                    .into(),
            ),
            trash_retention: secs(
                positive(&env, "TRASH_RETENTION_DAYS", 30)?
                    .unsigned_abs()
                    .saturating_mul(24 * 60 * 60)
                    .into(),
            ),
            mail_from: env.optional("MAIL_FROM"),
            app_url: app_url(&env)?,
            port: env.parsed_or("PORT", 8000)?,
            aws_region: region(&env),
            aws_endpoint_overridden: env.optional("AWS_ENDPOINT_URL").is_some()
                || env.optional("AWS_ENDPOINT_URL_S3").is_some(),
            uploads_origin: uploads_origin(&env)?,
            origin_verify_secret: env.optional("ORIGIN_VERIFY_SECRET").map(SecretString::from),
        })
    }
}

/// `UNFINISHED_UPLOAD_SECS`: 5 minutes by default, and always longer than an HTTP function may
/// run, so no request that could still commit its task loses its object.
fn unfinished_upload_after(env: &Env<'_>) -> Result<Duration, ConfigError> {
    let after = secs(env.parsed_or("UNFINISHED_UPLOAD_SECS", 5 * 60)?);
    if after <= crate::http::HTTP_FUNCTION_TIMEOUT {
        return Err(ConfigError::invalid(
            "UNFINISHED_UPLOAD_SECS",
            "must be longer than the HTTP functions' 10 s timeout",
        ));
    }
    Ok(after)
}

/// `APP_URL`: an `http(s)://host[:port]` origin, without a path; `http://127.0.0.1:8000` locally.
fn app_url(env: &Env<'_>) -> Result<String, ConfigError> {
    let url = env
        .optional("APP_URL")
        .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned());
    let url = url.trim_end_matches('/').to_owned();
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or_default();
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !valid {
        return Err(ConfigError::invalid(
            "APP_URL",
            "must be the web app's origin, such as https://writers.example.com (no path)",
        ));
    }
    Ok(url)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A count that must be at least 1.
fn positive(env: &Env<'_>, name: &'static str, default: i32) -> Result<i32, ConfigError> {
    let n = env.parsed_or(name, default)?;
    if n < 1 {
        return Err(ConfigError::invalid(name, "must be at least 1"));
    }
    Ok(n)
}

/// `UPLOAD_URL_TTL_SECS`: 15 minutes by default; S3 accepts 1 s to 7 days.
fn upload_url_ttl(env: &Env<'_>) -> Result<Duration, ConfigError> {
    let secs: u64 = env.parsed_or("UPLOAD_URL_TTL_SECS", 15 * 60)?;
    if !(1..=7 * 24 * 60 * 60).contains(&secs) {
        return Err(ConfigError::invalid(
            "UPLOAD_URL_TTL_SECS",
            "must be between 1 and 604800 seconds (S3's limit for a presigned URL)",
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// Where the token-signing key comes from.
#[derive(Clone, Debug)]
pub enum JwtSecret {
    /// `JWT_SECRET` (and, during a rotation, `JWT_SECRET_PREVIOUS`), from the environment.
    Value {
        current: SecretString,
        previous: Option<SecretString>,
    },
    /// `JWT_SECRET_ARN`: a Secrets Manager secret, read on first use (its `AWSCURRENT` and,
    /// during a rotation, `AWSPREVIOUS` versions), never at cold start.
    SecretsManager { arn: String },
}

fn jwt_secret(env: &Env<'_>) -> Result<JwtSecret, ConfigError> {
    let long_enough = |name: &'static str, value: String| {
        if value.len() < 32 {
            return Err(ConfigError::invalid(
                name,
                "must be at least 32 bytes (generate one with `openssl rand -base64 48`)",
            ));
        }
        Ok(SecretString::from(value))
    };
    match (env.optional("JWT_SECRET"), env.optional("JWT_SECRET_ARN")) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            "JWT_SECRET_ARN",
            "is set together with JWT_SECRET; set only one",
        )),
        (None, Some(arn)) => Ok(JwtSecret::SecretsManager { arn }),
        (Some(current), None) => Ok(JwtSecret::Value {
            current: long_enough("JWT_SECRET", current)?,
            previous: env
                .optional("JWT_SECRET_PREVIOUS")
                .map(|p| long_enough("JWT_SECRET_PREVIOUS", p))
                .transpose()?,
        }),
        (None, None) => Err(ConfigError::invalid(
            "JWT_SECRET",
            "is not set (nor JWT_SECRET_ARN; see docs/configuration.md)",
        )),
    }
}

/// The database settings and the AWS region: what the `migrate` function needs, and nothing else.
///
/// # Errors
/// A [`ConfigError`] naming the database variable that is missing or malformed.
pub fn database_from_env() -> Result<(Database, String), ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let env = Env(&lookup);
    Ok((database(&env)?, region(&env)))
}

/// The application's database role, as `migrate` learns it (see `db::roles`).
#[derive(Clone, Debug)]
pub enum AppRole {
    /// `APP_DATABASE_USER` (default `writers_app`) and `APP_DATABASE_PASSWORD`: local development.
    Password {
        user: String,
        password: SecretString,
    },
    /// `APP_DATABASE_SECRET_ARN`: a secret with `username` and `password` (template.yaml
    /// generates it), the same one the functions connect with.
    Secret { arn: String },
}

/// The application role `migrate up` maintains, if one is configured.
///
/// # Errors
/// A [`ConfigError`] when both sources are set, or the password is too short.
pub fn app_role_from_env() -> Result<Option<AppRole>, ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    app_role(&Env(&lookup))
}

fn app_role(env: &Env<'_>) -> Result<Option<AppRole>, ConfigError> {
    match (
        env.optional("APP_DATABASE_PASSWORD"),
        env.optional("APP_DATABASE_SECRET_ARN"),
    ) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            "APP_DATABASE_SECRET_ARN",
            "is set together with APP_DATABASE_PASSWORD; set only one",
        )),
        (None, Some(arn)) => Ok(Some(AppRole::Secret { arn })),
        (Some(password), None) if password.len() < 16 => Err(ConfigError::invalid(
            "APP_DATABASE_PASSWORD",
            "must be at least 16 characters",
        )),
        (Some(password), None) => Ok(Some(AppRole::Password {
            user: env
                .optional("APP_DATABASE_USER")
                .unwrap_or_else(|| crate::db::roles::DEFAULT_APP_ROLE.to_owned()),
            password: SecretString::from(password),
        })),
        (None, None) => Ok(None),
    }
}

/// How the functions reach Postgres.
#[derive(Clone, Debug)]
pub struct Database {
    pub source: DatabaseSource,
    /// `DB_SSLMODE` (libpq's names); unset keeps the URL's `sslmode`, else libpq's `prefer`.
    pub ssl_mode: Option<PgSslMode>,
    /// `DB_SSL_ROOT_CERT`: the CA bundle `verify-ca` and `verify-full` check the server against.
    pub ssl_root_cert: Option<String>,
    /// `DB_STATEMENT_CACHE_CAPACITY`: prepared statements kept per connection (sqlx's 100).
    /// `0` behind RDS Proxy, where a named prepared statement pins the proxied connection.
    pub statement_cache_capacity: usize,
}

/// Where the credentials come from.
#[derive(Clone, Debug)]
pub enum DatabaseSource {
    /// `DATABASE_URL`: a `postgres://` URL (local development, the tests).
    Url(SecretString),
    /// `DATABASE_SECRET_ARN`: a Secrets Manager secret, read on first use and re-read every few
    /// minutes (so a rotated password is picked up). Either an RDS-managed secret (JSON with
    /// `username` and `password`; `host`, `port` and `dbname` from the secret or from `DB_HOST`,
    /// `DB_PORT` and `DB_NAME`, which win) or a secret whose whole string is a `postgres://` URL.
    Secret {
        arn: String,
        host: Option<String>,
        port: Option<u16>,
        name: Option<String>,
    },
}

fn database(env: &Env<'_>) -> Result<Database, ConfigError> {
    let source = match (
        env.optional("DATABASE_URL"),
        env.optional("DATABASE_SECRET_ARN"),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "DATABASE_SECRET_ARN",
                "is set together with DATABASE_URL; set only one",
            ));
        }
        (Some(url), None) => {
            if !is_postgres_url(&url) {
                return Err(ConfigError::invalid(
                    "DATABASE_URL",
                    "must be a postgres:// or postgresql:// URL",
                ));
            }
            DatabaseSource::Url(url.into())
        }
        (None, Some(arn)) => DatabaseSource::Secret {
            arn,
            host: env.optional("DB_HOST"),
            port: env.parsed_opt("DB_PORT")?,
            name: env.optional("DB_NAME"),
        },
        (None, None) => {
            return Err(ConfigError::invalid(
                "DATABASE_URL",
                "is not set (nor DATABASE_SECRET_ARN; see docs/configuration.md)",
            ));
        }
    };
    let ssl_mode: Option<PgSslMode> = env.parsed_opt("DB_SSLMODE")?;
    let ssl_root_cert = env.optional("DB_SSL_ROOT_CERT");
    if matches!(ssl_mode, Some(PgSslMode::VerifyCa | PgSslMode::VerifyFull))
        && ssl_root_cert.is_none()
    {
        return Err(ConfigError::invalid(
            "DB_SSL_ROOT_CERT",
            "is not set; DB_SSLMODE verify-ca and verify-full check the server against this CA bundle \
             (for RDS: the region's bundle from truststore.pki.rds.amazonaws.com)",
        ));
    }
    Ok(Database {
        source,
        ssl_mode,
        ssl_root_cert,
        statement_cache_capacity: env.parsed_or("DB_STATEMENT_CACHE_CAPACITY", 100)?,
    })
}

/// Whether `url` names a Postgres database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn uploads_origin(env: &Env<'_>) -> Result<String, ConfigError> {
    let endpoint = env
        .optional("AWS_ENDPOINT_URL_S3")
        .map(|v| ("AWS_ENDPOINT_URL_S3", v))
        .or_else(|| {
            env.optional("AWS_ENDPOINT_URL")
                .map(|v| ("AWS_ENDPOINT_URL", v))
        });
    let Some((variable, url)) = endpoint else {
        let bucket = env.parsed::<StorageRoot>("STORAGE_ROOT")?.bucket;
        return Ok(format!("https://{bucket}.s3.{}.amazonaws.com", region(env)));
    };
    // scheme://host[:port], without a path: what a CSP source expression names.
    let origin = url
        .split_once("://")
        .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()))
        .filter(|origin| origin.len() > "http://".len());
    origin.ok_or_else(|| ConfigError {
        variable,
        problem: format!("{url:?} is not an http(s) URL such as http://127.0.0.1:4566"),
    })
}

fn region(env: &Env<'_>) -> String {
    env.optional("AWS_REGION")
        .or_else(|| env.optional("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// The seed's `STORAGE_ROOT` as an S3 location: `s3://bucket` or `s3://bucket/prefix`.
///
/// Uploads live under `<prefix>/uploads/` and results under `<prefix>/results/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageRoot {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl StorageRoot {
    /// The object key for `path` under this root, e.g. `prefix/uploads/…`.
    pub fn key(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }
}

impl FromStr for StorageRoot {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let rest = raw
            .strip_prefix("s3://")
            .ok_or("must look like s3://bucket/prefix")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules, minus the rarely used dotted names.
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !bucket.starts_with('-')
            && !bucket.ends_with('-');
        if !valid_bucket {
            return Err(format!(
                "bucket name {bucket:?} is not a valid S3 bucket name (3-63 of a-z, 0-9, -)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|segment| segment == "..") || prefix.contains("//") {
            return Err("prefix must not contain `..` or empty segments".to_owned());
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl fmt::Display for StorageRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// A configuration variable that is missing or malformed; start-up stops with this.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn invalid(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError::invalid(name, "is not set (see docs/configuration.md)"))
    }

    fn parsed<T>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr<Err: fmt::Display>,
    {
        let raw = self.required(name)?;
        raw.trim()
            .parse()
            .map_err(|e| ConfigError::invalid(name, format!("is malformed: {e}")))
    }

    fn parsed_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr<Err: fmt::Display>,
    {
        Ok(self.parsed_opt(name)?.unwrap_or(default))
    }

    /// `None` when unset; parsed (and named when malformed) when set.
    fn parsed_opt<T>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr<Err: fmt::Display>,
    {
        self.optional(name).map(|_| self.parsed(name)).transpose()
    }
}

/// Exposes a secret for the one call that needs it; kept here so `expose_secret` calls are easy to audit.
pub(crate) fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn complete() -> HashMap<&'static str, String> {
        HashMap::from([
            ("DATABASE_URL", "postgres://u:hunter2@db/writers".to_owned()),
            ("STORAGE_ROOT", "s3://writers-uploads/prod".to_owned()),
            ("QUEUE_URL", "https://sqs.example/jobs".to_owned()),
            ("JWT_SECRET", "x".repeat(32)),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn a_complete_environment_gets_the_documented_defaults() {
        let config = load(&complete()).expect("valid");
        assert_eq!(config.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(604_800));
        assert!(config.cookie_secure);
        assert_eq!(config.max_upload_bytes, 4 * 1024 * 1024);
        assert_eq!(config.max_direct_upload_bytes, 100 * 1024 * 1024);
        assert_eq!(config.upload_url_ttl, Duration::from_secs(900));
        assert_eq!(config.port, 8000);
        assert_eq!(config.login_failures_per_ip, 100);
        assert_eq!(config.registrations_per_ip_per_hour, 20);
        assert_eq!(config.refresh_reuse_grace, Duration::from_secs(30));
        assert_eq!(
            config.session_max_lifetime,
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(config.upload_grace, Duration::from_secs(600));
        assert_eq!(config.unfinished_upload_after, Duration::from_secs(300));
        assert_eq!(config.job_visibility_timeout, Duration::from_secs(360));
        assert_eq!(config.job_max_receives, 5);
        assert_eq!(config.user_quota_bytes, 1 << 30);
        assert_eq!(config.tasks_per_user_per_hour, 100);
        assert_eq!(config.sweep_interval, Duration::from_secs(5));
        assert_eq!(config.storage_root.bucket, "writers-uploads");
        assert_eq!(config.storage_root.key("uploads/a"), "prod/uploads/a");
    }

    #[test]
    fn each_missing_required_variable_is_named() {
        for name in ["DATABASE_URL", "STORAGE_ROOT", "QUEUE_URL", "JWT_SECRET"] {
            let mut vars = complete();
            vars.remove(name);
            let err = load(&vars).expect_err(name);
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_malformed_number_names_its_variable() {
        let mut vars = complete();
        vars.insert("MAX_UPLOAD_BYTES", "four megabytes".to_owned());
        let err = load(&vars).expect_err("malformed");
        assert_eq!(err.variable, "MAX_UPLOAD_BYTES");
        assert!(err.to_string().contains("malformed"), "{err}");
    }

    #[test]
    fn an_upload_url_lifetime_beyond_s3s_limit_is_refused() {
        let mut vars = complete();
        vars.insert("UPLOAD_URL_TTL_SECS", "604801".to_owned());
        assert_eq!(
            load(&vars).expect_err("too long").variable,
            "UPLOAD_URL_TTL_SECS"
        );
        vars.insert("UPLOAD_URL_TTL_SECS", "0".to_owned());
        assert!(load(&vars).is_err());
    }

    #[test]
    fn a_malformed_boolean_names_its_variable() {
        let mut vars = complete();
        vars.insert("COOKIE_SECURE", "yes please".to_owned());
        assert_eq!(load(&vars).expect_err("bool").variable, "COOKIE_SECURE");
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let mut vars = complete();
        vars.insert("JWT_SECRET", "secret".to_owned());
        assert_eq!(load(&vars).expect_err("short").variable, "JWT_SECRET");
    }

    #[test]
    fn the_jwt_secret_may_come_from_secrets_manager_instead() {
        let mut vars = complete();
        vars.remove("JWT_SECRET");
        vars.insert(
            "JWT_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:jwt".to_owned(),
        );
        let config = load(&vars).expect("valid");
        assert!(matches!(
            config.jwt_secret,
            JwtSecret::SecretsManager { .. }
        ));
        vars.insert("JWT_SECRET", "x".repeat(32));
        assert_eq!(load(&vars).expect_err("both").variable, "JWT_SECRET_ARN");
    }

    #[test]
    fn a_short_previous_jwt_secret_is_refused() {
        let mut vars = complete();
        vars.insert("JWT_SECRET_PREVIOUS", "old".to_owned());
        assert_eq!(
            load(&vars).expect_err("short").variable,
            "JWT_SECRET_PREVIOUS"
        );
    }

    #[test]
    fn a_database_url_of_another_kind_is_refused() {
        let mut vars = complete();
        vars.insert("DATABASE_URL", "mysql://db/writers".to_owned());
        assert_eq!(load(&vars).expect_err("mysql").variable, "DATABASE_URL");
    }

    #[test]
    fn the_database_may_come_from_a_secret_with_its_address_beside_it() {
        let mut vars = complete();
        vars.remove("DATABASE_URL");
        vars.insert(
            "DATABASE_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:db".to_owned(),
        );
        vars.insert("DB_HOST", "db.internal".to_owned());
        vars.insert("DB_PORT", "6432".to_owned());
        vars.insert("DB_STATEMENT_CACHE_CAPACITY", "0".to_owned());
        let config = load(&vars).expect("valid");
        assert!(matches!(
            config.database.source,
            DatabaseSource::Secret { ref host, port: Some(6432), name: None, .. } if host.as_deref() == Some("db.internal")
        ));
        assert_eq!(config.database.statement_cache_capacity, 0);
        vars.insert("DATABASE_URL", "postgres://db/writers".to_owned());
        assert_eq!(
            load(&vars).expect_err("both").variable,
            "DATABASE_SECRET_ARN"
        );
        vars.remove("DATABASE_URL");
        vars.insert("DB_PORT", "fifty".to_owned());
        assert_eq!(load(&vars).expect_err("port").variable, "DB_PORT");
    }

    #[test]
    fn verifying_the_servers_certificate_needs_a_ca_bundle() {
        let mut vars = complete();
        vars.insert("DB_SSLMODE", "verify-full".to_owned());
        assert_eq!(
            load(&vars).expect_err("no bundle").variable,
            "DB_SSL_ROOT_CERT"
        );
        vars.insert("DB_SSL_ROOT_CERT", "/opt/rds/global-bundle.pem".to_owned());
        let config = load(&vars).expect("valid");
        assert!(matches!(
            config.database.ssl_mode,
            Some(PgSslMode::VerifyFull)
        ));
        vars.insert("DB_SSLMODE", "sometimes".to_owned());
        assert_eq!(load(&vars).expect_err("bad mode").variable, "DB_SSLMODE");
    }

    #[test]
    fn storage_root_must_be_an_s3_url_with_a_valid_bucket() {
        for bad in [
            "/var/app/storage",
            "s3://",
            "s3://UPPER/x",
            "s3://a/x",
            "s3://ok-bucket/../x",
        ] {
            let mut vars = complete();
            vars.insert("STORAGE_ROOT", bad.to_owned());
            assert_eq!(
                load(&vars).expect_err(bad).variable,
                "STORAGE_ROOT",
                "{bad}"
            );
        }
    }

    #[test]
    fn storage_root_without_prefix_keys_from_the_bucket_root() {
        let root: StorageRoot = "s3://writers-local".parse().expect("valid");
        assert_eq!(root.prefix, "");
        assert_eq!(root.key("uploads/x"), "uploads/x");
        let nested: StorageRoot = "s3://writers-local/a/b/".parse().expect("valid");
        assert_eq!(nested.key("results/t.json"), "a/b/results/t.json");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let mut vars = complete();
        vars.insert("JWT_SECRET", "s3cr3t-".repeat(6));
        let printed = format!("{:?}", load(&vars).expect("valid"));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("s3cr3t-"), "{printed}");
    }

    #[test]
    fn app_url_is_an_origin() {
        let mut vars = complete();
        assert_eq!(
            load(&vars).expect("default").app_url,
            "http://127.0.0.1:8000"
        );
        vars.insert("APP_URL", "https://writers.example.com/".to_owned());
        assert_eq!(
            load(&vars).expect("valid").app_url,
            "https://writers.example.com"
        );
        for bad in [
            "writers.example.com",
            "https://",
            "https://x.example/reset",
            "ftp://x.example",
        ] {
            vars.insert("APP_URL", bad.to_owned());
            assert_eq!(load(&vars).expect_err(bad).variable, "APP_URL", "{bad}");
        }
    }

    #[test]
    fn allowed_origins_are_split_and_normalised() {
        let mut vars = complete();
        vars.insert(
            "ALLOWED_ORIGINS",
            "http://localhost:3000/ , https://app.example".to_owned(),
        );
        let config = load(&vars).expect("valid");
        assert_eq!(
            config.allowed_origins,
            ["http://localhost:3000", "https://app.example"]
        );
    }
}
