//! The API documents itself: an OpenAPI 3.1 document built from the route table, and Swagger UI
//! served from assets compiled into the binary, so `/docs` works with no network.

use std::sync::{Arc, LazyLock};

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, ResponseBuilder,
    content::ContentBuilder,
    security::{ApiKey, ApiKeyValue, Flow, OAuth2, Password, Scopes, SecurityScheme},
};

use crate::{Error, http::routes};

/// The OpenAPI document of every documented route in [`routes::routes`].
pub fn openapi() -> OpenApi {
    let mut paths = Paths::new();
    // The docs' "Authorize" button runs the OAuth2 password flow against `/auth/token`.
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            "OAuth2PasswordBearer",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/auth/token",
                Scopes::new(),
            ))])),
        )
        .security_scheme(
            "accessCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("access_token"))),
        )
        .security_scheme(
            "refreshCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("refresh_token"))),
        );
    for route in routes::routes() {
        if let Some((route_paths, schemas)) = route.openapi() {
            paths.merge(route_paths.clone());
            components = components.schemas_from_iter(schemas.clone());
        }
    }
    // Every operation but the docs' own touches Postgres, S3 or SQS, and may find it down.
    let unavailable = ResponseBuilder::new()
        .description("A dependency (database, storage, queue) is unavailable; retry after `Retry-After` seconds")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
        )
        .build();
    for item in paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let is_docs = operation
                .tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|t| t == "docs"));
            if !is_docs {
                operation
                    .responses
                    .responses
                    .insert("503".to_owned(), RefOr::T(unavailable.clone()));
            }
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
