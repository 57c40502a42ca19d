//! Lambda: the sweeper, on a schedule (every minute): outbox delivery.

use lambda_runtime::{LambdaEvent, service_fn};
use writers::{AppState, Config, sweeper, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let state = AppState::new(Config::from_env()?).await;
    let handler = service_fn(|_: LambdaEvent<serde_json::Value>| sweeper::run(&state));
    lambda_runtime::run(handler).await
}
