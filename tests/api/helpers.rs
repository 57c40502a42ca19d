//! Plumbing shared by the tests: configuration, the app under test, requests, personas.

use std::net::SocketAddr;

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;
use writers::{AppState, Config, clock::Clock};

/// The configuration `make test` exports; a clear message when run some other way.
#[track_caller]
pub fn config() -> Config {
    Config::from_env().unwrap_or_else(|e| {
        panic!("{e}\nrun the tests with `make test`, which starts Postgres and LocalStack and sets the variables")
    })
}

/// A configuration of this test's own: a fresh SQS queue and S3 prefix, so tests running side
/// by side never see each other's jobs or objects.
pub async fn isolated_config() -> Config {
    let mut config = config();
    let id = Uuid::new_v4().simple().to_string();
    let sqs = aws_sdk_sqs::Client::new(&writers::state::aws_sdk_config(&config).await);
    config.queue_url = sqs
        .create_queue()
        .queue_name(format!("test-{id}"))
        .send()
        .await
        .expect("LocalStack creates a queue (is it running? `make test` starts it)")
        .queue_url
        .expect("a queue URL");
    config.storage_root.prefix = format!("{}/test-{id}", config.storage_root.prefix);
    // The shared dead-letter queue is the local server's; a test that needs one makes its own.
    config.dead_letter_queue_url = None;
    config
}

