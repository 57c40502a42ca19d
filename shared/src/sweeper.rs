//! The sweeper: scheduled housekeeping that keeps anything from waiting forever.
//!
//! Each run delivers the outbox jobs the create handler could not send, cancels the tasks whose
//! job has dead-lettered, cancels the tasks that have been `in_progress` for longer than SQS
//! could still be redelivering their job, settles direct uploads whose URL expired (processed if
//! the object is there, cancelled if not), deletes objects under `incoming/` that belong to
//! no task, and purges what no rule reads any more: expired sessions and delivered outbox jobs.

use std::time::Duration;

use chrono::TimeDelta;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    AppState, Error,
    files::{
        message::{FileJob, JobMessage},
        queue::JobQueue,
        storage::StoredObject,
    },
    tasks::{self, lifecycle, objects, outbox},
    users,
};

/// Jobs delivered per run; more wait for the next run a minute later.
const BATCH: i64 = 100;

/// Dead letters read per run, ten at a time.
const DEAD_LETTERS_PER_RUN: usize = 100;

/// What a cancelled task's `error` says when its job never succeeded.
pub const FAILED_REPEATEDLY: &str = "processing failed repeatedly";

/// How long a read dead letter stays hidden. It is never deleted: it stays in the dead-letter
/// queue (14 days) to be inspected or redriven; cancelling its task again is a no-op.
const DEAD_LETTER_HIDDEN: Duration = Duration::from_secs(12 * 60 * 60);

/// A task `in_progress` this long will not finish.
///
/// The queue's redrive window (5 receives × a 360 s visibility timeout = 30 min) has passed, plus
/// a margin; tests/api/template.rs checks it against template.yaml.
pub const GIVE_UP_AFTER: TimeDelta = TimeDelta::minutes(35);

/// How long after its URL expires a direct upload is still awaited (a PUT that started in time
/// may finish later), and how old an object under `incoming/` must be before it counts as orphaned.
pub const UPLOAD_GRACE: TimeDelta = TimeDelta::minutes(10);

/// What a cancelled task's `error` says when its direct upload never came.
pub const UPLOAD_NOT_RECEIVED: &str = "upload not received";

/// Expired uploads settled, and orphaned objects deleted, per run.
const UPLOADS_PER_RUN: usize = 100;

/// How long expired sessions and delivered outbox jobs are kept: a day to look into an incident.
pub const RETENTION: TimeDelta = TimeDelta::days(1);

/// What one run did.
#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub jobs_delivered: usize,
    pub dead_letters_read: usize,
    pub tasks_cancelled: usize,
    /// Expired direct uploads whose object was there after all, queued for processing.
    pub late_uploads_queued: usize,
    pub orphans_deleted: usize,
    pub sessions_purged: u64,
    pub outbox_jobs_purged: u64,
    /// Outbox jobs still unsent after this run, and the age of the oldest in seconds (0 if none):
    /// a job stays unsent only while SQS refuses it, so an age of minutes means an outage.
    pub unsent_jobs: i64,
    pub oldest_unsent_secs: i64,
}

impl SweepReport {
    /// The run's metrics as one CloudWatch embedded-metric-format log line: printed to stdout by
    /// the Lambda, CloudWatch turns it into metrics in the `Writers` namespace with no API call
    /// (and no network path to CloudWatch) from inside the VPC. `function` is the dimension.
    pub fn metrics_line(&self, function: &str, at: chrono::DateTime<chrono::Utc>) -> String {
        serde_json::json!({
            "_aws": {
                "Timestamp": at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        {"Name": "UnsentOutboxJobs", "Unit": "Count"},
                        {"Name": "OldestUnsentOutboxJobAge", "Unit": "Seconds"},
                        {"Name": "TasksCancelled", "Unit": "Count"},
                    ],
                }],
            },
            "FunctionName": function,
            "UnsentOutboxJobs": self.unsent_jobs,
            "OldestUnsentOutboxJobAge": self.oldest_unsent_secs,
            "TasksCancelled": self.tasks_cancelled,
        })
        .to_string()
    }
}

/// The CloudWatch namespace of the sweeper's metrics (template.yaml's alarm reads it).
pub const METRICS_NAMESPACE: &str = "Writers";

/// Runs every duty once.
///
/// # Errors
/// [`Error::Database`] when the database is down, [`Error::Queue`] when the dead-letter queue
/// cannot be read; the next run tries again.
pub async fn run(state: &AppState) -> Result<SweepReport, Error> {
    state.database_ready().await?;
    let mut report = SweepReport {
        jobs_delivered: outbox::deliver_due(state, BATCH).await?,
        ..SweepReport::default()
    };
    if let Some(dead_letters) = &state.dead_letters {
        let (read, cancelled) = cancel_dead_lettered(state, dead_letters).await?;
        report.dead_letters_read = read;
        report.tasks_cancelled += cancelled;
    }
    let stuck = lifecycle::cancel_stuck(
        &state.db,
        state.clock.now() - GIVE_UP_AFTER,
        FAILED_REPEATEDLY,
    )
    .await?;
    for task_id in &stuck {
        tracing::warn!(%task_id, "task cancelled: still in progress long after its job was sent");
    }
    report.tasks_cancelled += stuck.len();
    let (queued, cancelled) = settle_expired_uploads(state).await?;
    report.late_uploads_queued = queued;
    report.tasks_cancelled += cancelled;
    report.orphans_deleted = delete_orphans(state).await?;
    let old = state.clock.now() - RETENTION;
    report.sessions_purged = users::db::delete_sessions_expired_before(&state.db, old).await?;
    report.outbox_jobs_purged = outbox::delete_sent_before(&state.db, old).await?;
    let (unsent, oldest) = outbox::unsent(&state.db).await?;
    report.unsent_jobs = unsent;
    report.oldest_unsent_secs =
        oldest.map_or(0, |at| (state.clock.now() - at).num_seconds().max(0));
    if report.jobs_delivered > 0
        || report.tasks_cancelled > 0
        || report.late_uploads_queued > 0
        || report.orphans_deleted > 0
    {
        tracing::info!(?report, "sweep done");
    }
    Ok(report)
}

