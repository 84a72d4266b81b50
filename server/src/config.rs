//! The portal's configuration: command-line flags over environment variables over an optional
//! TOML file over defaults.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `quartermaster serve` flags. Every flag also reads an environment variable and a key of the
/// config file (the flag's name with `_` for `-`).
#[derive(Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// TOML file with any of the settings below.
    #[arg(long, env = "QM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "QM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the embedded database and generated keys.
    #[arg(long, env = "QM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` (default: `sqlite://<data-dir>/quartermaster.db`) or `postgres://…`.
    #[arg(long, env = "QM_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Log output format.
    #[arg(long, env = "QM_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// The URL people reach the portal at (links in messages, cookies' Secure flag).
    #[arg(long, env = "QM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Key that encrypts Secrets at rest: 32 bytes, base64. Default: `<data-dir>/secret.key`,
    /// generated on first start.
    #[arg(long, env = "QM_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// The password of the platform admin (`admin`) created on the first start. Without it the
    /// first start generates a one-time password, prints it, and asks for a new one at first
    /// sign-in. Ignored once any account exists.
    #[arg(long, env = "QM_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Directory holding the built site (`pkg/` with the wasm, JS and CSS). Defaults to
    /// `LEPTOS_SITE_ROOT`, then a `site/` directory beside the executable, then `target/site`.
    #[arg(long, env = "QM_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// Serve the built-in demo OSB broker under `/broker` (default true).
    #[arg(long, env = "QM_BUILTIN_BROKER")]
    pub builtin_broker: Option<bool>,
    /// The password the built-in broker demands (user `quartermaster`) on its OSB API and its
    /// `/broker/admin` switches. Default: a new random one at every start, handed to the portal
    /// through the broker's auth Secret.
    #[arg(long, env = "QM_BUILTIN_BROKER_PASSWORD", hide_env_values = true)]
    pub builtin_broker_password: Option<String>,
    /// Behind a reverse proxy: take the client's address (for the audit log) from the first
    /// `X-Forwarded-For` entry rather than the connection's peer (default false).
    #[arg(long, env = "QM_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: Option<bool>,
    /// Reconciles running at once (default 16).
    #[arg(long, env = "QM_CONTROLLER_WORKERS")]
    pub controller_workers: Option<usize>,
    /// Seconds a broker call may take before it counts as timed out (default 60).
    #[arg(long, env = "QM_BROKER_TIMEOUT")]
    pub broker_timeout: Option<u64>,
    /// Calls a second the portal makes to one broker (0: no limit, the default); a broker's
    /// `quartermaster.io/max-calls-per-second` annotation overrides it for that broker.
    #[arg(long, env = "QM_BROKER_RATE_LIMIT")]
    pub broker_rate_limit: Option<u32>,
    /// `fast` polls and retries in milliseconds instead of seconds: for tests and demos.
    #[arg(long, env = "QM_CONTROLLER_TIMING", hide = true)]
    pub controller_timing: Option<String>,
    /// Where the catalog's objects live: `embedded` (the portal's database) or `kubernetes`
    /// (CustomResources and Secrets in a Kubernetes API server; portal-only records stay in the
    /// database) [default: embedded].
    #[arg(long, env = "QM_CLUSTER", value_enum)]
    pub cluster: Option<ClusterKind>,
    /// With `--cluster kubernetes`: the kubeconfig to use [default: `KUBECONFIG`, `~/.kube/config`,
    /// or the in-cluster service account].
    #[arg(long, env = "QM_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// With `--cluster kubernetes`: a label selector choosing the namespaces that are teams
    /// (e.g. `quartermaster.io/team`); a team is named after its namespace [default: every
    /// namespace].
    #[arg(long, env = "QM_TEAM_NAMESPACES")]
    pub team_namespaces: Option<String>,
    /// With `--cluster kubernetes`: the namespace of the leader-election Lease [default: the
    /// pod's namespace, else the kubeconfig's].
    #[arg(long, env = "QM_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// With `--cluster kubernetes`: seconds a leader's Lease lasts without renewal, i.e. how soon
    /// another replica takes over from a dead one [default: 15].
    #[arg(long, env = "QM_LEADER_LEASE_SECONDS")]
    pub leader_lease_seconds: Option<u64>,
    /// With the embedded store: how many changes the change log keeps for watches to resume
    /// from; an older resourceVersion answers 410 Gone (Expired), as a compacted etcd does
    /// [default: 100000].
    #[arg(long, env = "QM_CHANGE_LOG_RETENTION")]
    pub change_log_retention: Option<u64>,
    /// Megabytes of rendered catalog pages kept for reuse while what they show is unchanged
    /// (per user and URL; 0 renders every request) [default: 16].
    #[arg(long, env = "QM_PAGE_CACHE_MB")]
    pub page_cache_mb: Option<u64>,
}

