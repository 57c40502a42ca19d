//! The soak's own stack (its `local-api` process, its Postgres cluster, its LocalStack) and the
//! faults injected into it on a schedule. Only processes this run started are ever signalled.

use std::{path::PathBuf, process::Stdio, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use tokio::{
    process::{Child, Command},
    sync::Mutex,
    time::{Instant, sleep},
};
use uuid::Uuid;

use crate::{
    run::{Fault, FaultKind, Run},
    users::{Ctx, User, text},
};

/// Where the soak's stack is and how to reach it (from scripts/soak.sh's environment).
pub struct Stack {
    pub api_url: String,
    api_bin: PathBuf,
    api_log: PathBuf,
    api_pidfile: PathBuf,
    child: Mutex<Option<Child>>,
    pg_ctl: String,
    pg_data: String,
    pg_log: String,
    /// Run `pg_ctl` as this user (root may not run Postgres).
    pg_user: Option<String>,
    /// LocalStack's process group (it was started with `setsid`).
    localstack_pgid: u32,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub bucket: String,
    pub prefix: String,
    pub queue_url: String,
    pub dead_letter_url: String,
    pub db: sqlx::PgPool,
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set (scripts/soak.sh sets it)"))
}

impl Stack {
    pub async fn from_env() -> anyhow::Result<Self> {
        let storage_root = env("STORAGE_ROOT")?;
        let rest = storage_root
            .strip_prefix("s3://")
            .context("STORAGE_ROOT must be s3://bucket/prefix")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (s3, sqs) = crate::aws_clients(&env("AWS_ENDPOINT_URL")?);
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(20))
            .connect_lazy(
                &std::env::var("SOAK_ADMIN_DATABASE_URL").or_else(|_| env("DATABASE_URL"))?,
            )
            .context("SOAK_ADMIN_DATABASE_URL")?;
        Ok(Self {
            api_url: env("SOAK_API_URL")?,
            api_bin: env("SOAK_LOCAL_API_BIN")?.into(),
            api_log: env("SOAK_LOCAL_API_LOG")?.into(),
            api_pidfile: env("SOAK_LOCAL_API_PIDFILE")?.into(),
            child: Mutex::new(None),
            pg_ctl: env("SOAK_PG_CTL")?,
            pg_data: env("SOAK_PG_DATA")?,
            pg_log: env("SOAK_PG_LOG")?,
            pg_user: std::env::var("SOAK_PG_USER").ok().filter(|u| !u.is_empty()),
            localstack_pgid: env("SOAK_LOCALSTACK_PID")?
                .parse()
                .context("SOAK_LOCALSTACK_PID")?,
            s3,
            sqs,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            queue_url: env("QUEUE_URL")?,
            dead_letter_url: env("DEAD_LETTER_QUEUE_URL")?,
            db,
        })
    }

    /// The key of an object under the storage root.
    pub fn key(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    /// Starts `local-api` (with this process's environment) and waits until `/health` is 200.
    pub async fn start_api(&self, client: &crate::http::Client) -> anyhow::Result<u32> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.api_log)
            .with_context(|| format!("opening {}", self.api_log.display()))?;
        let child = Command::new(&self.api_bin)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.api_bin.display()))?;
        let pid = child.id().context("local-api exited at once")?;
        std::fs::write(&self.api_pidfile, format!("{pid}\n"))?;
        *self.child.lock().await = Some(child);
        if self
            .wait_healthy(client, Duration::from_secs(60))
            .await
            .is_none()
        {
            bail!(
                "local-api (pid {pid}) is not healthy after 60 s; see {}",
                self.api_log.display()
            );
        }
        Ok(pid)
    }

    /// Polls `/health` until it answers 200; how long that took.
    pub async fn wait_healthy(
        &self,
        client: &crate::http::Client,
        limit: Duration,
    ) -> Option<Duration> {
        let start = Instant::now();
        let url = format!("{}/health", self.api_url);
        while start.elapsed() < limit {
            let outcome = client.send(Method::GET, &url, &[], Bytes::new()).await;
            if outcome.status() == Some(200) {
                return Some(start.elapsed());
            }
            sleep(Duration::from_millis(250)).await;
        }
        None
    }

    /// SIGKILL to the `local-api` this run started; its pid.
    async fn kill_api(&self) -> Option<u32> {
        let mut slot = self.child.lock().await;
        let mut child = slot.take()?;
        let pid = child.id();
        let _ = child.start_kill();
        let _ = child.wait().await;
        pid
    }

    /// Ends the `local-api` this run started: SIGTERM, then SIGKILL after 10 s.
    pub async fn stop_api(&self) {
        let mut slot = self.child.lock().await;
        let Some(mut child) = slot.take() else { return };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
        let _ = std::fs::remove_file(&self.api_pidfile);
    }

    async fn signal_localstack(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.localstack_pgid)])
            .status()
            .await?;
        if !status.success() {
            bail!(
                "kill {signal} to LocalStack's group {} failed",
                self.localstack_pgid
            );
        }
        Ok(())
    }

    async fn restart_postgres(&self) -> anyhow::Result<()> {
        let args = [
            "-D",
            &self.pg_data,
            "-l",
            &self.pg_log,
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        ];
        let mut command = match &self.pg_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", &self.pg_ctl]).args(args);
                c
            }
            None => {
                let mut c = Command::new(&self.pg_ctl);
                c.args(args);
                c
            }
        };
        let status = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        if !status.success() {
            bail!("pg_ctl restart failed ({status}); see {}", self.pg_log);
        }
        Ok(())
    }

    async fn queue_count(&self, url: &str, name: QueueAttributeName) -> Option<i64> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(name.clone())
            .send()
            .await
            .ok()?;
        attributes.attributes()?.get(&name)?.parse().ok()
    }

    /// Messages of `url` waiting, in flight and delayed.
    pub async fn queue_depth(&self, url: &str) -> Option<(i64, i64, i64)> {
        Some((
            self.queue_count(url, QueueAttributeName::ApproximateNumberOfMessages)
                .await?,
            self.queue_count(
                url,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .await?,
            self.queue_count(url, QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                .await?,
        ))
    }
}

/// How the faults are spread over the run.
pub struct Plan {
    pub duration: Duration,
    pub pause: Duration,
}

impl Plan {
    /// Each fault once per cycle of at most 5 minutes, at 5 %, 35 %, 55 % and 75 % of it: far
    /// enough apart that one's redeliveries are over before the next begins.
    pub fn schedule(&self) -> Vec<(Duration, FaultKind)> {
        let cycle = self.duration.min(Duration::from_secs(300));
        let order = [
            (0.05, FaultKind::LocalStackPaused),
            (0.35, FaultKind::PostgresRestarted),
            (0.55, FaultKind::LocalApiKilled),
            (0.75, FaultKind::ProcessorDied),
        ];
        let mut plan = Vec::new();
        let mut base = Duration::ZERO;
        while base + cycle <= self.duration + Duration::from_secs(1) {
            for (fraction, kind) in order {
                plan.push((base + cycle.mul_f64(fraction), kind));
            }
            base += cycle;
        }
        plan
    }
}

fn say(run: &Run, what: &str) {
    eprintln!("soak: [{:>5.1}s] {what}", run.now().as_secs_f64());
}

/// Injects every fault of the plan at its time; returns when the last has recovered.
pub async fn inject(stack: Arc<Stack>, ctx: Arc<Ctx>, plan: Plan, mut helpers: Vec<User>) {
    let run = ctx.run.clone();
    for (at, kind) in plan.schedule() {
        tokio::time::sleep_until(run.started + at).await;
        if run.stopping() {
            return;
        }
        say(&run, &format!("injecting fault: {}", kind.label()));
        let result = match kind {
            FaultKind::LocalStackPaused => pause_localstack(&stack, &run, plan.pause).await,
            FaultKind::PostgresRestarted => restart_postgres(&stack, &run).await,
            FaultKind::LocalApiKilled => kill_mid_batch(&stack, &ctx, &mut helpers).await,
            FaultKind::ProcessorDied => die_after_writing(&stack, &ctx, &mut helpers).await,
        };
        let mut fault = match result {
            Ok(fault) => fault,
            Err(e) => {
                say(
                    &run,
                    &format!("FAULT NOT INJECTED: {}: {e:#}", kind.label()),
                );
                Fault {
                    kind,
                    start: run.now(),
                    end: run.now(),
                    detail: format!("not injected: {e:#}"),
                    health_back_after: None,
                    task_recovered_after: None,
                }
            }
        };
        fault.health_back_after = stack
            .wait_healthy(&ctx.client, Duration::from_secs(120))
            .await;
        say(
            &run,
            &format!(
                "fault over: {}; /health 200 again {} after it ended",
                kind.label(),
                fault
                    .health_back_after
                    .map_or("never".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()))
            ),
        );
        run.with(|r| r.faults.push(fault));
    }
}