/// `config` over a new bucket of its own (prefix `writers`), whose `writers/incoming/`
/// notifications go to `config`'s queue, as template.yaml wires the real one.
pub async fn notifying_bucket(mut config: Config) -> Config {
    let aws = writers::state::aws_sdk_config(&config).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let bucket = format!(
        "writers-test-{}",
        &Uuid::new_v4().simple().to_string()[..16]
    );
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("a bucket");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&config.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("an ARN");
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let rule = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value("writers/incoming/")
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(queue_arn)
                        .events(Event::S3ObjectCreated)
                        .filter(
                            NotificationConfigurationFilter::builder()
                                .key(S3KeyFilter::builder().filter_rules(rule).build())
                                .build(),
                        )
                        .build()
                        .expect("a queue configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("notifications");
    config.storage_root = format!("s3://{bucket}/writers").parse().expect("a root");
    config
}

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The whole local API over a per-test database, reading a clock the test can move.
pub struct TestApp {
    router: Router,
    pub state: AppState,
    pub clock: Clock,
}

impl TestApp {
    pub async fn new(db: PgPool) -> Self {
        Self::with_config(isolated_config().await, db).await
    }

    pub async fn with_config(config: Config, db: PgPool) -> Self {
        let state = AppState::with_pool(config, db).await;
        Self::with_state(state)
    }

    /// Serves `state` as it is (tests that swap a client for a broken one).
    pub fn with_state(state: AppState) -> Self {
        let clock = Clock::fixed(chrono::Utc::now());
        let state = state.with_clock(clock.clone());
        Self {
            router: writers::http::local_app(state.clone()),
            state,
            clock,
        }
    }

    /// Every job on this test's queue, received and deleted.
    pub async fn drain_jobs(&self) -> Vec<Value> {
        let sqs = self.state.jobs.client();
        let mut jobs = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(self.state.jobs.url())
                .max_number_of_messages(10)
                .wait_time_seconds(if jobs.is_empty() { 1 } else { 0 })
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            if received.is_empty() {
                return jobs;
            }
            for message in received {
                jobs.push(
                    serde_json::from_str(message.body.as_deref().unwrap_or_default())
                        .expect("a JSON job"),
                );
                sqs.delete_message()
                    .queue_url(self.state.jobs.url())
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// Keys stored under this test's storage prefix.
    pub async fn stored_keys(&self) -> Vec<String> {
        let root = self.state.storage.root();
        self.state
            .storage
            .client()
            .list_objects_v2()
            .bucket(&root.bucket)
            .prefix(format!("{}/", root.prefix))
            .send()
            .await
            .expect("list")
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| o.key)
            .collect()
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path).send().await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.request(Method::POST, path).json(body).send().await
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder {
            router: self.router.clone(),
            request: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    /// Registers a fresh user and returns them signed in, holding their cookies.
    pub async fn signed_up_user(&self) -> TestUser {
        let n = Uuid::new_v4().simple().to_string();
        let email = format!("writer-{}@example.com", &n[..12]);
        let password = "correct horse battery staple".to_owned();
        let response = self
            .post_json(
                "/auth/register",
                &json!({"email": email, "username": format!("writer_{}", &n[..12]), "password": password}),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        TestUser {
            id: response.json()["user"]["id"]
                .as_str()
                .expect("an id")
                .parse()
                .expect("a UUID"),
            email,
            password,
            access: response
                .cookie("access_token")
                .expect("access cookie")
                .value,
            refresh: response
                .cookie("refresh_token")
                .expect("refresh cookie")
                .value,
        }
    }

    /// Creates a task for `user` with one uploaded file; returns the task as the API shows it.
    pub async fn create_with_file(&self, user: &TestUser, file_name: &str, bytes: &[u8]) -> Value {
        let response = self
            .request(Method::POST, "/api/v1/tasks")
            .cookie("access_token", &user.access)
            .multipart(&[
                Part::text("title", file_name),
                Part::file(file_name, "application/octet-stream", bytes),
            ])
            .send()
            .await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.text());
        response.json()
    }

    /// The S3 key of a task's file (its `file_path`), which must be in this test's bucket.
    pub fn key_of(&self, task: &Value) -> String {
        let object = task["file_path"]
            .as_str()
            .and_then(writers::tasks::model::StoredObject::parse)
            .expect("an s3:// file path");
        assert_eq!(object.bucket, self.state.storage.root().bucket);
        object.key
    }

    /// The task as its owner sees it now.
    pub async fn task(&self, user: &TestUser, id: &str) -> Value {
        let response = self
            .request(Method::GET, &format!("/api/v1/tasks/{id}"))
            .cookie("access_token", &user.access)
            .send()
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    /// Logs in with the password flow and returns the bearer token.
    pub async fn bearer_token(&self, email: &str, password: &str) -> String {
        let response = self
            .request(Method::POST, "/auth/token")
            .form(&format!(
                "username={email}&password={}",
                password.replace(' ', "+")
            ))
            .send()
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()["access_token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }
}

/// One part of a multipart form.
pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl Part {
    pub fn text(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            file_name: None,
            content_type: None,
            bytes: value.as_bytes().to_vec(),
        }
    }

    pub fn file(file_name: &str, content_type: &str, bytes: &[u8]) -> Self {
        Self {
            name: "file".to_owned(),
            file_name: Some(file_name.to_owned()),
            content_type: Some(content_type.to_owned()),
            bytes: bytes.to_vec(),
        }
    }
}

/// A registered user and the cookies their last sign-in set.
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

pub struct RequestBuilder {
    router: Router,
    request: axum::http::request::Builder,
    body: Body,
}

impl RequestBuilder {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.request = self
            .request
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(body.to_string());
        self
    }

    /// A `multipart/form-data` body of `parts`.
    pub fn multipart(mut self, parts: &[Part]) -> Self {
        let boundary = "----writers-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
                    part.name
                )
                .as_bytes(),
            );
            if let Some(file_name) = &part.file_name {
                body.extend_from_slice(b"; filename=\"");
                body.extend_from_slice(file_name.as_bytes());
                body.extend_from_slice(b"\"");
            }
            body.extend_from_slice(b"\r\n");
            if let Some(content_type) = &part.content_type {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.request = self.request.header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        );
        self.body = Body::from(body);
        self
    }

    pub fn form(mut self, body: &str) -> Self {
        self.request = self
            .request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.body = Body::from(body.to_owned());
        self
    }

    /// A raw body with the given content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.request = self.request.header(header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    pub fn cookie(self, name: &str, value: &str) -> Self {
        self.header("cookie", &format!("{name}={value}"))
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The TCP peer address, as the local server sees it.
    pub fn peer_ip(mut self, ip: &str) -> Self {
        let addr: SocketAddr = format!("{ip}:40000").parse().expect("an IP");
        self.request = self.request.extension(ConnectInfo(addr));
        self
    }

    pub async fn send(self) -> TestResponse {
        let request = self.request.body(self.body).expect("a valid request");
        send(self.router, request).await
    }
}

/// A router that sends every request over real HTTP to `address` (a server the test started),
/// so the [`RequestBuilder`]s work against it as against the in-process app.
pub fn over_http(address: SocketAddr) -> Router {
    use hyper_util::{client::legacy::Client, rt::TokioExecutor};
    let client = Client::builder(TokioExecutor::new())
        .build_http::<http_body_util::Full<axum::body::Bytes>>();
    Router::new().fallback(move |request: Request<Body>| {
        let client = client.clone();
        async move {
            let (mut parts, body) = request.into_parts();
            let bytes = body.collect().await.expect("a request body").to_bytes();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            parts.uri = format!("http://{address}{path}").parse().expect("a URI");
            let response = client
                .request(Request::from_parts(parts, http_body_util::Full::new(bytes)))
                .await
                .expect("the server answers over HTTP");
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.expect("a response body").to_bytes();
            axum::response::Response::from_parts(parts, Body::from(bytes))
        }
    })
}

/// A request to `router` (for routers other than a [`TestApp`]'s, e.g. [`over_http`]).
pub fn request_to(router: &Router, method: Method, path: &str) -> RequestBuilder {
    RequestBuilder {
        router: router.clone(),
        request: Request::builder().method(method).uri(path),
        body: Body::empty(),
    }
}

/// Sends `request` through `router` and collects the whole response.
pub async fn send(router: Router, request: Request<Body>) -> TestResponse {
    let response = router
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body is readable")
        .to_bytes()
        .to_vec();
    TestResponse {
        status,
        headers,
        body,
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One `Set-Cookie`: its value and its attributes, lowercased names.
#[derive(Debug)]
pub struct SetCookie {
    pub value: String,
    pub attributes: Vec<(String, String)>,
}

impl SetCookie {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, flag: &str) -> bool {
        self.attribute(flag).is_some()
    }
}

impl TestResponse {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("an ASCII header")
    }

    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The `Set-Cookie` for `name`, if the response sets it.
    pub fn cookie(&self, name: &str) -> Option<SetCookie> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|line| {
                let mut parts = line.split(';').map(str::trim);
                let (key, value) = parts.next()?.split_once('=')?;
                (key == name).then(|| SetCookie {
                    value: value.to_owned(),
                    attributes: parts
                        .map(|p| match p.split_once('=') {
                            Some((k, v)) => (k.to_ascii_lowercase(), v.to_owned()),
                            None => (p.to_ascii_lowercase(), String::new()),
                        })
                        .collect(),
                })
            })
    }
}
