//! The API under test: the whole router over a per-test database, requests to it (or to a server
//! over HTTP), and what comes back.

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
use writers::{AppState, Config, clock::Clock, files::storage::StoredObject};

use crate::{aws::isolated_config, multipart::Part};

/// The whole local API over a per-test database, reading a clock the test can move.
#[derive(Debug)]
pub struct TestApp {
    router: Router,
    pub state: AppState,
    pub clock: Clock,
}

/// A pool on `owner`'s database that connects as the application role, once it is granted
/// what it needs there; `owner` itself when no role is configured.
///
/// # Panics
/// When the role cannot be granted (it is created by `migrate up`, which `make test` runs first).
pub async fn as_app_role(owner: PgPool) -> PgPool {
    use secrecy::ExposeSecret;
    let role = writers::config::app_role_from_env().expect("APP_DATABASE_* settings");
    let Some(writers::config::AppRole::Password { user, password }) = role else {
        return owner;
    };
    if owner.connect_options().get_username() == user {
        return owner; // another app's pool, already the role's
    }
    writers::db::roles::grant_app_role(&owner, &user)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "granting {user} its rights ({e}); `make test` creates the role with `migrate up`"
            )
        });
    let options = (*owner.connect_options())
        .clone()
        .username(&user)
        .password(password.expose_secret());
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_lazy_with(options)
}

impl TestApp {
    pub async fn new(db: PgPool) -> Self {
        Self::with_config(isolated_config().await, db).await
    }

    /// The app over `db` (the test's own database), connected as the application's role when
    /// `APP_DATABASE_PASSWORD` names one (as `make test` does): so every test proves the role's
    /// grants suffice. `db` itself stays the owner's, for the test's own set-up and checks.
    pub async fn with_config(config: Config, db: PgPool) -> Self {
        let state = AppState::with_pool(config, as_app_role(db).await).await;
        Self::with_state(state)
    }

    /// Serves `state` as it is (tests that swap a client for a broken one).
    pub fn with_state(mut state: AppState) -> Self {
        let clock = Clock::fixed(chrono::Utc::now());
        state.clock = clock.clone();
        Self {
            router: writers::http::local_app(state.clone()),
            state,
            clock,
        }
    }

    /// Every job on this test's queue, received and deleted.
    pub async fn drain_jobs(&self) -> Vec<Value> {
        let sqs = self.state.jobs.client().await;
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
            .await
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
        request_to(&self.router, method, path)
    }

    /// `user`, signed in as they are, making their requests to this app (one whose state a test
    /// changed: a hung S3, a broken queue).
    pub fn persona_like(&self, user: &Persona) -> Persona {
        Persona {
            router: self.router.clone(),
            ..user.clone()
        }
    }

    /// Registers a fresh user and returns them signed in, holding their cookies.
    pub async fn signed_up_user(&self) -> Persona {
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
        Persona::signed_in(&self.router, &response, &email, &password)
    }

    /// Creates a task for `user` with one uploaded file; returns the task as the API shows it.
    pub async fn create_with_file(&self, user: &Persona, file_name: &str, bytes: &[u8]) -> Value {
        let response = user
            .request(Method::POST, "/api/v1/tasks")
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
            .and_then(StoredObject::parse)
            .expect("an s3:// file path");
        assert_eq!(object.bucket, self.state.storage.root().bucket);
        object.key
    }

    /// The task as its owner sees it now.
    pub async fn task(&self, user: &Persona, id: &str) -> Value {
        let response = user.get(&format!("/api/v1/tasks/{id}")).await;
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

/// A signed-in user: a persona whose requests carry their access cookie, as a browser's would.
#[derive(Clone)]
pub struct Persona {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    /// The access and refresh cookies their last sign-in set.
    pub access: String,
    pub refresh: String,
    router: Router,
}

impl std::fmt::Debug for Persona {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persona")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Persona {
    /// The user a `201` from `POST /auth/register` (or a `200` from a login) signed in, served
    /// by `router`.
    ///
    /// # Panics
    /// When the response does not carry a user and both cookies.
    #[track_caller]
    pub fn signed_in(
        router: &Router,
        response: &TestResponse,
        email: &str,
        password: &str,
    ) -> Self {
        Self {
            id: response.json()["user"]["id"]
                .as_str()
                .expect("an id")
                .parse()
                .expect("a UUID"),
            email: email.to_owned(),
            password: password.to_owned(),
            access: response
                .cookie("access_token")
                .expect("access cookie")
                .value,
            refresh: response
                .cookie("refresh_token")
                .expect("refresh cookie")
                .value,
            router: router.clone(),
        }
    }

    /// A request as this user: their access cookie set.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        request_to(&self.router, method, path).cookie("access_token", &self.access)
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path).send().await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.request(Method::POST, path).json(body).send().await
    }

    /// `PATCH` with a JSON merge patch.
    pub async fn patch(&self, path: &str, body: &Value) -> TestResponse {
        self.request(Method::PATCH, path)
            .body("application/merge-patch+json", body.to_string())
            .send()
            .await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.request(Method::DELETE, path).send().await
    }
}

#[derive(Debug)]
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

    pub fn json(self, body: &Value) -> Self {
        self.body("application/json", body.to_string())
    }

    /// A `multipart/form-data` body of `parts`.
    pub fn multipart(self, parts: &[Part]) -> Self {
        let (content_type, body) = crate::multipart::encode(parts);
        self.body(&content_type, body)
    }

    pub fn form(self, body: &str) -> Self {
        self.body("application/x-www-form-urlencoded", body.to_owned())
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

#[derive(Debug)]
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