/// Where the catalog's objects live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterKind {
    /// In the portal's own database (SQLite or PostgreSQL).
    #[default]
    Embedded,
    /// In a Kubernetes API server.
    Kubernetes,
}

/// The Kubernetes settings of `--cluster kubernetes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesConfig {
    pub kubeconfig: Option<PathBuf>,
    /// Parsed label selector on namespaces; `None`: every namespace is a team's.
    pub team_namespaces: Option<String>,
    pub leader_election_namespace: Option<String>,
    pub lease_name: String,
    pub lease_duration: std::time::Duration,
}

/// Where the catalog's objects live, with what it takes to reach them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cluster {
    #[default]
    Embedded,
    Kubernetes(KubernetesConfig),
}

/// The same settings as read from a config file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    public_url: Option<String>,
    secret_key: Option<String>,
    admin_password: Option<String>,
    site_root: Option<PathBuf>,
    builtin_broker: Option<bool>,
    builtin_broker_password: Option<String>,
    trust_forwarded_for: Option<bool>,
    controller_workers: Option<usize>,
    broker_timeout: Option<u64>,
    broker_rate_limit: Option<u32>,
    cluster: Option<ClusterKind>,
    kubeconfig: Option<PathBuf>,
    team_namespaces: Option<String>,
    leader_election_namespace: Option<String>,
    leader_lease_seconds: Option<u64>,
    change_log_retention: Option<u64>,
    page_cache_mb: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(url.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_string()))
        } else {
            bail!("database URL must start with sqlite:// or postgres://, got {:?}", redact_url(url))
        }
    }
}

/// A URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// A configured secret: usable, but never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub log_format: LogFormat,
    pub public_url: String,
    pub secret_key: Option<Redacted>,
    /// The first platform admin's password (see `--admin-password`).
    pub admin_password: Option<Redacted>,
    /// The reconcilers' settings; `None` runs the portal without a controller (tests of the
    /// store or the UI alone).
    pub controller: Option<crate::controller::ControllerConfig>,
    pub site_root: PathBuf,
    /// Whether the portal hosts the built-in broker under [`crate::broker::MOUNT_PATH`].
    pub builtin_broker: bool,
    /// The password the built-in broker demands (see `--builtin-broker-password`).
    pub builtin_broker_password: Redacted,
    /// Client addresses from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Where the catalog's objects live.
    pub cluster: Cluster,
    /// Changes the embedded store's change log keeps (see `--change-log-retention`).
    pub change_log_retention: u64,
    /// Bytes of rendered catalog pages kept for reuse (see `--page-cache-mb`).
    pub page_cache_bytes: usize,
}

