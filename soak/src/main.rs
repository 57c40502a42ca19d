//! `make soak`: many users at once against a stack of the soak's own, faults injected on a
//! schedule, then the invariants checked against its database and bucket (docs/soak.md).
//!
//! `soak setup` gives the jobs queue the soak's short visibility timeout and redrive count;
//! `soak run` drives the load, injects the faults, checks and reports. scripts/soak.sh starts
//! the stack and calls both; it is the only supported way to run this binary.

mod checks;
mod faults;
mod http;
mod run;
mod users;

use std::{fmt::Write, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, timeout::TimeoutConfig};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::{
    faults::{Plan, Stack},
    run::Run,
    users::{Ctx, Fixtures, User},
};

/// What the run is told by scripts/soak.sh (and the product settings it shares with `local-api`).
pub struct Settings {
    pub duration: Duration,
    pub users: usize,
    pub pause: Duration,
    pub short: bool,
    pub upload_ttl: Duration,
    pub upload_grace: Duration,
    pub visibility: Duration,
    pub max_receives: u32,
    pub sweep_interval: Duration,
    pub drain_limit: Duration,
}

fn number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v:?} is not a whole number")),
        _ => Ok(default),
    }
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let short = std::env::var("SOAK_SHORT").is_ok_and(|v| v == "1");
        let minutes = number("SOAK_MINUTES", 5)?;
        let seconds = number("SOAK_SECONDS", minutes * 60)?;
        Ok(Self {
            duration: Duration::from_secs(seconds.max(20)),
            users: usize::try_from(number("SOAK_USERS", if short { 16 } else { 24 })?)?,
            pause: Duration::from_secs(number("SOAK_PAUSE_SECS", 20)?),
            short,
            upload_ttl: Duration::from_secs(number("UPLOAD_URL_TTL_SECS", 900)?),
            upload_grace: Duration::from_secs(number("UPLOAD_GRACE_SECS", 600)?),
            visibility: Duration::from_secs(number("JOB_VISIBILITY_TIMEOUT_SECS", 360)?),
            max_receives: u32::try_from(number("JOB_MAX_RECEIVES", 5)?)?,
            sweep_interval: Duration::from_secs(number("SWEEP_INTERVAL_SECS", 5)?),
            drain_limit: Duration::from_secs(number(
                "SOAK_DRAIN_LIMIT_SECS",
                if short { 30 } else { 180 },
            )?),
        })
    }
}

/// S3 and SQS clients for the soak's LocalStack (LocalStack's `test` credentials).
pub fn aws_clients(endpoint: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    let credentials = Credentials::new("test", "test", None, None, "soak");
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(30))
        .build();
    let s3 = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials.clone())
        .force_path_style(true)
        .timeout_config(timeouts.clone())
        .build();
    let sqs = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .timeout_config(timeouts)
        .build();
    (
        aws_sdk_s3::Client::from_conf(s3),
        aws_sdk_sqs::Client::from_conf(sqs),
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "setup" => setup().await.map(|()| true),
        "run" => soak().await,
        _ => {
            eprintln!("usage: soak setup|run (scripts/soak.sh runs it; see docs/soak.md)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// After localstack/init.py made the bucket, the queues and the notification: the jobs queue
/// gets the soak's visibility timeout and redrive count (the settings `local-api` is given).
async fn setup() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL")?;
    let queue = std::env::var("QUEUE_URL").context("QUEUE_URL")?;
    let dead = std::env::var("DEAD_LETTER_QUEUE_URL").context("DEAD_LETTER_QUEUE_URL")?;
    let (_, sqs) = aws_clients(&endpoint);
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dead)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .context("the dead-letter queue has no ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": settings.max_receives.to_string(),
    });
    sqs.set_queue_attributes()
        .queue_url(&queue)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            settings.visibility.as_secs().to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await?;
    let check = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await?;
    let attributes = check.attributes().context("no queue attributes")?;
    eprintln!(
        "soak: jobs queue: visibility timeout {} s, redrive policy {}",
        attributes
            .get(&QueueAttributeName::VisibilityTimeout)
            .map_or("?", String::as_str),
        attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .map_or("?", String::as_str)
    );
    Ok(())
}

