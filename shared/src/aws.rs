//! The AWS SDK configuration every client shares, and reads of Secrets Manager secrets.
//!
//! Both [`AppState`](crate::AppState) and the `migrate` tool's connection (`db`) build on this, so
//! neither needs the other.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use secrecy::SecretString;

use crate::{Config, Error};

/// Reads one version (`AWSCURRENT`, `AWSPREVIOUS`) of a Secrets Manager secret's string; `what`
/// names it in the error. `None` when that version does not exist (only `AWSCURRENT` must).
///
/// # Errors
/// [`Error::Unexpected`] when Secrets Manager cannot be read.
pub async fn read_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    arn: &str,
    stage: &str,
    what: &str,
) -> Result<Option<SecretString>, Error> {
    let read = secrets
        .get_secret_value()
        .secret_id(arn)
        .version_stage(stage)
        .send()
        .await;
    match read {
        Ok(value) => Ok(value.secret_string.map(SecretString::from)),
        // Only AWSCURRENT always exists; AWSPREVIOUS appears after the first rotation.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
                && stage != "AWSCURRENT" =>
        {
            Ok(None)
        }
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("reading {what} ({stage}) from Secrets Manager"))
            .into()),
    }
}

/// How long one S3 or SQS call may take, retries included, until its response begins.
///
/// An HTTP function makes at most two such calls in a row (the create request: the file's PUT,
/// then the object's removal when its task cannot be stored), plus one wait for a database
/// connection ([`crate::db::ACQUIRE_TIMEOUT`]): [`http::HTTP_FUNCTION_TIMEOUT`] leaves room for
/// all three, so a hung dependency ends as our `503` with `Retry-After`, never as a Lambda
/// timeout (API Gateway's bare `503`) that skipped the cleanup.
///
/// [`http::HTTP_FUNCTION_TIMEOUT`]: crate::http::HTTP_FUNCTION_TIMEOUT
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// One attempt's share: two attempts fit the operation's budget.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The AWS SDK configuration every client shares.
///
/// The region is explicit (no instance-metadata lookup at cold start) and timeouts are short
/// ([`SDK_OPERATION_TIMEOUT`]), so an unreachable S3 or SQS becomes a quick `503`.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    sdk_config_for(&config.aws_region).await
}

/// [`sdk_config`] for tools that have only a region, not a whole [`Config`] (`migrate`).
pub async fn sdk_config_for(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(SDK_CONNECT_TIMEOUT)
                // Until the response begins; a streamed body is bounded by the read timeout
                // instead (the processor streams large objects for longer than this).
                .operation_timeout(SDK_OPERATION_TIMEOUT)
                .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
                .read_timeout(Duration::from_secs(10))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}