impl Config {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        // cargo-leptos tells the binary its address in LEPTOS_SITE_ADDR.
        let leptos_addr = std::env::var("LEPTOS_SITE_ADDR").ok().and_then(|a| a.parse().ok());
        let listen =
            args.listen.or(file.listen).or(leptos_addr).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(default_data_dir);
        let database = match args.database_url.or(file.database_url) {
            Some(url) => DatabaseUrl::parse(&url)?,
            None => DatabaseUrl::Sqlite(format!("sqlite://{}", data_dir.join("quartermaster.db").display())),
        };
        let public_url = args.public_url.or(file.public_url).unwrap_or_else(|| format!("http://{listen}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("public URL must be an http:// or https:// URL, got {public_url:?}");
        }
        let cluster = match args.cluster.or(file.cluster).unwrap_or_default() {
            ClusterKind::Embedded => Cluster::Embedded,
            ClusterKind::Kubernetes => {
                let team_namespaces = args.team_namespaces.or(file.team_namespaces).filter(|s| !s.trim().is_empty());
                if let Some(selector) = &team_namespaces {
                    crate::store::LabelSelector::parse(selector).context("--team-namespaces")?;
                }
                let seconds = args.leader_lease_seconds.or(file.leader_lease_seconds).unwrap_or(15);
                if seconds < 2 {
                    bail!("--leader-lease-seconds must be at least 2, got {seconds}");
                }
                Cluster::Kubernetes(KubernetesConfig {
                    kubeconfig: args.kubeconfig.or(file.kubeconfig),
                    team_namespaces,
                    leader_election_namespace: args.leader_election_namespace.or(file.leader_election_namespace),
                    lease_name: "quartermaster-controller".into(),
                    lease_duration: std::time::Duration::from_secs(seconds),
                })
            }
        };
        Ok(Self {
            cluster,
            listen,
            data_dir,
            database,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            public_url: public_url.trim_end_matches('/').to_string(),
            secret_key: args.secret_key.or(file.secret_key).map(Redacted),
            admin_password: args.admin_password.or(file.admin_password).filter(|p| !p.is_empty()).map(Redacted),
            controller: Some(controller_config(
                args.controller_workers.or(file.controller_workers),
                args.broker_timeout.or(file.broker_timeout),
                args.broker_rate_limit.or(file.broker_rate_limit),
                args.controller_timing.as_deref(),
            )?),
            site_root: args.site_root.or(file.site_root).unwrap_or_else(default_site_root),
            builtin_broker: args.builtin_broker.or(file.builtin_broker).unwrap_or(true),
            builtin_broker_password: Redacted(
                args.builtin_broker_password
                    .or(file.builtin_broker_password)
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(crate::auth::password::generate),
            ),
            trust_forwarded_for: args.trust_forwarded_for.or(file.trust_forwarded_for).unwrap_or(false),
            change_log_retention: match args.change_log_retention.or(file.change_log_retention) {
                Some(0) => bail!("--change-log-retention must be at least 1"),
                Some(n) => n,
                None => crate::store::DEFAULT_CHANGE_LOG_RETENTION,
            },
            page_cache_bytes: usize::try_from(args.page_cache_mb.or(file.page_cache_mb).unwrap_or(16))
                .unwrap_or(usize::MAX)
                .saturating_mul(1024 * 1024),
        })
    }

    /// How the built-in broker behaves inside the portal: asynchronous with a short delay, so the
    /// portal's Provisioning → Ready path can be watched, and open (it only holds demo data). It is
    /// reached at [`Config::public_url`] + [`crate::broker::MOUNT_PATH`].
    pub fn builtin_broker_config(&self) -> crate::broker::BrokerConfig {
        crate::broker::BrokerConfig {
            public_url: crate::broker::builtin_broker_url(&self.public_url),
            basic_auth: Some(self.builtin_broker_credentials()),
            ..crate::broker::BrokerConfig::default()
        }
    }

    /// What the built-in broker demands, and what the portal registers it with.
    pub fn builtin_broker_credentials(&self) -> crate::broker::BasicCredentials {
        crate::broker::BasicCredentials {
            username: crate::broker::BUILTIN_USERNAME.into(),
            password: self.builtin_broker_password.0.clone().into(),
        }
    }

    /// The built-in broker's own SQLite file, beside the portal's data (whatever database the
    /// portal itself uses).
    pub fn builtin_broker_db(&self) -> PathBuf {
        self.data_dir.join(crate::broker::store::FILE_NAME)
    }

