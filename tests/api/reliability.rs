//! Faults the create path and the sweeper must survive without losing or stranding anything:
//! a hung S3 or SQS, a request that dies between its PUT and its commit, a failing sweeper duty,
//! many completed direct uploads, and one user's quota and creation rate.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chrono::TimeDelta;
use serde_json::json;
use sqlx::PgPool;
use tokio::task::JoinSet;
use writers::{
    Config,
    files::queue::JobQueue,
    http::HTTP_FUNCTION_TIMEOUT,
    sweeper,
    tasks::{objects, outbox},
};

use testkit::{
    Part, Persona, TestApp, TestResponse,
    aws::{hung_endpoint, isolated_config, with_queue_at, with_storage_at},
};

async fn create(user: &Persona, name: &str, bytes: &[u8]) -> TestResponse {
    user.request(Method::POST, "/api/v1/tasks")
        .multipart(&[
            Part::text("title", name),
            Part::file(name, "text/plain", bytes),
        ])
        .send()
        .await
}

async fn pending_uploads(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select object_key from pending_uploads")
        .fetch_all(pool)
        .await
        .expect("pending uploads")
}

/// Found by reading: 15 s per S3 call × 2 attempts outlasted the functions' 10 s, so a hung S3
/// ended as a Lambda timeout, with no `Retry-After` and an object no row named.
#[sqlx::test(migrations = "../migrations")]
async fn a_hung_s3_is_a_quick_503_and_leaves_nothing_the_sweeper_cannot_find(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let (endpoint, _hung) = hung_endpoint().await;
    let hung = TestApp::with_state(with_storage_at(&app.state, &endpoint).await);
    let ada_there = hung.persona_like(&ada);

    let started = Instant::now();
    let response = create(&ada_there, "hung.txt", b"words").await;
    let took = started.elapsed();
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.text()
    );
    assert!(response.headers.contains_key("retry-after"));
    assert!(
        took + Duration::from_secs(1) < HTTP_FUNCTION_TIMEOUT,
        "answered in {took:?}"
    );

    // The key was recorded before the PUT: whether or not S3 stored the object, the sweeper
    // (with S3 back) deletes it once no request can still commit its task.
    let recorded = pending_uploads(&pool).await;
    assert_eq!(recorded.len(), 1);
    app.state
        .storage
        .put(&recorded[0], b"words".to_vec(), "text/plain")
        .await
        .expect("the object the hung PUT may have left");
    let deleted = || async {
        sweeper::run(&app.state)
            .await
            .expect("sweep")
            .unfinished_uploads_deleted
    };
    let after = TimeDelta::from_std(app.state.config.unfinished_upload_after).expect("small");
    app.clock.advance(after - TimeDelta::seconds(1));
    assert_eq!(deleted().await, 0);
    app.clock.advance(TimeDelta::seconds(2));
    assert_eq!(deleted().await, 1);
    assert!(app.stored_keys().await.is_empty());
    // A PUT that gave up may land late: the record stays one more period, its object deleted again.
    app.state
        .storage
        .put(&recorded[0], b"words".to_vec(), "text/plain")
        .await
        .expect("a late PUT");
    assert_eq!(deleted().await, 1);
    assert!(app.stored_keys().await.is_empty());
    app.clock.advance(after);
    deleted().await;
    assert!(
        pending_uploads(&pool).await.is_empty(),
        "then the record goes"
    );

    // A task that was committed took its key off the list in the same transaction.
    assert_eq!(
        create(&ada, "fine.txt", b"words").await.status,
        StatusCode::ACCEPTED
    );
    assert!(pending_uploads(&pool).await.is_empty());
}

