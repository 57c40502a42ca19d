//! The API documents itself, and every path it does not serve gets a JSON answer.

use axum::http::{Method, StatusCode};
use sqlx::PgPool;

use testkit::TestApp;

#[sqlx::test]
async fn the_openapi_document_is_served_as_openapi_3_1(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), "application/json");
    let document = response.json();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "Writers");
    assert!(
        document["paths"]["/openapi.json"]["get"].is_object(),
        "{document}"
    );
}

#[sqlx::test]
async fn docs_redirect_to_swagger_ui_which_loads_our_document(pool: PgPool) {
    let app = TestApp::new(pool).await;

    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.header("location"), "/docs/index.html");

    let page = app.get("/docs/index.html").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.text().contains("swagger-ui"), "{}", page.text());

    // Served from the binary, not a CDN: the page works with no network.
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let response = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(response.status, StatusCode::OK, "{asset}");
        assert!(
            !page.text().contains("https://"),
            "index.html loads nothing remote"
        );
    }
    let initializer = app.get("/docs/swagger-initializer.js").await.text();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
}

#[sqlx::test]
async fn an_unknown_docs_asset_is_a_json_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app.get("/docs/../../etc/passwd").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let response = app.get("/docs/no-such-file.js").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.json()["detail"], "page not found");
}

#[sqlx::test]
async fn an_unknown_path_is_a_json_404(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app.get("/no/such/route").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.json(), serde_json::json!({"detail": "not found"}));
}

#[sqlx::test]
async fn a_wrong_method_is_a_json_405(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let response = app.request(Method::DELETE, "/openapi.json").send().await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.json(),
        serde_json::json!({"detail": "method not allowed"})
    );
}

#[sqlx::test]
async fn every_response_carries_a_request_id(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let first = app.get("/openapi.json").await;
    let second = app.get("/no/such/route").await;
    let (a, b) = (first.header("x-request-id"), second.header("x-request-id"));
    assert_eq!(a.len(), 36, "a UUID: {a}");
    assert_ne!(a, b);
}

#[test]
fn the_document_declares_the_oauth2_password_flow_for_the_authorize_button() {
    let document = serde_json::to_value(writers::http::docs::openapi()).expect("serialises");
    let scheme = &document["components"]["securitySchemes"]["OAuth2PasswordBearer"];
    assert_eq!(scheme["type"], "oauth2");
    assert_eq!(scheme["flows"]["password"]["tokenUrl"], "/auth/token");
    for (method, path) in [("get", "/auth/me"), ("post", "/auth/logout")] {
        let security = &document["paths"][path][method]["security"];
        assert!(
            security
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("OAuth2PasswordBearer").is_some())),
            "{method} {path}: {security}"
        );
    }
    // Found by Schemathesis: `value_type` on an optional field made the file required.
    assert_eq!(
        document["components"]["schemas"]["CreateTaskMultipart"]["required"],
        serde_json::json!(["title"])
    );
    assert_eq!(
        document["components"]["schemas"]["CreateTaskMultipart"]["additionalProperties"],
        false
    );
    let unavailable = &document["paths"]["/auth/login"]["post"]["responses"]["503"];
    assert!(unavailable.is_object(), "dependency outages are documented");
}

#[test]
fn the_committed_openapi_json_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json"))
            .expect("openapi.json is committed at the repository root");
    let current = writers::http::docs::openapi()
        .to_pretty_json()
        .expect("serialises");
    assert!(
        committed.trim_end() == current.trim_end(),
        "openapi.json is stale: run `make openapi` and commit the result"
    );
}

/// Schemathesis' `ignored_auth` check, done here deterministically for every operation the
/// document secures: no credentials, a forged bearer token or a forged cookie all get `401`.
#[sqlx::test(migrations = "../migrations")]
async fn every_secured_operation_refuses_missing_and_forged_credentials(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let document = serde_json::to_value(writers::http::docs::openapi()).expect("serialises");
    let mut checked = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(requirements) = operation["security"].as_array() else {
                continue;
            };
            // `{}` among the requirements makes authentication optional (logout).
            if requirements
                .iter()
                .any(|r| r.as_object().is_some_and(serde_json::Map::is_empty))
            {
                continue;
            }
            let concrete = path.replace("{task_id}", "7f8b1c7e-0000-4000-8000-000000000000");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let with = |credentials: Option<(&str, &str)>| {
                let request = app
                    .request(method.clone(), &concrete)
                    .json(&serde_json::json!({"title": "t"}));
                match credentials {
                    None => request,
                    Some((name, value)) => request.header(name, value),
                }
                .send()
            };
            for (case, credentials) in [
                ("no credentials", None),
                (
                    "a forged bearer token",
                    Some(("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged")),
                ),
                (
                    "a forged access cookie",
                    Some(("cookie", "access_token=forged; refresh_token=forged")),
                ),
            ] {
                let response = with(credentials).await;
                assert_eq!(
                    response.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {case}: {}",
                    response.text()
                );
            }
            checked.push(format!("{method} {path}"));
        }
    }
    assert!(
        checked.len() >= 5,
        "the secured operations were found: {checked:?}"
    );
}
