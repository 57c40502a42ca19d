//! The sweeper's purges: what no rule reads any more is deleted after a day, and nothing sooner.

use chrono::TimeDelta;
use sqlx::PgPool;
use writers::sweeper::{self, RETENTION};

use testkit::TestApp;

async fn count(pool: &PgPool, table: &'static str) -> i64 {
    let sql: &'static str = match table {
        "sessions" => "select count(*) from sessions",
        "refresh_tokens" => "select count(*) from refresh_tokens",
        "outbox_jobs" => "select count(*) from outbox_jobs",
        other => panic!("no count for {other}"),
    };
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("a count")
}

#[sqlx::test(migrations = "../migrations")]
async fn expired_sessions_and_delivered_jobs_are_purged_a_day_later(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ada = app.signed_up_user().await;
    app.create_with_file(&ada, "a.txt", b"abc").await; // its job is sent at once
    assert_eq!(
        (
            count(&pool, "sessions").await,
            count(&pool, "outbox_jobs").await
        ),
        (1, 1)
    );

    app.clock.advance(RETENTION - TimeDelta::seconds(1));
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!((report.sessions_purged, report.outbox_jobs_purged), (0, 0));

    app.clock.advance(TimeDelta::seconds(2));
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!((report.sessions_purged, report.outbox_jobs_purged), (0, 1));
    assert_eq!(
        count(&pool, "sessions").await,
        1,
        "the session is still live"
    );

    // The session ends with its refresh token's lifetime; a day after that, it goes.
    app.clock
        .advance(TimeDelta::from_std(app.state.config.refresh_token_ttl).expect("small"));
    let report = sweeper::run(&app.state).await.expect("a sweep");
    assert_eq!(report.sessions_purged, 1);
    assert_eq!(
        count(&pool, "refresh_tokens").await,
        0,
        "its tokens with it"
    );
}