    /// A configuration for tests: a port picked by the OS, the given data directory, a
    /// controller with quick timings and short broker timeouts.
    pub fn for_tests(data_dir: &Path) -> Self {
        let mut config = Self::resolve(ServeArgs {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(data_dir.to_path_buf()),
            ..ServeArgs::default()
        })
        .expect("test configuration is valid");
        config.controller = Some(crate::controller::ControllerConfig {
            timing: crate::controller::Timing::fast(),
            workers: 4,
            request_timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        });
        config
    }
}

fn controller_config(
    workers: Option<usize>,
    broker_timeout: Option<u64>,
    broker_rate_limit: Option<u32>,
    timing: Option<&str>,
) -> anyhow::Result<crate::controller::ControllerConfig> {
    let mut config = crate::controller::ControllerConfig::default();
    if let Some(workers) = workers {
        config.workers = workers.max(1);
    }
    if let Some(secs) = broker_timeout {
        config.request_timeout = std::time::Duration::from_secs(secs.max(1));
    }
    config.per_broker_rate = broker_rate_limit.and_then(std::num::NonZeroU32::new);
    match timing {
        None | Some("default") => {}
        Some("fast") => config.timing = crate::controller::Timing::fast(),
        Some(other) => bail!("controller timing must be `default` or `fast`, got {other:?}"),
    }
    Ok(config)
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

/// `$XDG_DATA_HOME/quartermaster`, else `~/.local/share/quartermaster`.
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("quartermaster"),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(".local/share/quartermaster"),
            None => PathBuf::from("quartermaster-data"),
        },
    }
}

