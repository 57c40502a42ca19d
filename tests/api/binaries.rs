//! End to end over the real binaries: each function's own binary (`cargo build` output, not the
//! library) runs behind the project's Lambda Runtime API, configured as template.yaml configures
//! it in AWS — the JWT key and the database credentials read from Secrets Manager (LocalStack),
//! an uploads bucket whose `incoming/` notifications feed the jobs queue — and a small API Gateway
//! (HTTP API, payload format 2.0) in front turns real HTTP requests into their events. It proves
//! each binary's start-up wiring, which the library tests cannot.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, RawPathParams, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::Response,
    routing::{MethodFilter, on, put},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
};
use uuid::Uuid;
use writers::{
    Config,
    http::{Function, routes},
    processor::{
        FUNCTION_TIMEOUT, poller,
        runtime_api::{InvokeError, RuntimeApi},
    },
};

use crate::{
    direct_uploads::{s3_request, signed_headers},
    helpers::{
        Part, TestResponse, fixture, isolated_config, notifying_bucket, over_http, request_to,
    },
};

/// Every function binary, built now if it is not up to date (a no-op after `make test`'s build).
fn built_binaries() -> PathBuf {
    let names = [
        "auth",
        "tasks-create",
        "tasks-list",
        "tasks-get",
        "api-docs",
        "file-processor",
        "sweeper",
        "migrate",
    ];
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--bins"]);
    for name in names {
        build.args(["-p", name]);
    }
    let status = build
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the function binaries failed");
    // target/debug/deps/api-… → target/debug
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_path_buf()
}

/// One function: its binary, running against its own Runtime API.
struct Lambda {
    runtime: RuntimeApi,
    process: Child,
}

