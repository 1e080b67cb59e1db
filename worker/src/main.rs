use clap::{Parser, Subcommand};

/// Opsdeck worker: executes jobs from the queues (OPSDECK_REDIS_URL) against the database
/// (OPSDECK_DATABASE_URL). Configuration is the same OPSDECK_* set as the api-server's.
#[derive(Parser)]
#[command(name = "worker", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume the configured queues; /healthz and /metrics on OPSDECK_WORKER_LISTEN (default).
    Serve,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    domain::install_crypto_provider();
    let cli = Cli::parse();
    let config = match domain::config::Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    worker::telemetry(&config);
    for name in &config.unknown_variables {
        tracing::warn!(variable = %name, "ignoring an OPSDECK_ variable that is no setting");
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => worker::serve(config).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
