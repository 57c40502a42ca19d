//! Plumbing shared by the tests: configuration, the app under test, responses.

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tower::ServiceExt;
use writers::{AppState, Config};

/// The configuration `make test` exports; a clear message when run some other way.
#[track_caller]
pub fn config() -> Config {
    Config::from_env().unwrap_or_else(|e| {
        panic!("{e}\nrun the tests with `make test`, which starts Postgres and LocalStack and sets the variables")
    })
}

/// The whole local API over a per-test database.
pub struct TestApp {
    router: Router,
}

impl TestApp {
    pub async fn new(db: PgPool) -> Self {
        Self::with_config(config(), db).await
    }

    pub async fn with_config(config: Config, db: PgPool) -> Self {
        let state = AppState::with_pool(config, db).await;
        Self {
            router: writers::http::local_app(state),
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path).await
    }

    pub async fn request(&self, method: Method, path: &str) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("a valid request");
        send(self.router.clone(), request).await
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

impl TestResponse {
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
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
}
