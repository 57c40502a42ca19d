//! Lambda: `GET /openapi.json`, `GET /docs` and Swagger UI's assets under `/docs/`.

use writers::{AppState, Config, http::routes, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::new(Config::from_env()?).await;
    lambda_http::run(routes::function_router(routes::api_docs, state)).await
}
