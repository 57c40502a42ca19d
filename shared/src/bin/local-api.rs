//! The whole API and `GET /health` on 127.0.0.1:`PORT` (8000), for development and the browser.
//!
//! The same router the Lambda functions serve; the file processor, fed from the LocalStack jobs
//! queue by a poller with the Lambda event source's semantics; and the sweeper every few seconds
//! (in AWS it runs on a schedule). `make run` starts it after Postgres and LocalStack.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use writers::{AppState, Config, http, http::site::Site, processor::poller, sweeper, telemetry};

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
    tracing::info!(%addr, "Writers is listening: the app at http://{addr}/, docs at http://{addr}/docs, health at http://{addr}/health");
    tokio::spawn(sweep_forever(state.clone()));
    tokio::spawn(poller::run_in_process(state.clone()));
    let web_app = web_app();
    // ConnectInfo: the peer address, for the per-address login and registration limits.
    let app =
        http::local_app_serving(state, web_app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// The built web app: `WEB_ROOT`, else this checkout's `web/dist` (`make run` builds it).
fn web_app() -> Option<Site> {
    let root = std::env::var_os("WEB_ROOT").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist"),
        std::path::PathBuf::from,
    );
    if root.join("index.html").is_file() {
        tracing::info!(root = %root.display(), "serving the web app at /");
        Some(Site::new(root))
    } else {
        tracing::warn!(root = %root.display(), "no built web app (run `make run`, which builds it): serving the API only");
        None
    }
}

async fn sweep_forever(state: AppState) {
    // `SWEEP_INTERVAL_SECS` (5 s): AWS's schedule allows once a minute at best.
    let interval = state.config.sweep_interval;
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = sweeper::run(&state).await {
            tracing::warn!(error.cause_chain = ?e, "sweep failed; next one in {interval:?}");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (`make stop`), so in-flight requests finish first. A batch the
/// poller is processing then stops with the process; SQS redelivers it after its visibility timeout.
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
