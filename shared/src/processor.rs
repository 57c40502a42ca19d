//! The file processor: what the `file-processor` Lambda (and the local poller) does with each
//! batch of messages from the jobs queue.
//!
//! For each draft it streams the upload from S3 into the [`Analyzer`] (size, SHA-256, the type
//! from the bytes, text statistics), reads a `.docx` body through [`docx`], and then, holding its
//! task's row lock, writes the full result to `<prefix>/results/<task_id>/<draft>.json` and marks
//! the draft processed (`tasks::lifecycle`); the task shows it, and completes when its status
//! follows that draft. A task purged meanwhile has no row to lock: nothing is written.
//!
//! Delivery is at least once, so everything is idempotent: a draft that has finished is left
//! alone, racing workers write the same deterministic result and only one update wins, and a
//! state never moves backwards. Permanent problems fail the draft with a readable reason;
//! transient ones fail only their own message, which SQS redelivers after the visibility timeout
//! and finally parks in the dead-letter queue, where the sweeper finds it.

pub mod poller;

use std::{collections::HashMap, time::Duration};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    AppState, Error,
    files::{
        analysis::{Analysis, Analyzer},
        docx::{self, BodyText, Rejected},
        message::JobMessage,
        storage::{self, StoredObject},
    },
    tasks::{
        self,
        lifecycle::{self, Completion},
        model::DraftState,
        objects,
        wire::ResultDocument,
    },
};

/// The `file-processor` function's timeout; template.yaml sets the same, and the jobs queue's
/// visibility timeout is six times it (tests/api/template.rs checks both).
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);

/// A message is not started with less time than this left: it is failed instead, for SQS to
/// redeliver, rather than cut off half way.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);

/// The invocation's deadline on the monotonic clock, from the runtime's `Lambda-Runtime-Deadline-Ms`.
///
/// Lambda sends Unix epoch milliseconds. `cargo lambda watch` sends the function's timeout in
/// milliseconds instead (600000), so a value too small to be a date after 2001 is read as that.
pub fn deadline_in(deadline_ms: u64) -> Instant {
    const EPOCH_MS_2001: u64 = 1_000_000_000_000;
    let left = if deadline_ms < EPOCH_MS_2001 {
        Duration::from_millis(deadline_ms)
    } else {
        (std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms))
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
    };
    Instant::now() + left
}

// The SQS event and its batch response are our own four small types rather than
// `aws_lambda_events`' (already in the lock file for `lambda_http`): its `sqs` feature brings
// `serde_with` and its proc-macro tree into every build for the sake of these fields, and its
// `#[non_exhaustive]` structs could not be built as plainly by the poller and the tests.

/// The batch Lambda's SQS event source delivers (only the fields the processor reads).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsMessage>,
}

/// One message of an [`SqsEvent`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsMessage {
    pub message_id: String,
    #[serde(default)]
    pub receipt_handle: String,
    #[serde(default)]
    pub body: String,
    /// SQS system attributes, e.g. `ApproximateReceiveCount`.
    #[serde(default)]
    pub attributes: HashMap<String, String>,
}

/// The answer for `ReportBatchItemFailures`: the messages to redeliver; the rest are deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsBatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One message to redeliver, by its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

/// What processing one object did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The draft is `processed` with its result.
    Completed,
    /// The draft `failed` with this reason.
    Cancelled(String),
    /// The draft had finished already (a redelivery, a duplicate, or a racing worker won).
    AlreadyFinished,
    /// Nothing to process; the reason is logged and the message consumed.
    Skipped(String),
}