/// What every function gets in AWS (template.yaml's Globals), pointed at LocalStack and Postgres.
struct Deployment {
    binaries: PathBuf,
    environment: Vec<(&'static str, String)>,
}

impl Deployment {
    async fn start(&self, binary: &str, timeout: Duration, piped: bool) -> Lambda {
        let path = self.binaries.join(binary);
        let runtime = RuntimeApi::start(binary, timeout)
            .await
            .expect("a Runtime API");
        let mut command = Command::new(&path);
        command
            .env("AWS_LAMBDA_RUNTIME_API", runtime.address().to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("writers-{binary}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            // As in AWS: no DATABASE_URL, no JWT_SECRET; both come from Secrets Manager.
            .env_remove("DATABASE_URL")
            .env_remove("JWT_SECRET")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        for (name, value) in &self.environment {
            command.env(name, value);
        }
        if piped {
            command.stdout(std::process::Stdio::piped());
        }
        let process = command
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", path.display()));
        Lambda { runtime, process }
    }
}

/// The secrets template.yaml makes: a generated JWT key, and an RDS-managed database secret
/// (username and password only; the host, port and name come from `DB_*`).
async fn secrets(config: &Config) -> (String, String) {
    let client = aws_sdk_secretsmanager::Client::new(&writers::state::aws_sdk_config(config).await);
    let id = Uuid::new_v4().simple().to_string();
    let mut arns = Vec::new();
    for (name, value) in [
        (format!("e2e-jwt-{id}"), format!("{id}{id}")),
        (
            format!("e2e-db-{id}"),
            json!({"username": "postgres", "password": "trusted-locally"}).to_string(),
        ),
    ] {
        let created = client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("LocalStack's Secrets Manager creates a secret");
        arns.push(created.arn.expect("an ARN"));
    }
    (arns.remove(0), arns.remove(0))
}

// ---- API Gateway: HTTP requests in, payload 2.0 events to the functions, responses out ----

/// `{*path}` (axum) is `{path+}` (API Gateway).
fn route_key(method: &Method, axum_path: &str) -> String {
    let path = axum_path
        .split('/')
        .map(|segment| match segment.strip_prefix("{*") {
            Some(name) => format!("{{{}+}}", name.trim_end_matches('}')),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/");
    format!("{method} {path}")
}

/// A request as API Gateway's HTTP API hands it to a function (payload format 2.0).
fn http_api_event(
    request: &axum::http::request::Parts,
    route: &str,
    params: &RawPathParams,
    peer: SocketAddr,
    body: &[u8],
) -> Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &request.headers {
        let value = value.to_str().unwrap_or_default();
        if name == header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        // Repeated headers arrive comma-joined.
        headers
            .entry(name.as_str())
            .and_modify(|v| *v = json!(format!("{},{value}", v.as_str().unwrap_or_default())))
            .or_insert_with(|| json!(value));
    }
    let path_parameters: serde_json::Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let now = chrono::Utc::now();
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": request.uri.path(),
        "rawQueryString": request.uri.query().unwrap_or_default(),
        "cookies": cookies,
        "headers": headers,
        "pathParameters": path_parameters,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": request.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
            "domainPrefix": "local",
            "http": {
                "method": request.method.as_str(),
                "path": request.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": request.headers.get(header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or_default(),
            },
            "requestId": Uuid::new_v4().to_string(),
            "routeKey": route,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": BASE64.encode(body),
        "isBase64Encoded": true,
    })
}

/// The function's answer (payload format 2.0) as an HTTP response; a failed invocation is
/// API Gateway's `500 {"message":"Internal Server Error"}`.
fn http_response(answer: Result<Value, InvokeError>) -> Response {
    let Ok(answer) = answer else {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from(r#"{"message":"Internal Server Error"}"#))
            .expect("a response");
    };
    let mut response =
        Response::builder().status(answer["statusCode"].as_u64().unwrap_or(500) as u16);
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        response = response.header(name, value.as_str().unwrap_or_default());
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        response = response.header(header::SET_COOKIE, cookie.as_str().unwrap_or_default());
    }
    let body = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"] == true {
        BASE64.decode(body).expect("base64 from the function")
    } else {
        body.as_bytes().to_vec()
    };
    response.body(Body::from(body)).expect("a response")
}

#[derive(Clone)]
struct Gateway {
    functions: Arc<HashMap<Function, RuntimeApi>>,
}

/// Serves every route of the table on its function, as template.yaml's HTTP API does.
async fn serve_gateway(functions: HashMap<Function, RuntimeApi>) -> SocketAddr {
    let gateway = Gateway {
        functions: Arc::new(functions),
    };
    let router = routes().into_iter().fold(Router::new(), |router, route| {
        let function = route.function;
        let filter = MethodFilter::try_from(route.method.clone()).expect("a routable method");
        let key = route_key(&route.method, &route.path);
        router.route(
            &route.path,
            on(
                filter,
                move |State(gateway): State<Gateway>,
                      ConnectInfo(peer): ConnectInfo<SocketAddr>,
                      params: RawPathParams,
                      request: Request| {
                    let key = key.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let event = http_api_event(&parts, &key, &params, peer, &body);
                        http_response(gateway.functions[&function].invoke(event).await)
                    }
                },
            ),
        )
    });
    let app = router
        .fallback(|| async { (StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#) })
        .with_state(gateway)
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// Stands in for CloudFormation's presigned `ResponseURL`: hands each answer to the test.
async fn cloudformation_response_url() -> (String, mpsc::Receiver<Value>) {
    let (answers, received) = mpsc::channel(4);
    let app = Router::new().route(
        "/cloudformation/response",
        put(move |headers: HeaderMap, body: Bytes| {
            let answers = answers.clone();
            async move {
                // The real URL is presigned without a content type; one sent would not match it.
                assert!(headers.get(header::CONTENT_TYPE).is_none(), "{headers:?}");
                answers
                    .send(serde_json::from_slice(&body).expect("a JSON answer"))
                    .await
                    .expect("the test listens");
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://{address}/cloudformation/response"),
        received,
    )
}

fn deploy_event(request_type: &str, response_url: &str) -> Value {
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:000000000000:function:writers-migrate",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/writers/1",
        "RequestId": Uuid::new_v4().to_string(),
        "ResourceType": "Custom::Migrations",
        "LogicalResourceId": "Migrations",
        "ResourceProperties": {"MigrateVersion": "1"},
    })
}

#[sqlx::test(migrations = false)]
async fn every_binary_serves_the_whole_flow_as_deployed(pool: PgPool) {
    let binaries = built_binaries();
    let config = notifying_bucket(isolated_config().await).await;
    let (jwt_secret_arn, database_secret_arn) = secrets(&config).await;
    let db = pool.connect_options();
    let deployment = Deployment {
        binaries,
        environment: vec![
            ("DATABASE_SECRET_ARN", database_secret_arn),
            ("DB_HOST", db.get_host().to_owned()),
            ("DB_PORT", db.get_port().to_string()),
            ("DB_NAME", db.get_database().expect("a database").to_owned()),
            ("DB_SSLMODE", "prefer".to_owned()),
            ("DB_STATEMENT_CACHE_CAPACITY", "0".to_owned()),
            ("JWT_SECRET_ARN", jwt_secret_arn),
            ("STORAGE_ROOT", config.storage_root.to_string()),
            ("QUEUE_URL", config.queue_url.clone()),
            ("DEAD_LETTER_QUEUE_URL", String::new()),
            ("COOKIE_SECURE", "false".to_owned()),
        ],
    };

    // The deploy: CloudFormation's custom resource runs the migrations on the empty database.
    let migrate = deployment
        .start("migrate", Duration::from_secs(300), false)
        .await;
    let (response_url, mut answers) = cloudformation_response_url().await;
    migrate
        .runtime
        .invoke(deploy_event("Create", &response_url))
        .await
        .expect("the migrate function answers");
    let answer = answers.recv().await.expect("an answer to CloudFormation");
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["LogicalResourceId"], "Migrations");
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_name in ('users', 'tasks', 'sessions', 'outbox_jobs')",
    )
    .fetch_one(&pool)
    .await
    .expect("a count");
    assert_eq!(tables, 4, "the migrations ran");

    let mut functions = HashMap::new();
    let mut processes = Vec::new();
    for function in Function::ALL {
        let lambda = deployment
            .start(function.binary(), Duration::from_secs(10), false)
            .await;
        functions.insert(function, lambda.runtime);
        processes.push(lambda.process);
    }
    let processor = deployment
        .start("file-processor", FUNCTION_TIMEOUT, false)
        .await;
    let address = serve_gateway(functions).await;
    let api = over_http(address);
    let jobs = writers::files::queue::JobQueue::new(
        &writers::state::aws_sdk_config(&config).await,
        &config.queue_url,
    );
    let process_jobs = || async {
        poller::poll_once(&jobs, Duration::from_secs(5), |event| {
            processor.runtime.invoke_sqs(event)
        })
        .await
        .expect("the jobs queue")
    };

    let docs = request_to(&api, Method::GET, "/openapi.json").send().await;
    assert_eq!(docs.status, StatusCode::OK);
    assert_eq!(docs.json()["info"]["title"], "Writers");

    // register → me
    let email = format!(
        "e2e-{}@example.com",
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let registered = request_to(&api, Method::POST, "/auth/register")
        .json(&json!({"email": email, "username": format!("e2e_{}", &Uuid::new_v4().simple().to_string()[..12]), "password": "correct horse battery staple"}))
        .send()
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text()
    );
    let access = registered.cookie("access_token").expect("an access cookie");
    assert!(access.has("httponly"));
    let refresh = registered
        .cookie("refresh_token")
        .expect("a refresh cookie")
        .value;
    let access = access.value;
    let me = request_to(&api, Method::GET, "/auth/me")
        .cookie("access_token", &access)
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    assert_eq!(me.json()["user"]["email"], email);

    // a task with a file → the processor binary, fed from the queue → list and get
    let created = request_to(&api, Method::POST, "/api/v1/tasks")
        .cookie("access_token", &access)
        .multipart(&[
            Part::text("title", "Chapter one"),
            Part::file("chapter.txt", "text/plain", &fixture("chapter.txt")),
        ])
        .send()
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text());
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    // (S3's test event for the new notification may arrive in the same batch.)
    let polled = process_jobs().await;
    assert!(polled.received >= 1 && polled.failed == 0, "{polled:?}");
    let listed = request_to(&api, Method::GET, "/api/v1/tasks?limit=10")
        .cookie("access_token", &access)
        .send()
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let page = listed.json();
    assert_eq!(page["total"], 1);
    let first = &page["tasks"][0];
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["status"], "completed");
    let task = request_to(&api, Method::GET, &format!("/api/v1/tasks/{id}"))
        .cookie("access_token", &access)
        .send()
        .await;
    assert_eq!(task.status, StatusCode::OK);
    // tests/fixtures/README.md: chapter.txt has 28 words.
    assert_eq!(task.json()["word_count"], 28);
    let result = request_to(&api, Method::GET, &format!("/api/v1/tasks/{id}/result"))
        .cookie("access_token", &access)
        .send()
        .await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.text());

