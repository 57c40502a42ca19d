//! The whole API and `GET /health` on 127.0.0.1:`PORT` (8000), for development and the browser.
//!
//! The same router the Lambda functions serve; `make run` starts it after Postgres and LocalStack.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use writers::{AppState, Config, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
    let state = AppState::new(config).await;
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr}: another process holds port {port} \
             (find it with `ss -ltnp 'sport = :{port}'`, or choose another with PORT=…)",
            port = addr.port()
        )
    })?;
    tracing::info!(%addr, "Writers is listening: docs at http://{addr}/docs, health at http://{addr}/health");
    axum::serve(listener, http::local_app(state))
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (`make stop`), so in-flight requests finish first.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
}
