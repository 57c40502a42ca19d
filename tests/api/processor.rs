//! The file processor over real Postgres and LocalStack: the figures for known fixtures, the
//! result in S3, and at-least-once delivery — redeliveries, duplicates, races, outages,
//! malformed messages, zip bombs and dead letters — never losing or stranding a task.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::TimeDelta;
use serde_json::{Value, json};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::time::Instant;
use uuid::Uuid;
use writers::{
    AppState,
    processor::{self, BatchItemFailure, Outcome, SqsBatchResponse, handle_batch, poller},
    sweeper,
    tasks::model::TaskStatus,
};

use testkit::{
    Persona, TestApp,
    aws::isolated_config,
    events::{batch, message, object_created},
    fixture,
};

/// As much time as a real invocation gets.
pub fn deadline() -> Instant {
    Instant::now() + processor::FUNCTION_TIMEOUT
}

fn failures(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// Uploads `bytes` through the API and returns the task with the job the API queued for it.
async fn uploaded(app: &TestApp, user: &Persona, name: &str, bytes: &[u8]) -> (Value, String) {
    let task = app.create_with_file(user, name, bytes).await;
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1, "one job per upload");
    (task, jobs[0].to_string())
}

/// Uploads `bytes`, processes its job, and returns the task as its owner then sees it.
async fn processed(app: &TestApp, user: &Persona, name: &str, bytes: &[u8]) -> Value {
    let (task, job) = uploaded(app, user, name, bytes).await;
    let response = handle_batch(&app.state, batch([message("m1", job)]), deadline()).await;
    assert_eq!(failures(&response), Vec::<&str>::new());
    app.task(user, task["id"].as_str().expect("an id")).await
}

fn figures(task: &Value) -> [&Value; 4] {
    [
        &task["line_count"],
        &task["word_count"],
        &task["character_count"],
        &task["reading_minutes"],
    ]
}

