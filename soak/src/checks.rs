//! The end of a run: wait for the queue to drain and the sweeper's grace periods to pass, then
//! check every invariant against the soak's Postgres and bucket, and write the report.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write,
    sync::Arc,
    time::Duration,
};

use tokio::time::{Instant, sleep};
use uuid::Uuid;

use crate::{
    Settings,
    faults::Stack,
    http::sha256_hex,
    run::{FaultKind, Put, Records, Run, Sample, Target},
};

/// The lockout: failed logins per email within 15 minutes before `429`.
const LOCKOUT_LIMIT: usize = 10;
const LOCKOUT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the cancellation of a direct upload that never came says (the sweeper's words).
const UPLOAD_NOT_RECEIVED: &str = "upload not received";
/// The start of what a cancellation for a file no processor can read says.
const UNREADABLE: &str = "the file cannot be read";

#[derive(Debug, Default)]
pub struct Drained {
    pub waited: Duration,
    pub complete: bool,
    pub state: String,
}

async fn count(stack: &Stack, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&stack.db)
        .await
        .unwrap_or(-1)
}

/// Waits until nothing is left to happen: the jobs queue empty, every dead letter read, no job
/// unsent, no task with a file still pending or in progress, and the grace periods passed.
pub async fn drain(stack: &Stack, run: &Run, settings: &Settings) -> Drained {
    let start = Instant::now();
    let last_signed = run.with(|r| r.last_upload_signed).unwrap_or_default();
    let sweeps = settings.sweep_interval * 2;
    let settle_from = run.started + last_signed.max(run.now().saturating_sub(settings.upload_ttl));
    let earliest =
        settle_from + settings.upload_ttl + settings.upload_grace + sweeps + Duration::from_secs(2);
    let deadline = earliest.max(Instant::now()) + settings.drain_limit;
    eprintln!(
        "soak: waiting for the queue to drain and the grace periods ({}s URL + {}s grace + 2 sweeps) to pass",
        settings.upload_ttl.as_secs(),
        settings.upload_grace.as_secs()
    );
    let mut last_print = Instant::now();
    loop {
        let jobs = stack.queue_depth(&stack.queue_url).await;
        let dead = stack.queue_depth(&stack.dead_letter_url).await;
        let open = count(
            stack,
            "select count(*) from tasks where status in ('PENDING', 'IN_PROGRESS') and file_path is not null",
        )
        .await;
        let unsent = count(
            stack,
            "select count(*) from outbox_jobs where sent_at is null",
        )
        .await;
        // Uploads whose create request died after its PUT: the sweeper deletes their objects,
        // and forgets them one UNFINISHED_UPLOAD_SECS later.
        let unfinished = count(stack, "select count(*) from pending_uploads").await;
        let state = format!(
            "jobs queue {}; dead-letter queue {}; {open} task(s) with a file still pending or in progress; {unsent} outbox job(s) unsent; {unfinished} unfinished upload(s)",
            jobs.map_or("unreadable".to_owned(), |(v, n, d)| format!(
                "{v} waiting, {n} in flight, {d} delayed"
            )),
            dead.map_or("unreadable".to_owned(), |(v, n, _)| format!(
                "{v} unread, {n} read"
            )),
        );
        let quiet = jobs == Some((0, 0, 0))
            && dead.is_some_and(|(v, _, _)| v == 0)
            && open == 0
            && unsent == 0
            && unfinished == 0;
        if quiet && Instant::now() >= earliest {
            return Drained {
                waited: start.elapsed(),
                complete: true,
                state,
            };
        }
        if Instant::now() >= deadline {
            eprintln!(
                "soak: not drained after {:.0}s: {state}",
                start.elapsed().as_secs_f64()
            );
            return Drained {
                waited: start.elapsed(),
                complete: false,
                state,
            };
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "soak: draining ({:.0}s): {state}",
                start.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        sleep(Duration::from_secs(1)).await;
    }
}

/// One row of the invariants' table.
pub struct Row {
    pub invariant: &'static str,
    pub seen: usize,
    pub note: String,
}

/// Everything the report prints.
pub struct Verdict {
    pub rows: Vec<Row>,
    pub details: Vec<String>,
    pub info: Vec<String>,
}

impl Verdict {
    pub fn violations(&self) -> usize {
        self.rows.iter().map(|r| r.seen).sum()
    }
}

/// id, owner's email, status, `file_path`, `result_path`, `sha256`, `error`.
type TaskTuple = (
    Uuid,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

struct TaskRow {
    email: String,
    status: String,
    file_path: Option<String>,
    result_path: Option<String>,
    sha256: Option<String>,
    error: Option<String>,
}

fn overlaps(sample: &Sample, window: (Duration, Duration)) -> bool {
    sample.start <= window.1 && sample.start + sample.took >= window.0
}

fn key_of(url: &str, bucket: &str) -> Option<String> {
    url.strip_prefix(&format!("s3://{bucket}/"))
        .map(str::to_owned)
}

/// The most failed logins of one email inside any 15-minute window.
fn worst_window(mut times: Vec<Duration>) -> usize {
    times.sort();
    let mut worst = 0;
    let mut first = 0;
    for last in 0..times.len() {
        while times[last] - times[first] >= LOCKOUT_WINDOW {
            first += 1;
        }
        worst = worst.max(last - first + 1);
    }
    worst
}

#[allow(clippy::too_many_lines)]
pub async fn check(stack: &Arc<Stack>, records: &Records) -> anyhow::Result<Verdict> {
    let mut details = Vec::new();
    let mut info = Vec::new();
    let windows: Vec<(FaultKind, (Duration, Duration))> = records
        .faults
        .iter()
        .map(|f| (f.kind, f.window()))
        .collect();

    // 1. Server errors.
    let mut server_errors = 0;
    let mut unanswered = 0;
    let mut s3_errors = 0;
    for s in &records.samples {
        let in_fault = |pred: fn(FaultKind) -> bool| {
            windows
                .iter()
                .any(|(kind, w)| pred(*kind) && overlaps(s, *w))
        };
        match (s.target, s.status) {
            (Target::Api, Some(status)) if status >= 500 => {
                let tolerated = status == 503 && s.retry_after && in_fault(|_| true);
                if !tolerated {
                    server_errors += 1;
                    if server_errors <= 15 {
                        details.push(format!(
                            "5xx: at {:.1}s {} answered {status}{} {}: {}",
                            s.start.as_secs_f64(),
                            s.kind,
                            if s.retry_after {
                                " with Retry-After"
                            } else {
                                " without Retry-After"
                            },
                            if in_fault(|_| true) {
                                "during a fault"
                            } else {
                                "outside any fault"
                            },
                            s.detail.as_deref().unwrap_or("")
                        ));
                    }
                }
            }
            (Target::S3, Some(status)) if status >= 500 => s3_errors += 1,
            (target, None) => {
                let tolerated = match target {
                    Target::Api => in_fault(FaultKind::api_may_be_down),
                    Target::S3 => in_fault(FaultKind::s3_may_be_down),
                };
                if !tolerated {
                    unanswered += 1;
                    if unanswered <= 15 {
                        details.push(format!(
                            "unanswered: at {:.1}s {} ({:?}): {}",
                            s.start.as_secs_f64(),
                            s.kind,
                            target,
                            s.failure.as_deref().unwrap_or("")
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if s3_errors > 0 {
        info.push(format!(
            "{s3_errors} presigned S3 request(s) answered 5xx by LocalStack"
        ));
    }

    // The database's view of every task, and the bucket's of every object.
    let rows: Vec<TaskTuple> = sqlx::query_as(
        "select t.id, u.email, t.status::text, t.file_path, t.result_path, t.sha256, t.error
         from tasks t join users u on u.id = t.user_id",
    )
    .fetch_all(&stack.db)
    .await?;
    let tasks: HashMap<Uuid, TaskRow> = rows
        .into_iter()
        .map(
            |(id, email, status, file_path, result_path, sha256, error)| {
                (
                    id,
                    TaskRow {
                        email,
                        status,
                        file_path,
                        result_path,
                        sha256,
                        error,
                    },
                )
            },
        )
        .collect();
    let objects = list_objects(stack).await?;

    // 2. Every accepted task ended as it must.
    let mut unsettled = 0;
    let mut note = |details: &mut Vec<String>, what: String| {
        unsettled += 1;
        if unsettled <= 20 {
            details.push(format!("task: {what}"));
        }
    };
    let mut with_file = 0;
    for tracked in records.tasks.values() {
        let Some(row) = tasks.get(&tracked.id) else {
            note(
                &mut details,
                format!(
                    "{} accepted for {} is not in the database",
                    tracked.id, tracked.email
                ),
            );
            continue;
        };
        let Some(sent) = &tracked.file else { continue };
        with_file += 1;
        let error = row.error.as_deref().unwrap_or("");
        let right = match (row.status.as_str(), tracked.direct) {
            ("COMPLETED", None | Some(Put::Stored | Put::Unknown)) => true,
            ("CANCELLED", None) => sent.unreadable && error.starts_with(UNREADABLE),
            ("CANCELLED", Some(Put::Never | Put::Failed | Put::Unknown)) => {
                error == UPLOAD_NOT_RECEIVED
            }
            _ => false,
        };
        if !right {
            note(
                &mut details,
                format!(
                    "{} ({}, {}) is {}{}",
                    tracked.id,
                    tracked.email,
                    match tracked.direct {
                        None if sent.unreadable => "multipart, the zip bomb".to_owned(),
                        None => "multipart".to_owned(),
                        Some(put) => format!("direct upload, PUT {put:?}"),
                    },
                    row.status.to_lowercase(),
                    if error.is_empty() {
                        String::new()
                    } else {
                        format!(": {error:?}")
                    }
                ),
            );
        }
    }
    // Tasks whose creation the client never heard of (an answer lost to a fault) must settle too.
    let mut unheard = 0;
    for (id, row) in &tasks {
        if records.tasks.contains_key(id) || row.file_path.is_none() {
            continue;
        }
        let error = row.error.as_deref().unwrap_or("");
        let direct = row
            .file_path
            .as_deref()
            .is_some_and(|p| p.contains("/incoming/"));
        let right = row.status == "COMPLETED"
            || (row.status == "CANCELLED" && direct && error == UPLOAD_NOT_RECEIVED);
        if !right {
            unheard += 1;
            details.push(format!(
                "task never acknowledged to its client: {id} ({}) is {} {error:?}",
                row.email,
                row.status.to_lowercase()
            ));
        }
    }
    info.push(format!(
        "{} tasks accepted ({with_file} with a file); {} tasks in the database",
        records.tasks.len(),
        tasks.len()
    ));

    // 3. Objects: none missing, none unowned.
    let mut owned: HashSet<String> = HashSet::new();
    let mut missing = 0;
    for (id, row) in &tasks {
        let file_key = row
            .file_path
            .as_deref()
            .and_then(|p| key_of(p, &stack.bucket));
        let result_key = row
            .result_path
            .as_deref()
            .and_then(|p| key_of(p, &stack.bucket));
        let never_came =
            row.status == "CANCELLED" && row.error.as_deref() == Some(UPLOAD_NOT_RECEIVED);
        let pending_upload = row.status == "PENDING";
        if let Some(key) = &file_key {
            owned.insert(key.clone());
            if !objects.contains_key(key) && !never_came && !pending_upload {
                missing += 1;
                details.push(format!(
                    "missing: task {id} ({}) names {key}, which is not in the bucket",
                    row.status.to_lowercase()
                ));
            }
        }
        if let Some(key) = &result_key {
            owned.insert(key.clone());
            if !objects.contains_key(key) {
                missing += 1;
                details.push(format!(
                    "missing: task {id}'s result {key} is not in the bucket"
                ));
            }
        }
    }
    let unowned: Vec<&String> = objects.keys().filter(|k| !owned.contains(*k)).collect();
    // Evidence for the report: an unowned key the API recorded before its PUT (migration 0008's
    // `pending_uploads`, when the schema has it) is one whose create request failed after it.
    let reserved: HashMap<String, chrono::DateTime<chrono::Utc>> =
        sqlx::query_as::<_, (String, chrono::DateTime<chrono::Utc>)>(
            "select object_key, reserved_at from pending_uploads",
        )
        .fetch_all(&stack.db)
        .await
        .map(|rows| rows.into_iter().collect())
        .unwrap_or_default();
    for key in unowned.iter().take(20) {
        details.push(format!(
            "unowned: {key} ({} bytes) belongs to no task{}",
            objects[*key],
            reserved.get(*key).map_or(String::new(), |at| format!(
                "; pending_uploads has it, reserved at {} ({:.0} s before this check)",
                at.format("%H:%M:%S%.3f"),
                (chrono::Utc::now() - *at).as_seconds_f64()
            ))
        ));
    }
    if !reserved.is_empty() {
        info.push(format!("{} row(s) left in pending_uploads", reserved.len()));
    }
    info.push(format!("{} objects in the bucket", objects.len()));

    // 4. One result per task: what clients read, what is stored, what the row says, and the
    // bytes sent all agree.
    let mut twice: BTreeMap<Uuid, String> = BTreeMap::new();
    for incident in records
        .results_differing
        .iter()
        .chain(&records.downloads_differing)
    {
        if let Some(id) = incident
            .what
            .strip_prefix("task ")
            .and_then(|t| t.get(..36))
            .and_then(|t| t.parse().ok())
        {
            twice.entry(id).or_insert_with(|| incident.what.clone());
        }
    }
    let completed: Vec<(Uuid, String, String, Option<String>)> = tasks
        .iter()
        .filter(|(_, row)| row.status == "COMPLETED")
        .filter_map(|(id, row)| {
            let file = key_of(row.file_path.as_deref()?, &stack.bucket)?;
            let result = key_of(row.result_path.as_deref()?, &stack.bucket)?;
            Some((*id, file, result, row.sha256.clone()))
        })
        .collect();
    let mut checks = tokio::task::JoinSet::new();
    let mut pending = completed.into_iter();
    let mut fetched = Vec::new();
    loop {
        while checks.len() < 16 {
            let Some((id, file, result, sha)) = pending.next() else {
                break;
            };
            let stack = stack.clone();
            checks.spawn(async move {
                let file_sha = get(&stack, &file).await.map(|b| sha256_hex(&b));
                let document = get(&stack, &result)
                    .await
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
                (id, sha, file_sha, document)
            });
        }
        match checks.join_next().await {
            Some(Ok(one)) => fetched.push(one),
            Some(Err(e)) => details.push(format!("a result check panicked: {e}")),
            None => break,
        }
    }
    for (id, row_sha, file_sha, document) in fetched {
        if records.spoiled_by_harness.contains(&id) {
            continue;
        }
        let sent = records
            .tasks
            .get(&id)
            .and_then(|t| t.file.as_ref())
            .map(|f| f.sha256.clone());
        let doc_sha = document
            .as_ref()
            .and_then(|d| d["sha256"].as_str().map(str::to_owned));
        let mut problems = Vec::new();
        if doc_sha != row_sha {
            problems.push(format!(
                "the stored result says {doc_sha:?}, the task row {row_sha:?}"
            ));
        }
        if file_sha.is_some() && file_sha != row_sha {
            problems.push(format!(
                "the stored file hashes to {file_sha:?}, the task row says {row_sha:?}"
            ));
        }
        if let Some(sent) = sent
            && Some(&sent) != row_sha.as_ref()
        {
            problems.push(format!(
                "the client sent {sent}, the task row says {row_sha:?}"
            ));
        }
        if !problems.is_empty() {
            twice
                .entry(id)
                .or_insert_with(|| format!("task {id}: {}", problems.join("; ")));
        }
    }
    for what in twice.values().take(20) {
        details.push(format!("results: {what}"));
    }
    if !records.spoiled_by_harness.is_empty() {
        info.push(format!(
            "not counted: {:?}, whose result the harness's dying processor overwrote after a twin delivery completed it",
            records.spoiled_by_harness
        ));
    }

    // 5. Nobody signed out but by their own logout (or the lockout, which ends no session).
    let mut signed_out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for incident in &records.signed_out {
        signed_out
            .entry(incident.email.clone())
            .or_default()
            .push(format!(
                "at {:.1}s {}",
                incident.at.as_secs_f64(),
                incident.what
            ));
    }
    let revoked: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "select u.email, s.revoked_reason, count(*) from sessions s join users u on u.id = s.user_id
         where s.revoked_at is not null group by u.email, s.revoked_reason",
    )
    .fetch_all(&stack.db)
    .await?;
    let mut reuse_revocations = 0;
    for (email, reason, n) in &revoked {
        match reason.as_deref() {
            Some("logout") => {
                let asked = i64::from(records.logouts.get(email).copied().unwrap_or(0));
                if *n > asked {
                    signed_out.entry(email.clone()).or_default().push(format!(
                        "the database has {n} session(s) ended by logout; the user logged out {asked} time(s)"
                    ));
                }
            }
            other => {
                reuse_revocations += n;
                signed_out.entry(email.clone()).or_default().push(format!(
                    "the database has {n} session(s) revoked as {other:?}"
                ));
            }
        }
    }
    for (email, what) in signed_out.iter().take(20) {
        details.push(format!("signed out: {email}: {}", what.join(" | ")));
    }
    if reuse_revocations > 0 {
        info.push(format!(
            "{reuse_revocations} session(s) revoked for a reason other than logout"
        ));
    }

    // 6. The lockout evaluated at most 10 failed logins per email in 15 minutes.
    let mut client_excess = 0;
    for (email, times) in &records.wrong_password_401s {
        let worst = worst_window(times.clone());
        if worst > LOCKOUT_LIMIT {
            client_excess += worst - LOCKOUT_LIMIT;
            details.push(format!(
                "lockout: {email} got {worst} `401`s for wrong passwords within 15 minutes (limit {LOCKOUT_LIMIT})"
            ));
        }
    }
    let attempts: Vec<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "select email, attempted_at from auth_attempts where kind = 'login_failed' and email is not null order by email, attempted_at",
    )
    .fetch_all(&stack.db)
    .await?;
    let mut by_email: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    if let Some(first) = attempts.first().map(|(_, at)| *at) {
        for (email, at) in attempts {
            let offset = (at - first).to_std().unwrap_or_default();
            by_email.entry(email).or_default().push(offset);
        }
    }
    let mut db_excess = 0;
    for (email, times) in by_email {
        let worst = worst_window(times);
        if worst > LOCKOUT_LIMIT {
            db_excess += worst - LOCKOUT_LIMIT;
            details.push(format!(
                "lockout: the database recorded {worst} failed logins for {email} within 15 minutes (limit {LOCKOUT_LIMIT})"
            ));
        }
    }

    let rows = vec![
        Row {
            invariant: "`5xx` other than `503` (with `Retry-After`, only during a fault)",
            seen: server_errors,
            note: String::new(),
        },
        Row {
            invariant: "accepted tasks not `completed` (or `cancelled` for a reason that is the client's)",
            seen: unsettled,
            note: format!(
                "of {} accepted, {with_file} with a file",
                records.tasks.len()
            ),
        },
        Row {
            invariant: "tasks whose objects are missing; objects that no task owns",
            seen: missing + unowned.len(),
            note: format!("{missing} missing; {} unowned", unowned.len()),
        },
        Row {
            invariant: "a task processed to two different results",
            seen: twice.len(),
            note: String::new(),
        },
        Row {
            invariant: "a user signed out by anything but their own logout or the lockout",
            seen: signed_out.len(),
            note: format!(
                "{} unexpected `401`(s) seen; {reuse_revocations} session(s) revoked otherwise",
                records.signed_out.len()
            ),
        },
        Row {
            invariant: "failed logins evaluated beyond the lockout limit",
            seen: client_excess.max(db_excess),
            note: format!(
                "client saw {client_excess} extra `401`s, database recorded {db_excess} extra"
            ),
        },
        Row {
            invariant: "requests unanswered (refused, reset, timed out) outside a fault of what they call",
            seen: unanswered,
            note: String::new(),
        },
        Row {
            invariant: "tasks created whose answer was lost, not settled",
            seen: unheard,
            note: String::new(),
        },
        Row {
            invariant: "faults of the schedule not injected (the run would prove less than it says)",
            seen: records
                .faults
                .iter()
                .filter(|f| f.detail.starts_with("not injected"))
                .count(),
            note: format!("{} injected", records.faults.len()),
        },
    ];
    Ok(Verdict {
        rows,
        details,
        info,
    })
}

async fn get(stack: &Stack, key: &str) -> Option<Vec<u8>> {
    let object = stack
        .s3
        .get_object()
        .bucket(&stack.bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(object.body.collect().await.ok()?.into_bytes().to_vec())
}

/// Every object under the storage root, with its size.
async fn list_objects(stack: &Stack) -> anyhow::Result<HashMap<String, i64>> {
    let mut objects = HashMap::new();
    let mut token = None;
    loop {
        let page = stack
            .s3
            .list_objects_v2()
            .bucket(&stack.bucket)
            .prefix(stack.key(""))
            .set_continuation_token(token)
            .send()
            .await?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                objects.insert(key.to_owned(), object.size().unwrap_or(0));
            }
        }
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    Ok(objects)
}

/// Per kind: requests, rate, p50/p99 (of every answered request), and how they ended.
pub fn request_table(samples: &[Sample], seconds: f64) -> String {
    let mut kinds: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        kinds.entry(s.kind).or_default().push(s);
    }
    let mut out = String::from(
        "| kind | requests | per second | p50 ms | p99 ms | expected answer | 503 | other 5xx | unanswered |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut total = 0;
    for (kind, list) in &kinds {
        let mut answered: Vec<f64> = list
            .iter()
            .filter(|s| s.status.is_some())
            .map(|s| s.took.as_secs_f64() * 1000.0)
            .collect();
        answered.sort_by(f64::total_cmp);
        let pct = |p: f64| -> String {
            if answered.is_empty() {
                return "—".to_owned();
            }
            let rank = ((p * answered.len() as f64).ceil() as usize).clamp(1, answered.len());
            format!("{:.1}", answered[rank - 1])
        };
        let ok = list.iter().filter(|s| s.success).count();
        let s503 = list.iter().filter(|s| s.status == Some(503)).count();
        let other5 = list
            .iter()
            .filter(|s| s.status.is_some_and(|c| c >= 500 && c != 503))
            .count();
        let none = list.iter().filter(|s| s.status.is_none()).count();
        total += list.len();
        let _ = writeln!(
            out,
            "| {kind} | {} | {:.1} | {} | {} | {ok} | {s503} | {other5} | {none} |",
            list.len(),
            list.len() as f64 / seconds,
            pct(0.5),
            pct(0.99)
        );
    }
    let _ = writeln!(
        out,
        "| **all** | {total} | {:.1} | | | | | | |",
        total as f64 / seconds
    );
    out
}

/// Per fault: when, how long, and how long until things worked again.
pub fn fault_table(run_records: &Records) -> String {
    let mut out = String::from(
        "| # | fault | at | lasted | `/health` 200 after | every affected kind back after | detail |\n|---|---|---:|---:|---:|---|---|\n",
    );
    for (n, fault) in run_records.faults.iter().enumerate() {
        let window = fault.window();
        // The kinds disturbed by the fault (a 5xx, no answer, or an answer slower than the API's
        // 3 s dependency timeout), and when a request of each, sent after the fault ended, first
        // succeeded.
        let mut affected: BTreeMap<&str, Option<Duration>> = BTreeMap::new();
        for s in &run_records.samples {
            let disturbed = s.status.is_none_or(|c| c >= 500) || s.took >= Duration::from_secs(3);
            if disturbed && overlaps(s, window) {
                affected.insert(s.kind, None);
            }
        }
        for (kind, back) in &mut affected {
            *back = run_records
                .samples
                .iter()
                .filter(|s| s.kind == *kind && s.success && s.start >= fault.end)
                .map(|s| (s.start + s.took) - fault.end)
                .min();
        }
        let slowest = affected
            .iter()
            .max_by_key(|(_, back)| back.unwrap_or(Duration::MAX))
            .map(|(kind, back)| match back {
                Some(d) => format!(
                    "{:.1}s (slowest: {kind}; {} kind(s) disturbed)",
                    d.as_secs_f64(),
                    affected.len()
                ),
                None => format!("never ({kind})"),
            })
            .unwrap_or_else(|| "nothing disturbed".to_owned());
        let recovered = match (fault.kind, fault.task_recovered_after) {
            (FaultKind::ProcessorDied, Some(d)) => {
                format!("; task completed {:.1}s after", d.as_secs_f64())
            }
            (FaultKind::ProcessorDied, None) => "; task NOT completed".to_owned(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.1}s | {:.1}s | {} | {slowest}{recovered} | {} |",
            n + 1,
            fault.kind.label(),
            fault.start.as_secs_f64(),
            (fault.end - fault.start).as_secs_f64(),
            fault
                .health_back_after
                .map_or("never".to_owned(), |d| format!("{:.1}s", d.as_secs_f64())),
            fault.detail
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_window_counts_failures_within_fifteen_minutes() {
        let s = Duration::from_secs;
        assert_eq!(worst_window(vec![]), 0);
        assert_eq!(worst_window(vec![s(0), s(1), s(2)]), 3);
        assert_eq!(worst_window(vec![s(0), s(899), s(900), s(901)]), 3);
        assert_eq!(worst_window(vec![s(5), s(0), s(1000)]), 2);
    }
}
