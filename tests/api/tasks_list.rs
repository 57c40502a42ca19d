//! `GET /api/v1/tasks`: only the caller's tasks, newest first, paginated, filtered, counted.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Part, TestApp, TestResponse, TestUser};

async fn list(app: &TestApp, user: &TestUser, query: &str) -> TestResponse {
    app.request(Method::GET, &format!("/api/v1/tasks{query}"))
        .cookie("access_token", &user.access)
        .send()
        .await
}

async fn create_titled(app: &TestApp, user: &TestUser, title: &str) {
    let response = app
        .request(Method::POST, "/api/v1/tasks")
        .cookie("access_token", &user.access)
        .json(&json!({"title": title}))
        .send()
        .await;
    assert_eq!(response.status, StatusCode::ACCEPTED);
}

fn titles(page: &Value) -> Vec<&str> {
    page["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["title"].as_str().expect("a title"))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn listing_shows_only_the_callers_tasks_newest_first_with_the_total(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ada, bob) = (app.signed_up_user().await, app.signed_up_user().await);
    for n in 1..=5 {
        create_titled(&app, &ada, &format!("ada {n}")).await;
    }
    create_titled(&app, &bob, "bob 1").await;

    let page = list(&app, &ada, "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        titles(&page.json()),
        ["ada 5", "ada 4", "ada 3", "ada 2", "ada 1"]
    );
    assert_eq!(page.json()["total"], 5);

    let second = list(&app, &ada, "?skip=1&limit=2").await.json();
    assert_eq!(titles(&second), ["ada 4", "ada 3"]);
    assert_eq!(
        second["total"], 5,
        "the total counts every match, not the page"
    );
    let past_the_end = list(&app, &ada, "?skip=50").await.json();
    assert_eq!(titles(&past_the_end), Vec::<&str>::new());
    assert_eq!(past_the_end["total"], 5);

    assert_eq!(titles(&list(&app, &bob, "").await.json()), ["bob 1"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn status_filter_accepts_either_case(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    create_titled(&app, &ada, "plain").await;
    let upload = app
        .request(Method::POST, "/api/v1/tasks")
        .cookie("access_token", &ada.access)
        .multipart(&[
            Part::text("title", "with file"),
            Part::file("a.txt", "text/plain", b"words"),
        ])
        .send()
        .await;
    assert_eq!(upload.json()["status"], "in_progress");

    for query in ["?status_filter=in_progress", "?status_filter=IN_PROGRESS"] {
        let page = list(&app, &ada, query).await.json();
        assert_eq!(titles(&page), ["with file"], "{query}");
        assert_eq!(page["total"], 1);
    }
    assert_eq!(
        titles(&list(&app, &ada, "?status_filter=PENDING").await.json()),
        ["plain"]
    );
    assert_eq!(
        list(&app, &ada, "?status_filter=completed").await.json()["total"],
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn out_of_range_parameters_are_a_422_naming_the_parameter(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    for (query, param) in [
        ("?skip=-1", "skip"),
        ("?skip=abc", "skip"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=9999999999999999999999", "limit"),
        ("?status_filter=done", "status_filter"),
        // Found by Schemathesis: an empty filter was taken as no filter, though the document says enum.
        ("?status_filter=", "status_filter"),
        ("?skip=2147483648", "skip"),
    ] {
        let response = list(&app, &ada, query).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            response.json()["errors"][0]["loc"],
            json!(["query", param]),
            "{query}"
        );
        assert!(
            response.detail().starts_with(param),
            "{query}: {}",
            response.detail()
        );
    }
    assert_eq!(
        list(&app, &ada, "?limit=100&skip=0").await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn listing_needs_a_signed_in_user(pool: PgPool) {
    let app = TestApp::new(pool).await;
    assert_eq!(
        app.get("/api/v1/tasks").await.status,
        StatusCode::UNAUTHORIZED
    );
}
