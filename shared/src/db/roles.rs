//! The application's own database role: data access on the application's tables, no DDL.
//!
//! Only `migrate` connects as the database's owner (in AWS, the RDS master user). After every
//! `migrate up` it makes sure the application role exists, has the password from its own secret,
//! and may read and write every table of the application (not `_sqlx_migrations`) but create,
//! alter or drop nothing; every function and `local-api` connect as it. This is a step of
//! `migrate`, not a migration: roles belong to the whole cluster, not to one database, and a
//! password must not sit in a checksummed file.

use aws_lc_rs::{digest, hmac, pbkdf2, rand};
use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::config::AppRole;

/// The role's name unless `APP_DATABASE_USER` says otherwise.
pub const DEFAULT_APP_ROLE: &str = "writers_app";

/// Postgres's own iteration count for SCRAM-SHA-256 verifiers.
const SCRAM_ITERATIONS: u32 = 4096;

/// [`ensure_app_role`] with the name and password `role` gives (reading its secret if it names
/// one); returns the role's name.
///
/// # Errors
/// A secret that cannot be read or lacks `username` or `password`, or the database's refusal.
pub async fn ensure_from(pool: &PgPool, role: AppRole) -> anyhow::Result<String> {
    use anyhow::Context;
    let (user, password) = match role {
        AppRole::Password { user, password } => (user, password),
        AppRole::Secret { arn } => {
            let (_, region) = crate::config::database_from_env()?;
            let what = "the application's database secret";
            let secret = crate::secrets::Secrets::from_env(&region)
                .read(&arn, "AWSCURRENT", what)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
                .context("APP_DATABASE_SECRET_ARN names a secret with no current value")?;
            let fields: serde_json::Value = serde_json::from_str(secret.expose_secret())
                .context("APP_DATABASE_SECRET_ARN: the secret is not JSON")?;
            let field = |name: &str| fields[name].as_str().map(str::to_owned);
            let (Some(user), Some(password)) = (field("username"), field("password")) else {
                anyhow::bail!("APP_DATABASE_SECRET_ARN: the secret lacks `username` or `password`");
            };
            (user, SecretString::from(password))
        }
    };
    ensure_app_role(pool, &user, &password)
        .await
        .with_context(|| format!("creating or updating the application role {user}"))?;
    Ok(user)
}

/// Creates the role or sets its password (one at a time, under a lock), then grants it what the
/// application needs in this database.
///
/// The password travels as a SCRAM-SHA-256 verifier computed here, never as text a statement
/// log could keep.
///
/// # Errors
/// The database's refusal, e.g. when the connected user may not create roles.
pub async fn ensure_app_role(
    pool: &PgPool,
    role: &str,
    password: &SecretString,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::lock(&mut *tx, "writers:app-role").await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_roles where rolname = $1)")
            .bind(role)
            .fetch_one(&mut *tx)
            .await?;
    let verb = if exists { "alter" } else { "create" };
    let verifier = scram_verifier(password.expose_secret(), &salt());
    // Audited: identifiers and literals cannot be bound parameters in these statements, so both
    // are quoted here (`quote_ident`, `quote_literal`); the verifier is base64 and digits.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{verb} role {} login nosuperuser nocreatedb nocreaterole password {}",
        quote_ident(role),
        quote_literal(&verifier)
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    grant_app_role(pool, role).await
}

/// Grants `role` what the application needs in the connected database, and nothing more.
///
/// `select`, `insert`, `update` and `delete` on every table but `_sqlx_migrations`, the
/// sequences behind identity columns, and the 15 s statement timeout. Idempotent; `migrate up`
/// runs it after the migrations, so new tables are covered.
///
/// # Errors
/// The database's refusal.
pub async fn grant_app_role(pool: &PgPool, role: &str) -> Result<(), sqlx::Error> {
    let role = quote_ident(role);
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await?;
    let database = quote_ident(&database);
    let statements = [
        format!("grant connect on database {database} to {role}"),
        format!("grant usage on schema public to {role}"),
        format!("revoke create on schema public from {role}, public"),
        format!("grant select, insert, update, delete on all tables in schema public to {role}"),
        // The migrations' own bookkeeping is `migrate`'s alone (absent before the first `up`).
        format!(
            "do $$ begin if to_regclass('public._sqlx_migrations') is not null then \
             revoke all on table public._sqlx_migrations from {role}; end if; end $$"
        ),
        format!("grant usage, select on all sequences in schema public to {role}"),
        format!("alter role {role} in database {database} set statement_timeout = '15s'"),
    ];
    let mut tx = pool.begin().await?;
    for statement in statements {
        // Audited: every name in these statements went through `quote_ident`.
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

fn salt() -> [u8; 16] {
    let mut salt = [0; 16];
    // The system's generator does not fail on the platforms Lambda and Postgres run on.
    rand::fill(&mut salt).expect("random bytes");
    salt
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802, RFC 7677), the form
/// Postgres stores and accepts in place of a password.
fn scram_verifier(password: &str, salt: &[u8]) -> String {
    let mut salted = [0; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(SCRAM_ITERATIONS).expect("not zero"),
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    format!(
        "SCRAM-SHA-256${SCRAM_ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key.as_ref()),
        STANDARD.encode(server_key.as_ref())
    )
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_is_what_postgres_would_compute() {
        // Computed independently with Python's hashlib and hmac.
        assert_eq!(
            scram_verifier("a password", b"0123456789abcdef"),
            "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$FrRywkMWaf5bCGdoY7TvGesKp4EMoe/n7fbnW8ZRiSI=:PgLPrqtyahifRJ6ptAX7/SDgo8IFni3LhCKe2n9NWnk="
        );
    }

    #[test]
    fn quoting_doubles_the_quote_character() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
