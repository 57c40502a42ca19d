//! `make bench`'s measurements that wrk cannot take; each prints one JSON object on stdout,
//! which scripts/bench.sh collects into BENCHMARKS.md. Run by that script (it starts the stack,
//! the release build of `local-api`, and exports the Makefile's variables):
//!
//! ```text
//! bench hash                      one argon2id hash, and the login bound it implies
//! bench put-rate SECONDS          LocalStack's PutObject rate for 100 KiB objects (16 at a time)
//! bench pipeline BASE RUNS        202 of a 10 KiB upload → the task reads completed, via the API
//! bench scaling BASE              list latency for 100 and 100,000 tasks, with EXPLAIN plans
//! bench cold-start BIN_DIR BASE   each function binary's init and first response, and the floor
//! bench process BIN_DIR           the file processor on 1, 64 and 256 MiB against a plain GET
//! bench analyze                   the analyzer alone on 64 MiB of text in memory (CPU bound)
//! bench queue                     the jobs queue's depth: waiting and in flight (for diagnostics)
//! bench pgbench-scripts DIR USER TASK   the handlers' own statements for list, get and create, as
//!                                 pgbench scripts with the bench user's values (the bound)
//! bench round-trips BASE CONTROL COOKIE TASK   Postgres round trips per request of each route,
//!                                 from tools/bench/wirecount.py's counts (BASE talks through it)
//! ```

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{
    events::{self, HttpEvent},
    lambda::Deployment,
    runtime_api::RuntimeApi,
};
use uuid::Uuid;
use writers::{
    Config,
    tasks::{
        db as tasks_db,
        model::{NewTask, TaskStatus},
        paging::{Cursor, ListQuery, Sort},
    },
    users::{Caller, model::Password, password},
};

type Http = Client<HttpConnector, Full<bytes::Bytes>>;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["hash"] => hash().await?,
        ["put-rate", seconds] => put_rate(seconds.parse()?).await?,
        ["pipeline", base, runs] => pipeline(base, runs.parse()?).await?,
        ["scaling", base] => scaling(base).await?,
        ["cold-start", bin_dir, base] => cold_start(Path::new(bin_dir), base).await?,
        ["process", bin_dir] => process(Path::new(bin_dir)).await?,
        ["queue"] => queue_depth().await?,
        ["analyze"] => analyze(),
        ["round-trips", base, control, cookie, task] => {
            round_trips(base, control, cookie, task).await?
        }
        ["pgbench-scripts", dir, user, task] => {
            pgbench_scripts(Path::new(dir), user.parse()?, task.parse()?).await?
        }
        _ => bail!("usage: see bench/src/main.rs"),
    };
    println!("{result}");
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[rank]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---- HTTP against the local server -------------------------------------------------------

fn http() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn call(
    client: &Http,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>, Vec<String>)> {
    let mut request = lambda_http::http::Request::builder()
        .method(method)
        .uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(bytes::Bytes::from(body)))?)
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = response.status().as_u16();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .map(str::to_owned)
        .collect();
    let bytes = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, bytes, cookies))
}

