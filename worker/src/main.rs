use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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

/// mimalloc: under concurrent requests glibc's malloc spent a sixth of the CPU (B1 profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    domain::install_crypto_provider();
    let matches = Cli::command().after_help(settings_help()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
        Command::Serve => {
            worker::runtime_for(&config).and_then(|rt| rt.block_on(worker::serve(config)))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The settings a worker reads, from the one list the README's table is made from.
fn settings_help() -> String {
    const API_ONLY: &[&str] = &[
        "OPSDECK_LISTEN",
        "OPSDECK_GRAPHQL_",
        "OPSDECK_GRAPHIQL",
        "OPSDECK_OIDC_",
        "OPSDECK_BOOTSTRAP_",
        "OPSDECK_REQUEST_TIMEOUT",
        "OPSDECK_AUTH_CACHE",
        "OPSDECK_ATTACHMENT",
        "OPSDECK_PUBLIC_URL",
    ];
    let mut help = String::from(
        "Settings (environment variables, or lower-case keys without the prefix in the OPSDECK_CONFIG TOML file):\n",
    );
    for (name, default, description) in domain::config::SETTINGS {
        if API_ONLY.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let default = if default.is_empty() {
            String::new()
        } else {
            format!(" [default: {default}]")
        };
        help.push_str(&format!("  {name}{default}\n      {description}\n"));
    }
    help
}
