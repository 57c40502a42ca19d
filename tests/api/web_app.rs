//! local-api's serving of the built web app: files, the single-page app's fallback, the API's
//! paths never falling back, and the distribution's security headers on every response.

use axum::http::{Method, StatusCode};
use sqlx::PgPool;
use testkit::{TestApp, request_to};
use writers::http::{local_app_serving, site::Site};

fn built_app() -> tempfile_dir::Dir {
    let dir = tempfile_dir::Dir::new();
    std::fs::create_dir_all(dir.path().join("assets")).expect("assets");
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><div id=\"root\"></div>",
    )
    .expect("index");
    std::fs::write(dir.path().join("assets/index-abc123.js"), "console.log(1)").expect("script");
    std::fs::write(dir.path().join(".sources.sha256"), "stamp").expect("stamp");
    dir
}

/// A directory of its own under the system's temporary one, removed when dropped.
mod tempfile_dir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("writers-site-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).expect("a temporary directory");
            Self(path)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_app_is_served_with_its_fallback_and_the_apis_paths_stay_the_apis(pool: PgPool) {
    let dir = built_app();
    let state = TestApp::new(pool).await.state;
    let uploads = state.config.uploads_origin.clone();
    let app = local_app_serving(state, Some(Site::new(dir.path())));
    let get = async |path: &str| request_to(&app, Method::GET, path).send().await;

    let page = get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("id=\"root\""));
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-cache");
    let policy = page.header("content-security-policy");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(
        policy.contains(&format!("connect-src 'self' {uploads};")),
        "{policy}"
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert!(
        page.header("strict-transport-security")
            .starts_with("max-age=")
    );

    // The client's own routes get the page; hashed assets are cached for good.
    for route in [
        "/tasks/3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "/settings",
        "/reset",
    ] {
        let routed = get(route).await;
        assert_eq!(routed.status, StatusCode::OK, "{route}");
        assert!(routed.text().contains("id=\"root\""), "{route}");
    }
    let script = get("/assets/index-abc123.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        script.header("cache-control"),
        "public, max-age=31536000, immutable"
    );

    // A missing file is a 404, not the page (a stale page must not get HTML for a script);
    // dot-files and paths out of the root are not served.
    for missing in [
        "/assets/index-gone.js",
        "/favicon.ico",
        "/.sources.sha256",
        "/assets/%2e%2e/%2e%2e/etc/passwd",
    ] {
        assert_eq!(
            get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // The API's paths never fall back: their unknown routes stay the API's JSON 404.
    for api in [
        "/api/v1/nothing",
        "/auth/nothing",
        "/admin/nothing",
        "/docs/nothing.js",
        "/health/x",
    ] {
        let answer = get(api).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{api}");
        assert!(
            answer.detail().contains("not found"),
            "{api}: {}",
            answer.text()
        );
        assert!(
            answer
                .header("content-security-policy")
                .contains("default-src 'self'"),
            "{api}"
        );
    }
    // Only reads of the app: a write to a client route is the API's 404.
    let posted = request_to(&app, Method::POST, "/settings").send().await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert_eq!(posted.detail(), "not found");
    // Swagger UI's pages have their own policy (inline styles), as behind CloudFront.
    let docs = get("/docs/index.html").await;
    assert_eq!(
        docs.header("content-security-policy"),
        writers::http::site::DOCS_CONTENT_SECURITY_POLICY
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_built_app_every_unknown_path_is_the_apis_404(pool: PgPool) {
    let state = TestApp::new(pool).await.state;
    let app = local_app_serving(state, None);
    let answer = request_to(&app, Method::GET, "/").send().await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.detail(), "not found");
}