fn read_fixture(dir: &str, name: &str) -> anyhow::Result<bytes::Bytes> {
    let path = format!("{dir}/{name}");
    Ok(std::fs::read(&path)
        .with_context(|| format!("reading {path}"))?
        .into())
}

async fn soak() -> anyhow::Result<bool> {
    let settings = Settings::from_env()?;
    let stack = Arc::new(Stack::from_env().await?);
    let client = http::Client::new();
    let fixtures_dir = std::env::var("SOAK_FIXTURES").unwrap_or_else(|_| "tests/fixtures".into());
    let fixtures = Fixtures {
        manuscript_docx: read_fixture(&fixtures_dir, "manuscript.docx")?,
        bomb_docx: read_fixture(&fixtures_dir, "bomb.docx")?,
        chapter_txt: read_fixture(&fixtures_dir, "chapter.txt")?,
    };
    let pid = stack.start_api(&client).await?;
    eprintln!(
        "soak: local-api (pid {pid}) healthy on {}; {} users for {} s, faults on a schedule",
        stack.api_url,
        settings.users,
        settings.duration.as_secs()
    );
    let run = Arc::new(Run::new());
    let ctx = Arc::new(Ctx {
        run: run.clone(),
        client: client.clone(),
        api: stack.api_url.clone(),
        fixtures,
        tag: format!("{:06x}", fastrand::u32(..0x00ff_ffff)),
    });

    // Accounts the harness itself needs: victims for the attacker, helpers for the faults.
    let victims = if settings.short { 3 } else { 5 };
    let mut victim_emails = Vec::new();
    for i in 0..victims {
        let mut victim = User::new(ctx.clone(), "victim", i);
        victim.register().await;
        victim_emails.push(victim.email.clone());
    }
    let mut helpers = Vec::new();
    for i in 0..6 {
        let mut helper = User::new(ctx.clone(), "helper", i);
        helper.register().await;
        helpers.push(helper);
    }

    let mut drivers = Vec::new();
    for i in 0..settings.users {
        let user = User::new(ctx.clone(), "writer", i);
        drivers.push(tokio::spawn(user.drive()));
    }
    let attacker = tokio::spawn(users::attack(
        ctx.clone(),
        victim_emails,
        settings.duration / u32::try_from(victims + 1).unwrap_or(4),
        25,
    ));
    let injector = tokio::spawn(faults::inject(
        stack.clone(),
        ctx.clone(),
        Plan {
            duration: settings.duration,
            pause: settings.pause,
        },
        helpers,
    ));

    let mut next_progress = Duration::from_secs(15);
    while run.now() < settings.duration {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if run.now() >= next_progress {
            let (requests, tasks) = run.with(|r| (r.samples.len(), r.tasks.len()));
            eprintln!(
                "soak: [{:>5.1}s] {requests} requests, {tasks} tasks accepted",
                run.now().as_secs_f64()
            );
            next_progress += Duration::from_secs(15);
        }
    }
    let load_seconds = run.now().as_secs_f64();
    eprintln!("soak: load over; waiting for the users' last requests and any fault in progress");
    run.stop();
    for driver in drivers {
        let _ = driver.await;
    }
    attacker.abort();
    let _ = tokio::time::timeout(Duration::from_secs(240), injector).await;

    let drained = checks::drain(&stack, &run, &settings).await;
    eprintln!(
        "soak: checking the invariants against the database and the bucket (drained in {:.0}s{})",
        drained.waited.as_secs_f64(),
        if drained.complete { "" } else { ", INCOMPLETE" }
    );
    let records = run.with(std::mem::take);
    let verdict = checks::check(&stack, &records).await?;
    let dead_lettered = stack
        .queue_depth(&stack.dead_letter_url)
        .await
        .map_or(-1, |(v, n, d)| v + n + d);
    let report = report(
        &settings,
        &records,
        &verdict,
        load_seconds,
        &drained,
        dead_lettered,
    );
    println!("{report}");
    if let Ok(path) = std::env::var("SOAK_REPORT")
        && !path.is_empty()
    {
        std::fs::write(&path, &report).with_context(|| format!("writing {path}"))?;
        eprintln!("soak: wrote {path}");
    }
    stack.stop_api().await;
    let violations = verdict.violations();
    if violations > 0 {
        eprintln!("soak: FAILED: {violations} violation(s); see the table above");
    } else {
        eprintln!("soak: passed: every invariant held");
    }
    Ok(violations == 0)
}