/// Direct uploads whose URL expired more than [`UPLOAD_GRACE`] ago: if the object is really
/// absent the task is cancelled; if it is there (its notification was lost), it is queued.
async fn settle_expired_uploads(state: &AppState) -> Result<(usize, usize), Error> {
    let expired = tasks::db::expired_uploads(
        &state.db,
        state.clock.now() - UPLOAD_GRACE,
        i64::try_from(UPLOADS_PER_RUN).unwrap_or(100),
    )
    .await?;
    let (mut queued, mut cancelled) = (0, 0);
    for (task_id, file_path) in expired {
        let Some(object) = StoredObject::parse(&file_path) else {
            continue;
        };
        if state.storage.exists(&object.key).await? {
            let job = serde_json::to_string(&FileJob::new(task_id, &object))
                .map_err(anyhow::Error::from)?;
            state.jobs.send(&job).await?;
            tracing::warn!(%task_id, "direct upload arrived without a notification; queued");
            queued += 1;
        } else if lifecycle::cancel(&state.db, task_id, UPLOAD_NOT_RECEIVED).await? {
            tracing::info!(%task_id, "task cancelled: its upload never arrived");
            cancelled += 1;
        }
    }
    Ok((queued, cancelled))
}

/// Deletes objects under `incoming/` older than [`UPLOAD_GRACE`] that are no task's file.
async fn delete_orphans(state: &AppState) -> Result<usize, Error> {
    let root = state.storage.root();
    let before = std::time::SystemTime::from(state.clock.now() - UPLOAD_GRACE);
    let keys = state
        .storage
        .list_older_than(&objects::incoming_prefix(root), before, UPLOADS_PER_RUN)
        .await?;
    if keys.is_empty() {
        return Ok(0);
    }
    let url = |key: &str| {
        StoredObject {
            bucket: root.bucket.clone(),
            key: key.to_owned(),
        }
        .url()
    };
    let paths: Vec<String> = keys.iter().map(|k| url(k)).collect();
    let claimed = tasks::db::claimed_paths(&state.db, &paths).await?;
    let mut deleted = 0;
    for key in keys.iter().filter(|k| !claimed.contains(&url(k))) {
        state.storage.delete(key).await?;
        tracing::warn!(%key, "orphaned direct upload deleted");
        deleted += 1;
    }
    Ok(deleted)
}

/// Reads the dead-letter queue and cancels each task whose job is there.
async fn cancel_dead_lettered(
    state: &AppState,
    dead_letters: &JobQueue,
) -> Result<(usize, usize), Error> {
    let (mut read, mut cancelled) = (0, 0);
    while read < DEAD_LETTERS_PER_RUN {
        let messages = dead_letters
            .client()
            .receive_message()
            .queue_url(dead_letters.url())
            .max_number_of_messages(10)
            .visibility_timeout(i32::try_from(DEAD_LETTER_HIDDEN.as_secs()).unwrap_or(43_200))
            .send()
            .await
            .map_err(Error::queue)?
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        read += messages.len();
        for message in messages {
            for task_id in tasks_named(state, message.body.as_deref().unwrap_or_default()) {
                if lifecycle::cancel(&state.db, task_id, FAILED_REPEATEDLY).await? {
                    tracing::warn!(%task_id, "task cancelled: its job is in the dead-letter queue");
                    cancelled += 1;
                }
            }
        }
    }
    Ok((read, cancelled))
}

/// The tasks a job message is about.
fn tasks_named(state: &AppState, body: &str) -> Vec<Uuid> {
    match JobMessage::parse(body) {
        JobMessage::Job(job) => vec![job.task_id],
        JobMessage::Created(created) => created
            .iter()
            .filter_map(|o| objects::task_of_upload(state.storage.root(), &o.key))
            .collect(),
        JobMessage::TestEvent | JobMessage::Malformed(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_line_is_embedded_metric_format() {
        let report = SweepReport {
            unsent_jobs: 3,
            oldest_unsent_secs: 420,
            tasks_cancelled: 1,
            ..SweepReport::default()
        };
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("a time");
        let line: serde_json::Value =
            serde_json::from_str(&report.metrics_line("writers-sweeper", at)).expect("JSON");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(directive["Namespace"], METRICS_NAMESPACE);
        assert_eq!(directive["Dimensions"][0][0], "FunctionName");
        assert_eq!(line["FunctionName"], "writers-sweeper");
        // Every declared metric has its value at the top level, as EMF requires.
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("a name");
            assert!(line[name].is_number(), "{name} has no value");
        }
        assert_eq!(line["OldestUnsentOutboxJobAge"], 420);
    }
}
