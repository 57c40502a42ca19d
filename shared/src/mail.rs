//! Email through Amazon SES (the v1 API, which LocalStack also has): one letter at a time, from
//! the verified `MAIL_FROM` identity.

use aws_sdk_ses::types::{Body, Content, Destination, Message};

use crate::{
    Config, Error,
    aws::{OnDemand, Sdk},
};

/// A letter to one address, with a plain-text part and an HTML part.
#[derive(Clone, Debug)]
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The SES client and the sender, shared by every letter.
#[derive(Clone, Debug)]
pub struct Mailer {
    client: OnDemand<aws_sdk_ses::Client>,
    from: Option<String>,
}

impl Mailer {
    /// The sender `MAIL_FROM`; the SES client is built for the first letter.
    pub fn new(aws: &Sdk, config: &Config) -> Self {
        Self {
            client: OnDemand::new(aws),
            from: config.mail_from.clone(),
        }
    }

    /// The same mailer over another client (tests that point SES somewhere broken).
    #[must_use]
    pub fn with_client(&self, client: aws_sdk_ses::Client) -> Self {
        Self {
            client: OnDemand::ready(client),
            from: self.from.clone(),
        }
    }

    /// Sends `letter`; returns SES's message id.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when `MAIL_FROM` is not set, or SES refuses or cannot be reached
    /// (the caller's outbox tries again later).
    pub async fn send(&self, letter: &Letter) -> Result<String, Error> {
        let from = self.from.as_deref().ok_or_else(|| {
            anyhow::anyhow!("MAIL_FROM is not set: no email can be sent (docs/configuration.md)")
        })?;
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(anyhow::Error::from)
        };
        let message = Message::builder()
            .subject(content(&letter.subject)?)
            .body(
                Body::builder()
                    .text(content(&letter.text)?)
                    .html(content(&letter.html)?)
                    .build(),
            )
            .build();
        let sent = self
            .client
            .get(aws_sdk_ses::Client::new)
            .await
            .send_email()
            .source(from)
            .destination(Destination::builder().to_addresses(&letter.to).build())
            .message(message)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context("sending an email through SES"))?;
        Ok(sent.message_id)
    }
}