/// Processes a batch; the messages that failed transiently are returned for redelivery.
///
/// Messages run one after another, so memory stays that of one stream. None is started with
/// less than [`SAFETY_MARGIN`] before `deadline`, and none runs past it.
pub async fn handle_batch(
    state: &AppState,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    if let Err(e) = state.database_ready().await {
        tracing::error!(error.cause_chain = ?e, "no database credentials; SQS will redeliver the batch");
        return SqsBatchResponse {
            batch_item_failures: event
                .records
                .into_iter()
                .map(|message| BatchItemFailure {
                    item_identifier: message.message_id,
                })
                .collect(),
        };
    }
    let mut failures = Vec::new();
    for message in event.records {
        let span = tracing::info_span!(
            "message",
            message_id = %message.message_id,
            receive_count = message.attributes.get("ApproximateReceiveCount").map(String::as_str),
        );
        if !handle_one(state, &message.body, deadline)
            .instrument(span)
            .await
        {
            failures.push(BatchItemFailure {
                item_identifier: message.message_id,
            });
        }
    }
    SqsBatchResponse {
        batch_item_failures: failures,
    }
}

/// Handles one message within the invocation's time; false when SQS should redeliver it.
async fn handle_one(state: &AppState, body: &str, deadline: Instant) -> bool {
    let stop_at = deadline.checked_sub(SAFETY_MARGIN).unwrap_or(deadline);
    if Instant::now() >= stop_at {
        let left_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis();
        tracing::warn!(
            left_ms,
            "not started: the invocation's time is nearly up; SQS will redeliver it"
        );
        return false;
    }
    // Boxed: the S3 and sqlx futures inside nest deeper than the compiler's layout limit allows
    // once the Lambda runtime wraps them too.
    match tokio::time::timeout_at(stop_at, Box::pin(handle_message(state, body))).await {
        Ok(Ok(outcomes)) => {
            for (task_id, outcome) in outcomes {
                log_outcome(task_id, &outcome);
            }
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(error.cause_chain = ?e, "failed; SQS will redeliver it");
            false
        }
        Err(_) => {
            tracing::warn!("stopped: the invocation's time is nearly up; SQS will redeliver it");
            false
        }
    }
}

fn log_outcome(task_id: Option<Uuid>, outcome: &Outcome) {
    let task_id = task_id.map(tracing::field::display);
    match outcome {
        Outcome::Completed => tracing::info!(task_id, "task completed"),
        Outcome::Cancelled(reason) => tracing::info!(task_id, reason, "task cancelled"),
        Outcome::AlreadyFinished => {
            tracing::info!(task_id, "task had finished already; nothing to do");
        }
        Outcome::Skipped(reason) => tracing::warn!(task_id, reason, "message consumed unprocessed"),
    }
}

/// Processes one message body: a job, S3 records, the test event, or something malformed.
///
/// # Errors
/// A retryable [`Error`] (database, S3): the message should be redelivered. Every object of
/// the message is processed again then, which is harmless: finished tasks are left alone.
pub async fn handle_message(
    state: &AppState,
    body: &str,
) -> Result<Vec<(Option<Uuid>, Outcome)>, Error> {
    match JobMessage::parse(body) {
        JobMessage::Job(job) => {
            let outcome = process(state, job.task_id, job.draft, &job.bucket, &job.key).await?;
            Ok(vec![(Some(job.task_id), outcome)])
        }
        JobMessage::Created(created) => {
            let mut outcomes = Vec::with_capacity(created.len());
            let incoming = objects::incoming_prefix(state.storage.root());
            for object in created {
                if !object.key.starts_with(&incoming) {
                    // The API queues its own uploads; an event for one would race its transaction.
                    outcomes.push((
                        None,
                        Outcome::Skipped(format!("{} is not a direct upload", object.key)),
                    ));
                    continue;
                }
                match objects::draft_of_upload(state.storage.root(), &object.key) {
                    Some((task_id, draft)) => {
                        let outcome =
                            process(state, task_id, draft, &object.bucket, &object.key).await?;
                        outcomes.push((Some(task_id), outcome));
                    }
                    None => outcomes.push((
                        None,
                        Outcome::Skipped(format!(
                            "{} belongs to no task; the sweeper deletes it after the grace period",
                            object.key
                        )),
                    )),
                }
            }
            Ok(outcomes)
        }
        JobMessage::TestEvent => Ok(vec![(
            None,
            Outcome::Skipped("the S3 test event".to_owned()),
        )]),
        JobMessage::Malformed(reason) => Ok(vec![(
            None,
            Outcome::Skipped(format!("malformed message: {reason}")),
        )]),
    }
}

