//! Configuration for one test or benchmark: `make test`'s settings, with a queue, a storage
//! prefix, a bucket or secrets of its own so that runs side by side never meet.

use uuid::Uuid;
use writers::Config;

/// The configuration `make test` exports; a clear message when run some other way.
#[track_caller]
pub fn config() -> Config {
    Config::from_env().unwrap_or_else(|e| {
        panic!("{e}\nrun the tests with `make test`, which starts Postgres and LocalStack and sets the variables")
    })
}

/// A configuration of this test's own: a fresh SQS queue and S3 prefix, so tests running side
/// by side never see each other's jobs or objects.
pub async fn isolated_config() -> Config {
    let mut config = config();
    let id = Uuid::new_v4().simple().to_string();
    let sqs = aws_sdk_sqs::Client::new(&writers::aws::sdk_config(&config).await);
    config.queue_url = sqs
        .create_queue()
        .queue_name(format!("test-{id}"))
        .send()
        .await
        .expect("LocalStack creates a queue (is it running? `make test` starts it)")
        .queue_url
        .expect("a queue URL");
    config.storage_root.prefix = format!("{}/test-{id}", config.storage_root.prefix);
    // The shared dead-letter queue is the local server's; a test that needs one makes its own.
    config.dead_letter_queue_url = None;
    config
}

/// `config` over a new bucket of its own (prefix `writers`), whose `writers/incoming/`
/// notifications go to `config`'s queue, as template.yaml wires the real one.
pub async fn notifying_bucket(mut config: Config) -> Config {
    let aws = writers::aws::sdk_config(&config).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let bucket = format!(
        "writers-test-{}",
        &Uuid::new_v4().simple().to_string()[..16]
    );
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("a bucket");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&config.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("an ARN");
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let rule = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value("writers/incoming/")
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(queue_arn)
                        .events(Event::S3ObjectCreated)
                        .filter(
                            NotificationConfigurationFilter::builder()
                                .key(S3KeyFilter::builder().filter_rules(rule).build())
                                .build(),
                        )
                        .build()
                        .expect("a queue configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("notifications");
    config.storage_root = format!("s3://{bucket}/writers").parse().expect("a root");
    config
}

/// Creates a Secrets Manager secret (LocalStack's) named `<prefix>-<random>` holding `value`;
/// returns its ARN.
///
/// # Panics
/// When LocalStack does not answer.
pub async fn secret(config: &Config, prefix: &str, value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&writers::aws::sdk_config(config).await);
    client
        .create_secret()
        .name(format!("{prefix}-{}", Uuid::new_v4().simple()))
        .secret_string(value)
        .send()
        .await
        .expect(
            "LocalStack's Secrets Manager creates a secret (is it running? `make test` starts it)",
        )
        .arn
        .expect("an ARN")
}

/// An endpoint that accepts connections and never answers: a hung S3 or SQS. The listener lives
/// as long as the returned task; its URL is `http://127.0.0.1:<port>`.
///
/// # Panics
/// When no local port can be bound.
pub async fn hung_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

/// `state` with its S3 client sent to `endpoint` (the bucket and prefix kept).
pub async fn with_storage_at(state: &writers::AppState, endpoint: &str) -> writers::AppState {
    with_s3(state, |s3| s3.endpoint_url(endpoint)).await
}

/// `state` with its S3 client rebuilt from its own configuration, changed by `change`.
async fn with_s3(
    state: &writers::AppState,
    change: impl FnOnce(aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder,
) -> writers::AppState {
    let s3 = change(state.storage.client().await.config().to_builder()).build();
    let mut changed = state.clone();
    changed.storage = writers::files::storage::Storage::from_client(
        aws_sdk_s3::Client::from_conf(s3),
        state.storage.root().clone(),
    );
    changed
}

/// `state` with its SQS client sent to `endpoint` (the queue URL kept).
pub async fn with_queue_at(state: &writers::AppState, endpoint: &str) -> writers::AppState {
    let sqs = state
        .jobs
        .client()
        .await
        .config()
        .to_builder()
        .endpoint_url(endpoint)
        .build();
    let mut changed = state.clone();
    changed.jobs = writers::files::queue::JobQueue::from_client(
        aws_sdk_sqs::Client::from_conf(sqs),
        state.jobs.url(),
    );
    changed
}

/// Every S3 operation a client was asked for, presigned ones included, as
/// `(operation, key)`: what the code really calls, for checking each function's IAM policy.
#[derive(Clone, Debug, Default)]
pub struct S3Calls(std::sync::Arc<std::sync::Mutex<Vec<S3Call>>>);

/// One S3 operation, by its name (`PutObject`), and the key it names (none for bucket operations).
pub type S3Call = (&'static str, Option<String>);

impl S3Calls {
    /// The calls recorded since the last `take`, and a fresh start.
    ///
    /// # Panics
    /// When a recording thread panicked.
    pub fn take(&self) -> Vec<S3Call> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

impl aws_sdk_s3::config::Intercept for S3Calls {
    fn name(&self) -> &'static str {
        "S3Calls"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        use aws_sdk_s3::operation::{
            delete_object::DeleteObjectInput, get_object::GetObjectInput,
            head_bucket::HeadBucketInput, head_object::HeadObjectInput,
            list_objects_v2::ListObjectsV2Input, put_object::PutObjectInput,
        };
        let input = context.input();
        let call = if let Some(i) = input.downcast_ref::<PutObjectInput>() {
            ("PutObject", i.key.clone())
        } else if let Some(i) = input.downcast_ref::<GetObjectInput>() {
            ("GetObject", i.key.clone())
        } else if let Some(i) = input.downcast_ref::<HeadObjectInput>() {
            ("HeadObject", i.key.clone())
        } else if let Some(i) = input.downcast_ref::<DeleteObjectInput>() {
            ("DeleteObject", i.key.clone())
        } else if input.downcast_ref::<ListObjectsV2Input>().is_some() {
            ("ListObjectsV2", None)
        } else if input.downcast_ref::<HeadBucketInput>().is_some() {
            ("HeadBucket", None)
        } else {
            ("an operation S3Calls does not know", None)
        };
        self.0.lock().expect("not poisoned").push(call);
        Ok(())
    }
}

/// `state` with an S3 client that records every call it makes.
pub async fn recording_storage(state: &writers::AppState) -> (writers::AppState, S3Calls) {
    let calls = S3Calls::default();
    let changed = with_s3(state, |s3| s3.interceptor(calls.clone())).await;
    (changed, calls)
}
