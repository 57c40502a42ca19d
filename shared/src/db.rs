//! The Postgres pool and its connection options; [`migrate`] holds the embedded migrations.

pub mod migrate;
pub mod roles;

use std::time::Duration;

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{
    Config,
    config::{Database, DatabaseSource, expose},
};

/// A lazily connecting pool: the first query connects, so a cold start does no I/O.
///
/// Sized by `DB_MAX_CONNECTIONS` (default 2: a Lambda instance serves one request at a time).
/// A short acquire timeout turns a database outage into a quick `503`. With
/// `DATABASE_SECRET_ARN` the pool has no credentials until
/// `AppState::database_ready` reads the secret.
/// Holds a transaction-scoped advisory lock on `key` until the transaction ends, so a
/// count-then-write is one step for everyone who locks the same key (the login and registration
/// limits, a user's allowance, the application role).
///
/// # Errors
/// The database's, when it cannot be reached.
pub async fn lock(db: impl sqlx::PgExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    // Not `query!`: the function returns `void`, which has no Rust type to check against.
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// `%<text>%` with LIKE's own characters escaped, so `q=50%` finds "50%", not "50 anything".
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// How long a request waits for a database connection before it is refused with a `503`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn pool(config: &Config) -> PgPool {
    let options = match &config.database.source {
        DatabaseSource::Url(url) => url_options(expose(url), &config.database),
        DatabaseSource::Secret { .. } => {
            tuned(PgConnectOptions::new_without_pgpass(), &config.database)
        }
    };
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // No ping before each acquire: it is a round trip of its own on every request. A
        // connection the server closed fails its next statement instead, which the pool then
        // drops (a `503` for that one request, as for any outage); `max_lifetime` and the
        // server's idle timeout keep such cases rare.
        .test_before_acquire(false)
        .connect_lazy_with(options)
}

/// A pool for one-off tools (`migrate`): one connection, connected now, with no statement timeout
/// (the role's `statement_timeout` is for requests, not for a migration rewriting a table).
///
/// # Errors
/// The connection error when the database is unreachable or refuses the credentials.
pub async fn connect_once(options: PgConnectOptions) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.options([("statement_timeout", "0")]))
        .await
}

/// The connection options `migrate` uses: from `DATABASE_URL`, or from the
/// `DATABASE_SECRET_ARN` secret, read now.
///
/// # Errors
/// A missing or malformed setting, or a secret that cannot be read or lacks what is needed.
pub async fn options_from_env() -> anyhow::Result<PgConnectOptions> {
    let (database, region) = crate::config::database_from_env()?;
    match &database.source {
        DatabaseSource::Url(url) => Ok(url_options(expose(url), &database)),
        DatabaseSource::Secret { arn, .. } => {
            let secret = crate::secrets::Secrets::from_env(&region)
                .read(arn, "AWSCURRENT", "the database secret")
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
                .ok_or_else(|| {
                    anyhow::anyhow!("DATABASE_SECRET_ARN names a secret with no current value")
                })?;
            secret_options(expose(&secret), &database)
                .map_err(|problem| anyhow::anyhow!("DATABASE_SECRET_ARN: {problem}"))
        }
    }
}

/// Connection options from a `postgres://` URL, with the `DB_*` settings applied.
pub fn url_options(url: &str, settings: &Database) -> PgConnectOptions {
    // An unparsable URL was already refused by `Config`; fall back to libpq defaults otherwise.
    tuned(
        url.parse::<PgConnectOptions>().unwrap_or_default(),
        settings,
    )
}

