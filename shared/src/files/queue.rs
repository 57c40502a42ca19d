//! The SQS jobs queue: one method per call, no business rules.

use aws_sdk_sqs::{Client, types::QueueAttributeName};

use crate::{
    Error,
    aws::{OnDemand, Sdk},
};

/// An SQS queue (the jobs queue, or its dead-letter queue) and the client that reaches it, built
/// on the first call.
#[derive(Clone, Debug)]
pub struct JobQueue {
    client: OnDemand<Client>,
    url: String,
}

impl JobQueue {
    /// The queue at `url`; its client is built on the first call.
    pub fn new(aws: &Sdk, url: &str) -> Self {
        Self {
            client: OnDemand::new(aws),
            url: url.to_owned(),
        }
    }

    /// The queue at `url` through an existing client (tests that point one elsewhere).
    pub fn from_client(client: Client, url: &str) -> Self {
        Self {
            client: OnDemand::ready(client),
            url: url.to_owned(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQS client itself, for callers that need a call this type does not wrap (the poller, tests).
    pub async fn client(&self) -> &Client {
        self.client.get(Client::new).await
    }

    /// Checks that the queue exists and the credentials reach it.
    ///
    /// # Errors
    /// [`Error::Queue`] when SQS is unreachable or the queue is missing.
    pub async fn check(&self) -> Result<(), Error> {
        self.client()
            .await
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(Error::queue)?;
        Ok(())
    }

    /// Sends one message body; returns the SQS message id.
    ///
    /// # Errors
    /// [`Error::Queue`] when the send fails.
    pub async fn send(&self, body: &str) -> Result<String, Error> {
        let sent = self
            .client()
            .await
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(Error::queue)?;
        Ok(sent.message_id.unwrap_or_default())
    }
}
