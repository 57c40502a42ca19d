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
