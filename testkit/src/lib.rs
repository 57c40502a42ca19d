//! Dev only, never deployed: runs Writers as AWS runs it, for `tests/` and `bench/`.
//!
//! - [`runtime_api`]: a Lambda Runtime API, and the one way to start a function binary behind it.
//! - [`lambda`]: function binaries with template.yaml's environment ([`lambda::Deployment`]).
//! - [`gateway`]: API Gateway's HTTP API in front of them, CloudFormation's response URL behind.
//! - [`events`]: SQS, S3, schedule, CloudFormation and HTTP (payload 2.0) events.
//! - [`aws`]: a configuration of one's own: queue, storage prefix, bucket, secrets.
//! - [`app`]: the whole router in-process over a per-test database, requests, responses, and
//!   [`app::Persona`]s, signed-in users whose requests carry their access cookie.
//! - [`multipart`]: `multipart/form-data` bodies.

pub mod app;
pub mod aws;
pub mod events;
pub mod gateway;
pub mod lambda;
pub mod multipart;
pub mod runtime_api;

pub use app::{Persona, TestApp, TestResponse, over_http, request_to};
pub use multipart::Part;

/// The bytes of `tests/fixtures/<name>`.
///
/// # Panics
/// When the file cannot be read.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Inserts a user row directly, for tests of the database's own rules and for set-ups that need
/// an owner but no sign-in; returns its id.
///
/// # Errors
/// The database's refusal (a constraint, an outage), for the caller to assert on.
pub async fn insert_user(
    db: &sqlx::PgPool,
    email: &str,
    username: &str,
) -> Result<uuid::Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into users (email, username, hashed_password) values ($1, $2, 'x') returning id",
    )
    .bind(email)
    .bind(username)
    .fetch_one(db)
    .await
}

/// Makes the database refuse every new task (a trigger that raises), as the owner; returns the
/// statement that lifts the refusal, for the caller to run when done.
///
/// # Panics
/// When the trigger cannot be created.
pub async fn refuse_new_tasks(owner: &sqlx::PgPool) -> &'static str {
    sqlx::raw_sql(
        "create function refuse() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$;
         create trigger refuse before insert on tasks for each row execute function refuse();",
    )
    .execute(owner)
    .await
    .expect("a trigger that refuses new tasks");
    "drop trigger refuse on tasks; drop function refuse()"
}