    // a large upload, PUT to its presigned URL → S3's notification → the processor binary
    let bytes = "chapter ".repeat(700 * 1024).into_bytes();
    let declared = request_to(&api, Method::POST, "/api/v1/tasks/uploads")
        .cookie("access_token", &access)
        .json(&json!({"title": "Long novel", "file": {"name": "novel.txt", "size": bytes.len(), "content_type": "text/plain"}}))
        .send()
        .await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text());
    let declared = declared.json();
    let upload = &declared["upload"];
    let (status, _, body) = s3_request(
        "PUT",
        upload["url"].as_str().expect("a URL"),
        &signed_headers(upload),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let large_id = declared["id"].as_str().expect("an id");
    let mut large = Value::Null;
    for _ in 0..10 {
        process_jobs().await;
        large = request_to(&api, Method::GET, &format!("/api/v1/tasks/{large_id}"))
            .cookie("access_token", &access)
            .send()
            .await
            .json();
        if large["status"] == "completed" {
            break;
        }
    }
    assert_eq!(large["status"], "completed", "{large}");
    assert_eq!(large["word_count"], 700 * 1024);

    // the sweeper binary: one scheduled run, and its metrics line on stdout
    let mut sweeper = deployment
        .start("sweeper", Duration::from_secs(60), true)
        .await;
    let report = sweeper
        .runtime
        .invoke(json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}))
        .await
        .expect("a sweep");
    assert_eq!(report["unsent_jobs"], 0, "{report}");
    let mut lines = BufReader::new(sweeper.process.stdout.take().expect("stdout")).lines();
    let metrics = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && value.get("_aws").is_some()
            {
                return value;
            }
        }
        panic!("the sweeper printed no metrics line");
    })
    .await
    .expect("a metrics line");
    assert_eq!(metrics["FunctionName"], "writers-sweeper");
    assert_eq!(metrics["OldestUnsentOutboxJobAge"], 0);

    // refresh → logout → the old cookie is refused
    let refreshed = request_to(&api, Method::POST, "/auth/refresh")
        .cookie("refresh_token", &refresh)
        .send()
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    let new_access = refreshed
        .cookie("access_token")
        .expect("a new access cookie")
        .value;
    let new_refresh = refreshed
        .cookie("refresh_token")
        .expect("a new refresh cookie")
        .value;
    let logged_out = request_to(&api, Method::POST, "/auth/logout")
        .header(
            "cookie",
            &format!("access_token={new_access}; refresh_token={new_refresh}"),
        )
        .send()
        .await;
    assert!(logged_out.status.is_success(), "{}", logged_out.text());
    let refused: TestResponse = request_to(&api, Method::GET, "/auth/me")
        .cookie("access_token", &access)
        .send()
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );

    // Deleting the stack answers too, and keeps the data.
    migrate
        .runtime
        .invoke(deploy_event("Delete", &response_url))
        .await
        .expect("the migrate function answers");
    assert_eq!(
        answers.recv().await.expect("an answer")["Status"],
        "SUCCESS"
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .expect("users");
    assert_eq!(users, 1);
}
