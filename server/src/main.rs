use clap::{Parser, Subcommand};
use server::{
    Application,
    config::{Config, ServeArgs},
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
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => serve(args).await,
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

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(args)?;
    telemetry::init(config.log_format);
    let app = Application::build(config.clone()).await?;
    tracing::info!(
        address = %app.local_addr(),
        public_url = %config.public_url,
        data_dir = %config.data_dir.display(),
        "Quartermaster {} is serving",
        env!("CARGO_PKG_VERSION"),
    );
    app.run_until_stopped().await
}
