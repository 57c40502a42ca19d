//! The sweeper: scheduled housekeeping that keeps anything from waiting forever.
//!
//! Each run delivers the outbox jobs the create handler could not send, fails the drafts whose
//! job has dead-lettered or was tried as often as the queue allows (never one whose job is still
//! waiting its turn; a task whose status follows that draft is cancelled), settles direct uploads
//! whose URL expired (processed if the object is there, failed if not), deletes objects under
//! `incoming/` that belong to no draft and objects whose create request died before its commit,
//! purges the trash older than `TRASH_RETENTION_DAYS`, sweeps the deletion outbox, mails the
//! password reset links asked for, and purges what no rule reads any more: expired sessions,
//! delivered outbox jobs, settled reset requests and expired reset tokens. Every duty runs
//! whether or not another failed.

use std::time::Duration;

use chrono::TimeDelta;
use serde::Serialize;
use uuid::Uuid;

use crate::{
    AppState, Config, Error,
    files::{
        message::{FileJob, JobMessage},
        queue::JobQueue,
        storage::StoredObject,
    },
    processor::FUNCTION_TIMEOUT,
    tasks::{self, deletions, edit, lifecycle, objects, outbox},
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

/// After the last attempt the queue allows, how long before the sweeper gives up on the task.
///
/// That attempt may still run for up to the processor's timeout, and its job is dead-lettered
/// once its visibility timeout has passed.
pub fn give_up_after_last_attempt(config: &Config) -> TimeDelta {
    TimeDelta::from_std(config.job_visibility_timeout + FUNCTION_TIMEOUT).unwrap_or(TimeDelta::MAX)
}

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
    /// Drafts given up on (dead-lettered, tried too often, never uploaded); a task whose status
    /// follows such a draft is cancelled with it. The `TasksCancelled` metric.
    pub tasks_cancelled: usize,
    /// Expired direct uploads whose object was there after all, queued for processing.
    pub late_uploads_queued: usize,
    pub orphans_deleted: usize,
    /// Objects put by a create request that died before its task was committed.
    pub unfinished_uploads_deleted: usize,
    /// Tasks purged from the trash.
    pub trash_purged: usize,
    /// Objects of purged tasks and deleted drafts deleted from S3.
    pub objects_deleted: usize,
    /// Prefixes still waiting in the deletion outbox after this run (each waits for its second
    /// sweep one visibility timeout after its first).
    pub pending_deletions: i64,
    /// Password reset links mailed this run.
    pub reset_emails_sent: usize,
    /// Reset emails SES did not take this run; each is tried again with a backoff.
    pub reset_emails_failed: usize,
    pub sessions_purged: u64,
    /// Settled reset requests and expired reset tokens purged.
    pub reset_records_purged: u64,
    pub outbox_jobs_purged: u64,
    /// Outbox jobs still unsent after this run, and the age of the oldest in seconds (0 if none):
    /// a job stays unsent only while SQS refuses it, so an age of minutes means an outage.
    pub unsent_jobs: i64,
    pub oldest_unsent_secs: i64,
    /// The duties that failed this run, each with its error.
    pub failed_duties: Vec<String>,
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
                        {"Name": "FailedDuties", "Unit": "Count"},
                        {"Name": "FailedResetEmails", "Unit": "Count"},
                    ],
                }],
            },
            "FunctionName": function,
            "UnsentOutboxJobs": self.unsent_jobs,
            "OldestUnsentOutboxJobAge": self.oldest_unsent_secs,
            "TasksCancelled": self.tasks_cancelled,
            "FailedDuties": self.failed_duties.len(),
            "FailedResetEmails": self.reset_emails_failed,
        })
        .to_string()
    }
}

/// The CloudWatch namespace of the sweeper's metrics (template.yaml's alarm reads it).
pub const METRICS_NAMESPACE: &str = "Writers";

/// Runs every duty once; see [`run_reporting`].
///
/// # Errors
/// When any duty failed, after all have run; the next run tries again.
pub async fn run(state: &AppState) -> Result<SweepReport, Error> {
    let (report, outcome) = run_reporting(state).await;
    outcome.map(|()| report)
}

