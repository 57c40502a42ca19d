//! Migrations with the seed's verbs: `migrate up | down [--to VERSION|base] | status` as a CLI,
//! and `migrate promote <email>`, which makes that account the first administrator.
//!
//! In AWS the same binary is a Lambda: invoked with `{"command": "up"}` or
//! `{"promote": "ada@example.com"}` by hand, and on every deploy by CloudFormation as the custom
//! resource `Migrations` (template.yaml), before any function that depends on the new schema is
//! updated.

mod custom_resource;

use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};
use writers::{
    db::{
        self,
        migrate::{self, MigrateCommand, MigrationStatus},
    },
    telemetry,
};

use crate::custom_resource::{CustomResourceEvent, RequestType};

/// What the Lambda is invoked with.
#[derive(Deserialize)]
#[serde(untagged)]
enum Invocation {
    /// By hand: the CLI's words, e.g. `"up"` or `"down --to base"`.
    Command { command: String },
    /// By hand: make the account with this email an active administrator.
    Promote { promote: String },
    /// By CloudFormation, on each deploy and on the stack's deletion.
    Deploy(CustomResourceEvent),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let handler = service_fn(|event: LambdaEvent<Invocation>| async move {
            match event.payload {
                Invocation::Command { command } => {
                    let words: Vec<&str> = command.split_whitespace().collect();
                    let command = MigrateCommand::parse(&words)?;
                    // The message, with its causes, is what the caller sees when a migration fails.
                    let status = run(command).await.map_err(|e| format!("{e:#}"))?;
                    Ok::<Value, lambda_runtime::Error>(json!(status))
                }
                Invocation::Promote { promote: email } => {
                    let id = promote_account(&email)
                        .await
                        .map_err(|e| format!("{e:#}"))?;
                    Ok(json!({"promoted": email, "user_id": id}))
                }
                Invocation::Deploy(deploy) => {
                    let outcome = match deploy.request_type {
                        // Deleting the stack never drops the data: nothing to do.
                        RequestType::Delete => Ok(Vec::new()),
                        RequestType::Create | RequestType::Update => run(MigrateCommand::Up).await,
                    };
                    if let Err(e) = &outcome {
                        tracing::error!(error = %format!("{e:#}"), "migration failed; the deploy rolls back");
                    }
                    // CloudFormation waits for this answer (an hour, if it never comes).
                    deploy.respond(outcome.map(|s| s.len())).await?;
                    Ok(json!({"answered": deploy.request_id}))
                }
            }
        });
        return lambda_runtime::run(handler)
            .await
            .map_err(|e| anyhow::anyhow!(e));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("promote") {
        let [_, email] = args.as_slice() else {
            eprintln!("usage: migrate promote <email>");
            std::process::exit(2);
        };
        let id = promote_account(email).await?;
        println!("{email} ({id}) is an administrator");
        return Ok(());
    }
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

/// Makes the account with `email` an active administrator, recorded in the audit.
async fn promote_account(email: &str) -> anyhow::Result<uuid::Uuid> {
    use anyhow::Context;
    let options = db::options_from_env().await?;
    let pool = db::connect_once(options).await.context(
        "connecting to the database (locally: is Postgres running? `make db` starts it)",
    )?;
    writers::admin::promote(&pool, email, chrono::Utc::now())
        .await?
        .with_context(|| format!("no account has the email {email}: register it first"))
}

async fn run(command: MigrateCommand) -> anyhow::Result<Vec<MigrationStatus>> {
    use anyhow::Context;
    let options = db::options_from_env().await?;
    let pool = db::connect_once(options).await.context(
        "connecting to the database (locally: is Postgres running? `make db` starts it)",
    )?;
    tracing::info!(?command, "migrating");
    let status = migrate::migrate(&pool, command).await?;
    if command == MigrateCommand::Up {
        ensure_app_role(&pool).await?;
    }
    Ok(status)
}

/// After `up`: the application's own role (docs/deployment.md, "The database roles"), if
/// `APP_DATABASE_SECRET_ARN` or `APP_DATABASE_PASSWORD` configures one.
async fn ensure_app_role(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let Some(role) = writers::config::app_role_from_env()? else {
        tracing::info!(
            "no APP_DATABASE_SECRET_ARN or APP_DATABASE_PASSWORD: no application role to maintain"
        );
        return Ok(());
    };
    let user = db::roles::ensure_from(pool, role).await?;
    tracing::info!(%user, "application role ready: data access on every table, no DDL");
    Ok(())
}
