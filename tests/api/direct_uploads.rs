//! Direct uploads over real HTTP: a presigned PUT straight to LocalStack's S3, S3's notification
//! on the jobs queue, the processor; the sweeper for uploads that never come and objects that
//! belong to no task; and downloads and results for the owner only.

use std::time::Duration;

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
};
use chrono::TimeDelta;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use writers::{
    processor::{handle_batch, poller},
    sweeper,
};

use testkit::{
    Persona, TestApp, TestResponse,
    aws::{isolated_config, notifying_bucket},
    events::{batch, message, object_created},
};

use crate::processor::deadline;

/// One request to S3 over plain HTTP, as a browser or curl would send it.
pub async fn s3_request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = axum::http::Request::builder().method(method).uri(url);
    // The body's real length is sent, whatever length was signed.
    for (name, value) in headers.iter().filter(|(name, _)| name != "content-length") {
        request = request.header(name, value);
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body)))
                .expect("a request"),
        )
        .await
        .expect("S3 answers");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("a body").to_bytes();
    (parts.status, parts.headers, bytes)
}

/// The headers the upload instructions say to send.
pub fn signed_headers(upload: &Value) -> Vec<(String, String)> {
    upload["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a value").to_owned()))
        .collect()
}

/// A test app over a bucket of its own, whose `incoming/` notifications go to the test's queue.
async fn app_with_notifications(pool: PgPool) -> TestApp {
    TestApp::with_config(notifying_bucket(isolated_config().await).await, pool).await
}

async fn request_upload(user: &Persona, body: &Value) -> TestResponse {
    user.post_json("/api/v1/tasks/uploads", body).await
}

fn upload_of(name: &str, size: usize, content_type: &str) -> Value {
    json!({"title": name, "file": {"name": name, "size": size, "content_type": content_type}})
}

