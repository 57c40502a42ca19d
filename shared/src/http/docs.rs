//! The API documents itself: an OpenAPI 3.1 document built from the route table, and Swagger UI
//! served from assets compiled into the binary, so `/docs` works with no network.

use std::sync::{Arc, LazyLock};

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths};

use crate::{Error, http::routes};

/// The OpenAPI document of every documented route in [`routes::routes`].
pub fn openapi() -> OpenApi {
    let mut paths = Paths::new();
    let mut components = ComponentsBuilder::new();
    for route in routes::routes() {
        if let Some((route_paths, schemas)) = route.openapi() {
            paths.merge(route_paths.clone());
            components = components.schemas_from_iter(schemas.clone());
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Writers")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Task management for writers: accounts, tasks, and manuscripts processed in the background.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

// Built on first request, not at cold start.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
});

static SWAGGER: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
    LazyLock::new(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.json")));

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json"))
)]
pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

/// `GET /docs`: to Swagger UI's page, whose assets are addressed relative to `/docs/`.
pub async fn index() -> Redirect {
    Redirect::permanent("/docs/index.html")
}

/// `GET /docs/{*path}`: Swagger UI's page and assets.
///
/// # Errors
/// [`Error::NotFound`] for a path that is not one of its files.
pub async fn asset(Path(path): Path<String>) -> Result<Response, Error> {
    match utoipa_swagger_ui::serve(&path, SWAGGER.clone()) {
        Ok(Some(file)) => {
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, file.content_type)],
                file.bytes.into_owned(),
            )
                .into_response();
            if file.gzpipped {
                response.headers_mut().insert(
                    header::CONTENT_ENCODING,
                    header::HeaderValue::from_static("gzip"),
                );
            }
            Ok(response)
        }
        Ok(None) => Err(Error::NotFound("page")),
        Err(e) => Err(Error::Unexpected(anyhow::anyhow!(
            "swagger ui asset {path}: {e}"
        ))),
    }
}
