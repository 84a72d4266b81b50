//! Accounts, teams, tokens and sessions on both databases.

mod common;

use server::{
    auth::{Accounts, Role, SqlSessionStore},
    config::DatabaseUrl,
    db::Database,
};
use tower_sessions::{SessionStore, session::Record};

async fn sqlite() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseUrl::Sqlite(format!("sqlite://{}/qm.db", dir.path().display()))).await.unwrap();
    (db, dir)
}

async fn postgres(test: &str) -> Option<Database> {
    let url = common::postgres::fresh_database(test).await?;
    Some(Database::connect(&DatabaseUrl::Postgres(url)).await.unwrap())
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test]
            async fn $case() {
                let (db, _dir) = super::sqlite().await;
                super::$case(db).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test]
            async fn $case() {
                let Some(db) = super::postgres(stringify!($case)).await else { return };
                super::$case(db).await;
            })*
        }
    };
}

on_both!(
    first_start_creates_one_admin,
    passwords_log_in_and_change,
    teams_and_roles,
    tokens_are_shown_once_and_revocable,
    one_read_finds_the_user_and_teams,
    sessions_persist_and_expire
);

async fn first_start_creates_one_admin(db: Database) {
    let accounts = Accounts::new(db);
    let password = accounts.bootstrap_admin(None).await.unwrap().expect("a generated one-time password");
    assert!(password.len() >= 20);
    let admin = accounts.check_password("admin", &password).await.unwrap().expect("the printed password works");
    assert!(admin.platform_admin && admin.must_change_password);
    assert_eq!(accounts.bootstrap_admin(None).await.unwrap(), None, "only on the very first start");
    assert_eq!(accounts.count_users().await.unwrap(), 1);
}

async fn passwords_log_in_and_change(db: Database) {
    let accounts = Accounts::new(db);
    let alice = accounts.create_user("alice", "Alice", Some("a long enough secret"), false, false).await.unwrap();
    assert!(accounts.check_password("alice", "a long enough secret").await.unwrap().is_some());
    assert!(accounts.check_password("alice", "A long enough secret").await.unwrap().is_none());
    assert!(accounts.check_password("mallory", "a long enough secret").await.unwrap().is_none());
    assert!(accounts.set_password(alice.id, "short").await.unwrap_err().to_string().contains("12 characters"));
    accounts.set_password(alice.id, "another long secret").await.unwrap();
    assert!(accounts.check_password("alice", "a long enough secret").await.unwrap().is_none());
    assert!(accounts.check_password("alice", "another long secret").await.unwrap().is_some());
    let err = accounts.create_user("alice", "", None, false, false).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let err = accounts.create_user("bad name!", "", None, false, false).await.unwrap_err();
    assert!(err.to_string().contains("not a valid username"), "{err}");
}

async fn teams_and_roles(db: Database) {
    let accounts = Accounts::new(db);
    let bob = accounts.create_user("bob", "Bob", Some("bob's long password"), false, false).await.unwrap();
    accounts.create_team("team-a", "Team A").await.unwrap();
    accounts.create_team("team-b", "Team B").await.unwrap();
    assert!(accounts.create_team("Team_C", "").await.unwrap_err().to_string().contains("team name"));
    accounts.set_membership(bob.id, "team-a", Role::Member).await.unwrap();
    accounts.set_membership(bob.id, "team-b", Role::Member).await.unwrap();
    accounts.set_membership(bob.id, "team-b", Role::TeamAdmin).await.unwrap();
    assert_eq!(
        accounts.memberships(bob.id).await.unwrap(),
        [("team-a".to_string(), Role::Member), ("team-b".to_string(), Role::TeamAdmin)]
    );
    accounts.remove_membership(bob.id, "team-a").await.unwrap();
    assert_eq!(accounts.memberships(bob.id).await.unwrap().len(), 1);
}

async fn sql(db: &Database, statement: &str) {
    match db {
        // The test's own statements, with numbers only.
        Database::Sqlite(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(pool).await.map(drop).unwrap()
        }
        Database::Postgres(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(pool).await.map(drop).unwrap()
        }
    }
}

async fn last_used(db: &Database) -> Option<i64> {
    const SQL: &str = "SELECT last_used_at FROM api_tokens";
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
    }
}

