//! Migrations with the seed's verbs: `migrate up | down [--to VERSION|base] | status` as a CLI;
//! in AWS the same binary is a Lambda invoked once per deploy with `{"command": "up"}`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use writers::{
    config,
    db::{self, MigrateCommand, MigrationStatus},
    telemetry,
};

#[derive(Deserialize)]
struct Invocation {
    /// The CLI's words, e.g. `"up"` or `"down --to base"`.
    command: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let handler = service_fn(|event: LambdaEvent<Invocation>| async move {
            let words: Vec<&str> = event.payload.command.split_whitespace().collect();
            let command = MigrateCommand::parse(&words)?;
            // The message, with its causes, is what the deploy step shows when a migration fails.
            run(command).await.map_err(|e| format!("{e:#}"))
        });
        return lambda_runtime::run(handler)
            .await
            .map_err(|e| anyhow::anyhow!(e));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match MigrateCommand::parse(&args) {
        Ok(command) => command,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    for line in run(command).await? {
        let mark = if line.applied { "applied" } else { "pending" };
        println!("{:>4}  {mark:<8} {}", line.version, line.description);
    }
    Ok(())
}

async fn run(command: MigrateCommand) -> anyhow::Result<Vec<MigrationStatus>> {
    use anyhow::Context;
    let url = config::database_url_from_env()?;
    let pool = db::connect_once(secrecy::ExposeSecret::expose_secret(&url))
        .await
        .context("connecting to DATABASE_URL (is Postgres running? `make db` starts it)")?;
    tracing::info!(?command, "migrating");
    Ok(db::migrate(&pool, command).await?)
}
