//! The `migrate` verbs against a real, empty database, for every migration there is.

use sqlx::PgPool;
use writers::db::migrate::{MIGRATOR, MigrateCommand, MigrationStatus, migrate};

fn versions() -> Vec<i64> {
    MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect()
}

fn applied(status: &[MigrationStatus]) -> Vec<i64> {
    status
        .iter()
        .filter(|m| m.applied)
        .map(|m| m.version)
        .collect()
}

async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = 'public' and table_name <> '_sqlx_migrations' order by 1",
    )
    .fetch_all(pool)
    .await
    .expect("information_schema is readable")
}

/// `pg_dump --schema-only` of the test's own database, without the migrations ledger.
async fn schema(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .expect("a database name");
    let base = std::env::var("DATABASE_URL").expect("make test sets DATABASE_URL");
    let url = format!(
        "{}/{name}",
        base.rsplit_once('/').expect("a URL with a path").0
    );
    let output = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges"])
        .args(["--exclude-table", "_sqlx_migrations", "--dbname", &url])
        .output()
        .expect("pg_dump runs (it comes with the PostgreSQL client)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        // Newer pg_dump brackets its output with a random `\restrict` key.
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[sqlx::test(migrations = false)]
async fn up_then_down_to_base_then_up_reproduces_the_same_schema(pool: PgPool) {
    let status = migrate(&pool, MigrateCommand::Up).await.expect("up");
    assert_eq!(applied(&status), versions());
    let first = schema(&pool).await;
    assert!(first.contains("CREATE TABLE public.tasks"), "{first}");

    let status = migrate(&pool, MigrateCommand::DownTo(0))
        .await
        .expect("down --to base");
    assert_eq!(applied(&status), Vec::<i64>::new());
    assert_eq!(tables(&pool).await, Vec::<String>::new());
    assert!(
        !schema(&pool).await.contains("task_status"),
        "the enum type is dropped too"
    );

    migrate(&pool, MigrateCommand::Up).await.expect("up again");
    assert_eq!(schema(&pool).await, first);
}

#[sqlx::test(migrations = false)]
async fn down_undoes_exactly_one_step_at_every_step(pool: PgPool) {
    // The schema at each version, climbing one migration at a time from base.
    let mut schemas = vec![schema(&pool).await];
    for &version in &versions() {
        MIGRATOR.run_to(version, &pool).await.expect("up one step");
        schemas.push(schema(&pool).await);
    }
    // Each `down` must land exactly on the schema one version lower, and only one lower.
    for expected in (0..versions().len()).rev() {
        let status = migrate(&pool, MigrateCommand::DownOne).await.expect("down");
        assert_eq!(applied(&status), versions()[..expected]);
        assert_eq!(
            schema(&pool).await,
            schemas[expected],
            "after down to {expected} applied"
        );
    }
    let status = migrate(&pool, MigrateCommand::DownOne)
        .await
        .expect("down at base");
    assert_eq!(
        applied(&status),
        Vec::<i64>::new(),
        "down at base is a no-op"
    );
}

#[sqlx::test(migrations = false)]
async fn down_to_a_version_keeps_that_version(pool: PgPool) {
    migrate(&pool, MigrateCommand::Up).await.expect("up");
    let status = migrate(&pool, MigrateCommand::DownTo(1))
        .await
        .expect("down --to 1");
    assert_eq!(applied(&status), [1]);
    assert_eq!(tables(&pool).await, ["tasks", "users"]);
    assert!(
        migrate(&pool, MigrateCommand::DownTo(999)).await.is_err(),
        "an unknown version is refused, not treated as base"
    );
}

#[sqlx::test(migrations = false)]
async fn status_lists_every_migration_with_its_state(pool: PgPool) {
    let status = migrate(&pool, MigrateCommand::Status)
        .await
        .expect("status");
    let described: Vec<_> = status
        .iter()
        .map(|m| (m.version, m.description.as_str(), m.applied))
        .collect();
    assert_eq!(
        described,
        [
            (1, "initial", false),
            (2, "task file path", false),
            (3, "auth sessions", false),
            (4, "task uploads outbox", false),
            (5, "task results", false),
            (6, "direct uploads", false),
            (7, "role statement timeout", false),
            (8, "attempts pending uploads leases", false),
            (9, "drafts trash versions", false),
            (10, "accounts", false),
            (11, "one round trip", false),
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn the_roles_statement_timeout_holds_for_new_connections_but_not_for_migrate(pool: PgPool) {
    let options = (*pool.connect_options()).clone();
    let timeout_of = |pool: sqlx::PgPool| async move {
        let value: String = sqlx::query_scalar("show statement_timeout")
            .fetch_one(&pool)
            .await
            .expect("a setting");
        pool.close().await;
        value
    };
    migrate(&pool, MigrateCommand::Up).await.expect("up");
    let fresh = sqlx::PgPool::connect_with(options.clone())
        .await
        .expect("a connection");
    assert_eq!(timeout_of(fresh).await, "15s");
    let migrator = writers::db::connect_once(options.clone())
        .await
        .expect("a connection");
    assert_eq!(timeout_of(migrator).await, "0");

    migrate(&pool, MigrateCommand::DownTo(6))
        .await
        .expect("down");
    let fresh = sqlx::PgPool::connect_with(options)
        .await
        .expect("a connection");
    assert_eq!(timeout_of(fresh).await, "0", "the role's setting is gone");
}

/// The functions connect as the application role `migrate up` maintains: it reads and writes
/// the application's data (every other test in this suite runs as it) and changes no schema.
#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_reads_and_writes_data_but_changes_no_schema(pool: PgPool) {
    let app = testkit::app::as_app_role(pool.clone()).await;
    let user: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(&app)
        .await
        .expect("connects");
    assert_eq!(user, writers::db::roles::DEFAULT_APP_ROLE);
    sqlx::query("select count(*) from tasks")
        .fetch_one(&app)
        .await
        .expect("reads data");
    for ddl in [
        "create table intruder (id int)",
        "alter table tasks add column intruder int",
        "drop table tasks",
        "truncate auth_attempts",
        "select * from _sqlx_migrations",
        "create function intruder() returns int language sql as 'select 1'",
    ] {
        let refused = sqlx::query(ddl).execute(&app).await.expect_err(ddl);
        let code = refused
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        assert_eq!(
            code.as_deref(),
            Some("42501"),
            "{ddl}: insufficient privilege, not {refused}"
        );
    }
    let timeout: String = sqlx::query_scalar("show statement_timeout")
        .fetch_one(&app)
        .await
        .expect("a setting");
    assert_eq!(timeout, "15s");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_role_is_created_then_updated_with_a_scram_verifier_never_the_password(pool: PgPool) {
    let role = format!(
        "writers_role_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let password = secrecy::SecretString::from("a password long enough to use".to_owned());
    let stored = || async {
        sqlx::query_scalar::<_, String>("select rolpassword from pg_authid where rolname = $1")
            .bind(&role)
            .fetch_one(&pool)
            .await
            .expect("the role")
    };
    writers::db::roles::ensure_app_role(&pool, &role, &password)
        .await
        .expect("created");
    let first = stored().await;
    writers::db::roles::ensure_app_role(&pool, &role, &password)
        .await
        .expect("updated");
    let second = stored().await;
    for verifier in [&first, &second] {
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    }
    assert_ne!(first, second, "a new salt each time");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop owned by {role}; drop role {role}"
    )))
    .execute(&pool)
    .await
    .expect("dropped");
}
