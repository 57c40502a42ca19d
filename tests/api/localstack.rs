//! The local S3 and SQS that `make test` starts, reached with the clients the functions build.

use aws_sdk_sqs::types::QueueAttributeName;
use uuid::Uuid;
use writers::{AppState, Config, Error};

use testkit::aws::config;

async fn state(config: Config) -> AppState {
    // The pool is lazy and never used here: no database is needed for these tests.
    AppState::new(config).await
}

#[tokio::test]
async fn the_bucket_and_the_jobs_queue_with_its_dead_letter_queue_exist() {
    let state = state(config()).await;
    state.storage.check().await.expect("the bucket exists");
    state.jobs.check().await.expect("the jobs queue exists");

    let attributes = state
        .jobs
        .client()
        .await
        .get_queue_attributes()
        .queue_url(state.jobs.url())
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    let policy: serde_json::Value = serde_json::from_str(
        attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .expect("a redrive policy"),
    )
    .expect("JSON");
    let dlq_arn = policy["deadLetterTargetArn"].as_str().expect("a DLQ ARN");
    assert!(dlq_arn.ends_with("writers-jobs-dlq"), "{dlq_arn}");
    assert_eq!(policy["maxReceiveCount"].to_string().trim_matches('"'), "5");
}

#[tokio::test]
async fn an_object_round_trips_under_the_storage_prefix() {
    let state = state(config()).await;
    let key = state
        .storage
        .root()
        .key(&format!("tests/{}/chapter one.txt", Uuid::new_v4()));
    assert!(key.starts_with("writers/tests/"), "{key}");
    let bytes = "It was a bright cold day in April.\n"
        .repeat(1000)
        .into_bytes();

    state
        .storage
        .put(&key, bytes.clone(), "text/plain")
        .await
        .expect("put");
    assert_eq!(state.storage.get(&key).await.expect("get"), bytes);

    state.storage.delete(&key).await.expect("delete");
    assert!(matches!(
        state.storage.get(&key).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn a_message_round_trips_through_sqs() {
    // A queue of this test's own: the jobs queue belongs to whatever processes jobs.
    let probe = state(config()).await;
    let name = format!("test-{}", Uuid::new_v4());
    let url = probe
        .jobs
        .client()
        .await
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("a queue URL");
    let state = state(Config {
        queue_url: url.clone(),
        ..config()
    })
    .await;

    let body = r#"{"version":1,"task_id":"00000000-0000-0000-0000-000000000000"}"#;
    let id = state.jobs.send(body).await.expect("send");
    let received = state
        .jobs
        .client()
        .await
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(5)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    state
        .jobs
        .client()
        .await
        .delete_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("delete queue");

    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_id.as_deref(), Some(id.as_str()));
    assert_eq!(received[0].body.as_deref(), Some(body));
}
