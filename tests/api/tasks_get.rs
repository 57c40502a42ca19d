//! `GET /api/v1/tasks/{task_id}`: the owner's task; 403, 404 and 422 otherwise.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use testkit::{Persona, TestApp, TestResponse};

async fn get(user: &Persona, id: &str) -> TestResponse {
    user.get(&format!("/api/v1/tasks/{id}")).await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_owner_gets_the_task_and_others_are_forbidden(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ada, bob) = (app.signed_up_user().await, app.signed_up_user().await);
    let created = ada
        .post_json("/api/v1/tasks", &json!({"title": "Draft chapter one"}))
        .await
        .json();
    let id = created["id"].as_str().expect("an id");

    let mine = get(&ada, id).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.json(), created);

    let theirs = get(&bob, id).await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
    assert_eq!(theirs.detail(), "this task belongs to another user");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_task_is_404_and_a_malformed_id_is_422(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;

    let unknown = get(&ada, "7f8b1c7e-0000-4000-8000-000000000000").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.detail(), "task not found");

    let malformed = get(&ada, "not-a-uuid").await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        malformed.json()["errors"][0]["loc"],
        json!(["path", "task_id"])
    );
}
