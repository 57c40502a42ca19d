//! Lambda: the file processor, triggered by the jobs queue (`ReportBatchItemFailures`).

use lambda_runtime::{LambdaEvent, service_fn};
use writers::{
    AppState, Config,
    processor::{self, SqsEvent},
    telemetry,
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let state = AppState::new(Config::from_env()?).await;
    state.warm_up(false);
    let handler = service_fn(|event: LambdaEvent<SqsEvent>| {
        let deadline = processor::deadline_in(event.context.deadline);
        let state = &state;
        async move {
            Ok::<_, lambda_runtime::Error>(
                processor::handle_batch(state, event.payload, deadline).await,
            )
        }
    });
    lambda_runtime::run(handler).await
}