/// Why an analysis did not finish.
enum Problem {
    /// No retry can help: the task is cancelled with this reason.
    Permanent(String),
    /// Worth retrying.
    Transient(Error),
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(storage::OBJECT) => {
                Self::Permanent("the uploaded file is missing from storage".to_owned())
            }
            other => Self::Transient(other),
        }
    }
}

impl From<Rejected> for Problem {
    fn from(r: Rejected) -> Self {
        Self::Permanent(format!("the file cannot be read as a Word document: {r}"))
    }
}

/// Processes the upload at `bucket`/`key`, draft `draft` of `task_id`, once.
///
/// # Errors
/// A retryable [`Error`] when the database or S3 is unavailable.
pub async fn process(
    state: &AppState,
    task_id: Uuid,
    draft: i32,
    bucket: &str,
    key: &str,
) -> Result<Outcome, Error> {
    let Some(found) = tasks::db::select_draft(&state.db, task_id, draft).await? else {
        return Ok(Outcome::Skipped(
            "the job names an unknown task or draft (a purged one, or a deleted draft)".to_owned(),
        ));
    };
    if found.state != DraftState::Processing {
        return Ok(Outcome::AlreadyFinished);
    }
    let object = StoredObject {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    };
    // The job may only name this draft's own upload, in our own bucket.
    if bucket != state.storage.root().bucket || found.file_path != object.url() {
        return Ok(Outcome::Skipped(
            "the job's object is not this draft's upload".to_owned(),
        ));
    }
    // One more delivery tried (the sweeper gives up by these, not by age); a direct upload that
    // has just arrived moves its task on from `pending`.
    if !lifecycle::attempt(&state.db, task_id, draft, state.clock.now()).await? {
        return Ok(Outcome::AlreadyFinished);
    }
    let declared = u64::try_from(found.file_size).ok();
    let analysis = match analyse(state, key, declared).await {
        Ok(analysis) => analysis,
        Err(Problem::Transient(e)) => return Err(e),
        Err(Problem::Permanent(reason)) => {
            return Ok(
                if lifecycle::fail(&state.db, task_id, draft, &reason).await? {
                    Outcome::Cancelled(reason)
                } else {
                    Outcome::AlreadyFinished
                },
            );
        }
    };
    let result_key = objects::result_key(state.storage.root(), task_id, draft);
    let document = ResultDocument {
        version: 2,
        task_id,
        draft: Some(draft),
        source: object,
        analysis,
    };
    let result = serde_json::to_vec_pretty(&document).map_err(anyhow::Error::from)?;
    let analysis = &document.analysis;
    let result_path = StoredObject {
        bucket: state.storage.root().bucket.clone(),
        key: result_key.clone(),
    }
    .url();
    let done = Completion {
        result_path: &result_path,
        content_type: &analysis.content_type,
        sha256: &analysis.sha256,
        text: analysis.text.as_ref(),
    };
    // Under the task's row lock: a purge waits for this commit, then deletes the result with
    // everything else; a purge that came first left no row, and nothing is written.
    let mut tx = state.db.begin().await?;
    if tasks::db::lock(&mut tx, task_id).await?.is_none() {
        return Ok(Outcome::Skipped(
            "the task was purged while its draft was processed".to_owned(),
        ));
    }
    state
        .storage
        .put(&result_key, result, "application/json")
        .await?;
    if lifecycle::complete(&mut tx, task_id, draft, state.clock.now(), &done).await? {
        tasks::db::show_latest_draft(&mut *tx, task_id).await?;
        tx.commit().await?;
        return Ok(Outcome::Completed);
    }
    tx.commit().await?;
    // Finished meanwhile. A twin's result is the same bytes; a failed draft keeps none.
    let finished = tasks::db::select_draft(&state.db, task_id, draft).await?;
    if finished.is_some_and(|d| d.state == DraftState::Failed) {
        state.storage.delete(&result_key).await?;
    }
    Ok(Outcome::AlreadyFinished)
}

