//! The embedded migrations (`migrations/`) and the seed's Alembic verbs that `migrate` runs.

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
};

/// Every migration in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// What `migrate` can be asked to do: the seed's Alembic verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrateCommand {
    /// Apply every pending migration (`alembic upgrade head`).
    Up,
    /// Revert the latest applied migration (`alembic downgrade -1`).
    DownOne,
    /// Revert every migration newer than the version; `0` is `base` (`alembic downgrade <rev>`).
    DownTo(i64),
    /// List each migration and whether it is applied.
    Status,
}

impl MigrateCommand {
    /// Parses `up`, `down`, `down --to VERSION`, `down --to base` and `status`.
    ///
    /// # Errors
    /// A usage message naming what was not understood.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Self, String> {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        match args.as_slice() {
            ["up"] => Ok(Self::Up),
            ["down"] => Ok(Self::DownOne),
            ["down", "--to", "base"] => Ok(Self::DownTo(0)),
            ["down", "--to", version] => version
                .parse()
                .map(Self::DownTo)
                .map_err(|_| format!("`{version}` is not a migration version (e.g. 1) or `base`")),
            ["status"] => Ok(Self::Status),
            _ => Err("usage: migrate up | down [--to VERSION|base] | status".to_owned()),
        }
    }
}

/// One line of `migrate status`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// Runs `command` and returns the status afterwards.
///
/// # Errors
/// Migration failures (a failed statement, a checksum mismatch, an unknown target version).
pub async fn migrate(
    pool: &PgPool,
    command: MigrateCommand,
) -> Result<Vec<MigrationStatus>, MigrateError> {
    match command {
        MigrateCommand::Up => MIGRATOR.run(pool).await?,
        MigrateCommand::DownOne => {
            let applied = applied_versions(pool).await?;
            if let Some(&latest) = applied.last() {
                let previous = applied.iter().rev().nth(1).copied().unwrap_or(0);
                debug_assert!(previous < latest);
                MIGRATOR.undo(pool, previous).await?;
            }
        }
        MigrateCommand::DownTo(target) => {
            if target != 0 && !MIGRATOR.version_exists(target) {
                return Err(MigrateError::VersionMissing(target));
            }
            MIGRATOR.undo(pool, target).await?;
        }
        MigrateCommand::Status => {}
    }
    let applied = applied_versions(pool).await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationStatus {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.contains(&m.version),
        })
        .collect())
}

async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, MigrateError> {
    use sqlx::migrate::Migrate;
    let mut conn = pool.acquire().await?;
    conn.ensure_migrations_table(&MIGRATOR.table_name).await?;
    let mut versions: Vec<i64> = conn
        .list_applied_migrations(&MIGRATOR.table_name)
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_verbs_parse() {
        assert_eq!(MigrateCommand::parse(&["up"]), Ok(MigrateCommand::Up));
        assert_eq!(
            MigrateCommand::parse(&["down"]),
            Ok(MigrateCommand::DownOne)
        );
        assert_eq!(
            MigrateCommand::parse(&["down", "--to", "base"]),
            Ok(MigrateCommand::DownTo(0))
        );
        assert_eq!(
            MigrateCommand::parse(&["down", "--to", "1"]),
            Ok(MigrateCommand::DownTo(1))
        );
        assert_eq!(
            MigrateCommand::parse(&["status"]),
            Ok(MigrateCommand::Status)
        );
    }

    #[test]
    fn anything_else_gets_the_usage() {
        for args in [
            &["upgrade"][..],
            &[],
            &["down", "--to"],
            &["down", "--to", "x1"],
        ] {
            assert!(MigrateCommand::parse(args).is_err(), "{args:?}");
        }
    }
}
