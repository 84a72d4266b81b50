//! Quartermaster's server: configuration, storage, HTTP routes, and (in later modules) the OSB
//! client, the built-in broker and the controller.

/// mimalloc rather than the system allocator, for the binary and everything that links this
/// crate (tests, benchmarks). Rendering a page allocates many small strings from many threads,
/// a catalog sync builds and drops JSON values by the thousand: glibc's malloc, free and their
/// consolidation took about a fifth of `--bench catalog_ssr`'s CPU and a third of a 10,000-plan
/// sync's (`perf record`). Not in the fuzz build (its sanitizer wants every allocation).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod app_state;
pub mod auth;
pub mod broker;
pub mod config;
pub mod controller;
pub mod db;
pub mod demo;
pub mod governance;
pub mod http;
pub mod kapi;
pub mod metrics;
pub mod osb;
pub mod params;
pub mod portal;
pub mod rest;
pub mod store;
pub mod telemetry;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

use crate::{
    app_state::AppState,
    config::{Cluster, Config},
    db::Database,
};

/// A built portal: bound to its port, database migrated, ready to serve.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The first platform admin's generated one-time password, when this start created it.
    bootstrap_password: Option<String>,
    /// With `--cluster kubernetes`: the client and lease the controller's leader election uses.
    #[cfg(feature = "kubernetes")]
    election: Option<(kube::Client, controller::leader::LeaderConfig)>,
}

/// The catalog's store for `config`, and (in Kubernetes mode) what leader election needs.
#[cfg(feature = "kubernetes")]
async fn open_store(
    config: &Config,
    db: &Database,
) -> anyhow::Result<(Arc<dyn store::ResourceStore>, Option<(kube::Client, controller::leader::LeaderConfig)>)> {
    match &config.cluster {
        Cluster::Embedded => Ok((
            Arc::new(
                store::SqlStore::new(db.clone(), secret_cipher(config)?).with_retention(config.change_log_retention),
            ),
            None,
        )),
        Cluster::Kubernetes(k) => {
            let client = store::kubernetes::client(k.kubeconfig.as_deref()).await?;
            let teams = k.team_namespaces.as_deref().map(store::LabelSelector::parse).transpose()?;
            let kube_store = store::KubeStore::new(client.clone(), teams);
            kube_store.check_crds().await?;
            let namespace = k
                .leader_election_namespace
                .clone()
                .or_else(|| std::env::var("POD_NAMESPACE").ok().filter(|n| !n.is_empty()))
                .unwrap_or_else(|| client.default_namespace().to_string());
            let leader = controller::leader::LeaderConfig {
                namespace,
                lease_name: k.lease_name.clone(),
                identity: controller::leader::default_identity(),
                lease_duration: k.lease_duration,
            };
            tracing::info!(lease = %format!("{}/{}", leader.namespace, leader.lease_name), identity = %leader.identity,
                teams = k.team_namespaces.as_deref().unwrap_or("every namespace"), "the catalog lives in Kubernetes");
            Ok((Arc::new(kube_store), Some((client, leader))))
        }
    }
}

#[cfg(not(feature = "kubernetes"))]
async fn open_store(config: &Config, db: &Database) -> anyhow::Result<(Arc<dyn store::ResourceStore>, Option<()>)> {
    match &config.cluster {
        Cluster::Embedded => Ok((
            Arc::new(
                store::SqlStore::new(db.clone(), secret_cipher(config)?).with_retention(config.change_log_retention),
            ),
            None,
        )),
        Cluster::Kubernetes(_) => {
            anyhow::bail!("this build of quartermaster has no Kubernetes support (cargo feature `kubernetes`)")
        }
    }
}

fn secret_cipher(config: &Config) -> anyhow::Result<store::SecretCipher> {
    Ok(match &config.secret_key {
        Some(key) => store::SecretCipher::from_base64(&key.0).context("secret_key")?,
        None => store::SecretCipher::load_or_create(&config.data_dir)?,
    })
}

