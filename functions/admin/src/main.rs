//! Lambda: the administrators' routes, `/admin/users` and `/admin/audit`.

use writers::{AppState, Config, http::routes, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::new(Config::from_env()?).await;
    // The secrets and the first connection, begun now; the first request awaits them.
    state.warm_up(true);
    lambda_http::run(routes::function_router(routes::admin, state)).await
}
