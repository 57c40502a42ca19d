//! `POST /api/v1/tasks`: the upload lands in S3, the job on SQS, the task moves on — and no
//! failure of S3, Postgres or SQS loses or strands anything.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use writers::{AppState, files::storage::Storage};

use testkit::{Part, Persona, TestApp, TestResponse, aws::isolated_config};

async fn create(user: &Persona, parts: &[Part]) -> TestResponse {
    user.request(Method::POST, "/api/v1/tasks")
        .multipart(parts)
        .send()
        .await
}

/// A task titled "t" with a five-byte text file: the smallest upload that exercises S3 and SQS.
fn small_upload() -> [Part; 2] {
    [
        Part::text("title", "t"),
        Part::file("a.txt", "text/plain", b"words"),
    ]
}

fn manuscript() -> Vec<u8> {
    "It was a bright cold day in April, and the clocks were striking thirteen.\n"
        .repeat(200)
        .into_bytes()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_file_is_stored_queued_and_its_task_marked_in_progress(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let bytes = manuscript();
    let response = create(
        &ada,
        &[
            Part::text("title", "  Chapter one  "),
            Part::text("description", "First draft"),
            Part::text("due_date", "2026-12-01T17:00:00+02:00"),
            Part::file("Chapter One.txt", "text/plain", &bytes),
        ],
    )
    .await;

    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.text());
    let task = response.json();
    let id = task["id"].as_str().expect("an id");
    assert_eq!(task["title"], "Chapter one");
    assert_eq!(task["description"], "First draft");
    assert_eq!(task["due_date"], "2026-12-01T15:00:00Z");
    assert_eq!(task["status"], "in_progress");
    assert_eq!(task["user_id"], ada.id.to_string());
    assert_eq!(task["file_name"], "Chapter One.txt");
    assert_eq!(task["file_content_type"], "text/plain");
    assert_eq!(task["file_size"], bytes.len());

    let root = app.state.storage.root();
    let key = format!("{}/uploads/{}/{id}/1/Chapter_One.txt", root.prefix, ada.id);
    assert_eq!(task["file_path"], format!("s3://{}/{key}", root.bucket));
    assert_eq!(
        app.state.storage.get(&key).await.expect("the object"),
        bytes,
        "the exact bytes"
    );

    let jobs = app.drain_jobs().await;
    assert_eq!(
        jobs,
        [json!({"version": 2, "task_id": id, "draft": 1, "bucket": root.bucket, "key": key})]
    );
    let sent: bool =
        sqlx::query_scalar("select sent_at is not null from outbox_jobs where task_id = $1::uuid")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("an outbox row");
    assert!(sent);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_task_without_a_file_stays_pending_and_queues_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let multipart = create(&ada, &[Part::text("title", "Outline")]).await;
    assert_eq!(
        multipart.status,
        StatusCode::ACCEPTED,
        "{}",
        multipart.text()
    );
    assert_eq!(multipart.json()["status"], "pending");
    assert_eq!(multipart.json()["file_path"], Value::Null);

    let json = ada
        .post_json(
            "/api/v1/tasks",
            &json!({"title": "Research", "due_date": "2026-12-24T09:30:00"}),
        )
        .await;
    assert_eq!(json.status, StatusCode::ACCEPTED, "{}", json.text());
    assert_eq!(json.json()["status"], "pending");
    assert_eq!(
        json.json()["due_date"],
        "2026-12-24T09:30:00Z",
        "no offset means UTC"
    );

    // A browser form whose file input was left empty sends a nameless, empty part.
    let empty_input = create(
        &ada,
        &[
            Part::text("title", "Notes"),
            Part::file("", "application/octet-stream", b""),
        ],
    )
    .await;
    assert_eq!(empty_input.status, StatusCode::ACCEPTED);

    assert!(app.drain_jobs().await.is_empty());
    assert!(app.stored_keys().await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn invalid_submissions_get_a_4xx_naming_the_problem(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let cases: Vec<(&str, Vec<Part>, StatusCode, &str)> = vec![
        (
            "no title",
            vec![Part::text("description", "x")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "title: field required",
        ),
        (
            "blank title",
            vec![Part::text("title", "   ")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "title: must not be blank",
        ),
        (
            "long title",
            vec![Part::text("title", &"t".repeat(256))],
            StatusCode::UNPROCESSABLE_ENTITY,
            "title: must be at most 255 characters",
        ),
        (
            "long description",
            vec![
                Part::text("title", "t"),
                Part::text("description", &"d".repeat(10_001)),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "description: must be at most 10000 characters",
        ),
        (
            "bad due date",
            vec![Part::text("title", "t"), Part::text("due_date", "soon")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "due_date: must be an ISO 8601 date or date-time in the years 0000 to 9999, e.g. 2026-12-01T17:00:00Z",
        ),
        (
            "empty file",
            vec![
                Part::text("title", "t"),
                Part::file("empty.txt", "text/plain", b""),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "file: must not be empty",
        ),
        (
            "huge text field",
            vec![Part::text("title", &"t".repeat(60_000))],
            StatusCode::UNPROCESSABLE_ENTITY,
            "title: is too long",
        ),
    ];
    for (case, parts, status, detail) in cases {
        let response = create(&ada, &parts).await;
        assert_eq!(response.status, status, "{case}: {}", response.text());
        assert_eq!(response.detail(), detail, "{case}");
    }
    let text = ada
        .request(Method::POST, "/api/v1/tasks")
        .body("text/plain", "title=x")
        .send()
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let broken = ada
        .request(Method::POST, "/api/v1/tasks")
        .body("multipart/form-data; boundary=x", "not multipart at all")
        .send()
        .await;
    assert_eq!(
        broken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        broken.text()
    );
    assert!(
        app.stored_keys().await.is_empty(),
        "nothing was stored for a refused task"
    );
}

/// Found by Schemathesis: unknown multipart fields were dropped silently (a misspelt `titel` lost
/// the title), and names with control characters broke the parser; the document now says
/// `additionalProperties: false`, and the server agrees.
#[sqlx::test(migrations = "../migrations")]
async fn unknown_multipart_fields_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let response = create(
        &ada,
        &[Part::text("title", "t"), Part::text("titel", "typo")],
    )
    .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["errors"][0]["type"], "extra_forbidden");
}

/// Found by Schemathesis: an empty `due_date` was taken as no date, though the document says `date-time`.
#[sqlx::test(migrations = "../migrations")]
async fn an_empty_due_date_is_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let response = create(
        &ada,
        &[Part::text("title", "t"), Part::text("due_date", "")],
    )
    .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.json()["errors"][0]["loc"],
        json!(["body", "due_date"])
    );
}

/// Found by trying it: `-5000-01-01` parsed, Postgres refused it, and the answer was a `503`
/// inviting a retry (after an S3 put and delete on the multipart route).
#[sqlx::test(migrations = "../migrations")]
async fn a_due_date_the_database_cannot_store_is_a_422_before_anything_is_stored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    for due in ["-5000-01-01", "+10000-01-01T00:00:00Z"] {
        let json = ada
            .post_json("/api/v1/tasks", &json!({"title": "t", "due_date": due}))
            .await;
        assert_eq!(
            json.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{due}: {}",
            json.text()
        );
        assert_eq!(json.json()["errors"][0]["loc"], json!(["body", "due_date"]));
        let multipart = create(
            &ada,
            &[
                Part::text("title", "t"),
                Part::text("due_date", due),
                Part::file("a.txt", "text/plain", b"words"),
            ],
        )
        .await;
        assert_eq!(multipart.status, StatusCode::UNPROCESSABLE_ENTITY, "{due}");
        assert!(!multipart.headers.contains_key("retry-after"));
    }
    assert!(app.stored_keys().await.is_empty(), "no file was put");
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_file_names_all_end_up_inside_the_tasks_prefix(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let long = "n".repeat(1000);
    for name in ["../../etc/passwd", "a/b", "..\\x", "..", long.as_str()] {
        let response = create(
            &ada,
            &[
                Part::text("title", "t"),
                Part::file(name, "text/plain", b"words"),
            ],
        )
        .await;
        assert_eq!(
            response.status,
            StatusCode::ACCEPTED,
            "{name:?}: {}",
            response.text()
        );
        let task = response.json();
        let prefix = format!(
            "s3://{}/{}/uploads/{}/{}/1/",
            app.state.storage.root().bucket,
            app.state.storage.root().prefix,
            ada.id,
            task["id"].as_str().expect("id")
        );
        let path = task["file_path"].as_str().expect("a path");
        assert!(path.starts_with(&prefix), "{name:?} -> {path}");
        let last = &path[prefix.len()..];
        assert!(
            !last.contains('/') && !last.starts_with('.') && last.chars().count() <= 100,
            "{name:?} -> {last}"
        );
    }
    // A raw NUL cannot appear in an HTTP header: the part is malformed, refused, and nothing is stored.
    let stored_before = app.stored_keys().await.len();
    let nul = create(
        &ada,
        &[
            Part::text("title", "t"),
            Part::file("nul\0byte.txt", "text/plain", b"words"),
        ],
    )
    .await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        nul.detail(),
        "body: is not a valid multipart/form-data body"
    );
    assert_eq!(app.stored_keys().await.len(), stored_before);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_file_over_the_limit_is_refused_with_413_and_leaves_nothing(pool: PgPool) {
    let config = writers::Config {
        max_upload_bytes: 1024,
        ..isolated_config().await
    };
    let app = TestApp::with_config(config, pool.clone()).await;
    let ada = app.signed_up_user().await;

    let exact = create(
        &ada,
        &[
            Part::text("title", "fits"),
            Part::file("a.bin", "application/octet-stream", &[7; 1024]),
        ],
    )
    .await;
    assert_eq!(
        exact.status,
        StatusCode::ACCEPTED,
        "exactly the limit passes: {}",
        exact.text()
    );

    for size in [1025, 200 * 1024] {
        let over = create(
            &ada,
            &[
                Part::text("title", "too big"),
                Part::file("b.bin", "application/octet-stream", &vec![7; size]),
            ],
        )
        .await;
        assert_eq!(
            over.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{size}: {}",
            over.text()
        );
        assert!(
            over.detail().starts_with("request body is larger than"),
            "{}",
            over.detail()
        );
    }
    let titles: Vec<String> = sqlx::query_scalar("select title from tasks")
        .fetch_all(&pool)
        .await
        .expect("tasks");
    assert_eq!(titles, ["fits"]);
    assert_eq!(app.stored_keys().await.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn creating_a_task_needs_a_signed_in_user(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app
        .request(Method::POST, "/api/v1/tasks")
        .multipart(&[Part::text("title", "t")])
        .send()
        .await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn s3_unavailable_is_a_503_and_creates_no_task(pool: PgPool) {
    let config = isolated_config().await;
    let mut state = AppState::with_pool(config.clone(), pool.clone()).await;
    // An S3 endpoint where nothing listens: the outage a user would see.
    let sdk = writers::aws::sdk_config(&config).await;
    let dead = aws_sdk_s3::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .force_path_style(true)
        .build();
    state.storage = Storage::from_client(
        aws_sdk_s3::Client::from_conf(dead),
        config.storage_root.clone(),
    );
    let app = TestApp::with_state(state);
    let ada = app.signed_up_user().await;

    let response = create(&ada, &small_upload()).await;

    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.text()
    );
    assert_eq!(
        response.detail(),
        "object storage unavailable; try again shortly"
    );
    assert!(response.header("retry-after").parse::<u64>().is_ok());
    let tasks: i64 = sqlx::query_scalar("select count(*) from tasks")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(tasks, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_database_failure_after_the_upload_removes_the_object(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    // The database refuses every new task from now on, after S3 has the file.
    testkit::refuse_new_tasks(&pool).await;

    let response = create(&ada, &small_upload()).await;

    // A refusal is a bug to look into, not an outage to wait out: no `Retry-After`.
    assert_eq!(
        response.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        response.text()
    );
    assert_eq!(response.detail(), "internal server error");
    assert!(!response.headers.contains_key("retry-after"));
    assert!(
        !response.text().contains("refused"),
        "no SQL error reaches the client"
    );
    assert!(app.stored_keys().await.is_empty(), "no orphaned object");
    assert!(app.drain_jobs().await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn an_sqs_outage_after_the_commit_loses_no_job_the_sweeper_delivers_it(pool: PgPool) {
    let config = isolated_config().await;
    // A queue that does not exist yet: sends fail until it is created.
    let missing = format!("{}-later", config.queue_url);
    let app = TestApp::with_config(
        writers::Config {
            queue_url: missing.clone(),
            ..config
        },
        pool.clone(),
    )
    .await;
    let ada = app.signed_up_user().await;

    let response = create(&ada, &small_upload()).await;
    assert_eq!(
        response.status,
        StatusCode::ACCEPTED,
        "the task is safe: {}",
        response.text()
    );
    let task = response.json();
    assert_eq!(
        task["status"], "pending",
        "not in progress: nothing has the job yet"
    );
    let id = task["id"].as_str().expect("id").to_owned();
    let (attempts, sent): (i32, bool) = sqlx::query_as(
        "select attempts, sent_at is not null from outbox_jobs where task_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .expect("the job is in the outbox");
    assert_eq!((attempts, sent), (1, false));

    // Not due yet: the sweeper waits out the backoff.
    assert_eq!(
        writers::sweeper::run(&app.state)
            .await
            .expect("sweep")
            .jobs_delivered,
        0
    );

    // SQS is back.
    let name = missing.rsplit('/').next().expect("a name");
    app.state
        .jobs
        .client()
        .await
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create");
    app.clock.advance(chrono::TimeDelta::seconds(2));
    assert_eq!(
        writers::sweeper::run(&app.state)
            .await
            .expect("sweep")
            .jobs_delivered,
        1
    );

    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["task_id"], id.as_str());
    let status: String = sqlx::query_scalar("select status::text from tasks where id = $1::uuid")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .expect("status");
    assert_eq!(status, "IN_PROGRESS");
    assert_eq!(
        writers::sweeper::run(&app.state)
            .await
            .expect("sweep")
            .jobs_delivered,
        0,
        "sent once"
    );
}