/// Runs every duty once. Each runs whatever the others did and says on its own how it went; the
/// report covers the duties that ran even when some failed (the Lambda prints its metrics).
///
/// The outcome is an error when any duty failed, after all have run ([`Error::Unexpected`]
/// naming them, or the error that kept the database from being reached at all), so the
/// function's errors alarm fires.
pub async fn run_reporting(state: &AppState) -> (SweepReport, Result<(), Error>) {
    let mut report = SweepReport::default();
    if let Err(e) = state.database_ready().await {
        report
            .failed_duties
            .push(format!("reach the database: {e}"));
        return (report, Err(e));
    }
    let mut failed = Vec::new();
    let mut note = |duty: &'static str, outcome: Result<(), Error>| {
        if let Err(e) = outcome {
            tracing::error!(duty, error.cause_chain = ?e, "sweeper duty failed; the others ran");
            failed.push(format!("{duty}: {e}"));
        }
    };
    note(
        "deliver outbox jobs",
        outbox::deliver_due(state, BATCH)
            .await
            .map(|n| report.jobs_delivered = n),
    );
    if let Some(dead_letters) = &state.dead_letters {
        note(
            "cancel dead-lettered tasks",
            cancel_dead_lettered(state, dead_letters)
                .await
                .map(|(read, cancelled)| {
                    report.dead_letters_read = read;
                    report.tasks_cancelled += cancelled;
                }),
        );
    }
    note(
        "cancel tasks tried too often",
        cancel_exhausted(state)
            .await
            .map(|n| report.tasks_cancelled += n),
    );
    note(
        "settle expired direct uploads",
        settle_expired_uploads(state)
            .await
            .map(|(queued, cancelled)| {
                report.late_uploads_queued = queued;
                report.tasks_cancelled += cancelled;
            }),
    );
    note(
        "delete orphaned direct uploads",
        delete_orphans(state)
            .await
            .map(|n| report.orphans_deleted = n),
    );
    note(
        "delete unfinished uploads",
        delete_unfinished_uploads(state)
            .await
            .map(|n| report.unfinished_uploads_deleted = n),
    );
    let trash_before = state.clock.now()
        - TimeDelta::from_std(state.config.trash_retention).unwrap_or(TimeDelta::MAX);
    note(
        "purge old trash",
        edit::purge_trashed_before(state, trash_before, BATCH)
            .await
            .map(|(purged, deleted)| {
                report.trash_purged = purged;
                report.objects_deleted += deleted;
            }),
    );
    note(
        "delete objects of purged tasks and deleted drafts",
        deletions::sweep_due(state, BATCH)
            .await
            .map(|n| report.objects_deleted += n),
    );
    note(
        "mail password reset links",
        users::reset::settle_due(state, BATCH).await.map(|settled| {
            report.reset_emails_sent = settled.sent;
            report.reset_emails_failed = settled.failed;
        }),
    );
    let old = state.clock.now() - RETENTION;
    note(
        "purge reset requests and tokens",
        users::reset::purge_before(&state.db, old)
            .await
            .map(|n| report.reset_records_purged = n),
    );
    note(
        "purge expired sessions",
        users::db::delete_sessions_expired_before(&state.db, old)
            .await
            .map(|n| report.sessions_purged = n),
    );
    note(
        "purge delivered outbox jobs",
        outbox::delete_sent_before(&state.db, old)
            .await
            .map(|n| report.outbox_jobs_purged = n),
    );
    note(
        "measure the deletion outbox",
        deletions::pending(&state.db)
            .await
            .map(|n| report.pending_deletions = n),
    );
    note(
        "measure the outbox",
        outbox::unsent(&state.db).await.map(|(unsent, oldest)| {
            report.unsent_jobs = unsent;
            report.oldest_unsent_secs =
                oldest.map_or(0, |at| (state.clock.now() - at).num_seconds().max(0));
        }),
    );
    if report.jobs_delivered > 0
        || report.tasks_cancelled > 0
        || report.late_uploads_queued > 0
        || report.orphans_deleted > 0
        || report.unfinished_uploads_deleted > 0
        || report.trash_purged > 0
        || report.objects_deleted > 0
        || report.reset_emails_sent > 0
        || report.reset_emails_failed > 0
    {
        tracing::info!(?report, "sweep done");
    }
    if failed.is_empty() {
        return (report, Ok(()));
    }
    let error = anyhow::anyhow!(
        "{} sweeper duties failed: {}",
        failed.len(),
        failed.join("; ")
    );
    report.failed_duties = failed;
    (report, Err(error.into()))
}

/// Fails the drafts whose job the processor received as often as the queue allows, the last
/// time long enough ago that it is over (see [`give_up_after_last_attempt`]).
async fn cancel_exhausted(state: &AppState) -> Result<usize, Error> {
    let last_before = state.clock.now() - give_up_after_last_attempt(&state.config);
    let exhausted = lifecycle::fail_exhausted(
        &state.db,
        state.config.job_max_receives,
        last_before,
        FAILED_REPEATEDLY,
    )
    .await?;
    for (task_id, draft) in &exhausted {
        tracing::warn!(%task_id, draft, "draft failed: every delivery its job was allowed has failed");
    }
    Ok(exhausted.len())
}

