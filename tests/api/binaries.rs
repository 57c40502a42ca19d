//! End to end over the real binaries: each function's own binary (`cargo build` output, not the
//! library) runs behind the project's Lambda Runtime API, configured as template.yaml configures
//! it in AWS — the JWT key and the database credentials read from Secrets Manager (LocalStack),
//! an uploads bucket whose `incoming/` notifications feed the jobs queue — and the kit's API
//! Gateway (HTTP API, payload format 2.0) in front turns real HTTP requests into their events. It
//! proves each binary's start-up wiring, which the library tests cannot.

use std::{collections::HashMap, process::Stdio, time::Duration};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{
    Part, Persona, TestResponse,
    aws::{isolated_config, notifying_bucket, secret},
    events, fixture,
    gateway::{
        CloudFront, TEST_VIEWER_ADDRESS, cloudformation_response_url, serve_behind_cloudfront,
        serve_gateway,
    },
    lambda::{Deployment, built_binaries},
    over_http, request_to,
    runtime_api::InvokeError,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;
use writers::{
    http::Function,
    processor::{FUNCTION_TIMEOUT, poller},
};

use crate::direct_uploads::{s3_request, signed_headers};

#[sqlx::test(migrations = false)]
async fn every_binary_serves_the_whole_flow_as_deployed(pool: PgPool) {
    let binaries = built_binaries();
    let config = notifying_bucket(isolated_config().await).await;
    // The secrets template.yaml makes: a generated JWT key, and an RDS-managed database secret
    // (username and password only; the host, port and name come from `DB_*`).
    let id = Uuid::new_v4().simple().to_string();
    let jwt_secret_arn = secret(&config, "e2e-jwt", &format!("{id}{id}")).await;
    let database_secret_arn = secret(
        &config,
        "e2e-db",
        &json!({"username": "postgres", "password": "trusted-locally"}).to_string(),
    )
    .await;
    let db = pool.connect_options();
    let deployment = Deployment::new(
        binaries,
        [
            ("DATABASE_SECRET_ARN", database_secret_arn),
            ("DB_HOST", db.get_host().to_owned()),
            ("DB_PORT", db.get_port().to_string()),
            ("DB_NAME", db.get_database().expect("a database").to_owned()),
            ("DB_SSLMODE", "prefer".to_owned()),
            ("DB_STATEMENT_CACHE_CAPACITY", "0".to_owned()),
            ("JWT_SECRET_ARN", jwt_secret_arn),
            ("STORAGE_ROOT", config.storage_root.to_string()),
            ("QUEUE_URL", config.queue_url.clone()),
            ("DEAD_LETTER_QUEUE_URL", String::new()),
            ("COOKIE_SECURE", "false".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value))
        .to_vec(),
    );
    let start = async |binary: &str, timeout: Duration, stdout: Stdio| {
        deployment
            .start(binary, timeout, stdout)
            .await
            .unwrap_or_else(|e| panic!("{binary}: {e}"))
    };

    // The deploy: CloudFormation's custom resource runs the migrations on the empty database.
    let migrate = start("migrate", Duration::from_secs(300), Stdio::inherit()).await;
    let (response_url, mut answers) = cloudformation_response_url().await;
    migrate
        .runtime
        .invoke(events::cloudformation("Create", &response_url))
        .await
        .expect("the migrate function answers");
    let answer = answers.recv().await.expect("an answer to CloudFormation");
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["LogicalResourceId"], "Migrations");
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_name in ('users', 'tasks', 'sessions', 'outbox_jobs')",
    )
    .fetch_one(&pool)
    .await
    .expect("a count");
    assert_eq!(tables, 4, "the migrations ran");

    let mut functions = HashMap::new();
    let mut processes = Vec::new();
    for function in Function::ALL {
        let lambda = start(function.binary(), Duration::from_secs(10), Stdio::inherit()).await;
        functions.insert(function, lambda.runtime);
        processes.push(lambda.process);
    }
    let processor = start("file-processor", FUNCTION_TIMEOUT, Stdio::inherit()).await;
    // An event that is not an SQS batch: the runtime reports the function's error.
    let refused = processor
        .runtime
        .invoke(json!({"not": "an SQS event"}))
        .await;
    assert!(
        matches!(refused, Err(InvokeError::Function(_))),
        "{refused:?}"
    );
    let address = serve_gateway(functions).await;
    let api = over_http(address);
    let jobs =
        writers::files::queue::JobQueue::new(&writers::aws::Sdk::new(&config), &config.queue_url);
    let process_jobs = || async {
        poller::poll_once(&jobs, Duration::from_secs(5), |event| {
            processor.runtime.invoke_sqs(event)
        })
        .await
        .expect("the jobs queue")
    };

    let docs = request_to(&api, Method::GET, "/openapi.json").send().await;
    assert_eq!(docs.status, StatusCode::OK);
    assert_eq!(docs.json()["info"]["title"], "Writers");

    // register → me
    let email = format!(
        "e2e-{}@example.com",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let registered = request_to(&api, Method::POST, "/auth/register")
        .json(&json!({"email": email, "username": format!("e2e_{}", &Uuid::new_v4().simple().to_string()[..12]), "password": "correct horse battery staple"}))
        .send()
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text()
    );
    let access = registered.cookie("access_token").expect("an access cookie");
    assert!(access.has("httponly"));
    let ada = Persona::signed_in(&api, &registered, &email, "correct horse battery staple");
    let me = ada.get("/auth/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    assert_eq!(me.json()["user"]["email"], email);

    // The first administrator, as the operations page says: the migrate function's own event.
    assert_eq!(ada.get("/admin/users").await.status, StatusCode::FORBIDDEN);
    let promoted = migrate
        .runtime
        .invoke(json!({"promote": email.to_uppercase()}))
        .await
        .expect("the migrate function promotes");
    assert_eq!(promoted["promoted"], email.to_uppercase(), "{promoted}");
    let users = ada.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text());
    assert_eq!(users.json()["users"][0]["email"], email);

    // a task with a file → the processor binary, fed from the queue → list and get
    let created = ada
        .request(Method::POST, "/api/v1/tasks")
        .multipart(&[
            Part::text("title", "Chapter one"),
            Part::file("chapter.txt", "text/plain", &fixture("chapter.txt")),
        ])
        .send()
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text());
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    // (S3's test event for the new notification may arrive in the same batch.)
    let polled = process_jobs().await;
    assert!(polled.received >= 1 && polled.failed == 0, "{polled:?}");
    assert_eq!(polled.deleted, polled.received, "{polled:?}");
    let listed = ada.get("/api/v1/tasks?limit=10").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let page = listed.json();
    assert_eq!(page["total"], 1);
    let first = &page["tasks"][0];
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["status"], "completed");
    let task = ada.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(task.status, StatusCode::OK);
    // tests/fixtures/README.md: chapter.txt has 28 words.
    assert_eq!(task.json()["word_count"], 28);
    assert_eq!(task.json()["detected_content_type"], "text/plain");
    let result = ada.get(&format!("/api/v1/tasks/{id}/result")).await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.text());

    // a large upload, PUT to its presigned URL → S3's notification → the processor binary
    let bytes = "chapter ".repeat(700 * 1024).into_bytes();
    let declared = ada.post_json("/api/v1/tasks/uploads", &json!({"title": "Long novel", "file": {"name": "novel.txt", "size": bytes.len(), "content_type": "text/plain"}})).await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text());
    let declared = declared.json();
    let upload = &declared["upload"];
    let (status, _, body) = s3_request(
        "PUT",
        upload["url"].as_str().expect("a URL"),
        &signed_headers(upload),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let large_id = declared["id"].as_str().expect("an id");
    let mut large = Value::Null;
    for _ in 0..10 {
        process_jobs().await;
        large = ada.get(&format!("/api/v1/tasks/{large_id}")).await.json();
        if large["status"] == "completed" {
            break;
        }
    }
    assert_eq!(large["status"], "completed", "{large}");
    assert_eq!(large["word_count"], 700 * 1024);

    // the sweeper binary: one scheduled run, and its metrics line on stdout
    let mut sweeper = start("sweeper", Duration::from_secs(60), Stdio::piped()).await;
    let report = sweeper
        .runtime
        .invoke(events::schedule())
        .await
        .expect("a sweep");
    assert_eq!(report["unsent_jobs"], 0, "{report}");
    let mut lines = BufReader::new(sweeper.process.stdout.take().expect("stdout")).lines();
    let metrics = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && value.get("_aws").is_some()
            {
                return value;
            }
        }
        panic!("the sweeper printed no metrics line");
    })
    .await
    .expect("a metrics line");
    assert_eq!(metrics["FunctionName"], "writers-sweeper");
    assert_eq!(metrics["OldestUnsentOutboxJobAge"], 0);

    // refresh → logout → the old cookie is refused
    let refreshed = request_to(&api, Method::POST, "/auth/refresh")
        .cookie("refresh_token", &ada.refresh)
        .send()
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    let new_access = refreshed
        .cookie("access_token")
        .expect("a new access cookie")
        .value;
    let new_refresh = refreshed
        .cookie("refresh_token")
        .expect("a new refresh cookie")
        .value;
    let logged_out = request_to(&api, Method::POST, "/auth/logout")
        .header(
            "cookie",
            &format!("access_token={new_access}; refresh_token={new_refresh}"),
        )
        .send()
        .await;
    assert!(logged_out.status.is_success(), "{}", logged_out.text());
    let refused: TestResponse = ada.get("/auth/me").await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );

    // Deleting the stack answers too, and keeps the data.
    migrate
        .runtime
        .invoke(events::cloudformation("Delete", &response_url))
        .await
        .expect("the migrate function answers");
    assert_eq!(
        answers.recv().await.expect("an answer")["Status"],
        "SUCCESS"
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .expect("users");
    assert_eq!(users, 1);
}

