//! `GET /health` answers 200 only when Postgres, S3 and SQS all answer.

use axum::http::StatusCode;
use secrecy::SecretString;
use sqlx::PgPool;
use writers::{
    Config,
    config::{Database, DatabaseSource},
};

use testkit::{TestApp, aws::config};

#[sqlx::test]
async fn health_is_ok_when_every_dependency_answers(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app.get("/health").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(
        response.json(),
        serde_json::json!({"status": "ok", "database": "ok", "storage": "ok", "queue": "ok"})
    );
}

#[tokio::test]
async fn health_names_the_dependency_that_is_down() {
    // Nothing listens on port 1: the database is unreachable, S3 and SQS are not.
    let base = config();
    let config = Config {
        database: Database {
            source: DatabaseSource::Url(SecretString::from(
                "postgres://postgres@127.0.0.1:1/writers",
            )),
            ..base.database.clone()
        },
        queue_url: format!("{}-missing", base.queue_url),
        ..base
    };
    let pool = writers::db::pool(&config);
    let app = TestApp::with_state(writers::AppState::with_pool(config, pool).await);

    let response = app.get("/health").await;

    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.json(),
        serde_json::json!({"status": "unavailable", "database": "unavailable", "storage": "ok", "queue": "unavailable"})
    );
}