async fn pause_localstack(stack: &Stack, run: &Run, pause: Duration) -> anyhow::Result<Fault> {
    let start = run.now();
    stack.signal_localstack("-STOP").await?;
    sleep(pause).await;
    // Whatever happens, LocalStack must not stay stopped.
    let resumed = stack.signal_localstack("-CONT").await;
    resumed?;
    Ok(Fault {
        kind: FaultKind::LocalStackPaused,
        start,
        end: run.now(),
        detail: format!(
            "process group {} stopped for {} s",
            stack.localstack_pgid,
            pause.as_secs()
        ),
        health_back_after: None,
        task_recovered_after: None,
    })
}

async fn restart_postgres(stack: &Stack, run: &Run) -> anyhow::Result<Fault> {
    let start = run.now();
    stack.restart_postgres().await?;
    let end = run.now();
    Ok(Fault {
        kind: FaultKind::PostgresRestarted,
        start,
        end,
        detail: format!(
            "the soak's cluster ({}) down and up again in {:.1} s",
            stack.pg_data,
            (end - start).as_secs_f64()
        ),
        health_back_after: None,
        task_recovered_after: None,
    })
}

/// Sends a burst of large files, waits until the processor holds some of their jobs (messages
/// in flight), and kills `local-api` then; starts it again at once.
async fn kill_mid_batch(
    stack: &Stack,
    ctx: &Arc<Ctx>,
    helpers: &mut Vec<User>,
) -> anyhow::Result<Fault> {
    let run = &ctx.run;
    let mut in_flight = 0;
    let mut uploads = Vec::new();
    for _attempt in 0..3 {
        for mut helper in std::mem::take(helpers) {
            uploads.push(tokio::spawn(async move {
                let bytes = text(&format!("{} burst", helper.email), 2 * 1024 * 1024);
                helper
                    .create_file("burst.txt", "text/plain", bytes, false, "create_file")
                    .await;
                helper
            }));
        }
        let watch_until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < watch_until {
            if let Some((_, not_visible, _)) = stack.queue_depth(&stack.queue_url).await
                && not_visible > 0
            {
                in_flight = not_visible;
                break;
            }
            sleep(Duration::from_millis(10)).await;
        }
        if in_flight > 0 {
            break;
        }
        for upload in uploads.drain(..) {
            if let Ok(helper) = upload.await {
                helpers.push(helper);
            }
        }
    }
    let start = run.now();
    let killed = stack.kill_api().await;
    say(
        run,
        &format!(
            "local-api (pid {}) killed with SIGKILL, {in_flight} job(s) in flight",
            killed.map_or("?".to_owned(), |p| p.to_string())
        ),
    );
    let pid = stack.start_api(&ctx.client).await?;
    let end = run.now();
    for upload in uploads {
        if let Ok(helper) = upload.await {
            helpers.push(helper);
        }
    }
    Ok(Fault {
        kind: FaultKind::LocalApiKilled,
        start,
        end,
        detail: format!(
            "pid {} killed with {} job message(s) in flight{}; pid {pid} healthy {:.1} s later",
            killed.map_or("?".to_owned(), |p| p.to_string()),
            in_flight,
            if in_flight == 0 {
                " (no batch was seen in flight in 3 bursts)"
            } else {
                ""
            },
            (end - start).as_secs_f64()
        ),
        health_back_after: None,
        task_recovered_after: None,
    })
}

