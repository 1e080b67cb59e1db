//! The application's shared state, built once from the configuration.

use std::sync::Arc;

use domain::auth::Authenticator;
use domain::config::Config;
use domain::db::Db;
use domain::object_store::ObjectStore;
use domain::oidc::OidcVerifier;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::graphql::limits::DocumentLimits;
use crate::graphql::{OpsdeckSchema, build_schema};

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub authenticator: Authenticator,
    pub schema: OpsdeckSchema,
    /// Applied to every document before `schema` executes it.
    pub limits: DocumentLimits,
    pub store: ObjectStore,
    pub redis: Option<redis::Client>,
    pub queue: domain::jobs::queue::Queue,
    pub sealer: domain::automation::sealing::Sealer,
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
        let sealer = domain::automation::sealing::Sealer::from_config(&config)?;
        let store = ObjectStore::from_config(&config).await?;
        let queue = domain::jobs::queue::Queue::from_config(&config).await?;
        let (schema, limits) = build_schema(&config.graphql);
        Ok(Arc::new(AppState {
            schema,
            limits,
            authenticator: Authenticator::with_cache_ttl(
                db.clone(),
                oidc,
                std::time::Duration::from_secs(config.auth_cache_secs),
            ),
            db,
            store,
            redis,
            queue,
            sealer,
            metrics: metrics_handle(),
            config,
        }))
    }
}

impl AppState {
    /// Starts the job machinery of this process until SIGTERM: always the outbox relay (a
    /// job reaches the queue the moment it commits); with `consume`, the whole worker
    /// runtime as well (the embedded deployment has no other worker).
    pub fn start_jobs(&self, consume: bool) {
        let (rt, grace) = worker::runtime::Runtime::new(
            self.db.clone(),
            self.queue.clone(),
            self.store.clone(),
            self.sealer.clone(),
            self.config.clone(),
        );
        if consume {
            tokio::spawn(async move {
                if let Err(e) = worker::runtime::run(rt, grace, domain::shutdown_signal()).await {
                    tracing::error!(error = %e, "in-process worker stopped");
                }
            });
        } else {
            worker::runtime::spawn_relay(&rt, domain::shutdown_signal());
        }
    }
}

/// The process-wide Prometheus recorder, shared with the in-process worker.
pub fn metrics_handle() -> PrometheusHandle {
    worker::metrics_handle()
}
