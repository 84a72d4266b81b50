use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use server::{
    Application,
    broker::{self, BasicCredentials, BrokerConfig, BrokerDb, FaultRule},
    config::{Config, LogFormat, ServeArgs, default_data_dir},
    telemetry,
};

/// Quartermaster: a self-service portal for Open Service Broker services.
#[derive(Parser, Debug)]
#[command(name = "quartermaster", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a command, `quartermaster` serves the portal and takes `serve`'s flags.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the portal (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Run only the built-in OSB 2.17 broker (the demo Hadoop/Kafka catalog), for any OSB client.
    Broker(BrokerArgs),
    /// Print the catalog's CustomResourceDefinitions (YAML) for `--cluster kubernetes`.
    #[cfg(feature = "kubernetes")]
    Crds(CrdArgs),
}

/// `quartermaster crds` flags.
#[cfg(feature = "kubernetes")]
#[derive(Args, Debug)]
struct CrdArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    write: Option<PathBuf>,
}

/// `quartermaster broker` flags.
#[derive(Args, Debug)]
struct BrokerArgs {
    /// Address to listen on.
    #[arg(long, env = "QM_BROKER_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Directory of the broker's database (`broker.db`) [default: `$XDG_DATA_HOME/quartermaster/broker`,
    /// else `~/.local/share/quartermaster/broker`].
    #[arg(long, env = "QM_BROKER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The URL clients reach the broker at, for the icon URLs in its catalog
    /// [default: `http://` + the address it listens on].
    #[arg(long, env = "QM_BROKER_PUBLIC_URL")]
    public_url: Option<String>,
    /// Answer every operation synchronously (default: asynchronously when the client accepts it).
    #[arg(long, env = "QM_BROKER_SYNC")]
    sync: bool,
    /// Seconds an asynchronous operation stays in progress.
    #[arg(long, env = "QM_BROKER_ASYNC_DELAY", default_value_t = 3.0)]
    async_delay: f64,
    /// Seconds advertised in Retry-After while an operation is in progress.
    #[arg(long, env = "QM_BROKER_RETRY_AFTER", default_value_t = 1)]
    retry_after: u64,
    /// Seconds the `timeout` fault holds an answer.
    #[arg(long, env = "QM_BROKER_HANG_FOR", default_value_t = 120.0)]
    hang_for: f64,
    /// Demand HTTP basic auth with this user name (needs --password).
    #[arg(long, env = "QM_BROKER_USERNAME", requires = "password")]
    username: Option<String>,
    /// The basic-auth password.
    #[arg(long, env = "QM_BROKER_PASSWORD", requires = "username", hide_env_values = true)]
    password: Option<String>,
    /// A broker-wide fault, `FAULT[@ENDPOINT][*TIMES]`, e.g. `server-error@provision*2`
    /// (also switchable at run time: PUT /admin/fault).
    #[arg(long, env = "QM_BROKER_FAULT")]
    fault: Option<FaultRule>,
    /// Log output format.
    #[arg(long, env = "QM_LOG_FORMAT", value_enum, default_value = "pretty")]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    server::osb::install_crypto_provider();
    let result = match cli.command.unwrap_or(Command::Serve(Box::new(cli.serve))) {
        Command::Serve(args) => serve(*args).await,
        Command::Broker(args) => run_broker(args).await,
        #[cfg(feature = "kubernetes")]
        Command::Crds(args) => print_crds(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("quartermaster: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Tells whoever started the portal the first admin's one-time password, never through the log:
/// on a terminal it is printed once; with `--log-format json` (log collectors keep what they read)
/// it goes to `<data-dir>/initial-admin-password`, readable by its owner only, and the log names
/// that file.
fn announce_first_admin(config: &Config, password: &str) {
    let print = || {
        eprintln!(
            "\n  First start: created the platform admin.\n\n    username:  admin\n    password:  {password}   (one-time: you choose a new one at the first sign-in)\n\n  Sign in at {}/login\n",
            config.public_url
        )
    };
    match config.log_format {
        LogFormat::Pretty => print(),
        LogFormat::Json => {
            let path = config.data_dir.join(INITIAL_ADMIN_PASSWORD_FILE);
            match write_private(&path, password) {
                Ok(()) => tracing::warn!(
                    username = "admin",
                    password_file = %path.display(),
                    sign_in = %format!("{}/login", config.public_url),
                    "First start: created the platform admin; its one-time password is in the file named here \
                     (readable by this user only; the first sign-in replaces the password, then delete the file)"
                ),
                // The account exists from now on and no later start makes another: losing its
                // password would lock everyone out, so it is printed after all.
                Err(e) => {
                    tracing::error!(
                        password_file = %path.display(),
                        error = %e,
                        "First start: created the platform admin, but its one-time password could not be written \
                         to the file named here; it is printed once on stderr instead"
                    );
                    print();
                }
            }
        }
    }
}

const INITIAL_ADMIN_PASSWORD_FILE: &str = "initial-admin-password";

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{contents}")?;
    file.sync_all()
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(args)?;
    telemetry::init(config.log_format);
    let mut app = Application::build(config.clone()).await?;
    if let Some(password) = app.take_bootstrap_password() {
        announce_first_admin(&config, &password);
    }
    tracing::info!(
        address = %app.local_addr(),
        public_url = %config.public_url,
        data_dir = %config.data_dir.display(),
        "Quartermaster {} is serving",
        env!("CARGO_PKG_VERSION"),
    );
    app.run_until_stopped().await
}

#[cfg(feature = "kubernetes")]
fn print_crds(args: CrdArgs) -> anyhow::Result<()> {
    use server::store::kubernetes::crd;
    let mut all = Vec::new();
    for kind in crd::CRD_KINDS {
        let yaml = crd::crd_yaml(kind).map_err(anyhow::Error::msg)?;
        match &args.write {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                let path = dir.join(crd::file_name(kind));
                std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
            }
            None => all.push(yaml),
        }
    }
    if args.write.is_none() {
        print!("{}", all.join("---\n"));
    }
    Ok(())
}

async fn run_broker(args: BrokerArgs) -> anyhow::Result<()> {
    telemetry::init(args.log_format);
    let seconds = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s).with_context(|| format!("--{what} must be a non-negative number of seconds"))
    };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let public_url = args.public_url.unwrap_or_else(|| broker::local_url(address)).trim_end_matches('/').to_string();
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        anyhow::bail!("--public-url must be an http:// or https:// URL, got {public_url:?}");
    }
    let db_path = args.data_dir.unwrap_or_else(|| default_data_dir().join("broker")).join(broker::store::FILE_NAME);
    let db = BrokerDb::open(&db_path).await?;
    let config = BrokerConfig {
        public_url,
        basic_auth: args
            .username
            .zip(args.password)
            .map(|(username, password)| BasicCredentials { username, password: password.into() }),
        asynchronous: !args.sync,
        async_delay: seconds(args.async_delay, "async-delay")?,
        retry_after: Duration::from_secs(args.retry_after),
        hang_for: seconds(args.hang_for, "hang-for")?,
        fault: args.fault,
        ..BrokerConfig::default()
    };
    tracing::info!(
        %address,
        public_url = %config.public_url,
        database = %db_path.display(),
        asynchronous = config.asynchronous,
        async_delay = ?config.async_delay,
        basic_auth = config.basic_auth.is_some(),
        fault = ?config.fault,
        "Quartermaster's OSB broker {} is serving http://{address}",
        env!("CARGO_PKG_VERSION"),
    );
    axum::serve(listener, broker::router(config, db.clone()))
        .with_graceful_shutdown(server::shutdown_signal())
        .await
        .context("serving HTTP")?;
    db.close().await;
    Ok(())
}
