use clap::Parser;

/// mimalloc: under concurrent requests glibc's malloc spent a sixth of the CPU (B1 profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    domain::install_crypto_provider();
    let cli = api_server::cli::Cli::parse();
    let config = match domain::config::Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    api_server::telemetry::init(&config);
    for name in &config.unknown_variables {
        tracing::warn!(variable = %name, "ignoring an OPSDECK_ variable that is no setting");
    }
    if let Err(e) = api_server::cli::run(cli, config).await {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