/// Runs the local poller over the test's queue until the task has finished (or 20 polls).
async fn process_until_finished(app: &TestApp, user: &Persona, id: &str) -> Value {
    let state = &app.state;
    for _ in 0..20 {
        poller::poll_once(&state.jobs, Duration::from_secs(1), |event| async move {
            Ok(handle_batch(state, event, deadline()).await)
        })
        .await
        .expect("SQS");
        let task = app.task(user, id).await;
        if matches!(task["status"].as_str(), Some("completed" | "cancelled")) {
            return task;
        }
    }
    panic!("task {id} never finished");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_large_file_put_to_its_url_is_processed_through_the_s3_notification(pool: PgPool) {
    let app = app_with_notifications(pool).await;
    let ada = app.signed_up_user().await;
    // 6 MiB of text: more than the API itself accepts.
    let words = 6 * 1024 * 1024 / 8;
    let bytes = "chapter ".repeat(words).into_bytes();

    let response = request_upload(
        &ada,
        &upload_of("Long Novel.txt", bytes.len(), "text/plain"),
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let created = response.json();
    let id = created["id"].as_str().expect("an id");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["file_size"], bytes.len());
    assert_eq!(created["file_name"], "Long Novel.txt");
    let root = app.state.storage.root();
    assert_eq!(
        created["file_path"],
        format!(
            "s3://{}/{}/incoming/{}/{id}/1/Long_Novel.txt",
            root.bucket, root.prefix, ada.id
        )
    );
    let upload = &created["upload"];
    assert_eq!(upload["method"], "PUT");
    assert_eq!(
        upload["expires_at"],
        json!(app.clock.now() + TimeDelta::minutes(15))
    );
    let headers = signed_headers(upload);
    assert!(
        headers.contains(&("content-type".into(), "text/plain".into())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("if-none-match".into(), "*".into())),
        "{headers:?}"
    );
    let queued = app.drain_jobs().await;
    assert!(
        queued.iter().all(|m| m["Event"] == "s3:TestEvent"),
        "nothing but S3's probe is queued before the file arrives: {queued:?}"
    );

    let url = upload["url"].as_str().expect("a URL");
    let (status, _, body) = s3_request("PUT", url, &headers, bytes.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");

    let done = process_until_finished(&app, &ada, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["word_count"], words);
    assert_eq!(done["detected_content_type"], "text/plain");

    // The result, and the original back as an attachment.
    let result = ada.get(&format!("/api/v1/tasks/{id}/result")).await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.text());
    assert_eq!(result.json()["text"]["words"], words);
    assert_eq!(result.json()["size_bytes"], bytes.len());
    let file = ada.get(&format!("/api/v1/tasks/{id}/file")).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    let (status, headers, downloaded) = s3_request(
        "GET",
        file.json()["url"].as_str().expect("a URL"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(downloaded.len(), bytes.len());
    assert!(downloaded == bytes, "the same bytes");
    let disposition = headers["content-disposition"].to_str().expect("ASCII");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("Long%20Novel.txt"), "{disposition}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_url_accepts_exactly_the_declared_body_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let created = request_upload(&ada, &upload_of("a.txt", 100, "text/plain"))
        .await
        .json();
    let upload = &created["upload"];
    let (url, headers) = (upload["url"].as_str().expect("url"), signed_headers(upload));

    let (short, _, _) = s3_request("PUT", url, &headers, vec![b'x'; 99]).await;
    assert_eq!(
        short,
        StatusCode::FORBIDDEN,
        "another size breaks the signature"
    );
    let other_type: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            if k == "content-type" {
                (k.clone(), "image/png".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let (retyped, _, _) = s3_request("PUT", url, &other_type, vec![b'x'; 100]).await;
    assert_eq!(
        retyped,
        StatusCode::FORBIDDEN,
        "another type breaks the signature"
    );
    let (tampered, _, _) = s3_request(
        "PUT",
        &url.replace("a.txt", "b.txt"),
        &headers,
        vec![b'x'; 100],
    )
    .await;
    assert_eq!(
        tampered,
        StatusCode::FORBIDDEN,
        "another key breaks the signature"
    );

    let (first, _, body) = s3_request("PUT", url, &headers, vec![b'x'; 100]).await;
    assert_eq!(first, StatusCode::OK, "{body:?}");
    let (second, _, _) = s3_request("PUT", url, &headers, vec![b'y'; 100]).await;
    assert_eq!(
        second,
        StatusCode::PRECONDITION_FAILED,
        "If-None-Match: * refuses an overwrite"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_object_of_another_size_than_declared_is_cancelled(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let created = request_upload(&ada, &upload_of("a.txt", 100, "text/plain"))
        .await
        .json();
    let key = &app.key_of(&created);
    // Written around the URL (only possible with the bucket's own credentials).
    app.state
        .storage
        .put(key, vec![b'x'; 50], "text/plain")
        .await
        .expect("put");
    let record = object_created(&app.state.storage.root().bucket, key, 50);
    let response = handle_batch(&app.state, batch([message("m", record)]), deadline()).await;
    assert!(response.batch_item_failures.is_empty());
    let task = app.task(&ada, created["id"].as_str().expect("id")).await;
    assert_eq!(task["status"], "cancelled");
    assert_eq!(
        task["error"],
        "the uploaded file is 50 bytes, but 100 were declared"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_declared_file_is_checked_before_anything_is_signed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let limit = app.state.config.max_direct_upload_bytes;
    let cases = [
        (
            upload_of("a.txt", 0, "text/plain"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"title": "t", "file": {"name": "a.txt", "size": -1, "content_type": "text/plain"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"title": "t", "file": {"name": "a.txt", "size": "big", "content_type": "text/plain"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            upload_of("a.txt", 10, "not a type"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"title": "t"}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"title": "t", "file": {"name": "a.txt", "size": limit + 1, "content_type": "text/plain"}}),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (body, expected) in cases {
        let response = request_upload(&ada, &body).await;
        assert_eq!(response.status, expected, "{body} -> {}", response.text());
        assert!(!response.detail().is_empty());
    }
    let anonymous = app
        .post_json(
            "/api/v1/tasks/uploads",
            &upload_of("a.txt", 10, "text/plain"),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let listed = ada.get("/api/v1/tasks").await;
    assert_eq!(listed.json()["total"], 0, "no task for a refused request");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_upload_that_never_arrives_is_cancelled_and_a_late_one_processed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let never = request_upload(&ada, &upload_of("never.txt", 5, "text/plain"))
        .await
        .json();
    let late = request_upload(&ada, &upload_of("late.txt", 5, "text/plain"))
        .await
        .json();
    // The late one arrives, but its notification is lost (this test's bucket sends none).
    let late_key = app.key_of(&late);
    app.state
        .storage
        .put(&late_key, b"words".to_vec(), "text/plain")
        .await
        .expect("put");

    // Still within the URL's life and the grace period: nothing happens.
    app.clock.advance(
        TimeDelta::minutes(15) + sweeper::upload_grace(&app.state.config) - TimeDelta::seconds(1),
    );
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!((report.tasks_cancelled, report.late_uploads_queued), (0, 0));

    app.clock.advance(TimeDelta::seconds(2));
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!((report.tasks_cancelled, report.late_uploads_queued), (1, 1));
    let status = |task: &Value| {
        let id = task["id"].as_str().expect("id").parse().expect("uuid");
        let (state, owner) = (&app.state, ada.id);
        async move {
            writers::tasks::get(state, owner, id)
                .await
                .expect("the task")
        }
    };
    let cancelled = status(&never).await;
    assert_eq!(
        cancelled.error.as_deref(),
        Some(sweeper::UPLOAD_NOT_RECEIVED)
    );

    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["task_id"], late["id"]);
    let response = handle_batch(
        &app.state,
        batch([message("m", jobs[0].to_string())]),
        deadline(),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    let processed = status(&late).await;
    assert_eq!(processed.word_count, Some(1));
}

#[sqlx::test(migrations = "../migrations")]
async fn an_incoming_object_of_no_task_is_deleted_after_the_grace_period(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let created = request_upload(&ada, &upload_of("mine.txt", 2, "text/plain"))
        .await
        .json();
    let root = app.state.storage.root().clone();
    let mine = app.key_of(&created);
    let stray = root.key(&format!("incoming/{}/{}/stray.txt", ada.id, Uuid::new_v4()));
    for key in [&mine, &stray] {
        app.state
            .storage
            .put(key, b"hi".to_vec(), "text/plain")
            .await
            .expect("put");
    }
    assert_eq!(
        sweeper::run(&app.state)
            .await
            .expect("sweep")
            .orphans_deleted,
        0,
        "too young"
    );
    app.clock
        .advance(sweeper::upload_grace(&app.state.config) + TimeDelta::minutes(1));
    assert_eq!(
        sweeper::run(&app.state)
            .await
            .expect("sweep")
            .orphans_deleted,
        1
    );
    assert!(!app.state.storage.exists(&stray).await.expect("S3"));
    assert!(
        app.state.storage.exists(&mine).await.expect("S3"),
        "a task's file stays"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn files_and_results_are_for_their_owner_and_only_when_there(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let eve = app.signed_up_user().await;
    let get = |user: &Persona, path: String| {
        let user = user.clone();
        async move { user.get(&path).await }
    };

    let task = app
        .create_with_file(&ada, "notes.txt", b"three small words")
        .await;
    let id = task["id"].as_str().expect("id").to_owned();
    assert_eq!(
        get(&ada, format!("/api/v1/tasks/{id}/result")).await.status,
        StatusCode::CONFLICT,
        "in progress: no result yet"
    );
    let job = app.drain_jobs().await.remove(0);
    handle_batch(
        &app.state,
        batch([message("m", job.to_string())]),
        deadline(),
    )
    .await;

    let result = get(&ada, format!("/api/v1/tasks/{id}/result")).await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.text());
    assert_eq!(result.json()["text"]["words"], 3);
    let file = get(&ada, format!("/api/v1/tasks/{id}/file")).await;
    assert_eq!(file.status, StatusCode::OK);
    let (status, headers, bytes) = s3_request(
        "GET",
        file.json()["url"].as_str().expect("url"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        (status, &bytes[..]),
        (StatusCode::OK, &b"three small words"[..])
    );
    assert_eq!(headers["content-type"], "application/octet-stream");

    for path in ["file", "result"] {
        let other = get(&eve, format!("/api/v1/tasks/{id}/{path}")).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "{path}");
        let unknown = get(&ada, format!("/api/v1/tasks/{}/{path}", Uuid::new_v4())).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{path}");
        let malformed = get(&ada, format!("/api/v1/tasks/nope/{path}")).await;
        assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }

    let bare = ada
        .post_json("/api/v1/tasks", &json!({"title": "no file"}))
        .await
        .json();
    let bare_id = bare["id"].as_str().expect("id");
    assert_eq!(
        get(&ada, format!("/api/v1/tasks/{bare_id}/file"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&ada, format!("/api/v1/tasks/{bare_id}/result"))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let waiting = request_upload(&ada, &upload_of("soon.txt", 5, "text/plain"))
        .await
        .json();
    let waiting_id = waiting["id"].as_str().expect("id");
    assert_eq!(
        get(&ada, format!("/api/v1/tasks/{waiting_id}/file"))
            .await
            .status,
        StatusCode::CONFLICT,
        "not uploaded yet"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_expired_url_is_refused(pool: PgPool) {
    let mut config = isolated_config().await;
    config.upload_url_ttl = Duration::from_secs(1);
    let app = TestApp::with_config(config, pool).await;
    let ada = app.signed_up_user().await;
    let created = request_upload(&ada, &upload_of("a.txt", 3, "text/plain"))
        .await
        .json();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let upload = &created["upload"];
    let (status, _, _) = s3_request(
        "PUT",
        upload["url"].as_str().expect("url"),
        &signed_headers(upload),
        b"abc".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