/// Behind the CloudFront distribution (the kit's shim of it: LocalStack has none), the auth
/// function counts each viewer by the address CloudFront reports, not by the edge server's that
/// API Gateway sees; a request straight to the API's URL cannot borrow that trust with forged
/// headers; and the app's origin passes the CSRF check although `Host` is the execute-api domain.
#[sqlx::test(migrations = "../migrations")]
async fn behind_cloudfront_the_viewer_and_the_apps_origin_are_what_count(pool: PgPool) {
    let config = isolated_config().await;
    let db = pool.connect_options();
    let app_origin = "https://writers.example.com";
    let origin_secret = Uuid::new_v4().simple().to_string();
    let deployment = Deployment::new(
        built_binaries(),
        [
            (
                "DATABASE_URL",
                format!(
                    "postgres://postgres@{}:{}/{}",
                    db.get_host(),
                    db.get_port(),
                    db.get_database().expect("a database")
                ),
            ),
            ("JWT_SECRET", "behind-cloudfront-".repeat(4)),
            ("STORAGE_ROOT", config.storage_root.to_string()),
            ("QUEUE_URL", config.queue_url.clone()),
            ("COOKIE_SECURE", "false".to_owned()),
            ("ALLOWED_ORIGINS", app_origin.to_owned()),
            ("APP_URL", app_origin.to_owned()),
            ("ORIGIN_VERIFY_SECRET", origin_secret.clone()),
            ("REGISTRATIONS_PER_IP_PER_HOUR", "1".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value))
        .to_vec(),
    );
    let auth = deployment
        .start(
            Function::Auth.binary(),
            Duration::from_secs(10),
            Stdio::inherit(),
        )
        .await
        .expect("the auth function starts");
    let functions = HashMap::from([(Function::Auth, auth.runtime)]);
    let through_cloudfront = over_http(
        serve_behind_cloudfront(
            functions.clone(),
            CloudFront {
                origin_secret: origin_secret.clone(),
            },
        )
        .await,
    );
    let straight = over_http(serve_gateway(functions).await);
    let register = async |api: &axum::Router, headers: &[(&str, &str)]| {
        let name = &Uuid::new_v4().simple().to_string()[..12];
        let mut request = request_to(api, Method::POST, "/auth/register").json(&json!({
            "email": format!("{name}@example.com"), "username": format!("v_{name}"),
            "password": "correct horse battery staple"
        }));
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send().await
    };

    // Two viewers behind the same edge server: each has its own one registration an hour.
    let viewer_a = [(TEST_VIEWER_ADDRESS, "198.51.100.7")];
    let first = register(&through_cloudfront, &viewer_a).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let again = register(&through_cloudfront, &viewer_a).await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        again.text()
    );
    let viewer_b = register(
        &through_cloudfront,
        &[(TEST_VIEWER_ADDRESS, "2001:db8::42")],
    )
    .await;
    assert_eq!(viewer_b.status, StatusCode::CREATED, "{}", viewer_b.text());

    // Straight to the API with a forged viewer address (and a guessed secret): counted by the
    // real source, so the second such request is over the limit whatever address it names.
    let forged = |address: &'static str| {
        [
            ("x-viewer-address", address),
            ("x-origin-verify", "a guess"),
        ]
    };
    let direct = register(&straight, &forged("203.0.113.1")).await;
    assert_eq!(direct.status, StatusCode::CREATED, "{}", direct.text());
    let direct_again = register(&straight, &forged("203.0.113.2")).await;
    assert_eq!(
        direct_again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        direct_again.text()
    );

    // A cookie-authenticated write from the app's origin passes the CSRF check behind the
    // distribution (Host is the execute-api domain); one from another site does not.
    let access = first.cookie("access_token").expect("an access cookie");
    let log_out = async |origin: &str| {
        request_to(&through_cloudfront, Method::POST, "/auth/logout")
            .header("origin", origin)
            .cookie("access_token", &access.value)
            .send()
            .await
    };
    let forged_site = log_out("https://evil.example").await;
    assert_eq!(
        forged_site.status,
        StatusCode::FORBIDDEN,
        "{}",
        forged_site.text()
    );
    let from_the_app = log_out(app_origin).await;
    assert_eq!(
        from_the_app.status,
        StatusCode::OK,
        "{}",
        from_the_app.text()
    );
}