/// A data directory the portal cannot write to (a read-only mount, wrong owner) is refused at
/// start with the reason, rather than failing on the first write.
fn check_writable(dir: &std::path::Path) -> anyhow::Result<()> {
    let probe = dir.join(format!(".quartermaster-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("the data directory {} is not writable", dir.display()))
}

impl Application {
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        // Any HTTP client the portal builds (reqwest over rustls) needs the process-wide provider.
        osb::install_crypto_provider();
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        check_writable(&config.data_dir)?;
        let db = Database::connect(&config.database).await?;
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        // A public URL defaulted from a listen port 0 names the port the OS picked.
        if config.listen.port() == 0 && config.public_url == format!("http://{}", config.listen) {
            config.public_url = broker::local_url(local_addr);
        }
        let builtin_broker =
            if config.builtin_broker { Some(broker::BrokerDb::open(&config.builtin_broker_db()).await?) } else { None };
        let leptos_options = LeptosOptions::builder()
            .output_name("quartermaster")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .build();
        #[cfg_attr(not(feature = "kubernetes"), allow(unused_variables))]
        let (store, election) = open_store(&config, &db).await?;
        if config.builtin_broker {
            let url = broker::builtin_broker_url_for(local_addr);
            demo::register_builtin_broker(&db, store.as_ref(), &url, &config.builtin_broker_credentials()).await?;
        }
        let accounts = auth::Accounts::new(db.clone());
        let bootstrap_password = accounts
            .bootstrap_admin(config.admin_password.as_ref().map(|p| p.0.as_str()))
            .await
            .context("creating the first platform admin")?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let state = AppState::new(app_state::Parts {
            config: Arc::new(config),
            governance: governance::Governance::new(db.clone()),
            db,
            store,
            builtin_broker,
            leptos_options,
            accounts,
            login_limiter: Arc::new(auth::LoginLimiter::default()),
            shutdown: shutdown_rx,
        });
        Ok(Self {
            listener,
            local_addr,
            state,
            shutdown,
            bootstrap_password,
            #[cfg(feature = "kubernetes")]
            election,
        })
    }

    /// The address actually bound (the port is the OS's choice when configured as 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The catalog's store (for tests and embedding).
    pub fn store(&self) -> Arc<dyn store::ResourceStore> {
        self.state.store.clone()
    }

    /// People, teams and tokens (for tests and embedding).
    pub fn accounts(&self) -> auth::Accounts {
        self.state.accounts.clone()
    }

    /// The one-time password generated for the first platform admin `admin`, when this start
    /// created that account without a configured password: shown once, then gone.
    pub fn take_bootstrap_password(&mut self) -> Option<String> {
        self.bootstrap_password.take()
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The built-in broker's URL as this process reaches it, when the portal hosts one (for the
    /// demo-broker registration).
    pub fn builtin_broker_url(&self) -> Option<String> {
        self.state.config.builtin_broker.then(|| broker::builtin_broker_url_for(self.local_addr))
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish and closes the
    /// databases.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let db = self.state.db.clone();
        let accounts = self.state.accounts.clone();
        let broker_db = self.state.builtin_broker.clone();
        let controller = match self.state.config.controller.clone() {
            #[cfg(feature = "kubernetes")]
            Some(config) if self.election.is_some() => {
                let Some((client, leader)) = self.election else { unreachable!("checked above") };
                let store = self.state.store.clone();
                let elector = controller::leader::Elector::new(client, leader);
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let task = tokio::spawn(controller::leader::run(elector, stopped, move || {
                    // One leader at a time: no per-object leases needed.
                    controller::Controller::start(store.clone(), controller::lease::Leases::none(), config.clone())
                }));
                Some(Running::Elected(stop, task))
            }
            Some(config) => {
                let lease_ttl = config.request_timeout * 2 + std::time::Duration::from_secs(30);
                let leases = controller::lease::Leases::new(&self.state.db, lease_ttl);
                Some(Running::Always(controller::Controller::start(self.state.store.clone(), leases, config).await?))
            }
            None => None,
        };
        // Approvals recorded but not carried out when the last process stopped: carry them out now.
        {
            let (store, gov) = (self.state.store.clone(), self.state.governance.clone());
            tokio::spawn(async move {
                match portal::governance::resume_approved(store.as_ref(), &gov).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(requests = n, "resumed approved requests left unfinished"),
                    Err(e) => tracing::error!(error = %e, "resuming approved requests failed"),
                }
            });
        }
        let router = http::router(self.state);
        let stopping = self.shutdown;
        let shutdown = async move {
            shutdown.await;
            let _ = stopping.send(true);
        };
        let served = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP");
        match controller {
            Some(Running::Always(controller)) => controller.shutdown().await,
            Some(Running::Elected(stop, task)) => {
                let _ = stop.send(true);
                let _ = task.await;
            }
            None => {}
        }
        if let Err(e) = accounts.write_last_uses().await {
            tracing::warn!(error = %e, "recording API tokens' last use failed");
        }
        db.close().await;
        if let Some(broker_db) = broker_db {
            broker_db.close().await;
        }
        served
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// How the controller runs in this process.
enum Running {
    /// Always (one process, or per-object leases on PostgreSQL).
    Always(controller::Controller),
    /// While this process holds the leader lease; `true` on the sender stops it.
    #[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
    Elected(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>),
}

/// Completes on Ctrl-C / SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
