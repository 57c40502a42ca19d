//! The real `file-processor` binary, run behind the project's Lambda Runtime API and fed from a
//! LocalStack queue by the local poller: its own start-up wiring (configuration, clients, the
//! runtime loop) works, not only the library under it. Run with `make test`.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use writers::{
    AppState, Config,
    processor::{FUNCTION_TIMEOUT, poller, runtime_api::InvokeError, runtime_api::RuntimeApi},
    tasks::{
        self,
        model::{NewTask, TaskStatus, Upload},
    },
};

/// `make test`'s configuration, with a queue and a storage prefix of this test's own.
async fn isolated_config() -> Config {
    let mut config = Config::from_env().unwrap_or_else(|e| {
        panic!("{e}\nrun the tests with `make test`, which starts Postgres and LocalStack")
    });
    let id = Uuid::new_v4().simple().to_string();
    let sqs = aws_sdk_sqs::Client::new(&writers::state::aws_sdk_config(&config).await);
    config.queue_url = sqs
        .create_queue()
        .queue_name(format!("binary-{id}"))
        .send()
        .await
        .expect("LocalStack creates a queue")
        .queue_url
        .expect("a queue URL");
    config.storage_root.prefix = format!("{}/binary-{id}", config.storage_root.prefix);
    config.dead_letter_queue_url = None;
    config
}

/// Starts the binary against `runtime`, with `config` and the per-test database `pool` reaches.
fn start_binary(runtime: &RuntimeApi, config: &Config, pool: &PgPool) -> tokio::process::Child {
    let options = pool.connect_options();
    let database_url = format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().expect("a database name"),
    );
    tokio::process::Command::new(env!("CARGO_BIN_EXE_file-processor"))
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "file-processor")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("DATABASE_URL", database_url)
        .env("QUEUE_URL", &config.queue_url)
        .env("STORAGE_ROOT", config.storage_root.to_string())
        .env_remove("DEAD_LETTER_QUEUE_URL")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the file-processor binary starts (cargo builds it for this test)")
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_binary_completes_a_task_fed_through_the_runtime_api(pool: PgPool) {
    let config = isolated_config().await;
    let state = AppState::with_pool(config.clone(), pool.clone()).await;
    let owner: Uuid = sqlx::query_scalar(
        "insert into users (email, username, hashed_password) values ($1, $2, 'unused') returning id",
    )
    .bind(format!("{}@example.com", Uuid::new_v4().simple()))
    .bind(format!("u{}", &Uuid::new_v4().simple().to_string()[..12]))
    .fetch_one(&pool)
    .await
    .expect("a user");
    let task = tasks::create(
        &state,
        owner,
        NewTask::parse(Some("Chapter one"), None, None).expect("valid"),
        Some(Upload {
            file_name: Some("chapter.txt".to_owned()),
            content_type: "text/plain".to_owned(),
            bytes: b"It was a bright cold day in April".to_vec().into(),
        }),
    )
    .await
    .expect("created, its job on the queue");
    assert_eq!(task.status, TaskStatus::InProgress);

    let runtime = RuntimeApi::start("file-processor", FUNCTION_TIMEOUT)
        .await
        .expect("a Runtime API");
    let _binary = start_binary(&runtime, &config, &pool);

    // An event that is not an SQS batch: the runtime reports the function's error.
    let refused = runtime.invoke(json!({"not": "an SQS event"})).await;
    assert!(
        matches!(refused, Err(InvokeError::Function(_))),
        "{refused:?}"
    );

    let polled = poller::poll_once(&state.jobs, Duration::from_secs(5), |event| {
        runtime.invoke_sqs(event)
    })
    .await
    .expect("SQS");
    assert_eq!((polled.received, polled.deleted, polled.failed), (1, 1, 0));

    let done = tasks::get(&state, owner, task.id).await.expect("the task");
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.word_count, Some(8));
    assert_eq!(done.detected_content_type.as_deref(), Some("text/plain"));
}