/// Streams the object once through the [`Analyzer`]; a zip is then read as a `.docx` by ranges.
/// An object whose size is not the declared one is refused before it is read.
async fn analyse(state: &AppState, key: &str, declared: Option<u64>) -> Result<Analysis, Problem> {
    let mut object = state.storage.open(key).await?;
    if let (Some(actual), Some(declared)) = (object.size, declared)
        && actual != declared
    {
        return Err(Problem::Permanent(format!(
            "the uploaded file is {actual} bytes, but {declared} were declared"
        )));
    }
    let mut analyzer = Analyzer::default();
    while let Some(chunk) = object.body.next().await {
        analyzer.update(&chunk.map_err(Error::storage)?);
    }
    let mut analysis = analyzer.finish();
    if analysis.content_type == "application/zip"
        && let Some(text) =
            docx_text(state, key, analysis.size_bytes, object.etag.as_deref()).await?
    {
        analysis.content_type = docx::CONTENT_TYPE.to_owned();
        analysis.text = Some(text);
    }
    Ok(analysis)
}

/// The body text of a `.docx`, or `None` for a zip that is not a Word document.
///
/// Read by ranges: the archive's end, its central directory, then the styles part (whose names
/// say which paragraph styles are headings) and the body, each from its local header, inflated
/// chunk by chunk.
async fn docx_text(
    state: &AppState,
    key: &str,
    size: u64,
    etag: Option<&str>,
) -> Result<Option<crate::files::analysis::TextStats>, Problem> {
    let storage = &state.storage;
    let tail_len = size.min(docx::TAIL_BYTES);
    let tail = storage
        .read_range(key, size - tail_len, tail_len, etag)
        .await?;
    let directory = docx::locate_directory(&tail, size)?;
    let listing = storage
        .read_range(key, directory.offset, directory.size, etag)
        .await?;
    let parts = docx::find_parts(&listing, directory)?;
    let Some(body_entry) = parts.body else {
        return Ok(None);
    };
    let styles = match parts.styles {
        None => docx::Styles::default(),
        Some(entry) => {
            let mut styles = docx::StylesText::new(entry)?;
            stream_part(state, key, size, etag, &entry, |chunk| styles.update(chunk)).await?;
            styles.finish()?
        }
    };
    let mut body = BodyText::new(body_entry, &styles)?;
    stream_part(state, key, size, etag, &body_entry, |chunk| {
        body.update(chunk)
    })
    .await?;
    Ok(Some(body.finish()?))
}

/// Streams one part's compressed bytes from the archive into `feed`, chunk by chunk.
async fn stream_part(
    state: &AppState,
    key: &str,
    size: u64,
    etag: Option<&str>,
    entry: &docx::Entry,
    mut feed: impl FnMut(&[u8]) -> Result<(), Rejected>,
) -> Result<(), Problem> {
    let storage = &state.storage;
    let (at, len) = entry.header_range(size)?;
    let header = storage.read_range(key, at, len, etag).await?;
    let (start, len) = entry.data_range(&header, size)?;
    if len > 0 {
        let mut stream = storage.open_range(key, start, len, etag).await?;
        while let Some(chunk) = stream.next().await {
            feed(&chunk.map_err(Error::storage)?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_lambdas_epoch_time_or_cargo_lambdas_timeout() {
        let now_ms = u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis(),
        )
        .expect("fits");
        let left = |deadline: Instant| deadline.saturating_duration_since(Instant::now());
        let from_lambda = left(deadline_in(now_ms + 30_000));
        assert!(from_lambda > Duration::from_secs(29) && from_lambda <= Duration::from_secs(30));
        assert_eq!(
            left(deadline_in(now_ms - 1_000)),
            Duration::ZERO,
            "already past"
        );
        let from_cargo_lambda = left(deadline_in(600_000));
        assert!(from_cargo_lambda > Duration::from_secs(599));
    }
}
