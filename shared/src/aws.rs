//! The AWS SDK's shared configuration, built on first use, and the SDK clients built from it.
//!
//! Building an [`AppState`](crate::AppState) touches none of this: a client is built the first
//! time a call needs it ([`OnDemand`]), so a function whose routes call no S3, SQS or SES links
//! none of the SDK, and no function loads the SDK's configuration before it has a call to make.
//! Secrets are read without the SDK ([`crate::secrets`]).

use std::{sync::Arc, time::Duration};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use tokio::sync::OnceCell;

use crate::Config;

/// The SDK configuration every client shares, loaded when the first client is built.
#[derive(Clone, Debug)]
pub struct Sdk {
    region: String,
    loaded: Arc<OnceCell<aws_config::SdkConfig>>,
}

impl Sdk {
    /// A handle for `config`'s region; nothing is loaded yet.
    pub fn new(config: &Config) -> Self {
        Self::for_region(&config.aws_region)
    }

    /// [`Sdk::new`] for tools that have only a region.
    pub fn for_region(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            loaded: Arc::default(),
        }
    }

    /// The configuration, loaded on the first call ([`sdk_config_for`]).
    pub async fn config(&self) -> &aws_config::SdkConfig {
        self.loaded
            .get_or_init(|| sdk_config_for(&self.region))
            .await
    }
}

/// One SDK client (or a pair), built from the shared [`Sdk`] the first time it is asked for.
///
/// The building code is the caller's closure, in the method that makes the call: only a binary
/// that makes the call links the client.
#[derive(Debug)]
pub struct OnDemand<C> {
    sdk: Sdk,
    built: Arc<OnceCell<C>>,
}

impl<C> Clone for OnDemand<C> {
    fn clone(&self) -> Self {
        Self {
            sdk: self.sdk.clone(),
            built: self.built.clone(),
        }
    }
}

impl<C> OnDemand<C> {
    /// Nothing built yet.
    pub fn new(sdk: &Sdk) -> Self {
        Self {
            sdk: sdk.clone(),
            built: Arc::default(),
        }
    }

    /// Built already (tests and tools that configure a client themselves).
    pub fn ready(client: C) -> Self {
        Self {
            sdk: Sdk::for_region(""),
            built: Arc::new(OnceCell::new_with(Some(client))),
        }
    }

    /// The client, built by `build` from the shared configuration on the first call.
    pub async fn get(&self, build: impl FnOnce(&aws_config::SdkConfig) -> C) -> &C {
        self.built
            .get_or_init(|| async { build(self.sdk.config().await) })
            .await
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
pub(crate) const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The AWS SDK configuration every client shares, for `region`.
///
/// The region is explicit (no instance-metadata lookup) and timeouts are short
/// ([`SDK_OPERATION_TIMEOUT`]), so an unreachable S3 or SQS becomes a quick `503`.
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

/// [`sdk_config_for`] `config`'s region, for tests and tools that build a client of their own.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    sdk_config_for(&config.aws_region).await
}