fn report(
    settings: &Settings,
    records: &run::Records,
    verdict: &checks::Verdict,
    load_seconds: f64,
    drained: &checks::Drained,
    dead_lettered: i64,
) -> String {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| "?".to_owned());
    let violations = verdict.violations();
    let mut out = String::new();
    let _ = writeln!(out, "# Soak: the last run\n");
    let _ = writeln!(
        out,
        "Written by `{}` itself (docs/soak.md says what each line means). Debug builds, as `make run` serves them; Postgres, LocalStack, `local-api` and the load all on one machine.\n",
        if settings.short {
            "scripts/soak.sh --short"
        } else {
            "make soak"
        }
    );
    let _ = writeln!(
        out,
        "- **when**: {} (commit `{}`)",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        env("SOAK_COMMIT")
    );
    let _ = writeln!(
        out,
        "- **duration**: {load_seconds:.0} s of load ({} users, an attacker, the faults' helpers), then {:.0} s draining{}",
        settings.users,
        drained.waited.as_secs_f64(),
        if drained.complete {
            ""
        } else {
            " (gave up: not drained)"
        }
    );
    let _ = writeln!(out, "- **machine**: {}", env("SOAK_MACHINE"));
    let _ = writeln!(
        out,
        "- **settings**: `UPLOAD_URL_TTL_SECS={}` `UPLOAD_GRACE_SECS={}` `JOB_VISIBILITY_TIMEOUT_SECS={}` `JOB_MAX_RECEIVES={}` `SWEEP_INTERVAL_SECS={}` `UNFINISHED_UPLOAD_SECS={}`; LocalStack paused {} s",
        settings.upload_ttl.as_secs(),
        settings.upload_grace.as_secs(),
        settings.visibility.as_secs(),
        settings.max_receives,
        settings.sweep_interval.as_secs(),
        env("UNFINISHED_UPLOAD_SECS"),
        settings.pause.as_secs()
    );
    let _ = writeln!(
        out,
        "- **verdict**: {}\n",
        if violations == 0 {
            "PASS: every invariant held".to_owned()
        } else {
            format!("FAIL: {violations} violation(s)")
        }
    );
    let _ = writeln!(out, "## Invariants\n");
    let _ = writeln!(
        out,
        "| invariant | expected | seen | |\n|---|---:|---:|---|"
    );
    for row in &verdict.rows {
        let _ = writeln!(
            out,
            "| {} | 0 | {} | {}{} |",
            row.invariant,
            row.seen,
            if row.seen == 0 { "" } else { "**violated** " },
            row.note
        );
    }
    let _ = writeln!(out, "\n## Requests\n");
    let _ = writeln!(
        out,
        "Over the {load_seconds:.0} s of load; p50/p99 of every answered request, faults included.\n"
    );
    out.push_str(&checks::request_table(&records.samples, load_seconds));
    let _ = writeln!(out, "\n## Faults\n");
    let _ = writeln!(
        out,
        "Recovery: from the fault's end until `/health` answered 200, and until every kind of request that failed during it succeeded again.\n"
    );
    out.push_str(&checks::fault_table(records));
    let _ = writeln!(out, "\n## Notes\n");
    for line in &verdict.info {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(out, "- after the drain: {}", drained.state);
    let _ = writeln!(
        out,
        "- jobs in the dead-letter queue: {dead_lettered} (each one's task is cancelled \"processing failed repeatedly\", counted above)"
    );
    if !verdict.details.is_empty() {
        let _ = writeln!(out, "\n## Violations in detail\n");
        for line in &verdict.details {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}