/// What the request guard reads on every request: the token's (or session's) user with their
/// teams in one read. Revoking, disabling and membership changes count on the next read; the
/// token's last use is written at most once a minute.
async fn one_read_finds_the_user_and_teams(db: Database) {
    let accounts = Accounts::new(db.clone());
    let dave = accounts.create_user("dave", "Dave", None, false, false).await.unwrap();
    let (token, info) = accounts.create_token(dave.id, "laptop").await.unwrap();
    let (user, teams) = accounts.token_principal(&token).await.unwrap().unwrap();
    assert_eq!((user.username.as_str(), teams.len()), ("dave", 0), "a user of no team is found too");
    accounts.create_team("team-a", "").await.unwrap();
    accounts.create_team("team-b", "").await.unwrap();
    accounts.set_membership(dave.id, "team-b", Role::TeamAdmin).await.unwrap();
    accounts.set_membership(dave.id, "team-a", Role::Member).await.unwrap();
    let both = vec![("team-a".to_string(), Role::Member), ("team-b".to_string(), Role::TeamAdmin)];
    assert_eq!(accounts.token_principal(&token).await.unwrap().unwrap().1, both);
    assert_eq!(accounts.user_with_teams(dave.id).await.unwrap(), Some((user.clone(), both)));
    accounts.remove_membership(dave.id, "team-b").await.unwrap();
    assert_eq!(accounts.token_principal(&token).await.unwrap().unwrap().1, [("team-a".to_string(), Role::Member)]);

    // The use is written shortly after the request, by itself (off the request's path).
    let waited = std::time::Instant::now();
    let first = loop {
        match last_used(&db).await {
            Some(at) => break at,
            None if waited.elapsed() < std::time::Duration::from_secs(30) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            None => panic!("the token's use was never written"),
        }
    };
    // Used just now: another use within the minute writes nothing; an older recorded use is renewed.
    sql(&db, &format!("UPDATE api_tokens SET last_used_at = {}", first - 1000)).await;
    accounts.token_principal(&token).await.unwrap().unwrap();
    accounts.write_last_uses().await.unwrap();
    assert_eq!(last_used(&db).await, Some(first - 1000), "not written again within a minute");
    sql(&db, &format!("UPDATE api_tokens SET last_used_at = {}", first - 61_000)).await;
    accounts.token_principal(&token).await.unwrap().unwrap();
    accounts.write_last_uses().await.unwrap();
    assert!(last_used(&db).await.unwrap() >= first, "renewed after a minute");

    // A disabled user is nobody, by token and by session, at once; so is a revoked token.
    sql(&db, &format!("UPDATE users SET disabled = TRUE WHERE id = {}", dave.id)).await;
    assert!(accounts.token_principal(&token).await.unwrap().is_none());
    assert!(accounts.user_with_teams(dave.id).await.unwrap().is_none());
    sql(&db, &format!("UPDATE users SET disabled = FALSE WHERE id = {}", dave.id)).await;
    assert!(accounts.token_principal(&token).await.unwrap().is_some());
    accounts.revoke_token(dave.id, info.id).await.unwrap();
    assert!(accounts.token_principal(&token).await.unwrap().is_none(), "revoked");
    assert!(accounts.user_with_teams(-1).await.unwrap().is_none());
}

async fn tokens_are_shown_once_and_revocable(db: Database) {
    let accounts = Accounts::new(db.clone());
    let carol = accounts.create_user("carol", "", Some("carol's long password"), false, false).await.unwrap();
    let (token, info) = accounts.create_token(carol.id, "ci pipeline").await.unwrap();
    assert_eq!(accounts.user_for_token(&token).await.unwrap().map(|u| u.username), Some("carol".into()));
    let listed = accounts.list_tokens(carol.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some(), "use is recorded");
    // Only a hash is stored.
    let stored: Vec<String> = match &db {
        Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(pool).await.unwrap()
        }
        Database::Postgres(pool) => {
            sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(pool).await.unwrap()
        }
    };
    assert!(stored.iter().all(|h| !h.contains(&token[3..])));
    accounts.revoke_token(carol.id, info.id).await.unwrap();
    assert!(accounts.user_for_token(&token).await.unwrap().is_none(), "revoked");
    assert!(accounts.user_for_token("qm_not-a-token").await.unwrap().is_none());
    assert!(accounts.list_tokens(carol.id).await.unwrap().is_empty());
}

async fn sessions_persist_and_expire(db: Database) {
    let store = SqlSessionStore::new(db);
    let mut record = Record {
        id: Default::default(),
        data: [("user_id".to_string(), serde_json::json!(7))].into_iter().collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    assert_eq!(store.load(&record.id).await.unwrap(), Some(record.clone()));
    record.data.insert("theme".into(), serde_json::json!("dark"));
    store.save(&record).await.unwrap();
    assert_eq!(store.load(&record.id).await.unwrap().unwrap().data["theme"], "dark");
    store.delete(&record.id).await.unwrap();
    assert_eq!(store.load(&record.id).await.unwrap(), None);
    // A save after the delete (a request that read the session before a sign-out) writes nothing.
    store.save(&record).await.unwrap();
    assert_eq!(store.load(&record.id).await.unwrap(), None, "a deleted session stays deleted");

    let mut expired = Record {
        id: Default::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() - time::Duration::seconds(1),
    };
    store.create(&mut expired).await.unwrap();
    assert_eq!(store.load(&expired.id).await.unwrap(), None, "an expired session is not loaded");
    assert_eq!(store.delete_expired().await.unwrap(), 1);
}
