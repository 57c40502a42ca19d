//! Lambda: the sweeper, on a schedule (every minute): outbox delivery, cancelling what cannot
//! finish, settling direct uploads, purges; each run prints its metrics (embedded metric format).

use lambda_runtime::{LambdaEvent, service_fn};
use writers::{AppState, Config, sweeper, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let state = AppState::new(Config::from_env()?).await;
    state.warm_up(false);
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "sweeper".to_owned());
    let handler = service_fn(|_: LambdaEvent<serde_json::Value>| {
        let (state, function) = (&state, &function);
        async move {
            let (report, outcome) = sweeper::run_reporting(state).await;
            // stdout, one line: CloudWatch Logs extracts the metrics from it, failed or not.
            println!("{}", report.metrics_line(function, state.clock.now()));
            outcome.map(|()| report)
        }
    });
    lambda_runtime::run(handler).await
}