fn result_key(app: &TestApp, task: &Value) -> String {
    format!(
        "{}/results/{}/1.json",
        app.state.storage.root().prefix,
        task["id"].as_str().expect("an id")
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn a_text_file_is_counted_and_its_full_result_stored_in_s3(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = processed(&app, &ada, "chapter.txt", &fixture("chapter.txt")).await;

    assert_eq!(task["status"], "completed");
    assert_eq!(
        figures(&task),
        [&json!(5), &json!(28), &json!(165), &json!(0.1)]
    );
    assert_eq!(task["detected_content_type"], "text/plain");
    assert_eq!(
        task["sha256"],
        "4c04c6a34f2f8eaa274553de24540cdd648d4a7572605e5b493c531503c89f06"
    );
    assert_eq!(task["completed_at"], json!(app.clock.now()));
    assert!(task["error"].is_null());

    let key = result_key(&app, &task);
    let root = app.state.storage.root();
    assert_eq!(task["result_path"], format!("s3://{}/{key}", root.bucket));
    let stored = app.state.storage.get(&key).await.expect("the result");
    let result: Value = serde_json::from_slice(&stored).expect("JSON");
    assert_eq!(result["task_id"], task["id"]);
    assert_eq!(result["size_bytes"], 165);
    assert_eq!(result["content_type"], "text/plain");
    assert_eq!(result["sha256"], task["sha256"]);
    assert_eq!(
        result["text"],
        json!({
            "lines": 5, "words": 28, "characters": 165, "reading_minutes": 0.1, "valid_utf8": true,
            "paragraphs": 2, "sentences": 2, "average_sentence_words": 14.0,
            "chapters": [{"title": null, "words": 28, "reading_minutes": 0.1}],
        })
    );
    assert_eq!(
        format!(
            "s3://{}/{}",
            result["source"]["bucket"].as_str().expect("bucket"),
            result["source"]["key"].as_str().expect("key")
        ),
        task["file_path"].as_str().expect("a file path")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_markdown_file_counts_characters_not_bytes(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = processed(&app, &ada, "notes.md", &fixture("notes.md")).await;
    assert_eq!(task["status"], "completed");
    // Words as a reader counts them: the `#`, the list's `-` and `✍` are none (README.md).
    assert_eq!(
        figures(&task),
        [&json!(4), &json!(8), &json!(64), &json!(0.0)]
    );
    assert_eq!(
        task["chapters"],
        json!([{"title": "Chapter Two", "words": 8, "reading_minutes": 0.0}])
    );
    assert_eq!(task["file_size"], 67);
    assert_eq!(task["detected_content_type"], "text/plain");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_docx_manuscript_is_counted_from_its_body_text(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    // Declared as plain text by the client: the type comes from the bytes.
    let task = processed(&app, &ada, "manuscript.docx", &fixture("manuscript.docx")).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(
        figures(&task),
        [&json!(6), &json!(24), &json!(123), &json!(0.1)]
    );
    assert_eq!(
        task["detected_content_type"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    assert_eq!(
        task["sha256"],
        "761bfcbda78a3e41fa6c3903c4748b85edc436ac392174c1cc1ece7ca6395b18"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_binary_file_gets_its_size_hash_and_type_but_no_text_figures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = processed(&app, &ada, "pixel.txt", &fixture("pixel.png")).await;
    assert_eq!(task["status"], "completed");
    assert_eq!(
        task["detected_content_type"], "image/png",
        "not the name's .txt"
    );
    assert_eq!(
        task["sha256"],
        "2e9b06dc65a4dec84a3eb3124553ec93ca27c78221e64ab2177d0f1412cfcb20"
    );
    assert_eq!(figures(&task), [&Value::Null; 4]);
    let result = app
        .state
        .storage
        .get(&result_key(&app, &task))
        .await
        .expect("the result");
    let result: Value = serde_json::from_slice(&result).expect("JSON");
    assert_eq!(result["size_bytes"], 69);
    assert!(result["text"].is_null());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_zip_bomb_is_cancelled_with_a_message(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = processed(&app, &ada, "novel.docx", &fixture("bomb.docx")).await;
    assert_eq!(task["status"], "cancelled");
    let error = task["error"].as_str().expect("a reason");
    assert!(error.contains("100:1"), "{error}");
    assert!(task["result_path"].is_null() && task["completed_at"].is_null());
    assert!(
        !app.state
            .storage
            .exists(&result_key(&app, &task))
            .await
            .expect("S3")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_object_cancels_the_task_and_consumes_the_message(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let (task, job) = uploaded(&app, &ada, "gone.txt", b"soon gone").await;
    let key = serde_json::from_str::<Value>(&job).expect("JSON")["key"]
        .as_str()
        .expect("a key")
        .to_owned();
    app.state.storage.delete(&key).await.expect("deleted");

    let response = handle_batch(&app.state, batch([message("m1", job)]), deadline()).await;
    assert_eq!(failures(&response), Vec::<&str>::new(), "nothing to retry");
    let task = app.task(&ada, task["id"].as_str().expect("id")).await;
    assert_eq!(task["status"], "cancelled");
    assert_eq!(task["error"], "the uploaded file is missing from storage");
}

#[sqlx::test(migrations = "../migrations")]
async fn redeliveries_and_duplicates_change_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let (task, job) = uploaded(&app, &ada, "once.txt", b"one result only").await;
    let id = task["id"].as_str().expect("id");

    // The same message twice in one batch (a duplicate), then again later (a redelivery).
    let first = handle_batch(
        &app.state,
        batch([message("a", job.clone()), message("b", job.clone())]),
        deadline(),
    )
    .await;
    assert_eq!(failures(&first), Vec::<&str>::new());
    let done = app.task(&ada, id).await;
    assert_eq!(done["status"], "completed");

    app.clock.advance(TimeDelta::minutes(5));
    let again = handle_batch(&app.state, batch([message("c", job)]), deadline()).await;
    assert_eq!(failures(&again), Vec::<&str>::new());
    let after = app.task(&ada, id).await;
    assert_eq!(after, done, "not even updated_at or completed_at moved");
}

#[sqlx::test(migrations = "../migrations")]
async fn two_workers_racing_on_one_task_produce_one_result(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let (task, job) = uploaded(&app, &ada, "race.txt", &fixture("chapter.txt")).await;
    let job: Value = serde_json::from_str(&job).expect("JSON");
    let id: Uuid = task["id"].as_str().expect("id").parse().expect("uuid");
    let (bucket, key) = (
        job["bucket"].as_str().expect("bucket"),
        job["key"].as_str().expect("key"),
    );

    let (one, two) = tokio::join!(
        processor::process(&app.state, id, 1, bucket, key),
        processor::process(&app.state, id, 1, bucket, key),
    );
    let mut outcomes = [one.expect("processed"), two.expect("processed")];
    outcomes.sort_by_key(|o| o != &Outcome::Completed);
    assert_eq!(outcomes, [Outcome::Completed, Outcome::AlreadyFinished]);

    let results: Vec<String> = app
        .stored_keys()
        .await
        .into_iter()
        .filter(|k| k.contains("/results/"))
        .collect();
    assert_eq!(results, [result_key(&app, &task)]);
    let done = app.task(&ada, &id.to_string()).await;
    assert_eq!(done["word_count"], 28);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unavailable_database_fails_the_message_until_it_is_back(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let (task, job) = uploaded(&app, &ada, "outage.txt", b"patience").await;

    let nowhere = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nowhere")
        .expect("a lazy pool");
    let down = AppState::with_pool((*app.state.config).clone(), nowhere).await;
    let response = handle_batch(&down, batch([message("m1", job.clone())]), deadline()).await;
    assert_eq!(failures(&response), ["m1"], "retried, not lost");
    let task_id = task["id"].as_str().expect("id");
    assert_eq!(app.task(&ada, task_id).await["status"], "in_progress");

    let retried = handle_batch(&app.state, batch([message("m1", job)]), deadline()).await;
    assert_eq!(failures(&retried), Vec::<&str>::new());
    assert_eq!(app.task(&ada, task_id).await["status"], "completed");
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_messages_and_the_s3_test_event_are_consumed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let unknown_task = json!({"version": 1, "task_id": Uuid::new_v4(), "bucket": app.state.storage.root().bucket, "key": "x"});
    let response = handle_batch(
        &app.state,
        batch([
            message("not-json", "{{{"),
            message("empty", ""),
            message("future", r#"{"version": 9, "task_id": "x"}"#),
            message(
                "test-event",
                r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"writers-local"}"#,
            ),
            message("unknown-task", unknown_task.to_string()),
            message(
                "foreign-key",
                json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "elsewhere"}, "object": {"key": "not/an/upload"}}}]}).to_string(),
            ),
        ]),
        deadline(),
    )
    .await;
    assert_eq!(failures(&response), Vec::<&str>::new());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_mixed_batch_reports_exactly_the_failed_messages(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let (good, good_job) = uploaded(&app, &ada, "good.txt", b"fine words").await;
    let (held, held_job) = uploaded(&app, &ada, "held.txt", b"held words").await;
    let (gone, gone_job) = uploaded(&app, &ada, "gone.txt", b"gone words").await;
    let gone_key = serde_json::from_str::<Value>(&gone_job).expect("JSON")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    app.state.storage.delete(&gone_key).await.expect("deleted");

    // Another transaction holds the held task's row; the processor's waits give up after 1 s.
    let options = (*pool.connect_options())
        .clone()
        .options([("lock_timeout", "1s")]);
    let impatient = AppState::with_pool(
        (*app.state.config).clone(),
        PgPoolOptions::new().connect_lazy_with(options),
    )
    .await;
    let mut lock = pool.begin().await.expect("a transaction");
    sqlx::query("select 1 from tasks where id = $1::uuid for update")
        .bind(held["id"].as_str())
        .execute(&mut *lock)
        .await
        .expect("locked");

    let response = handle_batch(
        &impatient,
        batch([
            message("good", good_job),
            message("malformed", "nonsense"),
            message("held", held_job.clone()),
            message("gone", gone_job),
        ]),
        deadline(),
    )
    .await;
    assert_eq!(failures(&response), ["held"]);
    let (app, ada) = (&app, &ada);
    let status = |task: &Value| {
        let id = task["id"].as_str().expect("id").to_owned();
        async move { app.task(ada, &id).await["status"].clone() }
    };
    assert_eq!(status(&good).await, "completed");
    assert_eq!(status(&gone).await, "cancelled");
    assert_eq!(status(&held).await, "in_progress");

    lock.rollback().await.expect("released");
    let retried = handle_batch(&impatient, batch([message("held", held_job)]), deadline()).await;
    assert_eq!(failures(&retried), Vec::<&str>::new());
    assert_eq!(status(&held).await, "completed");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_s3_record_for_a_direct_upload_is_processed_and_one_for_an_api_upload_is_not(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let root = app.state.storage.root().clone();
    let record = |key: &str| {
        // S3 sends keys form-encoded.
        let encoded = key
            .replace(' ', "+")
            .replace('(', "%28")
            .replace(')', "%29");
        object_created(&root.bucket, &encoded, 13)
    };

    // An upload through the API: its own job processes it, never its S3 event.
    let (api_task, job) = uploaded(&app, &ada, "My Draft (2).txt", b"direct upload").await;
    let api_key = serde_json::from_str::<Value>(&job).expect("JSON")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let response = handle_batch(
        &app.state,
        batch([message("api", record(&api_key))]),
        deadline(),
    )
    .await;
    assert_eq!(failures(&response), Vec::<&str>::new());
    let untouched = app.task(&ada, api_task["id"].as_str().expect("id")).await;
    assert_eq!(untouched["status"], "in_progress");

    // A direct upload: its S3 event is what starts it.
    let created = ada.post_json("/api/v1/tasks/uploads", &json!({"title": "t", "file": {"name": "My Draft (2).txt", "size": 13, "content_type": "text/plain"}})).await
        .json();
    let key = app.key_of(&created);
    assert!(key.ends_with("/My_Draft_(2).txt"), "{key}");
    app.state
        .storage
        .put(&key, b"direct upload".to_vec(), "text/plain")
        .await
        .expect("put");
    let response = handle_batch(&app.state, batch([message("s3", record(&key))]), deadline()).await;
    assert_eq!(failures(&response), Vec::<&str>::new());
    let done = app.task(&ada, created["id"].as_str().expect("id")).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["word_count"], 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_local_poller_deletes_what_succeeded_and_leaves_what_failed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = app
        .create_with_file(&ada, "polled.txt", b"via the poller")
        .await;

    let state = &app.state;
    let polled = poller::poll_once(&state.jobs, Duration::from_secs(2), |event| async move {
        Ok(handle_batch(state, event, deadline()).await)
    })
    .await
    .expect("SQS");
    assert_eq!((polled.received, polled.deleted, polled.failed), (1, 1, 0));
    let done = app.task(&ada, task["id"].as_str().expect("id")).await;
    assert_eq!(done["status"], "completed");

    // A handler that reports its message as failed: the message stays, hidden until it times out.
    app.create_with_file(&ada, "again.txt", b"fails once").await;
    let polled = poller::poll_once(&state.jobs, Duration::from_secs(2), |event| async move {
        Ok(SqsBatchResponse {
            batch_item_failures: event
                .records
                .iter()
                .map(|r| BatchItemFailure {
                    item_identifier: r.message_id.clone(),
                })
                .collect(),
        })
    })
    .await
    .expect("SQS");
    assert_eq!((polled.received, polled.deleted, polled.failed), (1, 0, 1));
    let attributes = state
        .jobs
        .client()
        .await
        .get_queue_attributes()
        .queue_url(state.jobs.url())
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    assert_eq!(
        attributes
            .get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .map(String::as_str),
        Some("1"),
        "in flight, to be redelivered"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_sweeper_cancels_a_task_whose_job_dead_lettered(pool: PgPool) {
    // A jobs queue that dead-letters after one receive, as the real one does after five.
    let mut config = isolated_config().await;
    let sqs = aws_sdk_sqs::Client::new(&writers::aws::sdk_config(&config).await);
    let name = format!("dlq-{}", Uuid::new_v4().simple());
    let dlq_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("DLQ")
        .queue_url
        .expect("url");
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("an ARN");
    sqs.set_queue_attributes()
        .queue_url(&config.queue_url)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}).to_string(),
        )
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .expect("redrive");
    config.dead_letter_queue_url = Some(dlq_url);
    let app = TestApp::with_config(config, pool).await;
    let ada = app.signed_up_user().await;
    let task = app
        .create_with_file(&ada, "doomed.txt", b"never processed")
        .await;
    let id = task["id"].as_str().expect("id");

    // Received once and never deleted (a crashing worker); the next receive moves it to the DLQ.
    let jobs = &app.state.jobs;
    let first = poller::poll_once(jobs, Duration::from_secs(2), |_| async {
        Err("the worker crashed".into())
    })
    .await
    .expect("SQS");
    assert_eq!(first.received, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = poller::poll_once(jobs, Duration::from_secs(1), |event| async move {
        panic!("dead-lettered, never delivered again: {event:?}")
    })
    .await
    .expect("SQS");
    assert_eq!(second.received, 0);

    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!((report.dead_letters_read, report.tasks_cancelled), (1, 1));
    let cancelled = app.task(&ada, id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["error"], sweeper::FAILED_REPEATEDLY);
    let again = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(again.tasks_cancelled, 0, "nothing twice");
}

/// Found by reading: a task was cancelled 35 minutes after its job was *sent*, so a queue deeper
/// than that cancelled tasks that were never tried. Now only the deliveries the processor
/// received count: a job waiting its turn is never cancelled for waiting.
#[sqlx::test(migrations = "../migrations")]
async fn a_backlog_is_never_cancelled_for_waiting_but_a_job_tried_to_the_limit_is(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let (waiting, waiting_job) = uploaded(&app, &ada, "waiting.txt", b"in the queue").await;
    let (failing, failing_job) = uploaded(&app, &ada, "failing.txt", b"never readable").await;
    let status = |task: &Value| {
        let id = task["id"].as_str().expect("id").parse().expect("uuid");
        let (state, owner) = (&app.state, ada.id);
        async move {
            writers::tasks::get(state, owner, id)
                .await
                .expect("the task")
                .status
        }
    };

    // The failing job is received as often as the queue allows, S3 failing every time.
    // Nothing listens on port 1: every read fails at once, a transient error left for redelivery.
    let broken = testkit::aws::with_storage_at(&app.state, "http://127.0.0.1:1").await;
    let max = app.state.config.job_max_receives;
    for n in 1..=max {
        app.clock.advance(TimeDelta::minutes(6));
        let response = handle_batch(
            &broken,
            batch([message("f", failing_job.clone())]),
            deadline(),
        )
        .await;
        assert_eq!(
            failures(&response),
            ["f"],
            "delivery {n} failed and is left for redelivery"
        );
    }

    // Hours later the other job is still waiting: a backlog far older than any limit.
    let last_attempt = app.clock.now();
    let give_up = sweeper::give_up_after_last_attempt(&app.state.config);
    app.clock.advance(give_up - TimeDelta::seconds(1));
    assert_eq!(
        sweeper::run(&app.state)
            .await
            .expect("sweep")
            .tasks_cancelled,
        0
    );
    assert_eq!(
        status(&failing).await,
        TaskStatus::InProgress,
        "its last delivery may still run"
    );
    app.clock.advance(TimeDelta::hours(3));
    assert!(app.clock.now() - last_attempt > give_up);
    assert_eq!(
        sweeper::run(&app.state)
            .await
            .expect("sweep")
            .tasks_cancelled,
        1
    );
    let cancelled = writers::tasks::get(
        &app.state,
        ada.id,
        failing["id"].as_str().expect("id").parse().expect("uuid"),
    )
    .await
    .expect("task");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert_eq!(cancelled.error.as_deref(), Some(sweeper::FAILED_REPEATEDLY));
    assert_eq!(
        status(&waiting).await,
        TaskStatus::InProgress,
        "never cancelled for waiting"
    );

    // Its turn comes: it is processed.
    let response = handle_batch(&app.state, batch([message("w", waiting_job)]), deadline()).await;
    assert_eq!(failures(&response), Vec::<&str>::new());
    assert_eq!(status(&waiting).await, TaskStatus::Completed);
}

#[sqlx::test(migrations = "../migrations")]
async fn with_the_time_nearly_up_messages_are_left_for_redelivery(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let (task, job) = uploaded(&app, &ada, "late.txt", b"no time").await;
    let almost_over = Instant::now() + processor::SAFETY_MARGIN - Duration::from_millis(100);
    let response = handle_batch(
        &app.state,
        batch([message("a", job.clone()), message("b", "malformed")]),
        almost_over,
    )
    .await;
    assert_eq!(failures(&response), ["a", "b"], "none started, none lost");
    let id = task["id"].as_str().expect("id");
    assert_eq!(app.task(&ada, id).await["status"], "in_progress");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_idle_long_poll_outlasts_the_clients_usual_timeouts(pool: PgPool) {
    // The clients give up on a silent response after 10 s; an idle long poll is silent that long.
    let app = TestApp::new(pool).await;
    let started = std::time::Instant::now();
    let polled = poller::poll_once(&app.state.jobs, Duration::from_secs(11), |_| async {
        Err("nothing should arrive".into())
    })
    .await
    .expect("an empty answer, not a timeout");
    assert_eq!(polled, poller::Polled::default());
    assert!(started.elapsed() >= Duration::from_secs(10), "it did wait");
}

/// Each fixture's figures through the whole path (S3, ranges for a `.docx` and its styles part,
/// the stored result, the task's copy), against `tests/fixtures/README.md`'s hand counts.
#[sqlx::test(migrations = "../migrations")]
async fn every_fixture_reads_as_its_hand_count_says(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    type Expected<'a> = (&'a str, i64, i64, i64, &'a [(Option<&'a str>, i64)]);
    let cases: [Expected; 6] = [
        (
            "manuskript.docx",
            34,
            4,
            7,
            &[
                (Some("Der Sturm"), 6),
                (Some("Erstes Kapitel"), 12),
                (Some("Zweites Kapitel"), 16),
            ],
        ),
        (
            "chapters.txt",
            47,
            4,
            6,
            &[
                (Some("Prologue"), 7),
                (Some("CHAPTER ONE"), 15),
                (Some("Chapter 2: The Storm"), 16),
                (Some("Part IV. Home"), 9),
            ],
        ),
        (
            "novel.md",
            69,
            6,
            11,
            &[
                (None, 10),
                (Some("The Beginning"), 30),
                (Some("A Second Chapter"), 23),
                (Some("The End Of It"), 6),
            ],
        ),
        (
            "persian.md",
            17,
            3,
            5,
            &[(Some("فصل اوّل"), 14), (Some("فصل دوم"), 3)],
        ),
        ("chinese.md", 18, 2, 4, &[(Some("第一章"), 18)]),
        ("japanese.txt", 32, 2, 3, &[(None, 32)]),
    ];
    for (name, words, paragraphs, sentences, chapters) in cases {
        let task = processed(&app, &ada, name, &fixture(name)).await;
        assert_eq!(task["status"], "completed", "{name}: {task}");
        assert_eq!(
            (
                &task["word_count"],
                &task["paragraph_count"],
                &task["sentence_count"]
            ),
            (&json!(words), &json!(paragraphs), &json!(sentences)),
            "{name}"
        );
        let got: Vec<(Option<&str>, i64)> = task["chapters"]
            .as_array()
            .expect("chapters")
            .iter()
            .map(|c| (c["title"].as_str(), c["words"].as_i64().expect("words")))
            .collect();
        assert_eq!(got, chapters, "{name}");
        let result = app
            .state
            .storage
            .get(&result_key(&app, &task))
            .await
            .expect("the result");
        let result: Value = serde_json::from_slice(&result).expect("JSON");
        assert_eq!(result["text"]["chapters"], task["chapters"], "{name}");
        // A page of tasks carries the headline figures, not the chapters.
        let page = ada.get("/api/v1/tasks?limit=1").await.json();
        assert!(page["tasks"][0].get("chapters").is_none(), "{page}");
        assert_eq!(page["tasks"][0]["word_count"], words);
    }
}
