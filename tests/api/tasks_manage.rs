//! Tasks a writer manages, over real Postgres and LocalStack: edits as merge patches, versions
//! and `If-Match`, the owner's status moves beside the processing flow, drafts with their own
//! figures and keys, the trash, purges through the deletion outbox, and the list's filters.

use axum::http::{Method, StatusCode};
use chrono::TimeDelta;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use writers::{
    processor::{self, handle_batch},
    sweeper,
};

use testkit::{
    Part, Persona, TestApp, TestResponse,
    aws::{isolated_config, with_storage_at},
    events::{batch, message},
};

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + processor::FUNCTION_TIMEOUT
}

fn id(task: &Value) -> &str {
    task["id"].as_str().expect("an id")
}

/// Processes every job on the test's queue, as the file processor would.
pub async fn process_jobs(app: &TestApp) -> usize {
    let jobs = app.drain_jobs().await;
    let n = jobs.len();
    let messages = jobs
        .into_iter()
        .enumerate()
        .map(|(i, job)| message(&format!("m{i}"), job.to_string()));
    let response = handle_batch(&app.state, batch(messages), deadline()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    n
}

async fn create_json(user: &Persona, body: Value) -> Value {
    let response = user.post_json("/api/v1/tasks", &body).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.text());
    response.json()
}

async fn add_draft(user: &Persona, task: &str, name: &str, bytes: &[u8]) -> TestResponse {
    user.request(Method::POST, &format!("/api/v1/tasks/{task}/drafts"))
        .multipart(&[Part::file(name, "text/plain", bytes)])
        .send()
        .await
}

async fn patch(user: &Persona, task: &str, body: Value) -> TestResponse {
    user.patch(&format!("/api/v1/tasks/{task}"), &body).await
}