fn default_site_root() -> PathBuf {
    if let Some(root) = std::env::var_os("LEPTOS_SITE_ROOT") {
        return PathBuf::from(root);
    }
    if let Some(beside_exe) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("site")))
        && beside_exe.join("pkg").is_dir()
    {
        return beside_exe;
    }
    PathBuf::from("target/site")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("qm.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:4000\"\ndata_dir = \"/srv/qm\"\nlog_format = \"json\"\n").unwrap();
        let config = Config::resolve(ServeArgs {
            config: Some(file),
            listen: Some("127.0.0.1:5000".parse().unwrap()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(config.listen.port(), 5000);
        assert_eq!(config.data_dir, PathBuf::from("/srv/qm"));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.database, DatabaseUrl::Sqlite("sqlite:///srv/qm/quartermaster.db".into()));
        assert_eq!(config.public_url, "http://127.0.0.1:5000");
        assert!(config.builtin_broker, "the built-in broker is on by default");
        assert_eq!(config.builtin_broker_config().public_url, "http://127.0.0.1:5000/broker");
        assert_eq!(config.builtin_broker_db(), PathBuf::from("/srv/qm/broker.db"));
        assert_eq!(config.cluster, Cluster::Embedded, "embedded unless asked");
    }

    #[test]
    fn kubernetes_mode_reads_its_settings_and_checks_the_team_selector() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("qm.toml");
        std::fs::write(&file, "cluster = \"kubernetes\"\nteam_namespaces = \"quartermaster.io/team\"\n").unwrap();
        let config = Config::resolve(ServeArgs {
            config: Some(file),
            kubeconfig: Some("/etc/qm/kubeconfig".into()),
            leader_lease_seconds: Some(5),
            ..ServeArgs::default()
        })
        .unwrap();
        let Cluster::Kubernetes(k) = config.cluster else { panic!("kubernetes mode") };
        assert_eq!(k.kubeconfig, Some(PathBuf::from("/etc/qm/kubeconfig")));
        assert_eq!(k.team_namespaces.as_deref(), Some("quartermaster.io/team"));
        assert_eq!(k.lease_duration, std::time::Duration::from_secs(5));
        let err = Config::resolve(ServeArgs {
            cluster: Some(ClusterKind::Kubernetes),
            team_namespaces: Some("a in (b".into()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("team-namespaces"), "{err:#}");
    }

    /// The environment layer is clap's: this test runs itself again as a child process with the
    /// variables set (the test's own environment stays untouched, so no other test sees them).
    #[test]
    fn env_beats_file_and_flags_beat_env() {
        const CHILD: &str = "QM_TEST_ENV_LAYER_CHILD";
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let Some(file) = std::env::var_os(CHILD) else {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("qm.toml");
            std::fs::write(
                &file,
                "listen = \"127.0.0.1:4000\"\ndata_dir = \"/srv/file\"\nlog_format = \"pretty\"\n\
                 public_url = \"https://file.example.com\"\nbuiltin_broker = true\nbroker_timeout = 7\n",
            )
            .unwrap();
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "config::tests::env_beats_file_and_flags_beat_env",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD, &file)
                .env("QM_LISTEN", "127.0.0.1:4500")
                .env("QM_DATA_DIR", "/srv/env")
                .env("QM_LOG_FORMAT", "json")
                .env("QM_BUILTIN_BROKER", "false")
                .env_remove("QM_PUBLIC_URL")
                .env_remove("QM_BROKER_TIMEOUT")
                .env_remove("QM_CONFIG")
                .output()
                .unwrap();
            let text =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(output.status.success(), "the child's assertions failed:\n{text}");
            assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
            return;
        };
        use clap::Parser as _;
        let config_path = std::path::PathBuf::from(file);
        // No flags: the environment beats the file, and the file fills in what the environment leaves.
        let cli =
            Cli::try_parse_from([std::ffi::OsStr::new("qm"), "--config".as_ref(), config_path.as_os_str()]).unwrap();
        let config = Config::resolve(cli.serve).unwrap();
        assert_eq!(config.listen.port(), 4500, "QM_LISTEN beats the file");
        assert_eq!(config.data_dir, PathBuf::from("/srv/env"), "QM_DATA_DIR beats the file");
        assert_eq!(config.log_format, LogFormat::Json, "QM_LOG_FORMAT beats the file");
        assert!(!config.builtin_broker, "QM_BUILTIN_BROKER beats the file");
        assert_eq!(config.public_url, "https://file.example.com", "the file where the environment is silent");
        let timeout = config.controller.as_ref().unwrap().request_timeout;
        assert_eq!(timeout, std::time::Duration::from_secs(7), "the file where the environment is silent");
        // Flags beat the environment.
        let cli = Cli::try_parse_from([
            std::ffi::OsStr::new("qm"),
            "--config".as_ref(),
            config_path.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:5000".as_ref(),
            "--log-format".as_ref(),
            "pretty".as_ref(),
            "--builtin-broker".as_ref(),
            "true".as_ref(),
        ])
        .unwrap();
        let config = Config::resolve(cli.serve).unwrap();
        assert_eq!(config.listen.port(), 5000, "--listen beats QM_LISTEN");
        assert_eq!(config.log_format, LogFormat::Pretty, "--log-format beats QM_LOG_FORMAT");
        assert!(config.builtin_broker, "--builtin-broker beats QM_BUILTIN_BROKER");
        assert_eq!(config.data_dir, PathBuf::from("/srv/env"), "the environment where no flag is given");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("qm.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:4000\"\n").unwrap();
        let err = Config::resolve(ServeArgs { config: Some(file), ..ServeArgs::default() }).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field `lisen`"), "{err:#}");
    }

    #[test]
    fn database_urls_are_checked_and_passwords_redacted() {
        assert!(matches!(DatabaseUrl::parse("postgres://u:p@127.0.0.1/qm").unwrap(), DatabaseUrl::Postgres(_)));
        let err = DatabaseUrl::parse("mysql://root:hunter2@127.0.0.1/qm").unwrap_err().to_string();
        assert!(err.contains("sqlite:// or postgres://"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(redact_url("postgres://qm:secret@db:5432/qm"), "postgres://qm:***@db:5432/qm");
    }
}
