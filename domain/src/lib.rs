//! Opsdeck's domain: configuration, errors, tenancy and the services that own every
//! business rule. Nothing here knows about HTTP or GraphQL.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod automation;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod error;
pub mod incidents;
pub mod jobs;
pub mod llm;
pub mod members;
pub mod object_store;
pub mod oidc;
pub mod org;
pub mod organizations;
pub mod outbox;
pub mod pagination;
pub mod reports;
pub mod role;
pub mod time;
pub mod ttl_cache;
pub mod users;

pub use entity;
pub use migration;

/// Installs the rustls crypto provider. First line of every binary and test harness: with
/// two providers compiled in, rustls cannot pick one and TLS clients panic.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Resolves on SIGTERM or Ctrl-C: the cue for every binary to stop taking work.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