/// A new user, signed in: their id and the `Cookie` header that carries their access token.
async fn new_user(client: &Http, base: &str) -> Result<(Uuid, String)> {
    let n = Uuid::new_v4().simple().to_string();
    let body = json!({"email": format!("bench-{}@example.com", &n[..12]), "username": format!("bench_{}", &n[..12]), "password": "correct horse battery staple"});
    let (status, bytes, cookies) = call(
        client,
        "POST",
        &format!("{base}/auth/register"),
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await?;
    if status != 201 {
        bail!(
            "register answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let user: Value = serde_json::from_slice(&bytes)?;
    let id = user["user"]["id"].as_str().context("an id")?.parse()?;
    let access = cookies
        .into_iter()
        .find(|c| c.starts_with("access_token="))
        .context("an access cookie")?;
    Ok((id, access))
}

fn multipart(title: &str, file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let mut parts = vec![testkit::Part::text("title", title)];
    if let Some((name, bytes)) = file {
        parts.push(testkit::Part::file(name, "text/plain", bytes));
    }
    testkit::multipart::encode(&parts)
}

// ---- the measurements ----------------------------------------------------------------------

async fn hash() -> Result<Value> {
    let mut times = Vec::new();
    for _ in 0..7 {
        let secret = Password::parse("correct horse battery staple")
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let started = Instant::now();
        password::hash(secret)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        times.push(ms(started.elapsed()));
    }
    let hash_ms = median(times);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // The same hashes, as many at once as there are cores, for 5 s: what the cores sustain together
    // (they share caches and memory bandwidth, which one hash alone does not feel).
    let started = Instant::now();
    let mut hashing = tokio::task::JoinSet::new();
    for _ in 0..cores {
        hashing.spawn(async move {
            let mut done = 0_u32;
            while started.elapsed() < Duration::from_secs(5) {
                let secret = Password::parse("correct horse battery staple")
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                password::hash(secret)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                done += 1;
            }
            anyhow::Ok(done)
        });
    }
    let mut hashes = 0;
    while let Some(done) = hashing.join_next().await {
        hashes += done??;
    }
    Ok(json!({
        "hash_ms": hash_ms,
        "cores": cores,
        "login_bound_rps": cores as f64 * 1000.0 / hash_ms,
        "all_cores_hashes_per_sec": f64::from(hashes) / started.elapsed().as_secs_f64(),
    }))
}

async fn s3() -> Result<(aws_sdk_s3::Client, Config)> {
    let config = Config::from_env()?;
    let aws = writers::aws::sdk_config(&config).await;
    // The handlers' 3 s budget is for a request's calls; the bench moves objects up to 256 MiB.
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(300))
        .operation_attempt_timeout(Duration::from_secs(300))
        .build();
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .timeout_config(timeouts)
            .build(),
    );
    Ok((client, config))
}

/// The processor's analysis alone (SHA-256, sniffing, text counts) over 64 MiB in 64 KiB chunks,
/// as S3 hands them over: its CPU ceiling, apart from the network and LocalStack.
fn analyze() -> Value {
    let line = "It was a bright cold day in April, and the clocks were striking thirteen.\n";
    let text: Vec<u8> = line.bytes().cycle().take(64 * 1024 * 1024).collect();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut analyzer = writers::files::analysis::Analyzer::default();
        for chunk in text.chunks(64 * 1024) {
            analyzer.update(chunk);
        }
        std::hint::black_box(analyzer.finish());
        runs.push(64.0 / started.elapsed().as_secs_f64());
    }
    json!({"analyzer_mib_per_sec": median(runs)})
}

