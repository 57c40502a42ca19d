//! Each function's S3 permissions in template.yaml are exactly what its code calls: every
//! operation a function's scenario makes (recorded by an SDK interceptor, presigned ones
//! included) is granted to it, and nothing more is.
//!
//! Found by reading: the file processor could read uploads but not list the bucket, so in AWS a
//! missing upload answered `403` instead of `404` and was retried for half an hour as if S3 were down.

use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeDelta;
use serde_json::json;
use sqlx::PgPool;
use writers::{
    processor::{handle_batch, poller::BATCH_SIZE},
    sweeper,
};

use testkit::{
    TestApp,
    aws::recording_storage,
    events::{batch, message, object_created},
};

type Grants = BTreeSet<(String, String)>; // (IAM action, "bucket" or "<area>/*")

/// The IAM actions `calls` need. Reading an object needs `s3:ListBucket` too: without it a
/// missing key answers `403`, and the code could not tell "gone" from "S3 is down".
fn needed(calls: Vec<(&'static str, Option<String>)>, prefix: &str) -> Grants {
    let area = |key: &Option<String>| {
        let key = key.as_deref().expect("an object key");
        let rest = key
            .strip_prefix(&format!("{prefix}/"))
            .expect("under the prefix");
        format!("{}/*", rest.split('/').next().expect("an area"))
    };
    let mut grants = Grants::new();
    for (operation, key) in calls {
        let mut grant = |action: &str, resource: String| {
            grants.insert((action.to_owned(), resource));
        };
        match operation {
            "PutObject" => grant("s3:PutObject", area(&key)),
            "DeleteObject" => grant("s3:DeleteObject", area(&key)),
            "GetObject" | "HeadObject" => {
                grant("s3:GetObject", area(&key));
                grant("s3:ListBucket", "bucket".to_owned());
            }
            "ListObjectsV2" | "HeadBucket" => grant("s3:ListBucket", "bucket".to_owned()),
            other => panic!("{other}: map it to its IAM action here"),
        }
    }
    grants
}

/// The S3 actions template.yaml grants `function`, by resource.
fn granted(template: &yaml_serde::Value, function: &str) -> Grants {
    let mut grants = Grants::new();
    let policies = template["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    for statement in policies
        .iter()
        .filter_map(|p| p["Statement"].as_sequence())
        .flatten()
    {
        let actions: Vec<String> = match &statement["Action"] {
            yaml_serde::Value::Sequence(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(ToOwned::to_owned))
                .collect(),
            single => single.as_str().map(ToOwned::to_owned).into_iter().collect(),
        };
        let resources: Vec<yaml_serde::Value> = match &statement["Resource"] {
            yaml_serde::Value::Sequence(list) => list.clone(),
            single => vec![single.clone()],
        };
        for action in actions.iter().filter(|a| a.starts_with("s3:")) {
            for resource in &resources {
                let yaml_serde::Value::Tagged(tagged) = resource else {
                    panic!("{function}: an S3 resource is a !Sub");
                };
                let arn = tagged.value.as_str().expect("a !Sub string");
                let resource = match arn.strip_prefix("arn:${AWS::Partition}:s3:::${UploadsBucket}")
                {
                    Some("") => "bucket".to_owned(),
                    Some(object) => object
                        .strip_prefix("/${StoragePrefix}/")
                        .unwrap_or_else(|| {
                            panic!("{function}: {arn} is outside the storage prefix")
                        })
                        .to_owned(),
                    None => panic!("{function}: {arn} is not the uploads bucket"),
                };
                grants.insert((action.clone(), resource));
            }
        }
    }
    grants
}

#[sqlx::test(migrations = "../migrations")]
async fn each_functions_s3_permissions_are_exactly_what_its_code_calls(pool: PgPool) {
    let plain = TestApp::new(pool.clone()).await;
    let (state, calls) = recording_storage(&plain.state).await;
    let app = TestApp::with_state(state);
    let prefix = app.state.storage.root().prefix.clone();
    let mut used: BTreeMap<&str, Grants> = BTreeMap::new();
    let mut record = |function, calls: Vec<_>| {
        used.insert(function, needed(calls, &prefix));
    };

    // auth: everything a session does.
    let ada = app.signed_up_user().await;
    app.post_json(
        "/auth/login",
        &json!({"email": ada.email, "password": ada.password}),
    )
    .await;
    ada.get("/auth/me").await;
    record("AuthFunction", calls.take());

    // tasks-create: an upload, a direct upload signed, and an upload whose task the database
    // refuses (its object is removed).
    let task = app.create_with_file(&ada, "draft.txt", b"some words").await;
    let direct = ada
        .post_json(
            "/api/v1/tasks/uploads",
            &json!({"title": "big", "file": {"name": "big.txt", "size": 5, "content_type": "text/plain"}}),
        )
        .await
        .json();
    let never = ada
        .post_json(
            "/api/v1/tasks/uploads",
            &json!({"title": "never", "file": {"name": "never.txt", "size": 5, "content_type": "text/plain"}}),
        )
        .await
        .json();
    let lift = testkit::refuse_new_tasks(&pool).await;
    let refused = ada
        .request(axum::http::Method::POST, "/api/v1/tasks")
        .multipart(&[
            testkit::Part::text("title", "refused"),
            testkit::Part::file("refused.txt", "text/plain", b"words"),
        ])
        .send()
        .await;
    assert_eq!(refused.status.as_u16(), 500, "{}", refused.text());
    sqlx::raw_sql(lift).execute(&pool).await.expect("drop");
    record("CreateTaskFunction", calls.take());

    ada.get("/api/v1/tasks").await;
    record("ListTasksFunction", calls.take());

    // file-processor: a job, a direct upload's arrival, and a job whose upload is gone.
    let direct_key = app.key_of(&direct);
    plain
        .state
        .storage
        .put(&direct_key, b"words".to_vec(), "text/plain")
        .await
        .expect("the client's PUT");
    let gone = app.create_with_file(&ada, "gone.txt", b"words").await;
    plain
        .state
        .storage
        .delete(&app.key_of(&gone))
        .await
        .expect("delete");
    calls.take(); // those two creates belong to tasks-create, already recorded
    let mut messages: Vec<_> = app
        .drain_jobs()
        .await
        .into_iter()
        .enumerate()
        .map(|(n, job)| message(&format!("job{n}"), job.to_string()))
        .collect();
    let bucket = app.state.storage.root().bucket.clone();
    messages.push(message("direct", object_created(&bucket, &direct_key, 5)));
    assert!(messages.len() <= usize::try_from(BATCH_SIZE).expect("small"));
    handle_batch(&app.state, batch(messages), testkit_deadline()).await;
    record("FileProcessorFunction", calls.take());

    // tasks-get: the task, its file and its result, and a direct upload's file.
    let id = task["id"].as_str().expect("id");
    ada.get(&format!("/api/v1/tasks/{id}")).await;
    ada.get(&format!("/api/v1/tasks/{id}/file")).await;
    ada.get(&format!("/api/v1/tasks/{id}/result")).await;
    let direct_id = direct["id"].as_str().expect("id");
    ada.get(&format!("/api/v1/tasks/{direct_id}/file")).await;
    record("GetTaskFunction", calls.take());

    // tasks-update: an edit, the trash and back, and two purges (objects under uploads/,
    // results/ and incoming/).
    let path = format!("/api/v1/tasks/{id}");
    ada.patch(&path, &json!({"title": "renamed"})).await;
    ada.delete(&path).await;
    ada.request(axum::http::Method::POST, &format!("{path}/restore"))
        .send()
        .await;
    let purged = ada.delete(&format!("{path}?permanent=true")).await;
    assert_eq!(purged.status.as_u16(), 204, "{}", purged.text());
    ada.delete(&format!("/api/v1/tasks/{direct_id}?permanent=true"))
        .await;
    record("UpdateTaskFunction", calls.take());

    // sweeper: an upload that never came, an orphan, an upload whose task was never committed,
    // and a processed task purged from the trash.
    let aged = app.create_with_file(&ada, "aged.txt", b"old words").await;
    let jobs: Vec<_> = app
        .drain_jobs()
        .await
        .into_iter()
        .map(|job| message("aged", job.to_string()))
        .collect();
    handle_batch(&app.state, batch(jobs), testkit_deadline()).await;
    ada.delete(&format!(
        "/api/v1/tasks/{}",
        aged["id"].as_str().expect("id")
    ))
    .await;
    calls.take(); // tasks-create's, the processor's and tasks-update's, recorded already
    let orphan = format!("{prefix}/incoming/{}/orphan/file.txt", ada.id);
    plain
        .state
        .storage
        .put(&orphan, b"x".to_vec(), "text/plain")
        .await
        .expect("put");
    assert!(never["id"].is_string());
    let died = format!("{prefix}/uploads/{}/died/file.txt", ada.id);
    sqlx::query("insert into pending_uploads (object_key, reserved_at) values ($1, now())")
        .bind(&died)
        .execute(&pool)
        .await
        .expect("a create request that died after its PUT");
    app.clock.advance(TimeDelta::days(31));
    let swept = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(swept.trash_purged, 1);
    record("SweeperFunction", calls.take());

    app.get("/docs").await;
    app.get("/openapi.json").await;
    record("ApiDocsFunction", calls.take());

    // admin: the users table, a change and the audit, which read no object.
    writers::admin::promote(&app.state.db, &ada.email, app.clock.now())
        .await
        .expect("promote");
    let admin = app.bearer_token(&ada.email, &ada.password).await;
    let writer = app.signed_up_user().await;
    for (method, path, body) in [
        (axum::http::Method::GET, "/admin/users".to_owned(), None),
        (
            axum::http::Method::PATCH,
            format!("/admin/users/{}", writer.id),
            Some(json!({"is_active": false})),
        ),
        (axum::http::Method::GET, "/admin/audit".to_owned(), None),
    ] {
        let request = app.request(method, &path).bearer(&admin);
        let response = match body {
            Some(body) => request.json(&body).send().await,
            None => request.send().await,
        };
        assert_eq!(response.status.as_u16(), 200, "{path}: {}", response.text());
    }
    record("AdminFunction", calls.take());

    // auth, again: deleting an account deletes its objects under uploads/, incoming/ and results/.
    let carol = app.signed_up_user().await;
    app.create_with_file(&carol, "carol.txt", b"carol's words")
        .await;
    let jobs: Vec<_> = app
        .drain_jobs()
        .await
        .into_iter()
        .map(|job| message("carol", job.to_string()))
        .collect();
    handle_batch(&app.state, batch(jobs), testkit_deadline()).await;
    let arriving = format!("{prefix}/incoming/{}/arriving/file.txt", carol.id);
    plain
        .state
        .storage
        .put(&arriving, b"x".to_vec(), "text/plain")
        .await
        .expect("put");
    calls.take(); // tasks-create's and the processor's, recorded already
    let deleted = carol
        .request(axum::http::Method::DELETE, "/auth/me")
        .json(&json!({"password": carol.password}))
        .send()
        .await;
    assert_eq!(deleted.status.as_u16(), 204, "{}", deleted.text());
    let deletion = needed(calls.take(), &prefix);
    used.get_mut("AuthFunction")
        .expect("recorded above")
        .extend(deletion);

    let template = super::template::template();
    for (function, needs) in &used {
        let mut grants = granted(&template, function);
        // Granted for a race no scenario can stage on demand: a task cancelled while its result
        // was being written has that result deleted (processor::process).
        if *function == "FileProcessorFunction" {
            let race = ("s3:DeleteObject".to_owned(), "results/*".to_owned());
            assert!(
                grants.remove(&race),
                "the processor may delete a result it wrote"
            );
        }
        assert_eq!(
            &grants, needs,
            "{function}: granted (left) vs called (right)"
        );
    }
    assert!(granted(&template, "MigrateFunction").is_empty());
}

fn testkit_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + writers::processor::FUNCTION_TIMEOUT
}
