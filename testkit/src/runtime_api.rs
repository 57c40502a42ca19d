//! A Lambda Runtime API of our own, so a real function binary can run outside AWS.
//!
//! The binary polls `GET …/invocation/next` and answers `POST …/invocation/{id}/response` (or
//! `/error`), exactly as under Lambda, while [`RuntimeApi::invoke`] hands it events.
//! [`RuntimeApi::command`] is the one place that starts a binary the way Lambda does.
//!
//! With `writers::processor::poller::poll_once` it runs the `file-processor` binary against the
//! LocalStack queue the way Lambda's event source mapping would.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    routing::{get, post},
};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;
use writers::{
    error::BoxError,
    processor::{SqsBatchResponse, SqsEvent},
};

/// What an invocation ended with, when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function reported an error (its `/error` body).
    #[error("the function failed: {0}")]
    Function(Value),
    /// No answer within the function's timeout.
    #[error("the function did not answer within {0:?}")]
    TimedOut(Duration),
    /// The binary went away while the invocation was waiting.
    #[error("the function is gone")]
    Gone,
}

type Reply = oneshot::Sender<Result<Value, InvokeError>>;

struct Invocation {
    id: String,
    event: Value,
    reply: Reply,
}

struct Shared {
    queued: Mutex<mpsc::Receiver<Invocation>>,
    in_flight: Mutex<HashMap<String, Reply>>,
    function_name: String,
    function_arn: String,
    timeout: Duration,
    /// When the binary first asked for an invocation: the end of its init.
    first_poll: std::sync::OnceLock<std::time::Instant>,
}

/// A running Runtime API for one function.
#[derive(Clone)]
pub struct RuntimeApi {
    address: SocketAddr,
    invocations: mpsc::Sender<Invocation>,
    timeout: Duration,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Serves the Runtime API for `function_name` on a free port of 127.0.0.1; each invocation
    /// gets `timeout`, as the function's configuration would give it.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(function_name: &str, timeout: Duration) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            queued: Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            function_name: function_name.to_owned(),
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function_name}"),
            timeout,
            first_poll: std::sync::OnceLock::new(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the Runtime API stopped");
            }
        });
        Ok(Self {
            address,
            invocations: sender,
            timeout,
            shared,
        })
    }

    /// When the binary first asked for an invocation (`GET …/next`), if it has: its init ended then.
    pub fn first_poll(&self) -> Option<std::time::Instant> {
        self.shared.first_poll.get().copied()
    }

    /// `host:port`, for the binary's `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A command that runs `binary` as Lambda runs a function with `memory_mb` against this
    /// Runtime API: the `AWS_LAMBDA_*` variables set, logs at `warn`, killed when dropped. The
    /// caller adds the function's own environment and spawns it.
    pub fn command(&self, binary: &std::path::Path, memory_mb: u32) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", self.address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.shared.function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        command
    }

    /// Hands `event` to the binary and waits for its answer.
    ///
    /// # Errors
    /// [`InvokeError`] when the function fails, does not answer in time, or is gone.
    pub async fn invoke(&self, event: Value) -> Result<Value, InvokeError> {
        let (reply, answer) = oneshot::channel();
        let invocation = Invocation {
            id: Uuid::new_v4().to_string(),
            event,
            reply,
        };
        self.invocations
            .send(invocation)
            .await
            .map_err(|_| InvokeError::Gone)?;
        // Waiting for the binary to pick the event up counts too: a binary that never asks is down.
        match tokio::time::timeout(self.timeout * 2, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(InvokeError::Gone),
            Err(_) => Err(InvokeError::TimedOut(self.timeout)),
        }
    }

    /// [`RuntimeApi::invoke`] for the poller: an SQS batch in, the batch response out.
    ///
    /// # Errors
    /// The invocation's failure, or an answer that is not a batch response.
    pub async fn invoke_sqs(&self, event: SqsEvent) -> Result<SqsBatchResponse, BoxError> {
        let answer = self.invoke(serde_json::to_value(event)?).await?;
        Ok(serde_json::from_value(answer)?)
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Result<(HeaderMap, Bytes), StatusCode> {
    let _ = shared.first_poll.set(std::time::Instant::now());
    let invocation = shared
        .queued
        .lock()
        .await
        .recv()
        .await
        .ok_or(StatusCode::GONE)?;
    let deadline = SystemTime::now() + shared.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR);
    headers.insert("lambda-runtime-aws-request-id", header(&invocation.id)?);
    headers.insert(
        "lambda-runtime-deadline-ms",
        header(&deadline_ms.to_string())?,
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header(&shared.function_arn)?,
    );
    headers.insert(
        "lambda-runtime-trace-id",
        header(&format!("Root=1-{}", invocation.id))?,
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let body =
        serde_json::to_vec(&invocation.event).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    shared
        .in_flight
        .lock()
        .await
        .insert(invocation.id, invocation.reply);
    Ok((headers, Bytes::from(body)))
}

async fn answer(shared: &Shared, id: &str, result: Result<Value, InvokeError>) -> StatusCode {
    match shared.in_flight.lock().await.remove(id) {
        Some(reply) => {
            // The invoker may have given up already; the answer is then dropped, as Lambda would.
            let _ = reply.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

fn json_or_text(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&shared, &id, Ok(json_or_text(&body))).await
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(
        &shared,
        &id,
        Err(InvokeError::Function(json_or_text(&body))),
    )
    .await
}

async fn init_error(body: Bytes) -> StatusCode {
    tracing::error!(error = %String::from_utf8_lossy(&body), "the function failed to start");
    StatusCode::ACCEPTED
}