/// The jobs queue's approximate depth, as SQS counts it.
async fn queue_depth() -> Result<Value> {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let config = Config::from_env()?;
    let aws = writers::aws::sdk_config(&config).await;
    let attributes = aws_sdk_sqs::Client::new(&aws)
        .get_queue_attributes()
        .queue_url(&config.queue_url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?
        .attributes
        .unwrap_or_default();
    let count = |name: &Name| attributes.get(name).and_then(|n| n.parse::<u64>().ok());
    Ok(json!({
        "waiting": count(&Name::ApproximateNumberOfMessages),
        "in_flight": count(&Name::ApproximateNumberOfMessagesNotVisible),
    }))
}

async fn put_rate(seconds: u64) -> Result<Value> {
    let (client, config) = s3().await?;
    let object = vec![b'x'; 100 * 1024];
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let prefix = format!(
        "{}/bench-put-{}",
        config.storage_root.prefix,
        Uuid::new_v4().simple()
    );
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (client, bucket, prefix, object) = (
            client.clone(),
            config.storage_root.bucket.clone(),
            prefix.clone(),
            object.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut done = 0_u64;
            while Instant::now() < deadline {
                client
                    .put_object()
                    .bucket(&bucket)
                    .key(format!("{prefix}/{worker}-{done}"))
                    .body(object.clone().into())
                    .send()
                    .await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await??;
    }
    Ok(
        json!({"puts_per_sec": total as f64 / seconds as f64, "object_bytes": object.len(), "concurrency": 16}),
    )
}

async fn pipeline(base: &str, runs: usize) -> Result<Value> {
    let client = http();
    let (_, cookie) = new_user(&client, base).await?;
    let text = "It was a bright cold day in April, and the clocks were striking thirteen.\n"
        .repeat(10 * 1024 / 74 + 1);
    let file = &text.as_bytes()[..10 * 1024];
    let mut times = Vec::new();
    for run in 0..runs {
        let (content_type, body) =
            multipart(&format!("Pipeline {run}"), Some(("chapter.txt", file)));
        let (status, bytes, _) = call(
            &client,
            "POST",
            &format!("{base}/api/v1/tasks"),
            &[("content-type", &content_type), ("cookie", &cookie)],
            body,
        )
        .await?;
        let accepted = Instant::now();
        if status != 202 {
            bail!(
                "create answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let id = serde_json::from_slice::<Value>(&bytes)?["id"]
            .as_str()
            .context("an id")?
            .to_owned();
        loop {
            let (_, bytes, _) = call(
                &client,
                "GET",
                &format!("{base}/api/v1/tasks/{id}"),
                &[("cookie", &cookie)],
                Vec::new(),
            )
            .await?;
            let task: Value = serde_json::from_slice(&bytes)?;
            if task["status"] == "completed" {
                times.push(ms(accepted.elapsed()));
                break;
            }
            if accepted.elapsed() > Duration::from_secs(30) {
                bail!("task {id} is still {} after 30 s", task["status"]);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    Ok(
        json!({"runs": runs, "p50_ms": percentile(times.clone(), 0.5), "p90_ms": percentile(times, 0.9)}),
    )
}

async fn seed_tasks(db: &PgPool, owner: Uuid, count: i64) -> Result<()> {
    sqlx::query(
        "insert into tasks (title, user_id, status, created_at, due_date, trashed_at) \
         select (array['Task ', 'Chapter ', 'Draft ', 'Notes '])[1 + g % 4] || g, $1, \
                (array['PENDING','IN_PROGRESS','COMPLETED','CANCELLED'])[1 + g % 4]::task_status, \
                now() - g * interval '1 second', \
                case when g % 3 <> 0 then now() + (g % 400) * interval '1 day' end, \
                case when g % 50 = 0 then now() - (g % 30) * interval '1 day' end \
         from generate_series(1, $2) g",
    )
    .bind(owner)
    .bind(count)
    .execute(db)
    .await?;
    Ok(())
}

async fn scaling(base: &str) -> Result<Value> {
    // Seeding a million rows (and vacuuming them) outlasts the requests' statement timeout.
    let options = writers::db::options_from_env().await?;
    let db = PgPool::connect_with(options.options([("statement_timeout", "0")])).await?;
    let client = http();
    let (small, small_cookie) = new_user(&client, base).await?;
    let (large, large_cookie) = new_user(&client, base).await?;
    seed_tasks(&db, small, 100).await?;
    seed_tasks(&db, large, 100_000).await?;
    // Among others: 900 writers of 1,000 tasks each, a million tasks in all with these two, so
    // every index and count works at a realistic size and not on one writer's rows alone.
    sqlx::query(
        "insert into users (email, username, hashed_password) \
         select 'others-' || g || '-' || $1 || '@example.com', 'others_' || g || '_' || $1, 'x' \
         from generate_series(1, 900) g",
    )
    .bind(&Uuid::new_v4().simple().to_string()[..8])
    .execute(&db)
    .await?;
    sqlx::query(
        "insert into tasks (title, user_id, status, created_at, due_date, trashed_at) \
         select (array['Task ', 'Chapter ', 'Draft ', 'Notes '])[1 + g % 4] || g, u.id, \
                (array['PENDING','IN_PROGRESS','COMPLETED','CANCELLED'])[1 + g % 4]::task_status, \
                now() - g * interval '1 second', \
                case when g % 3 <> 0 then now() + (g % 400) * interval '1 day' end, \
                case when g % 50 = 0 then now() - (g % 30) * interval '1 day' end \
         from users u cross join generate_series(1, 1000) g \
         where u.email like 'others-%'",
    )
    .execute(&db)
    .await?;
    let total: i64 = sqlx::query_scalar("select count(*) from tasks")
        .fetch_one(&db)
        .await?;
    // Steady state: autovacuum would have set the visibility map by now, which lets `count(*)`
    // answer from the index alone; a bulk insert a moment ago has not had it yet.
    sqlx::query("vacuum (analyze) tasks, task_counts")
        .execute(&db)
        .await?;
    let (at, id): (chrono::DateTime<chrono::Utc>, Uuid) = sqlx::query_as(
        "select created_at, id from tasks where user_id = $1 order by created_at desc, id desc offset 49999 limit 1",
    )
    .bind(large)
    .fetch_one(&db)
    .await?;
    let deep = Cursor {
        created_at: at,
        id,
        due_date: None,
    };
    let after = deep.encode();
    let deep_after = format!("limit=50&after={after}");
    let due_before = format!(
        "limit=50&sort=due_date&due_before={}",
        (chrono::Utc::now() + chrono::TimeDelta::days(30)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut cases = Vec::new();
    for (name, cookie, query) in [
        ("100 tasks, first page", &small_cookie, "limit=50"),
        ("100,000 tasks, first page", &large_cookie, "limit=50"),
        (
            "100,000 tasks, skip=50000",
            &large_cookie,
            "limit=50&skip=50000",
        ),
        (
            "100,000 tasks, after= the 50,000th (keyset)",
            &large_cookie,
            deep_after.as_str(),
        ),
        (
            "100,000 tasks, status_filter=completed",
            &large_cookie,
            "limit=50&status_filter=completed",
        ),
        (
            "100,000 tasks, sort=due_date",
            &large_cookie,
            "limit=50&sort=due_date",
        ),
        (
            "100,000 tasks, q=chapter",
            &large_cookie,
            "limit=50&q=chapter",
        ),
        (
            "100,000 tasks, due_before=+30 days, sort=due_date",
            &large_cookie,
            due_before.as_str(),
        ),
        (
            "100,000 tasks, trashed=true",
            &large_cookie,
            "limit=50&trashed=true",
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..31 {
            let started = Instant::now();
            let (status, _, _) = call(
                &client,
                "GET",
                &format!("{base}/api/v1/tasks?{query}"),
                &[("cookie", cookie)],
                Vec::new(),
            )
            .await?;
            times.push(ms(started.elapsed()));
            if status != 200 {
                bail!("list answered {status}");
            }
        }
        cases.push(json!({"case": name, "p50_ms": median(times)}));
    }
    // The list endpoint's statements as the API runs them (`tasks::db::explain_list` builds the
    // very statement `list` runs), one per filter and order, and the count beside each page.
    let page = |f: &dyn Fn(&mut ListQuery)| {
        let mut q = ListQuery {
            limit: 50,
            ..ListQuery::default()
        };
        f(&mut q);
        q
    };
    let due_soon = chrono::Utc::now() + chrono::TimeDelta::days(30);
    let mut plans = Vec::new();
    for (name, q) in [
        ("first page", page(&|_| {})),
        ("skip=50000", page(&|q| q.skip = 50_000)),
        ("after= the 50,000th", page(&|q| q.after = Some(deep))),
        (
            "status_filter=completed",
            page(&|q| q.status = Some(TaskStatus::Completed)),
        ),
        ("sort=due_date", page(&|q| q.sort = Sort::DueDate)),
        (
            "sort=due_date&status_filter=pending",
            page(&|q| {
                q.sort = Sort::DueDate;
                q.status = Some(TaskStatus::Pending);
            }),
        ),
        ("q=chapter", page(&|q| q.title = Some("chapter".to_owned()))),
        (
            "due_before=+30 days&sort=due_date",
            page(&|q| {
                q.sort = Sort::DueDate;
                q.due_before = Some(due_soon);
            }),
        ),
        ("trashed=true", page(&|q| q.trashed = true)),
    ] {
        let plan = tasks_db::explain_list(&db, large, &q).await?;
        plans.push(json!({"case": name, "plan": plan.join("\n")}));
    }
    let plan = tasks_db::explain_count(&db, large, &page(&|_| {})).await?;
    plans.push(json!({"case": "total (the count beside every page)", "plan": plan.join("\n")}));
    Ok(json!({"cases": cases, "plans": plans, "tasks_in_all": total}))
}

/// A payload-2.0 request as API Gateway sends it, from the host `localhost`.
fn http_event(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Value {
    let mut event = HttpEvent::new(method, path)
        .header("host", "localhost")
        .header("user-agent", "bench")
        .body(body.as_bytes());
    for (name, value) in headers {
        event = event.header(name, value);
    }
    event.to_json()
}

/// An SQS batch of one message carrying `body`, received once.
fn sqs_event(id: &str, body: &str) -> Result<Value> {
    let mut message = events::message(id, body);
    message
        .attributes
        .insert("ApproximateReceiveCount".to_owned(), "1".to_owned());
    Ok(serde_json::to_value(events::batch([message]))?)
}

async fn cold_start(bin_dir: &Path, base: &str) -> Result<Value> {
    let config = Config::from_env()?;
    let jwt = std::env::var("JWT_SECRET").context("JWT_SECRET (the Makefile's)")?;
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL")?;
    let jwt_arn = testkit::aws::secret(&config, "bench", &jwt).await;
    let db_arn = testkit::aws::secret(&config, "bench", &database_url).await;
    let deployment = Deployment::new(
        bin_dir,
        vec![
            ("DATABASE_SECRET_ARN".to_owned(), db_arn),
            ("JWT_SECRET_ARN".to_owned(), jwt_arn),
            ("DB_MAX_CONNECTIONS".to_owned(), "2".to_owned()),
        ],
    );
    let client = http();
    let (user, cookie) = new_user(&client, base).await?;
    // A page to list and a task to read, so the readers under load do their real work.
    let db = PgPool::connect_with(writers::db::options_from_env().await?).await?;
    seed_tasks(&db, user, 100).await?;
    let task: Uuid = sqlx::query_scalar("select id from tasks where user_id = $1 limit 1")
        .bind(user)
        .fetch_one(&db)
        .await?;
    let bearer = {
        let token = cookie.trim_start_matches("access_token=");
        format!("Bearer {token}")
    };
    let auth = [("authorization", bearer.as_str())];
    let cases: Vec<(&str, Value)> = vec![
        ("hello-lambda", http_event("GET", "/", &[], "")),
        ("api-docs", http_event("GET", "/openapi.json", &[], "")),
        ("auth", http_event("GET", "/auth/me", &auth, "")),
        ("tasks-list", http_event("GET", "/api/v1/tasks", &auth, "")),
        (
            "tasks-get",
            http_event("GET", &format!("/api/v1/tasks/{task}"), &auth, ""),
        ),
        (
            "tasks-create",
            http_event(
                "POST",
                "/api/v1/tasks/uploads",
                &[auth[0], ("content-type", "application/json")],
                "{}",
            ),
        ),
        (
            "file-processor",
            sqs_event("1", r#"{"Event":"s3:TestEvent"}"#)?,
        ),
        ("sweeper", events::schedule()),
        ("migrate", json!({"command": "status"})),
    ];
    let mut results = Vec::new();
    for (binary, event) in cases {
        let (mut init, mut first) = (Vec::new(), Vec::new());
        let mut under_load = Value::Null;
        for start in 0..COLD_STARTS {
            let runtime =
                RuntimeApi::start(&format!("writers-{binary}"), Duration::from_secs(60)).await?;
            let mut command = deployment.command(&runtime, binary);
            let started = Instant::now();
            let mut child = command
                // Their logs (and the sweeper's metrics line) must not mix into this JSON.
                .stdout(std::process::Stdio::null())
                .spawn()
                .with_context(|| format!("starting {binary}"))?;
            let answer = runtime.invoke(event.clone()).await;
            let answered = started.elapsed();
            if let Err(e) = answer {
                bail!("{binary} failed its first invocation: {e}");
            }
            let polled = runtime
                .first_poll()
                .context("the binary asked for an invocation")?;
            init.push(ms(polled - started));
            first.push(ms(answered));
            // A reader's memory under load, after the last start: an instance serves one request
            // at a time, so its load is invocations one after another.
            if start == COLD_STARTS - 1 && READERS.contains(&binary) {
                for _ in 0..READER_LOAD_INVOCATIONS {
                    if let Err(e) = runtime.invoke(event.clone()).await {
                        bail!("{binary} failed an invocation under load: {e}");
                    }
                }
                let pid = child.id().context("a pid")?;
                under_load = json!({
                    "invocations": READER_LOAD_INVOCATIONS,
                    "vmrss_mib": status_kib(pid, "VmRSS:")? as f64 / 1024.0,
                    "vmhwm_mib": status_kib(pid, "VmHWM:")? as f64 / 1024.0,
                    "rss_anon_mib": status_kib(pid, "RssAnon:")? as f64 / 1024.0,
                });
            }
            child.kill().await?;
        }
        results.push(json!({
            "binary": binary,
            "init_ms": median(init),
            "first_response_ms": median(first),
            "under_load": under_load,
        }));
    }
    Ok(json!({"runs_each": COLD_STARTS, "functions": results}))
}

/// Starts of each binary; the medians are reported. A start takes milliseconds, and a start's
/// init moves by a millisecond or two with whatever else the two cores are doing.
const COLD_STARTS: usize = 11;

/// The functions that only read: the issue's memory and size targets are theirs.
const READERS: [&str; 2] = ["tasks-list", "tasks-get"];
const READER_LOAD_INVOCATIONS: usize = 2000;

/// One `kB` line of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`, `RssAnon:`).
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{field} in /proc/{pid}/status"))
}

async fn process(bin_dir: &Path) -> Result<Value> {
    let (s3, config) = s3().await?;
    let db = PgPool::connect_with(writers::db::options_from_env().await?).await?;
    let owner = testkit::insert_user(
        &db,
        &format!("bench-{}@example.com", Uuid::new_v4().simple()),
        &format!("bench_{}", &Uuid::new_v4().simple().to_string()[..12]),
    )
    .await?;
    let line = "It was a bright cold day in April, and the clocks were striking thirteen.\n";
    let put = async |mib: usize| -> Result<String> {
        let size = mib * 1024 * 1024;
        let text: Vec<u8> = line.as_bytes().iter().copied().cycle().take(size).collect();
        let key = format!(
            "{}/uploads/bench/{}/{mib}.txt",
            config.storage_root.prefix,
            Uuid::new_v4()
        );
        let started = Instant::now();
        s3.put_object()
            .bucket(&config.storage_root.bucket)
            .key(&key)
            .body(text.into())
            .send()
            .await
            .with_context(|| format!("putting {mib} MiB"))?;
        eprintln!(
            "bench: put {mib} MiB in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        Ok(key)
    };
    // One task for the object at `key`, processed by the binary behind `runtime`; the seconds taken.
    let run = async |runtime: &RuntimeApi, key: &str, size: usize| -> Result<f64> {
        // A task and its draft 1, as `POST /api/v1/tasks` writes them.
        let task: Uuid = sqlx::query_scalar(
            "with task as ( \
                 insert into tasks (title, user_id, status, file_path, file_name, file_content_type, \
                                    file_size, drafts_created, shown_draft, processing_draft) \
                 values ('Bench', $1, 'IN_PROGRESS', $2, 'bench.txt', 'text/plain', $3, 1, 1, 1) returning id) \
             insert into task_drafts (task_id, number, file_path, file_name, file_content_type, file_size) \
             select id, 1, $2, 'bench.txt', 'text/plain', $3 from task returning task_id",
        )
        .bind(owner)
        .bind(format!("s3://{}/{key}", config.storage_root.bucket))
        .bind(i64::try_from(size)?)
        .fetch_one(&db)
        .await?;
        let job = json!({"version": 1, "task_id": task, "bucket": config.storage_root.bucket, "key": key});
        let event = sqs_event(&task.to_string(), &job.to_string())?;
        let started = Instant::now();
        let answer = runtime.invoke(event).await?;
        let secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            answer["batchItemFailures"]
                .as_array()
                .is_some_and(Vec::is_empty),
            "{answer}"
        );
        let status: String = sqlx::query_scalar("select status::text from tasks where id = $1")
            .bind(task)
            .fetch_one(&db)
            .await?;
        anyhow::ensure!(status == "COMPLETED", "the task is {status}");
        Ok(secs)
    };
    let warm_up = put(1).await?;
    let mut results = Vec::new();
    for mib in [1_usize, 64, 256] {
        let size = mib * 1024 * 1024;
        let key = put(mib).await?;
        // A fresh process per size, warmed by one task of its own first: its connections, first
        // secret reads and lazy set-up are the cold start's (measured above), not throughput.
        let runtime = RuntimeApi::start("writers-file-processor", Duration::from_secs(300)).await?;
        let mut child = runtime
            .command(&bin_dir.join("file-processor"), 512)
            // Its logs must not mix into this JSON.
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let first_secs = run(&runtime, &warm_up, 1024 * 1024).await?;
        // A plain streamed GET of the same object (the ceiling), then a task, three times over:
        // alternating them lets LocalStack's drift from one moment to the next touch both alike.
        let (mut gets, mut runs) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let started = Instant::now();
            let mut body = s3
                .get_object()
                .bucket(&config.storage_root.bucket)
                .key(&key)
                .send()
                .await
                .with_context(|| format!("getting {mib} MiB"))?
                .body;
            let mut read = 0;
            while let Some(chunk) = body.try_next().await? {
                read += chunk.len();
            }
            anyhow::ensure!(read == size, "read {read} of {size} bytes");
            gets.push(started.elapsed().as_secs_f64());
            runs.push(run(&runtime, &key, size).await?);
        }
        let get_secs = median(gets);
        let peak = status_kib(child.id().context("a pid")?, "VmHWM:")? as f64 / 1024.0;
        child.kill().await?;
        let secs = median(runs);
        results.push(json!({
            "mib": mib,
            "get_mib_per_sec": mib as f64 / get_secs,
            "process_mib_per_sec": mib as f64 / secs,
            "fraction_of_get": get_secs / secs,
            "first_task_ms": first_secs * 1000.0,
            "peak_rss_mib": peak,
        }));
    }
    Ok(json!({"sizes": results}))
}

/// One value of a statement's parameters, as a literal of its type for a pgbench script.
enum Literal {
    Uuid(Uuid),
    /// `gen_random_uuid()`: a create's new task id, fresh in every transaction.
    NewUuid,
    Time(chrono::DateTime<chrono::Utc>),
    Int(i64),
    Bool(bool),
    Text(&'static str),
    Null(&'static str),
}

impl Literal {
    fn sql(&self) -> String {
        match self {
            Self::Uuid(id) => format!("'{id}'::uuid"),
            Self::NewUuid => "gen_random_uuid()".to_owned(),
            Self::Time(at) => format!("'{}'::timestamptz", at.to_rfc3339()),
            Self::Int(n) => format!("{n}::bigint"),
            Self::Bool(b) => format!("{b}"),
            Self::Text(t) => format!("'{}'::text", t.replace('\'', "''")),
            Self::Null(ty) => format!("null::{ty}"),
        }
    }
}

/// `sql` with `$1`, `$2`, … replaced by `values`, refusing a count that does not match: the
/// handler's statement changed its parameters, and this list must follow.
fn with_literals(sql: &str, values: &[Literal]) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut used = 0;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits: String = rest[at + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let n: usize = digits.parse().context("a $ that is not a parameter")?;
        let value = values
            .get(n - 1)
            .with_context(|| format!("the statement has ${n}, the bench knows {}", values.len()))?;
        out.push_str(&value.sql());
        used = used.max(n);
        rest = &rest[at + 1 + digits.len()..];
    }
    out.push_str(rest);
    if used != values.len() {
        bail!(
            "the statement has {used} parameters, the bench knows {}",
            values.len()
        );
    }
    Ok(out)
}

/// The statements `GET /api/v1/tasks?limit=50`, `GET /api/v1/tasks/{id}` and a `POST` without a
/// file run (each one round trip), from the handlers' own builders, with the bench user's
/// values in place of the parameters: what pgbench runs for the bound, one file each in `dir`.
async fn pgbench_scripts(dir: &Path, user_id: Uuid, task_id: Uuid) -> Result<Value> {
    let db = PgPool::connect_with(writers::db::options_from_env().await?).await?;
    let session_id: Uuid = sqlx::query_scalar(
        "select id from sessions where user_id = $1 and revoked_at is null order by created_at desc limit 1",
    )
    .bind(user_id)
    .fetch_one(&db)
    .await?;
    let config = Config::from_env()?;
    let caller = Caller {
        user_id,
        session_id,
    };
    let now = chrono::Utc::now();
    let session = [
        Literal::Uuid(session_id),
        Literal::Uuid(user_id),
        Literal::Time(now),
    ];
    let list_query = ListQuery {
        skip: 0,
        limit: 50,
        status: None,
        sort: Sort::CreatedAt,
        title: None,
        due_before: None,
        trashed: false,
        after: None,
    };
    let list = tasks_db::list_statement(caller, now, &list_query);
    let list_values = [
        session,
        [
            Literal::Uuid(user_id),
            Literal::Bool(false),
            Literal::Uuid(user_id),
        ],
    ]
    .into_iter()
    .flatten()
    .chain([Literal::Int(50), Literal::Int(0)])
    .collect::<Vec<_>>();
    let get = tasks_db::get_statement(caller, now, task_id);
    let get_values = [
        Literal::Uuid(session_id),
        Literal::Uuid(user_id),
        Literal::Time(now),
        Literal::Uuid(task_id),
    ];
    let new = NewTask {
        title: "A chapter".to_owned(),
        description: None,
        due_date: None,
        word_target: None,
    };
    let create = tasks_db::create_statement(&config, caller, now, Uuid::nil(), &new);
    let (interval, tolerance) = writers::tasks::allowance::rate(&config);
    let create_values = [
        Literal::Uuid(session_id),
        Literal::Uuid(user_id),
        Literal::Time(now),
        Literal::Time(now),
        Literal::Int(interval),
        Literal::Time(now),
        Literal::Int(interval),
        Literal::Time(now),
        Literal::Int(tolerance),
        Literal::Time(now),
        Literal::NewUuid,
        Literal::Text("A chapter"),
        Literal::Null("text"),
        Literal::Null("timestamptz"),
        Literal::Null("integer"),
    ];
    std::fs::create_dir_all(dir)?;
    let mut written = serde_json::Map::new();
    for (name, sql, values) in [
        ("list", list.sql().as_str().to_owned(), &list_values[..]),
        ("get", get.sql().as_str().to_owned(), &get_values[..]),
        (
            "create",
            create.sql().as_str().to_owned(),
            &create_values[..],
        ),
    ] {
        let script = with_literals(&sql, values)?;
        // Each must answer as the handler's does: the caller's row, with the task or page.
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(script.clone()))
            .fetch_all(&db)
            .await
            .with_context(|| format!("the {name} script does not run"))?;
        if rows.is_empty() {
            bail!("the {name} script answers no row: is the session live?");
        }
        let path = dir.join(format!("{name}.sql"));
        std::fs::write(&path, format!("{script};\n"))?;
        written.insert(
            name.to_owned(),
            json!({"path": path, "rows": rows.len(), "sql": sql}),
        );
    }
    Ok(Value::Object(written))
}

/// One command to the wire counter's control port, and its JSON answer.
async fn wire(control: &str, command: &str) -> Result<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(control)
        .await
        .with_context(|| format!("the wire counter's control port {control}"))?;
    stream.write_all(format!("{command}\n").as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(serde_json::from_str(answer.trim())?)
}

/// Round trips to Postgres per request of each route: after one request of each (connections
/// open, statements prepared), the counter is zeroed, `N` requests run one after another, and
/// the Syncs and simple queries the server answered are divided by `N`.
async fn round_trips(base: &str, control: &str, cookie: &str, task: &str) -> Result<Value> {
    const N: usize = 50;
    let client = http();
    let json_type = ("content-type", "application/json");
    let routes: Vec<(&str, &str, String, Vec<u8>, bool)> = vec![
        (
            "GET /api/v1/tasks?limit=50",
            "GET",
            format!("{base}/api/v1/tasks?limit=50"),
            Vec::new(),
            false,
        ),
        (
            "GET /api/v1/tasks/{id}",
            "GET",
            format!("{base}/api/v1/tasks/{task}"),
            Vec::new(),
            false,
        ),
        (
            "POST /api/v1/tasks (no file)",
            "POST",
            format!("{base}/api/v1/tasks"),
            br#"{"title": "A chapter"}"#.to_vec(),
            true,
        ),
        (
            "PATCH /api/v1/tasks/{id}",
            "PATCH",
            format!("{base}/api/v1/tasks/{task}"),
            Vec::new(),
            true,
        ),
        (
            "GET /api/v1/tasks/{id}/drafts",
            "GET",
            format!("{base}/api/v1/tasks/{task}/drafts"),
            Vec::new(),
            false,
        ),
        (
            "GET /auth/me",
            "GET",
            format!("{base}/auth/me"),
            Vec::new(),
            false,
        ),
    ];
    // local-api's in-process sweeper runs once as it starts: its statements are not a request's.
    let mut last = wire(control, "read").await?["round_trips"].clone();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = wire(control, "read").await?["round_trips"].clone();
        if now == last {
            break;
        }
        last = now;
    }
    let mut measured = Vec::new();
    for (label, method, url, body, json_body) in &routes {
        let send = |n: usize| {
            let body = if *method == "PATCH" {
                format!(r#"{{"description": "edit {n}"}}"#).into_bytes()
            } else {
                body.clone()
            };
            let mut headers = vec![("cookie", cookie)];
            if *json_body {
                headers.push(json_type);
            }
            let client = &client;
            async move {
                let (status, bytes, _) = call(client, method, url, &headers, body).await?;
                if !(200..300).contains(&status) {
                    bail!(
                        "{label} answered {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
                Ok(())
            }
        };
        send(0).await?;
        wire(control, "reset").await?;
        for n in 1..=N {
            send(n).await?;
        }
        let counted = wire(control, "read").await?;
        let trips = counted["round_trips"].as_f64().context("round_trips")?;
        measured.push(json!({
            "route": label,
            "requests": N,
            "round_trips_per_request": trips / N as f64,
            "statements": counted["statements"],
        }));
    }
    Ok(json!({"routes": measured}))
}