/// Direct uploads whose URL expired more than `UPLOAD_GRACE_SECS` ago: if the object is really
/// absent the task is cancelled; if it is there (its notification was lost), it is queued.
async fn settle_expired_uploads(state: &AppState) -> Result<(usize, usize), Error> {
    let expired = tasks::db::expired_uploads(
        &state.db,
        state.clock.now() - upload_grace(&state.config),
        i64::try_from(UPLOADS_PER_RUN).unwrap_or(100),
    )
    .await?;
    let (mut queued, mut cancelled) = (0, 0);
    for (task_id, draft, file_path) in expired {
        let Some(object) = StoredObject::parse(&file_path) else {
            continue;
        };
        if state.storage.exists(&object.key).await? {
            let job = serde_json::to_string(&FileJob::new(task_id, draft, &object))
                .map_err(anyhow::Error::from)?;
            state.jobs.send(&job).await?;
            tracing::warn!(%task_id, draft, "direct upload arrived without a notification; queued");
            queued += 1;
        } else if lifecycle::fail(&state.db, task_id, draft, UPLOAD_NOT_RECEIVED).await? {
            tracing::info!(%task_id, draft, "draft failed: its upload never arrived");
            cancelled += 1;
        }
    }
    Ok((queued, cancelled))
}

/// `UPLOAD_GRACE_SECS` as a span of time.
pub fn upload_grace(config: &Config) -> TimeDelta {
    TimeDelta::from_std(config.upload_grace).unwrap_or(TimeDelta::MAX)
}

/// Deletes objects under `incoming/` older than `UPLOAD_GRACE_SECS` that are no draft's file, at
/// most [`UPLOADS_PER_RUN`]. Every page of the listing is read until that many are found, so any
/// number of completed uploads (objects a draft owns) cannot hide an orphan behind them.
async fn delete_orphans(state: &AppState) -> Result<usize, Error> {
    let root = state.storage.root();
    let before = std::time::SystemTime::from(state.clock.now() - upload_grace(&state.config));
    let prefix = objects::incoming_prefix(root);
    let url = |key: &str| {
        StoredObject {
            bucket: root.bucket.clone(),
            key: key.to_owned(),
        }
        .url()
    };
    let (mut deleted, mut after) = (0, None::<String>);
    loop {
        let (keys, next) = state
            .storage
            .list_page_older_than(&prefix, before, after.as_deref())
            .await?;
        if !keys.is_empty() {
            let paths: Vec<String> = keys.iter().map(|k| url(k)).collect();
            let claimed = tasks::db::claimed_paths(&state.db, &paths).await?;
            for key in keys.iter().filter(|k| !claimed.contains(&url(k))) {
                state.storage.delete(key).await?;
                tracing::warn!(%key, "orphaned direct upload deleted");
                deleted += 1;
                if deleted >= UPLOADS_PER_RUN {
                    return Ok(deleted);
                }
            }
        }
        match next {
            Some(last) => after = Some(last),
            None => return Ok(deleted),
        }
    }
}

/// Deletes the objects of uploads whose create request died between its PUT and its commit:
/// their key was recorded before the PUT, and the commit would have removed the record.
///
/// A PUT whose request gave up may still land a moment later, so a record is kept for one more
/// `UNFINISHED_UPLOAD_SECS` after its object was first deleted, and its object is deleted again
/// on every run until then; returns how many objects this run deleted.
async fn delete_unfinished_uploads(state: &AppState) -> Result<usize, Error> {
    let now = state.clock.now();
    let after = TimeDelta::from_std(state.config.unfinished_upload_after).unwrap_or(TimeDelta::MAX);
    let stale = tasks::db::stale_pending_uploads(
        &state.db,
        now - after,
        i64::try_from(UPLOADS_PER_RUN).unwrap_or(100),
    )
    .await?;
    for (key, reserved_at) in &stale {
        state.storage.delete(key).await?;
        if *reserved_at < now - after - after {
            tasks::db::delete_pending_upload(&state.db, key).await?;
        } else {
            tracing::warn!(%key, "upload of a task that was never created deleted");
        }
    }
    Ok(stale.len())
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
            .await
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
            for (task_id, draft) in drafts_named(state, message.body.as_deref().unwrap_or_default())
            {
                if lifecycle::fail(&state.db, task_id, draft, FAILED_REPEATEDLY).await? {
                    tracing::warn!(%task_id, draft, "draft failed: its job is in the dead-letter queue");
                    cancelled += 1;
                }
            }
        }
    }
    Ok((read, cancelled))
}

/// The drafts a job message is about: a dead letter read again (it stays 14 days) names its
/// draft, which has failed already, so it moves nothing, however its task has moved since.
fn drafts_named(state: &AppState, body: &str) -> Vec<(Uuid, i32)> {
    match JobMessage::parse(body) {
        JobMessage::Job(job) => vec![(job.task_id, job.draft)],
        JobMessage::Created(created) => created
            .iter()
            .filter_map(|o| objects::draft_of_upload(state.storage.root(), &o.key))
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
