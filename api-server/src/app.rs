//! The application's shared state, built once from the configuration.

use std::sync::{Arc, OnceLock};

use domain::auth::Authenticator;
use domain::config::Config;
use domain::db::Db;
use domain::object_store::ObjectStore;
use domain::oidc::OidcVerifier;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::graphql::{OpsdeckSchema, build_schema};

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub authenticator: Authenticator,
    pub schema: OpsdeckSchema,
    pub store: ObjectStore,
    pub redis: Option<redis::Client>,
    pub metrics: PrometheusHandle,
}

impl AppState {
    /// Connects everything the configuration names. Does not migrate (see `serve`).
    pub async fn new(config: Config) -> anyhow::Result<Arc<Self>> {
        let db = domain::db::connect(&config).await?;
        let oidc = config.oidc.clone().map(OidcVerifier::new).transpose()?;
        let redis = config
            .redis_url
            .as_ref()
            .map(|u| redis::Client::open(u.expose()))
            .transpose()?;
        let store = ObjectStore::from_config(&config).await?;
        Ok(Arc::new(AppState {
            schema: build_schema(&config.graphql),
            authenticator: Authenticator::with_cache_ttl(
                db.clone(),
                oidc,
                std::time::Duration::from_secs(config.auth_cache_secs),
            ),
            db,
            store,
            redis,
            metrics: metrics_handle(),
            config,
        }))
    }
}

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static buckets")
                .install_recorder()
                .expect("one metrics recorder per process")
        })
        .clone()
}
