//! The backends the store contract runs on, and what each case may ask of them (shared with
//! `kubernetes_store.rs`, which uses only some of it).
#![allow(dead_code)]

use std::sync::Arc;

use futures::future::BoxFuture;
#[cfg(feature = "kubernetes")]
use server::store::LabelSelector;
use server::{
    config::DatabaseUrl,
    db::Database,
    store::{ResourceStore, SecretCipher, SqlStore},
};

use super::common;

/// What only the SQL backends have.
pub struct Sql {
    pub store: SqlStore,
    pub db: Database,
}

pub struct Backend {
    pub store: Arc<dyn ResourceStore>,
    pub sql: Option<Sql>,
    /// On a shared API server: the suffix of this test's namespaces.
    pub suffix: Option<String>,
    /// Whether only this test moves the store's resourceVersion.
    pub exclusive_versions: bool,
    /// Opens a second, independent store on the same data (as another process would).
    pub other: Box<dyn Fn() -> BoxFuture<'static, Arc<dyn ResourceStore>> + Send + Sync>,
    _dir: tempfile::TempDir,
}

impl Backend {
    /// This test's name for a namespace.
    pub fn ns(&self, base: &str) -> String {
        match &self.suffix {
            Some(suffix) => format!("{base}-{suffix}"),
            None => base.to_string(),
        }
    }

    pub fn sql(&self) -> &Sql {
        self.sql.as_ref().expect("an SQL backend")
    }
}

async fn sql_backend(url: DatabaseUrl) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&url).await.unwrap();
    let cipher = SecretCipher::load_or_create(dir.path()).unwrap();
    let store = SqlStore::new(db.clone(), cipher);
    let other = Box::new(move || -> BoxFuture<'static, Arc<dyn ResourceStore>> {
        let url = url.clone();
        Box::pin(async move {
            // Its own pool, broadcast and key file: nothing shared in memory.
            let dir = tempfile::tempdir().unwrap();
            let cipher = SecretCipher::load_or_create(dir.path()).unwrap();
            // (the key is read now; the directory may go)
            Arc::new(SqlStore::new(Database::connect(&url).await.unwrap(), cipher)) as Arc<dyn ResourceStore>
        })
    });
    Backend {
        store: Arc::new(store.clone()),
        sql: Some(Sql { store, db }),
        suffix: None,
        exclusive_versions: true,
        other,
        _dir: dir,
    }
}

pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(format!("sqlite://{}/qm.db", dir.path().display()));
    let mut backend = sql_backend(url).await;
    backend._dir = dir;
    backend
}

pub async fn postgres(test: &str) -> Option<Backend> {
    let url = common::postgres::fresh_database(test).await?;
    Some(sql_backend(DatabaseUrl::Postgres(url)).await)
}

#[cfg(feature = "kubernetes")]
pub async fn kubernetes(test: &str) -> Option<Backend> {
    let cluster = common::kubelite::cluster(test)?;
    let client = cluster.client().await;
    cluster.install_crds(&client).await;
    let namespaces = cluster.namespaces(&client, &["team-a", "team-b"]).await;
    let selector = LabelSelector::parse(&namespaces.selector()).unwrap();
    let store = server::store::KubeStore::new(client, Some(selector.clone()));
    let other = Box::new(move || -> BoxFuture<'static, Arc<dyn ResourceStore>> {
        let selector = selector.clone();
        Box::pin(async move {
            let client = cluster.client().await;
            Arc::new(server::store::KubeStore::new(client, Some(selector))) as Arc<dyn ResourceStore>
        })
    });
    Some(Backend {
        store: Arc::new(store),
        sql: None,
        suffix: Some(namespaces.suffix),
        exclusive_versions: false,
        other,
        _dir: tempfile::tempdir().unwrap(),
    })
}