#[track_caller]
fn ok(response: &TestResponse) -> Value {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_patch_changes_its_members_and_null_clears_a_nullable_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = create_json(
        &ada,
        json!({"title": "Novel", "description": "a first line", "due_date": "2026-12-24", "word_target": 50000}),
    )
    .await;
    assert_eq!(task["version"], 1);
    assert_eq!(task["word_target"], 50000);

    let response = patch(
        &ada,
        id(&task),
        json!({"title": "  Novel, revised ", "description": null}),
    )
    .await;
    let edited = ok(&response);
    assert_eq!(edited["title"], "Novel, revised");
    assert!(edited["description"].is_null(), "null clears");
    assert_eq!(edited["due_date"], task["due_date"], "absent stays");
    assert_eq!(edited["word_target"], 50000);
    assert_eq!(edited["version"], 2);
    assert_eq!(response.header("etag"), "\"2\"");

    // The same patch again (a retry) changes nothing, not even the version.
    let again = ok(&patch(
        &ada,
        id(&task),
        json!({"title": "Novel, revised", "description": null}),
    )
    .await);
    assert_eq!(again["version"], 2);
    let cleared = ok(&patch(
        &ada,
        id(&task),
        json!({"due_date": null, "word_target": null}),
    )
    .await);
    assert!(cleared["due_date"].is_null() && cleared["word_target"].is_null());
    // application/json is a merge patch too.
    let plain = ada
        .request(Method::PATCH, &format!("/api/v1/tasks/{}", id(&task)))
        .json(&json!({"word_target": 1000}))
        .send()
        .await;
    assert_eq!(ok(&plain)["word_target"], 1000);
    let got = ada.get(&format!("/api/v1/tasks/{}", id(&task))).await;
    assert_eq!(got.header("etag"), format!("\"{}\"", got.json()["version"]));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_bad_patch_applies_nothing_and_says_what_is_wrong(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = create_json(&ada, json!({"title": "Novel"})).await;
    let path = format!("/api/v1/tasks/{}", id(&task));
    for (body, field) in [
        (json!({"title": "Kept?", "word_target": 0}), "word_target"),
        (json!({"title": null}), "title"),
        (json!({"status": null}), "status"),
        (json!({"status": "in_progress"}), "status"),
        (json!({"status": "done"}), "status"),
        (json!({"due_date": "next week"}), "due_date"),
        (json!({"title": "x", "colour": "red"}), "colour"),
    ] {
        let response = ada.patch(&path, &body).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            response.detail().starts_with(field),
            "{body}: {}",
            response.detail()
        );
    }
    let not_an_object = ada.patch(&path, &json!(["title"])).await;
    assert_eq!(not_an_object.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = ada
        .request(Method::PATCH, &path)
        .body("text/plain", "title=x")
        .send()
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unchanged = app.task(&ada, id(&task)).await;
    assert_eq!(
        (&unchanged["title"], &unchanged["version"]),
        (&json!("Novel"), &json!(1))
    );

    let bob = app.signed_up_user().await;
    assert_eq!(
        patch(&bob, id(&task), json!({"title": "mine"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let unknown = patch(&ada, &Uuid::new_v4().to_string(), json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn if_match_keeps_two_tabs_from_overwriting_each_other(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = create_json(&ada, json!({"title": "Novel"})).await;
    let path = format!("/api/v1/tasks/{}", id(&task));
    let read = ada.get(&path).await.header("etag").to_owned();

    let first = ada
        .request(Method::PATCH, &path)
        .header("if-match", &read)
        .json(&json!({"title": "From tab one"}))
        .send()
        .await;
    assert_eq!(ok(&first)["version"], 2);
    let second = ada
        .request(Method::PATCH, &path)
        .header("if-match", &read)
        .json(&json!({"title": "From tab two"}))
        .send()
        .await;
    assert_eq!(
        second.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        second.text()
    );
    assert_eq!(second.header("etag"), "\"2\"");
    assert_eq!(app.task(&ada, id(&task)).await["title"], "From tab one");
    let stale_delete = ada
        .request(Method::DELETE, &path)
        .header("if-match", &read)
        .send()
        .await;
    assert_eq!(stale_delete.status, StatusCode::PRECONDITION_FAILED);
    let weak = ada
        .request(Method::PATCH, &path)
        .header("if-match", "W/\"2\"")
        .json(&json!({"title": "weak"}))
        .send()
        .await;
    assert_eq!(
        weak.status,
        StatusCode::PRECONDITION_FAILED,
        "a weak tag never matches"
    );
    let any = ada
        .request(Method::PATCH, &path)
        .header("if-match", "*")
        .json(&json!({"title": "Any version"}))
        .send()
        .await;
    assert_eq!(ok(&any)["title"], "Any version");
    let current = ada
        .request(Method::DELETE, &path)
        .header("if-match", "\"1\", \"3\"")
        .send()
        .await;
    assert_eq!(current.status, StatusCode::NO_CONTENT);
}

async fn set_status(user: &Persona, task: &str, status: &str) -> TestResponse {
    patch(user, task, json!({"status": status})).await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_owner_moves_a_task_as_the_lifecycle_table_says(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = create_json(&ada, json!({"title": "No file"})).await;
    let t = id(&task);

    // pending → completed → pending (reopen) → cancelled → pending.
    let done = ok(&set_status(&ada, t, "completed").await);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["completed_at"], json!(app.clock.now()));
    let same = ok(&set_status(&ada, t, "completed").await);
    assert_eq!(
        same["version"], done["version"],
        "to the state it is in: nothing changes"
    );
    let refused = set_status(&ada, t, "cancelled").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.detail().contains("completed") && refused.detail().contains("cancelled"),
        "{}",
        refused.detail()
    );
    let reopened = ok(&set_status(&ada, t, "pending").await);
    assert_eq!(reopened["status"], "pending");
    assert!(reopened["completed_at"].is_null());
    assert_eq!(
        ok(&set_status(&ada, t, "cancelled").await)["status"],
        "cancelled"
    );
    let refused = set_status(&ada, t, "completed").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(
        ok(&set_status(&ada, t, "pending").await)["status"],
        "pending"
    );
    let by_hand = set_status(&ada, t, "in_progress").await;
    assert_eq!(by_hand.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A task whose file is being processed: only cancelling is the owner's move.
    let with_file = app
        .create_with_file(&ada, "draft.txt", b"three little words")
        .await;
    let w = id(&with_file);
    assert_eq!(with_file["status"], "in_progress");
    for refused_move in ["completed", "pending"] {
        let response = set_status(&ada, w, refused_move).await;
        assert_eq!(response.status, StatusCode::CONFLICT, "{refused_move}");
        assert!(
            response.detail().contains("in_progress"),
            "{}",
            response.detail()
        );
    }
    assert_eq!(
        ok(&set_status(&ada, w, "in_progress").await)["status"],
        "in_progress"
    );
    let cancelled = ok(&set_status(&ada, w, "cancelled").await);
    assert_eq!(cancelled["status"], "cancelled");
    // The job still finishes its draft's figures, and the task stays cancelled.
    assert_eq!(process_jobs(&app).await, 1);
    let after = app.task(&ada, w).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["word_count"], 3);
    assert!(after["result_path"].is_string());
    assert!(after["error"].is_null(), "the owner's cancel is no failure");
}

#[sqlx::test(migrations = "../migrations")]
async fn nothing_that_runs_later_moves_a_reopened_task(pool: PgPool) {
    let mut config = isolated_config().await;
    let sqs = aws_sdk_sqs::Client::new(&writers::aws::sdk_config(&config).await);
    let dlq = sqs
        .create_queue()
        .queue_name(format!("dlq-{}", Uuid::new_v4().simple()))
        .send()
        .await
        .expect("a DLQ")
        .queue_url
        .expect("its URL");
    config.dead_letter_queue_url = Some(dlq.clone());
    let app = TestApp::with_config(config, pool).await;
    let ada = app.signed_up_user().await;

    // A job that dead-letters: the sweeper fails its draft and cancels the task.
    let doomed = app
        .create_with_file(&ada, "doomed.txt", b"never processed")
        .await;
    let job = app.drain_jobs().await.pop().expect("its job").to_string();
    assert!(
        job.contains("\"version\":2") && job.contains("\"draft\":1"),
        "{job}"
    );
    let dead_letter = |body: String| {
        let (sqs, dlq) = (sqs.clone(), dlq.clone());
        async move {
            sqs.send_message()
                .queue_url(dlq)
                .message_body(body)
                .send()
                .await
                .expect("sent");
        }
    };
    dead_letter(job.clone()).await;
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(report.tasks_cancelled, 1);
    let cancelled = app.task(&ada, id(&doomed)).await;
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["error"].as_str()),
        (Some("cancelled"), Some(sweeper::FAILED_REPEATEDLY))
    );

    // Reopened, then the same dead letter read again and the job redelivered: nothing moves.
    ok(&set_status(&ada, id(&doomed), "pending").await);
    dead_letter(job.clone()).await;
    assert_eq!(
        sweeper::run(&app.state)
            .await
            .expect("a sweep")
            .tasks_cancelled,
        0
    );
    let outcome = handle_batch(&app.state, batch([message("again", job)]), deadline()).await;
    assert!(outcome.batch_item_failures.is_empty());
    let reopened = app.task(&ada, id(&doomed)).await;
    assert_eq!(reopened["status"], "pending");
    assert!(reopened["error"].is_null());

    // Cancelled by its owner while processing, then reopened: the job's completion leaves it pending.
    let task = app.create_with_file(&ada, "late.txt", b"late words").await;
    ok(&set_status(&ada, id(&task), "cancelled").await);
    ok(&set_status(&ada, id(&task), "pending").await);
    process_jobs(&app).await;
    let after = app.task(&ada, id(&task)).await;
    assert_eq!(after["status"], "pending");
    assert_eq!(
        after["word_count"], 2,
        "the draft's figures are there all the same"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_draft_is_kept_with_its_own_figures_and_keys(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = app
        .create_with_file(&ada, "novel.txt", b"one two three")
        .await;
    let t = id(&task);
    // Another draft while the first is processed: refused.
    let busy = add_draft(&ada, t, "novel.txt", b"too soon").await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.text());
    process_jobs(&app).await;
    assert_eq!(app.task(&ada, t).await["status"], "completed");

    // The same file name again: a second object, and the first kept.
    let second = add_draft(&ada, t, "novel.txt", b"one two three four five").await;
    assert_eq!(second.status, StatusCode::ACCEPTED, "{}", second.text());
    assert_eq!(second.json()["number"], 2);
    assert_eq!(second.json()["state"], "processing");
    assert_eq!(
        add_draft(&ada, t, "other.txt", b"x").await.status,
        StatusCode::CONFLICT
    );
    process_jobs(&app).await;
    let shown = app.task(&ada, t).await;
    assert_eq!(
        shown["status"], "completed",
        "a later draft never changes the status"
    );
    assert_eq!(
        (&shown["word_count"], &shown["shown_draft"]),
        (&json!(5), &json!(2))
    );
    let drafts = ok(&ada.get(&format!("/api/v1/tasks/{t}/drafts")).await)["drafts"].clone();
    let figures: Vec<(i64, i64, Value)> = drafts
        .as_array()
        .expect("drafts")
        .iter()
        .map(|d| {
            (
                d["number"].as_i64().expect("n"),
                d["words"].as_i64().expect("words"),
                d["words_change"].clone(),
            )
        })
        .collect();
    assert_eq!(figures, [(1, 3, Value::Null), (2, 5, json!(2))]);
    assert!(
        drafts
            .as_array()
            .expect("drafts")
            .iter()
            .all(|d| d["state"] == "processed" && d["file_name"] == "novel.txt")
    );
    let keys = app.stored_keys().await;
    let uploads: Vec<&String> = keys.iter().filter(|k| k.contains("/uploads/")).collect();
    assert_eq!(uploads.len(), 2, "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.ends_with(&format!("results/{t}/1.json"))),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.ends_with(&format!("results/{t}/2.json"))),
        "{keys:?}"
    );

    // Each draft's file and result; the task's own are the latest processed draft's.
    assert_eq!(
        ok(&ada.get(&format!("/api/v1/tasks/{t}/drafts/1/result")).await)["draft"],
        1
    );
    assert_eq!(
        ok(&ada.get(&format!("/api/v1/tasks/{t}/result")).await)["draft"],
        2
    );
    assert!(ok(&ada.get(&format!("/api/v1/tasks/{t}/drafts/1/file")).await)["url"].is_string());
    assert_eq!(
        ada.get(&format!("/api/v1/tasks/{t}/drafts/9/file"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ada.get(&format!("/api/v1/tasks/{t}/drafts/0/file"))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Deleting the latest draft shows the one before, and its objects go.
    assert_eq!(
        ada.delete(&format!("/api/v1/tasks/{t}/drafts/2"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let back = app.task(&ada, t).await;
    assert_eq!(
        (&back["word_count"], &back["shown_draft"]),
        (&json!(3), &json!(1))
    );
    let left = app.stored_keys().await;
    assert!(
        !left
            .iter()
            .any(|k| k.contains(&format!("/{t}/2/")) || k.ends_with("/2.json")),
        "{left:?}"
    );
    assert_eq!(left.len(), 2, "draft 1's file and result: {left:?}");
    assert_eq!(
        ada.delete(&format!("/api/v1/tasks/{t}/drafts/2"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A draft of a task without a file never changes its status either.
    let bare = create_json(&ada, json!({"title": "Notes", "word_target": 10})).await;
    let first = add_draft(&ada, id(&bare), "notes.txt", b"a b c d").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    process_jobs(&app).await;
    let notes = app.task(&ada, id(&bare)).await;
    assert_eq!(
        (&notes["status"], &notes["word_count"]),
        (&json!("pending"), &json!(4))
    );
    assert_eq!(notes["progress"]["percent"], 40.0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_draft_can_be_uploaded_straight_to_s3(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = create_json(&ada, json!({"title": "Big book"})).await;
    let response = ada
        .post_json(
            &format!("/api/v1/tasks/{}/drafts/uploads", id(&task)),
            &json!({"file": {"name": "big.txt", "size": 9, "content_type": "text/plain"}}),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let draft = response.json();
    assert_eq!(
        (&draft["number"], &draft["state"]),
        (&json!(1), &json!("processing"))
    );
    assert_eq!(draft["upload"]["method"], "PUT");
    let pending = ada
        .get(&format!("/api/v1/tasks/{}/drafts/1/file", id(&task)))
        .await;
    assert_eq!(pending.status, StatusCode::CONFLICT, "not uploaded yet");
    let too_big = ada
        .post_json(
            &format!("/api/v1/tasks/{}/drafts/uploads", id(&task)),
            &json!({"file": {"name": "huge.txt", "size": 1_u64 << 40, "content_type": "text/plain"}}),
        )
        .await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_trash_keeps_a_task_whole_until_it_is_restored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = app
        .create_with_file(&ada, "kept.txt", b"kept words here")
        .await;
    process_jobs(&app).await;
    let t = id(&task);
    assert_eq!(
        ada.delete(&format!("/api/v1/tasks/{t}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        ada.delete(&format!("/api/v1/tasks/{t}")).await.status,
        StatusCode::NO_CONTENT,
        "again: still in the trash"
    );
    assert_eq!(
        ada.get(&format!("/api/v1/tasks/{t}")).await.status,
        StatusCode::NOT_FOUND
    );
    let live = ok(&ada.get("/api/v1/tasks").await);
    assert_eq!(live["total"], 0);
    let trash = ok(&ada.get("/api/v1/tasks?trashed=true").await);
    assert_eq!(trash["total"], 1);
    assert_eq!(trash["tasks"][0]["trashed_at"], json!(app.clock.now()));
    let restored = ada
        .request(Method::POST, &format!("/api/v1/tasks/{t}/restore"))
        .send()
        .await;
    let restored = ok(&restored);
    assert!(restored["trashed_at"].is_null());
    assert_eq!(
        (&restored["status"], &restored["word_count"]),
        (&json!("completed"), &json!(3))
    );
    assert_eq!(
        ok(&ada.get(&format!("/api/v1/tasks/{t}/drafts")).await)["drafts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(app.stored_keys().await.len(), 2, "file and result");

    // Thirty days in the trash, and the sweeper purges it with its objects.
    assert_eq!(
        ada.delete(&format!("/api/v1/tasks/{t}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.clock.advance(TimeDelta::days(29));
    assert_eq!(
        sweeper::run(&app.state)
            .await
            .expect("a sweep")
            .trash_purged,
        0
    );
    app.clock.advance(TimeDelta::days(2));
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!((report.trash_purged, report.objects_deleted), (1, 2));
    assert!(app.stored_keys().await.is_empty());
    let token = app.bearer_token(&ada.email, &ada.password).await;
    let gone = ada
        .request(Method::POST, &format!("/api/v1/tasks/{t}/restore"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_purge_loses_nothing_and_leaks_nothing_when_s3_is_down(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let task = app.create_with_file(&ada, "gone.txt", b"soon gone").await;
    process_jobs(&app).await;
    assert_eq!(
        add_draft(&ada, id(&task), "gone.txt", b"soon gone too")
            .await
            .status,
        StatusCode::ACCEPTED
    );
    process_jobs(&app).await;
    assert_eq!(app.stored_keys().await.len(), 4);

    // S3 refuses connections while the purge commits: the row goes, the objects wait.
    let down = TestApp::with_state(with_storage_at(&app.state, "http://127.0.0.1:9").await);
    let response = down
        .persona_like(&ada)
        .delete(&format!("/api/v1/tasks/{}?permanent=true", id(&task)))
        .await;
    assert_eq!(
        response.status,
        StatusCode::NO_CONTENT,
        "{}",
        response.text()
    );
    assert_eq!(
        ada.get(&format!("/api/v1/tasks/{}", id(&task)))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.stored_keys().await.len(), 4, "nothing deleted yet");
    let waiting: i64 = sqlx::query_scalar("select count(*) from deletion_outbox")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(waiting, 3, "uploads, incoming and results prefixes");

    // S3 is back: the sweeper deletes everything, and once more one visibility timeout later.
    app.clock.advance(TimeDelta::minutes(1));
    assert_eq!(
        sweeper::run(&app.state)
            .await
            .expect("a sweep")
            .objects_deleted,
        4
    );
    assert!(app.stored_keys().await.is_empty());
    app.clock.advance(TimeDelta::minutes(7));
    let last = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!((last.objects_deleted, last.pending_deletions), (0, 0));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_processor_run_that_overlaps_a_purge_leaves_no_object_behind(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let task = app
        .create_with_file(&ada, "racing.txt", b"racing words")
        .await;
    let job = app.drain_jobs().await.pop().expect("a job").to_string();
    // The job was received, and the purge commits before its run writes anything.
    assert_eq!(
        ada.delete(&format!("/api/v1/tasks/{}?permanent=true", id(&task)))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(
        app.stored_keys().await.is_empty(),
        "the upload went at once"
    );
    let response = handle_batch(&app.state, batch([message("late", job)]), deadline()).await;
    assert!(response.batch_item_failures.is_empty(), "consumed");
    assert!(app.stored_keys().await.is_empty(), "and no result written");
}

/// The race a purge must win whatever the order: a processor run that has read the file and is
/// about to write its result, and a purge, both waiting for the task's row lock. Whoever gets it
/// first, nothing of the task is left once the deletion outbox has been swept twice.
#[sqlx::test(migrations = "../migrations")]
async fn a_processor_run_waiting_on_the_row_lock_with_a_purge_leaves_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    let task = app
        .create_with_file(&ada, "locked.txt", b"words under a lock")
        .await;
    let t: Uuid = id(&task).parse().expect("a UUID");
    let job: Value = app.drain_jobs().await.pop().expect("a job");
    let (bucket, key) = (
        job["bucket"].as_str().expect("bucket").to_owned(),
        job["key"].as_str().expect("key").to_owned(),
    );
    let waiting = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from pg_locks where not granted")
            .fetch_one(&pool)
            .await
            .expect("pg_locks")
    };
    let until = |n: i64| async move {
        for _ in 0..200 {
            if waiting().await >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{n} lock waits never began");
    };
    let mut holder = pool.begin().await.expect("a transaction");
    sqlx::query("select 1 from tasks where id = $1 for update")
        .bind(t)
        .execute(&mut *holder)
        .await
        .expect("the row lock");
    let state = app.state.clone();
    let processing =
        tokio::spawn(async move { processor::process(&state, t, 1, &bucket, &key).await });
    until(1).await;
    let purger = ada.clone();
    let purging = tokio::spawn(async move {
        purger
            .delete(&format!("/api/v1/tasks/{t}?permanent=true"))
            .await
    });
    until(2).await;
    holder.rollback().await.expect("released");
    processing.await.expect("joined").expect("processed");
    assert_eq!(
        purging.await.expect("joined").status,
        StatusCode::NO_CONTENT
    );

    sweeper::run(&app.state).await.expect("a sweep");
    app.clock.advance(TimeDelta::minutes(7));
    sweeper::run(&app.state).await.expect("the second sweep");
    assert!(
        app.stored_keys().await.is_empty(),
        "{:?}",
        app.stored_keys().await
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_list_sorts_searches_and_filters_by_due_date(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    for (title, due) in [
        ("Chapter one", Some("2026-12-20")),
        ("chapter two", None),
        ("Epilogue", Some("2026-12-10")),
        ("50% done: CHAPTER three", Some("2026-12-30")),
        ("Notes", None),
    ] {
        let mut body = json!({"title": title});
        if let Some(due) = due {
            body["due_date"] = json!(due);
        }
        create_json(&ada, body).await;
        app.clock.advance(TimeDelta::seconds(1));
    }
    let titles = |page: &Value| -> Vec<String> {
        page["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["title"].as_str().expect("a title").to_owned())
            .collect()
    };
    let by_due = ok(&ada.get("/api/v1/tasks?sort=due_date").await);
    let order = titles(&by_due);
    assert_eq!(
        order[..3],
        ["Epilogue", "Chapter one", "50% done: CHAPTER three"]
    );
    let mut undated = order[3..].to_vec();
    undated.sort();
    assert_eq!(undated, ["Notes", "chapter two"], "no due date: last");

    // The cursor works in due-date order, past the tasks without one.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => "/api/v1/tasks?sort=due_date&limit=2".to_owned(),
            Some(after) => format!("/api/v1/tasks?sort=due_date&limit=2&after={after}"),
        };
        let page = ok(&ada.get(&path).await);
        assert_eq!(page["total"], 5);
        seen.extend(titles(&page));
        match page["next"].as_str() {
            Some(after) => next = Some(after.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, titles(&by_due));

    let chapters = ok(&ada.get("/api/v1/tasks?q=CHAPTER").await);
    assert_eq!(chapters["total"], 3);
    assert_eq!(
        titles(&chapters),
        ["50% done: CHAPTER three", "chapter two", "Chapter one"]
    );
    let literal = ok(&ada.get("/api/v1/tasks?q=50%25").await);
    assert_eq!(titles(&literal), ["50% done: CHAPTER three"]);
    let underscore = ok(&ada.get("/api/v1/tasks?q=_").await);
    assert_eq!(underscore["total"], 0, "`_` is a character, not a wildcard");
    let soon = ok(&ada
        .get("/api/v1/tasks?due_before=2026-12-21&sort=due_date")
        .await);
    assert_eq!(titles(&soon), ["Epilogue", "Chapter one"]);
    let bad = ada.get("/api/v1/tasks?sort=title").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Others' tasks are never found.
    let bob = app.signed_up_user().await;
    assert_eq!(ok(&bob.get("/api/v1/tasks?q=chapter").await)["total"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn progress_counts_toward_the_target_by_the_due_date(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app.signed_up_user().await;
    let today = app.clock.now().date_naive();
    let due = (today + chrono::Days::new(4))
        .format("%Y-%m-%dT12:00:00Z")
        .to_string();
    let task = create_json(
        &ada,
        json!({"title": "Story", "word_target": 12, "due_date": due}),
    )
    .await;
    assert_eq!(
        task["progress"],
        json!({"words": 0, "target": 12, "percent": 0.0, "days_left": 4, "words_per_day_needed": 3})
    );
    let draft = add_draft(&ada, id(&task), "story.txt", b"one two three four five six").await;
    assert_eq!(draft.status, StatusCode::ACCEPTED);
    process_jobs(&app).await;
    let later = app.task(&ada, id(&task)).await;
    assert_eq!(
        later["progress"],
        json!({"words": 6, "target": 12, "percent": 50.0, "days_left": 4, "words_per_day_needed": 2})
    );
    // A day later only the date moved: the figures change, the version does not.
    app.clock.advance(TimeDelta::days(1));
    let token = app.bearer_token(&ada.email, &ada.password).await;
    let tomorrow = ada
        .request(Method::GET, &format!("/api/v1/tasks/{}", id(&task)))
        .bearer(&token)
        .send()
        .await;
    let tomorrow = ok(&tomorrow);
    assert_eq!(tomorrow["progress"]["days_left"], 3);
    assert_eq!(tomorrow["version"], later["version"]);
}