/// Found by reading: the outbox held a transaction and the job's row lock while SQS answered.
#[sqlx::test(migrations = "../migrations")]
async fn delivering_a_job_holds_no_lock_while_sqs_answers(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let (endpoint, _hung) = hung_endpoint().await;
    let hung = TestApp::with_state(with_queue_at(&app.state, &endpoint).await);
    // Created while SQS hangs: the job waits in the outbox.
    let task = create(&hung.persona_like(&ada), "queued.txt", b"words").await;
    assert_eq!(task.status, StatusCode::ACCEPTED, "{}", task.text());
    let id: uuid::Uuid = task.json()["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    hung.clock.advance(TimeDelta::minutes(1));

    let state = hung.state.clone();
    let delivery = tokio::spawn(async move { outbox::deliver(&state, id, 1).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!delivery.is_finished(), "SQS is still not answering");
    let mut other = pool.begin().await.expect("a connection");
    let locked: Option<uuid::Uuid> =
        sqlx::query_scalar("select task_id from outbox_jobs where task_id = $1 for update nowait")
            .bind(id)
            .fetch_optional(&mut *other)
            .await
            .expect("the row is not locked during the send");
    assert_eq!(locked, Some(id));
    drop(other);
    assert_eq!(
        delivery.await.expect("joined").expect("recorded"),
        outbox::Delivery::Deferred
    );
}

/// Found by reading: the duties were `?`-chained, so a dead-letter queue that could not be read
/// meant nothing after it ran that minute.
#[sqlx::test(migrations = "../migrations")]
async fn one_failing_sweeper_duty_does_not_stop_the_others(pool: PgPool) {
    let mut app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let never = ada
        .post_json(
            "/api/v1/tasks/uploads",
            &json!({"title": "never", "file": {"name": "never.txt", "size": 5, "content_type": "text/plain"}}),
        )
        .await;
    assert_eq!(never.status, StatusCode::CREATED, "{}", never.text());
    let aws = writers::aws::Sdk::new(&app.state.config);
    app.state.dead_letters = Some(JobQueue::new(
        &aws,
        &format!("{}-no-such-queue", app.state.jobs.url()),
    ));
    app.clock.advance(TimeDelta::hours(1));

    let failed = sweeper::run(&app.state)
        .await
        .expect_err("the dead-letter duty failed");
    assert!(failed.to_string().contains("unexpected error"), "{failed}");
    let task = writers::tasks::get(
        &app.state,
        ada.id,
        never.json()["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid"),
    )
    .await
    .expect("task");
    assert_eq!(
        task.error.as_deref(),
        Some(sweeper::UPLOAD_NOT_RECEIVED),
        "the expired upload was settled all the same"
    );
}

/// Found by reading: the orphan sweep listed the first 100 old keys under `incoming/` and only
/// then dropped the ones a task owns, so 100 completed direct uploads hid every orphan after them.
#[sqlx::test(migrations = "../migrations")]
async fn orphans_behind_many_completed_uploads_are_still_found(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let root = app.state.storage.root().clone();
    let mut puts = JoinSet::new();
    for n in 0..105 {
        let task_id = uuid::Uuid::new_v4();
        let key = objects::incoming_key(&root, ada.id, task_id, 1, &format!("a{n:03}.txt"));
        sqlx::query(
            "with task as (insert into tasks (id, user_id, title, status, file_path, file_size) \
                           values ($1, $2, 't', 'PENDING', $3, 5) returning id) \
             insert into task_drafts (task_id, number, file_path, file_size) select id, 1, $3, 5 from task",
        )
        .bind(task_id)
        .bind(ada.id)
        .bind(format!("s3://{}/{key}", root.bucket))
        .execute(&pool)
        .await
        .expect("an owned upload");
        let storage = app.state.storage.clone();
        puts.spawn(async move { storage.put(&key, b"words".to_vec(), "text/plain").await });
    }
    // An object no task owns, listed after all of them (keys sort by user, then task).
    let orphan = format!(
        "{}{}/zzzz/orphan.txt",
        objects::incoming_prefix(&root),
        ada.id
    );
    app.state
        .storage
        .put(&orphan, b"words".to_vec(), "text/plain")
        .await
        .expect("put");
    for put in puts.join_all().await {
        put.expect("put");
    }
    app.clock
        .advance(sweeper::upload_grace(&app.state.config) + TimeDelta::minutes(1));
    let report = sweeper::run(&app.state).await.expect("sweep");
    assert_eq!(report.orphans_deleted, 1);
    assert!(!app.state.storage.exists(&orphan).await.expect("head"));
    assert_eq!(app.stored_keys().await.len(), 105, "owned uploads are kept");
}

async fn app_with(pool: PgPool, change: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = isolated_config().await;
    change(&mut config);
    TestApp::with_config(config, pool).await
}

#[sqlx::test(migrations = "../migrations")]
async fn uploads_past_the_quota_are_a_413_with_the_figures(pool: PgPool) {
    let app = app_with(pool, |c| c.user_quota_bytes = 12).await;
    let ada = app.signed_up_user().await;
    assert_eq!(
        create(&ada, "a.txt", b"0123456789").await.status,
        StatusCode::ACCEPTED
    );
    let over = create(&ada, "b.txt", b"012").await;
    assert_eq!(
        over.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        over.text()
    );
    assert_eq!(
        over.detail(),
        "the file (3 bytes) would take your uploads past your quota: 10 of 12 bytes are used"
    );
    // A direct upload counts at its declared size.
    let declared = ada
        .post_json(
            "/api/v1/tasks/uploads",
            &json!({"title": "big", "file": {"name": "big.txt", "size": 3, "content_type": "text/plain"}}),
        )
        .await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        create(&ada, "c.txt", b"01").await.status,
        StatusCode::ACCEPTED,
        "exactly the quota"
    );
    assert_eq!(
        app.stored_keys().await.len(),
        2,
        "nothing was kept of the refused ones"
    );
    let me = ada.get("/auth/me").await.json();
    assert_eq!(
        me["usage"],
        json!({"bytes": 12, "quota_bytes": 12, "tasks": 2})
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_uploads_cannot_pass_the_quota_together(pool: PgPool) {
    let app = app_with(pool.clone(), |c| c.user_quota_bytes = 25).await;
    let ada = app.signed_up_user().await;
    let mut set = JoinSet::new();
    for n in 0..6 {
        let request = ada.request(Method::POST, "/api/v1/tasks").multipart(&[
            Part::text("title", "t"),
            Part::file(&format!("{n}.txt"), "text/plain", b"0123456789"),
        ]);
        set.spawn(async move { request.send().await.status });
    }
    let statuses = set.join_all().await;
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    assert_eq!(accepted, 2, "{statuses:?}");
    let stored: i64 = sqlx::query_scalar("select coalesce(sum(file_size), 0)::bigint from tasks")
        .fetch_one(&pool)
        .await
        .expect("sum");
    assert_eq!(stored, 20);
    assert_eq!(
        app.stored_keys().await.len(),
        2,
        "refused uploads were removed"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn parallel_creates_cannot_pass_the_rate_together(pool: PgPool) {
    let app = app_with(pool.clone(), |c| c.tasks_per_user_per_hour = 5).await;
    let ada = app.signed_up_user().await;
    let mut set = JoinSet::new();
    for n in 0..16 {
        let request = ada
            .request(Method::POST, "/api/v1/tasks")
            .json(&json!({"title": format!("t{n}")}));
        set.spawn(async move { request.send().await.status });
    }
    let statuses = set.join_all().await;
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::ACCEPTED), 5, "{statuses:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 11, "{statuses:?}");
    let made: i64 = sqlx::query_scalar("select count(*) from tasks")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(made, 5);
    let me = ada.get("/auth/me").await.json();
    assert_eq!(
        me["usage"]["tasks"],
        json!(5),
        "the maintained count agrees"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn creating_past_the_hourly_rate_is_a_429_until_an_allowance_frees_up(pool: PgPool) {
    let app = app_with(pool, |c| {
        c.tasks_per_user_per_hour = 3;
        c.access_token_ttl = Duration::from_secs(2 * 60 * 60);
    })
    .await;
    let ada = app.signed_up_user().await;
    for n in 0..3 {
        let made = ada
            .post_json("/api/v1/tasks", &json!({"title": format!("t{n}")}))
            .await;
        assert_eq!(made.status, StatusCode::ACCEPTED, "{}", made.text());
    }
    let refused = ada
        .post_json("/api/v1/tasks", &json!({"title": "one more"}))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.detail(),
        "too many tasks created in the last hour; try again later"
    );
    // A burst of 3, then one every 20 minutes: the next frees up 20 minutes after the burst.
    let wait: i64 = refused.header("retry-after").parse().expect("seconds");
    assert!((1100..=1201).contains(&wait), "{wait}");
    let other = app.signed_up_user().await;
    assert_eq!(
        other
            .post_json("/api/v1/tasks", &json!({"title": "mine"}))
            .await
            .status,
        StatusCode::ACCEPTED,
        "the limit is per user"
    );
    app.clock.advance(TimeDelta::minutes(21));
    assert_eq!(
        ada.post_json("/api/v1/tasks", &json!({"title": "later"}))
            .await
            .status,
        StatusCode::ACCEPTED,
        "one allowance freed up"
    );
    let again = ada
        .post_json("/api/v1/tasks", &json!({"title": "and another"}))
        .await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "only one");
    app.clock.advance(TimeDelta::minutes(61));
    for n in 0..3 {
        let made = ada
            .post_json(
                "/api/v1/tasks",
                &json!({"title": format!("after an hour {n}")}),
            )
            .await;
        assert_eq!(
            made.status,
            StatusCode::ACCEPTED,
            "a full burst again after an hour"
        );
    }
}
