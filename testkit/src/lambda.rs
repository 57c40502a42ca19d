//! Function binaries started as they run in AWS: each behind its own [`RuntimeApi`], with the
//! environment template.yaml gives every function.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::Child;

use crate::runtime_api::RuntimeApi;

/// Every function binary the workspace builds.
pub const BINARIES: [&str; 10] = [
    "auth",
    "tasks-create",
    "tasks-list",
    "tasks-get",
    "tasks-update",
    "admin",
    "api-docs",
    "file-processor",
    "sweeper",
    "migrate",
];

/// One running function: its binary, and the Runtime API it polls.
#[derive(Debug)]
pub struct Lambda {
    pub runtime: RuntimeApi,
    pub process: Child,
}

/// Functions configured as template.yaml configures them in AWS.
///
/// `DATABASE_URL` and `JWT_SECRET` are removed from the environment a binary inherits (the
/// deployed functions read both from Secrets Manager); [`Deployment::environment`] adds what
/// template.yaml sets. The rest of the caller's environment (`make test`'s LocalStack endpoint and
/// credentials, for one) passes through, as it must to reach LocalStack.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The folder the binaries are in, e.g. `target/debug`.
    pub binaries: PathBuf,
    /// What template.yaml's `Globals` and the function's own `Environment` set.
    pub environment: Vec<(String, String)>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, the same for every function started.
    pub memory_mb: u32,
}

impl Deployment {
    /// Functions from `binaries` with `environment`, at the 256 MB of template.yaml's `Globals`.
    pub fn new(binaries: impl Into<PathBuf>, environment: Vec<(String, String)>) -> Self {
        Self {
            binaries: binaries.into(),
            environment,
            memory_mb: 256,
        }
    }

    /// Starts `binary` as the function `writers-<binary>`, each invocation given `timeout`.
    /// `stdout` is where its log lines go (piped to read the sweeper's metrics, null to keep a
    /// benchmark's output clean).
    ///
    /// # Errors
    /// When no port can be bound or the binary cannot be started.
    pub async fn start(
        &self,
        binary: &str,
        timeout: Duration,
        stdout: Stdio,
    ) -> std::io::Result<Lambda> {
        let runtime = RuntimeApi::start(&format!("writers-{binary}"), timeout).await?;
        let mut command = self.command(&runtime, binary);
        let process = command
            .stdout(stdout)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting {binary}: {e}")))?;
        Ok(Lambda { runtime, process })
    }

    /// The command [`Deployment::start`] spawns, for a caller that times the spawn itself.
    pub fn command(&self, runtime: &RuntimeApi, binary: &str) -> tokio::process::Command {
        let mut command = runtime.command(&self.binaries.join(binary), self.memory_mb);
        command
            .env_remove("DATABASE_URL")
            .env_remove("JWT_SECRET")
            .envs(self.environment.iter().map(|(k, v)| (k, v)));
        command
    }
}

/// Builds every function binary if it is not up to date (a no-op after `make test`'s build) and
/// returns the folder they are in; for tests, whose own binary sits in `target/<profile>/deps`.
///
/// # Panics
/// When the build fails.
pub fn built_binaries() -> PathBuf {
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--bins"]);
    for name in BINARIES {
        build.args(["-p", name]);
    }
    let status = build
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the function binaries failed");
    // target/debug/deps/api-… → target/debug
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_path_buf()
}
