//! The rules the database itself enforces, whoever writes the rows.

use sqlx::PgPool;
use testkit::insert_user;
use uuid::Uuid;

fn violated(result: Result<Uuid, sqlx::Error>) -> String {
    match result {
        Err(sqlx::Error::Database(e)) => e.constraint().unwrap_or("(none)").to_owned(),
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn usernames_are_unique_whatever_their_case(pool: PgPool) {
    insert_user(&pool, "a@example.com", "Alice")
        .await
        .expect("first");
    let second = insert_user(&pool, "b@example.com", "alice").await;
    assert_eq!(violated(second), "users_username_key");
}

#[sqlx::test(migrations = "../migrations")]
async fn emails_are_unique_and_stored_lowercase(pool: PgPool) {
    insert_user(&pool, "a@example.com", "alice")
        .await
        .expect("first");
    assert_eq!(
        violated(insert_user(&pool, "a@example.com", "bob").await),
        "users_email_key"
    );
    assert_eq!(
        violated(insert_user(&pool, "B@example.com", "bob").await),
        "users_email_check"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn timestamps_are_maintained_by_the_database(pool: PgPool) {
    let id = insert_user(&pool, "a@example.com", "alice")
        .await
        .expect("insert");
    let (created, updated): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select created_at, updated_at from users where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("select");

    // A later transaction, so now() moves; an attempt to rewrite created_at is ignored.
    let (created_after, updated_after): (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as(
        "update users set full_name = 'Alice', created_at = '2000-01-01'
             where id = $1 returning created_at, updated_at",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("update");
    assert_eq!(created_after, created);
    assert!(updated_after > updated, "{updated_after} > {updated}");
}

#[sqlx::test(migrations = "../migrations")]
async fn task_status_is_one_of_the_four_seed_values(pool: PgPool) {
    let owner = insert_user(&pool, "a@example.com", "alice")
        .await
        .expect("user");
    let insert = |status: &'static str| {
        sqlx::query(
            "insert into tasks (title, user_id, status) values ('Draft', $1, $2::task_status)",
        )
        .bind(owner)
        .bind(status)
        .execute(&pool)
    };
    for status in ["PENDING", "IN_PROGRESS", "COMPLETED", "CANCELLED"] {
        insert(status).await.expect(status);
    }
    assert!(insert("DONE").await.is_err());
    let default: String = sqlx::query_scalar(
        "insert into tasks (title, user_id) values ('Draft', $1) returning status::text",
    )
    .bind(owner)
    .fetch_one(&pool)
    .await
    .expect("default");
    assert_eq!(default, "PENDING");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_blank_or_overlong_title_is_refused_by_the_database(pool: PgPool) {
    let owner = insert_user(&pool, "a@example.com", "alice")
        .await
        .expect("user");
    for title in ["   ".to_owned(), "x".repeat(256)] {
        let result = sqlx::query("insert into tasks (title, user_id) values ($1, $2)")
            .bind(&title)
            .bind(owner)
            .execute(&pool)
            .await;
        assert!(result.is_err(), "{} characters", title.len());
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn listing_a_users_tasks_uses_an_index_for_every_filter_and_order(pool: PgPool) {
    use writers::tasks::{
        db::explain_list,
        model::TaskStatus,
        paging::{ListQuery, Sort},
    };
    let owner = insert_user(&pool, "a@example.com", "alice")
        .await
        .expect("user");
    // A fresh table is tiny, so make the planner say what it does at scale.
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("set local enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .expect("set");
    let page = |f: &dyn Fn(&mut ListQuery)| {
        let mut q = ListQuery {
            limit: 50,
            ..ListQuery::default()
        };
        f(&mut q);
        q
    };
    for (q, index, ordered) in [
        (page(&|_| {}), "tasks_live_created_idx", true),
        (
            page(&|q| q.status = Some(TaskStatus::Pending)),
            "tasks_live_status_created_idx",
            true,
        ),
        (
            page(&|q| q.sort = Sort::DueDate),
            "tasks_live_due_idx",
            true,
        ),
        (
            page(&|q| {
                q.sort = Sort::DueDate;
                q.status = Some(TaskStatus::Completed);
            }),
            "tasks_live_status_due_idx",
            true,
        ),
        (
            page(&|q| q.trashed = true),
            "tasks_trashed_created_idx",
            true,
        ),
        // By title: the trigram index when the text is rare, else the owner's own order and a
        // filter (make bench shows which at 100,000 tasks); never a scan of every task.
        (
            page(&|q| q.title = Some("chapter".to_owned())),
            "Index",
            false,
        ),
    ] {
        // The very statement the list runs (`tasks::db::list`), explained.
        let plan = explain_list(&mut *tx, owner, &q)
            .await
            .expect("explain")
            .join("\n");
        assert!(plan.contains(index), "{q:?}: {plan}");
        assert!(!plan.contains("Seq Scan"), "{q:?}: {plan}");
        if ordered {
            assert!(!plan.contains("Sort"), "the index gives the order: {plan}");
        }
    }
}
