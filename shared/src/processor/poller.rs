//! Lambda's SQS event source mapping, for running locally: receive a batch from the jobs queue,
//! hand it to a batch handler, delete what succeeded.
//!
//! The semantics are the mapping's with `ReportBatchItemFailures`: a handler error leaves the
//! whole batch for redelivery; otherwise every message not reported as failed is deleted, and a
//! failed one reappears after the queue's visibility timeout, until the queue's redrive policy
//! moves it to the dead-letter queue. The handler is any async function of an [`SqsEvent`]: the
//! processor in-process ([`run_in_process`]), or a function binary behind a Lambda Runtime API.

use std::{future::Future, time::Duration};

use aws_config::timeout::TimeoutConfig;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use tokio::time::Instant;

use crate::{
    AppState, Error,
    error::BoxError,
    files::queue::JobQueue,
    processor::{FUNCTION_TIMEOUT, SqsBatchResponse, SqsEvent, SqsMessage, handle_batch},
};

/// As template.yaml's event source: at most ten messages per invocation.
pub const BATCH_SIZE: i32 = 10;
/// SQS's longest long poll: an idle queue costs one request per 20 s.
const LONG_POLL: Duration = Duration::from_secs(20);

/// What one poll did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Polled {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// Receives one batch (waiting up to `wait` for it), invokes `handler` and deletes the messages
/// it did not report as failed.
///
/// # Errors
/// [`Error::Queue`] when SQS cannot be reached; a handler error is not an error here (the batch
/// simply stays on the queue, as with Lambda).
pub async fn poll_once<F, Fut>(
    queue: &JobQueue,
    wait: Duration,
    handler: F,
) -> Result<Polled, Error>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, BoxError>>,
{
    let wait = wait.min(LONG_POLL);
    // A long poll answers only when it has to: the clients' usual 10 s read and 3 s operation
    // timeouts would cut every idle poll short, so this call gets the wait plus a margin.
    let patient = TimeoutConfig::builder()
        .read_timeout(wait + Duration::from_secs(5))
        .operation_timeout(wait + Duration::from_secs(10))
        .operation_attempt_timeout(wait + Duration::from_secs(10))
        .build();
    let received = queue
        .client()
        .await
        .receive_message()
        .queue_url(queue.url())
        .max_number_of_messages(BATCH_SIZE)
        .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .customize()
        .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(patient))
        .send()
        .await
        .map_err(Error::queue)?
        .messages
        .unwrap_or_default();
    if received.is_empty() {
        return Ok(Polled::default());
    }
    let records: Vec<SqsMessage> = received
        .into_iter()
        .map(|m| SqsMessage {
            message_id: m.message_id.unwrap_or_default(),
            receipt_handle: m.receipt_handle.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
            attributes: m
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect(),
        })
        .collect();
    let mut polled = Polled {
        received: records.len(),
        ..Polled::default()
    };
    let response = match handler(SqsEvent {
        records: records.clone(),
    })
    .await
    {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %e, messages = polled.received, "the handler failed; the whole batch will be redelivered");
            polled.failed = polled.received;
            return Ok(polled);
        }
    };
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    // As Lambda does: a failure naming no message of the batch fails the whole batch.
    if failed
        .iter()
        .any(|id| !records.iter().any(|r| r.message_id == *id))
    {
        tracing::warn!(
            ?failed,
            "the handler reported an unknown message id; the whole batch will be redelivered"
        );
        polled.failed = polled.received;
        return Ok(polled);
    }
    let done: Vec<DeleteMessageBatchRequestEntry> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| !failed.contains(&r.message_id.as_str()))
        .filter_map(|(i, r)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(&r.receipt_handle)
                .build()
                .ok()
        })
        .collect();
    polled.failed = failed.len();
    if !done.is_empty() {
        let deleted = queue
            .client()
            .await
            .delete_message_batch()
            .queue_url(queue.url())
            .set_entries(Some(done))
            .send()
            .await
            .map_err(Error::queue)?;
        polled.deleted = deleted.successful.len();
    }
    Ok(polled)
}

/// Polls the jobs queue for ever, handing each batch to the processor in this process.
pub async fn run_in_process(state: AppState) {
    loop {
        let polled = poll_once(&state.jobs, LONG_POLL, |event| async {
            let deadline = Instant::now() + FUNCTION_TIMEOUT;
            Ok(handle_batch(&state, event, deadline).await)
        })
        .await;
        match polled {
            Ok(polled) if polled.received > 0 => tracing::debug!(?polled, "batch handled"),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error.cause_chain = ?e, "cannot poll the jobs queue; trying again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
