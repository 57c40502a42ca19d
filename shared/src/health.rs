//! `GET /health` of the local server: `200` only when Postgres, S3 and SQS all answer.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use crate::AppState;

/// Each dependency's state: `"ok"` or `"unavailable"`.
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
    pub storage: &'static str,
    pub queue: &'static str,
}

/// Checks the three dependencies concurrently and reports each by name.
pub async fn check(state: &AppState) -> Health {
    let (database, storage, queue) = tokio::join!(
        sqlx::query("select 1").execute(&state.db),
        state.storage.check(),
        state.jobs.check(),
    );
    let verdict = |ok: bool, name: &str, cause: &dyn std::fmt::Debug| {
        if ok {
            "ok"
        } else {
            tracing::warn!(dependency = name, cause = ?cause, "health check failed");
            "unavailable"
        }
    };
    let database = verdict(database.is_ok(), "database", &database.err());
    let storage = verdict(storage.is_ok(), "storage", &storage.err());
    let queue = verdict(queue.is_ok(), "queue", &queue.err());
    let all_ok = [database, storage, queue].iter().all(|s| *s == "ok");
    Health {
        status: if all_ok { "ok" } else { "unavailable" },
        database,
        storage,
        queue,
    }
}

/// The handler: `200` with every dependency `ok`, otherwise `503` naming what is unavailable.
pub async fn handler(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = check(&state).await;
    let status = if health.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}