/// Connection options from the string of the `DATABASE_SECRET_ARN` secret.
///
/// # Errors
/// A message naming what the secret lacks; it never contains the secret.
pub fn secret_options(secret: &str, settings: &Database) -> Result<PgConnectOptions, String> {
    let secret = secret.trim();
    if crate::config::is_postgres_url(secret) {
        return secret
            .parse::<PgConnectOptions>()
            .map(|options| tuned(options, settings))
            .map_err(|_| {
                "the database secret is a postgres:// URL that does not parse".to_owned()
            });
    }
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(secret).map_err(|_| {
            "the database secret is neither a postgres:// URL nor JSON with username and password"
                .to_owned()
        })?;
    let text = |key: &str| fields.get(key).and_then(serde_json::Value::as_str);
    let (Some(username), Some(password)) = (text("username"), text("password")) else {
        return Err("the database secret lacks `username` or `password`".to_owned());
    };
    let DatabaseSource::Secret {
        host, port, name, ..
    } = &settings.source
    else {
        return Err("the database is not configured from a secret".to_owned());
    };
    let host = host.as_deref().or_else(|| text("host")).ok_or(
        "no database host: set DB_HOST (an RDS-managed secret holds only username and password)",
    )?;
    // RDS's rotation templates write the port as a number; people write it as a string.
    let secret_port = fields.get("port").and_then(|p| {
        p.as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
    });
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(host)
        .port(port.or(secret_port).unwrap_or(5432))
        .username(username)
        .password(password);
    if let Some(name) = name.as_deref().or_else(|| text("dbname")) {
        options = options.database(name);
    }
    Ok(tuned(options, settings))
}

fn tuned(mut options: PgConnectOptions, settings: &Database) -> PgConnectOptions {
    if let Some(mode) = settings.ssl_mode {
        options = options.ssl_mode(mode);
    }
    if let Some(bundle) = &settings.ssl_root_cert {
        options = options.ssl_root_cert(bundle);
    }
    options
        .statement_cache_capacity(settings.statement_cache_capacity)
        .application_name("writers")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_secret(host: Option<&str>) -> Database {
        Database {
            source: DatabaseSource::Secret {
                arn: "arn:aws:secretsmanager:us-east-1:1:secret:db".to_owned(),
                host: host.map(str::to_owned),
                port: None,
                name: Some("writers".to_owned()),
            },
            ssl_mode: Some(sqlx::postgres::PgSslMode::Require),
            ssl_root_cert: None,
            statement_cache_capacity: 0,
        }
    }

    #[test]
    fn a_like_pattern_matches_likes_own_characters_literally() {
        assert_eq!(super::like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(super::like_pattern("Novel"), "%Novel%");
    }

    #[test]
    fn an_rds_managed_secret_takes_its_address_from_the_settings() {
        let secret = r#"{"username":"writers","password":"p@ss:/word"}"#;
        let options = secret_options(secret, &from_secret(Some("db.internal"))).expect("valid");
        assert_eq!(options.get_host(), "db.internal");
        assert_eq!(options.get_port(), 5432);
        assert_eq!(options.get_username(), "writers");
        assert_eq!(options.get_database(), Some("writers"));
        assert!(matches!(
            options.get_ssl_mode(),
            sqlx::postgres::PgSslMode::Require
        ));
        let no_host = secret_options(secret, &from_secret(None)).expect_err("no host");
        assert!(no_host.contains("DB_HOST"), "{no_host}");
    }

    #[test]
    fn a_secret_may_carry_its_own_address_or_be_a_url() {
        let secret = r#"{"username":"u","password":"p","host":"rds.example","port":"6432","dbname":"other"}"#;
        let options = secret_options(secret, &from_secret(None)).expect("valid");
        assert_eq!(
            (options.get_host(), options.get_port()),
            ("rds.example", 6432)
        );
        assert_eq!(options.get_database(), Some("writers"), "DB_NAME wins");
        let url = secret_options("postgres://u:p@h:5433/d", &from_secret(None)).expect("url");
        assert_eq!((url.get_host(), url.get_port()), ("h", 5433));
        for bad in [
            "",
            "not json",
            r#"{"username":"u"}"#,
            "postgres://u:p@h:notaport/d",
        ] {
            let err = secret_options(bad, &from_secret(Some("h"))).expect_err(bad);
            assert!(!err.contains("p@ss"), "{err}");
        }
    }
}