/// The task a job message is about: our job's `task_id`, or the task an S3 record's key names.
fn task_of(body: &str) -> Option<Uuid> {
    let value: Value = serde_json::from_str(body).ok()?;
    if let Some(id) = value["task_id"].as_str() {
        return id.parse().ok();
    }
    let key = value["Records"][0]["s3"]["object"]["key"].as_str()?;
    let segments: Vec<&str> = key.split('/').collect();
    let at = segments.iter().position(|s| *s == "incoming")?;
    segments.get(at + 2)?.parse().ok()
}

/// A wrong result document: a processor that dies after this write and before completing the
/// task must not leave it behind (the real processor's redelivery replaces it).
fn wrong_result(task: Uuid, bucket: &str, key: &str) -> Value {
    json!({
        "version": 1,
        "task_id": task,
        "source": {"bucket": bucket, "key": key},
        "size_bytes": 1,
        "sha256": "0".repeat(64),
        "content_type": "text/plain",
        "text": {"lines": 0, "words": 0, "characters": 1, "reading_minutes": 0.0, "valid_utf8": true},
    })
}

/// Acts as a processor that receives a job, writes a (wrong) result and dies before completing
/// the task: the message is neither deleted nor released, the task row is not touched.
async fn die_after_writing(
    stack: &Stack,
    ctx: &Arc<Ctx>,
    helpers: &mut [User],
) -> anyhow::Result<Fault> {
    let run = &ctx.run;
    let start = run.now();
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut next_feed = Instant::now();
    let mut fed = 0usize;
    while Instant::now() < give_up {
        // Keep jobs coming, so that one of them reaches us rather than local-api's poller.
        if Instant::now() >= next_feed && !helpers.is_empty() {
            let helper = &mut helpers[fed % helpers.len()];
            let bytes = text(&format!("{} bait {fed}", helper.email), 4096);
            helper
                .create_file("bait.txt", "text/plain", bytes, false, "create_file")
                .await;
            fed += 1;
            next_feed = Instant::now() + Duration::from_millis(300);
        }
        let received = stack
            .sqs
            .receive_message()
            .queue_url(&stack.queue_url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        let Ok(received) = received else {
            continue;
        };
        for message in received.messages.unwrap_or_default() {
            let body = message.body.clone().unwrap_or_default();
            let handle = message.receipt_handle.clone().unwrap_or_default();
            let chosen = match task_of(&body) {
                Some(task) => task_still_open(stack, task).await.map(|path| (task, path)),
                None => None,
            };
            let Some((task, file_path)) = chosen else {
                // Not one to die on: hand it straight back.
                let _ = stack
                    .sqs
                    .change_message_visibility()
                    .queue_url(&stack.queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await;
                continue;
            };
            // Draft 1's result key (soak tasks have one draft): `tasks::objects::result_key`.
            let key = stack.key(&format!("results/{task}/1.json"));
            let source_key = file_path
                .strip_prefix(&format!("s3://{}/", stack.bucket))
                .unwrap_or(&file_path)
                .to_owned();
            let document = wrong_result(task, &stack.bucket, &source_key);
            stack
                .s3
                .put_object()
                .bucket(&stack.bucket)
                .key(&key)
                .content_type("application/json")
                .body(serde_json::to_vec_pretty(&document)?.into())
                .send()
                .await
                .context("writing the dying processor's result")?;
            if task_still_open(stack, task).await.is_none() {
                // A twin delivery finished the task while we wrote: our document spoiled its
                // result, which is the harness's doing, not the product's.
                run.with(|r| r.spoiled_by_harness.push(task));
            }
            let abandoned = run.now();
            say(
                run,
                &format!(
                    "a processor received the job of task {task} (receive {}), wrote a wrong result to {key} and died",
                    message
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .map_or("?", String::as_str)
                ),
            );
            let recovered = wait_completed(stack, task, Duration::from_secs(120)).await;
            return Ok(Fault {
                kind: FaultKind::ProcessorDied,
                start,
                end: abandoned,
                detail: format!(
                    "task {task}: wrong result written to {key}, job message left undeleted; {}",
                    match recovered {
                        Some(after) =>
                            format!("completed by local-api {:.1} s later", after.as_secs_f64()),
                        None => "not completed within 120 s".to_owned(),
                    }
                ),
                health_back_after: None,
                task_recovered_after: recovered,
            });
        }
    }
    bail!("no job message reached the harness within 60 s (local-api's poller took them all)")
}

/// The task's `file_path`, if it is still pending or in progress.
async fn task_still_open(stack: &Stack, task: Uuid) -> Option<String> {
    sqlx::query_scalar::<_, String>(
        "select file_path from tasks where id = $1 and status in ('PENDING', 'IN_PROGRESS') and file_path is not null",
    )
    .bind(task)
    .fetch_optional(&stack.db)
    .await
    .ok()
    .flatten()
}

async fn wait_completed(stack: &Stack, task: Uuid, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let status =
            sqlx::query_scalar::<_, String>("select status::text from tasks where id = $1")
                .bind(task)
                .fetch_optional(&stack.db)
                .await
                .ok()
                .flatten();
        match status.as_deref() {
            Some("COMPLETED") => return Some(start.elapsed()),
            Some("CANCELLED") => return None,
            _ => sleep(Duration::from_millis(200)).await,
        }
    }
    None
}
