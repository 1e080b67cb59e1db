//! The job runtime: queue consumers (apalis workers with Opsdeck's wake-up path), the
//! outbox relay, the reconciler, the SLA sweep and queue vacuuming. `worker serve` runs it;
//! the embedded api-server runs the same in-process on the SQLite queue.

use std::time::Duration;

use apalis::prelude::*;
use domain::config::Config;
use domain::db::Db;
use domain::jobs::queue::{Backend, Queue, Wakeup};
use domain::jobs::store::Policy;
use domain::jobs::{Delivery, QUEUES, reconciler, relay};
use domain::object_store::ObjectStore;
use tokio::sync::watch;

use crate::execute::execute;

/// Everything a handler may use, cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub db: Db,
    pub queue: Queue,
    pub store: ObjectStore,
    pub policy: Policy,
    pub worker_id: String,
    pub config: Config,
    /// Opens target secrets for runs.
    pub sealer: domain::automation::sealing::Sealer,
    grace_over: watch::Receiver<bool>,
}

impl Runtime {
    pub fn new(
        db: Db,
        queue: Queue,
        store: ObjectStore,
        sealer: domain::automation::sealing::Sealer,
        config: Config,
    ) -> (Self, GraceTrigger) {
        let (tx, rx) = watch::channel(false);
        (
            Runtime {
                db,
                queue,
                store,
                sealer,
                policy: Policy::from(&config.jobs),
                worker_id: crate::worker_name(),
                config,
                grace_over: rx,
            },
            GraceTrigger(tx),
        )
    }
}

/// Ends shutdown's grace: running jobs are released back to the queue.
pub struct GraceTrigger(watch::Sender<bool>);

impl GraceTrigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

/// The background loops every process runs beside its consumers: the relay always; the
/// reconciler, SLA sweep and vacuum where jobs are consumed.
pub fn spawn_relay(rt: &Runtime, shutdown: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(relay::run(
        rt.db.clone(),
        rt.queue.clone(),
        Duration::from_millis(500),
        shutdown,
    ));
}

/// Resolves once `flag` is set (or its sender is gone).
pub async fn set(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

fn spawn_maintenance(rt: &Runtime, stop: &watch::Receiver<bool>) {
    let stopped = set;
    tokio::spawn(reconciler::run(
        rt.db.clone(),
        rt.queue.clone(),
        rt.policy,
        Duration::from_secs(rt.config.jobs.reconcile_secs),
        Duration::from_secs(rt.config.jobs.redeliver_after_secs),
        stopped(stop.clone()),
    ));
    tokio::spawn(crate::sweeps::sla_sweep(
        rt.db.clone(),
        Duration::from_secs(rt.config.sla_sweep_secs),
        stopped(stop.clone()),
    ));
    let (db, store) = (rt.db.clone(), rt.store.clone());
    let every = Duration::from_secs(rt.config.jobs.retention_sweep_secs);
    let retention_stop = set(stop.clone());
    tokio::spawn(async move {
        tokio::pin!(retention_stop);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut retention_stop => return,
                _ = tick.tick() => {}
            }
            match domain::db::exclusively(
                &db,
                "retention-sweep",
                domain::reports::purge_expired(&db, &store),
            )
            .await
            {
                Ok(None | Some(0)) => {}
                Ok(Some(n)) => tracing::info!(purged = n, "expired report files deleted"),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
            }
        }
    });
    // Browsers of workers on this machine that were killed outright (kill -9, OOM) are
    // nobody's: stop them, at start and then every 30 s.
    let reap_stop = set(stop.clone());
    tokio::spawn(async move {
        tokio::pin!(reap_stop);
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tokio::select! {
                _ = &mut reap_stop => return,
                _ = tick.tick() => {}
            }
            let reaped = tokio::task::spawn_blocking(crate::browser::session::reap_orphans)
                .await
                .unwrap_or(0);
            if reaped > 0 {
                tracing::info!(processes = reaped, "stopped the browsers of a dead worker");
            }
        }
    });
    let queue = rt.queue.clone();
    let stop = set(stop.clone());
    tokio::spawn(async move {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tick.tick() => queue.vacuum().await,
            }
        }
    });
}

/// Consumes `queues` until `shutdown` resolves; then stops taking work, gives running jobs
/// `OPSDECK_WORKER_GRACE_SECS` to finish, releases the rest, and returns.
pub async fn run(
    rt: Runtime,
    grace: GraceTrigger,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let queues: Vec<&'static str> = match &rt.config.jobs.worker_queues {
        None => QUEUES.to_vec(),
        Some(list) => QUEUES
            .iter()
            .copied()
            .filter(|q| list.iter().any(|l| l == q))
            .collect(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    spawn_maintenance(&rt, &stop_rx);
    spawn_relay(&rt, set(stop_rx.clone()));
    {
        let queue = rt.queue.clone();
        let names = queues.iter().map(|q| q.to_string()).collect();
        let stop = set(stop_rx.clone());
        tokio::spawn(async move { queue.listen(names, stop).await });
    }

    let concurrency = rt.config.jobs.worker_concurrency as usize;
    let grace_secs = rt.config.jobs.worker_grace_secs;
    let mut monitor = Monitor::new();
    for q in &queues {
        let wake = rt.queue.wakeup(q);
        monitor = register(monitor, &rt, q, wake, concurrency);
    }
    let monitor = monitor
        // A queue error (Redis restarted) must not stop consumption: start the worker again.
        .should_restart(|ctx, err| {
            tracing::warn!(worker = %ctx.name(), error = %err, "queue consumer stopped; restarting");
            true
        })
        .shutdown_timeout(Duration::from_secs(grace_secs + 5));
    tracing::info!(worker = %rt.worker_id, queues = ?queues, concurrency, backend = rt.queue.kind(), "consuming");
    let grace_timer = async move {
        shutdown.await;
        tracing::info!("stopping: no new jobs; running ones have {grace_secs}s");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(grace_secs)).await;
            grace.fire();
        });
        Ok(())
    };
    let result = monitor.run_with_signal(grace_timer).await;
    let _ = stop_tx.send(true);
    result.map_err(|e| anyhow::anyhow!("queue consumers: {e}"))
}

fn strategy(wake: &Wakeup) -> Strategy {
    // The wake-up makes pickup immediate; the interval is the floor when a wake is lost.
    Strategy::new()
        .stream(wake.clone())
        .interval(Duration::from_secs(1))
}

fn register(
    monitor: Monitor,
    rt: &Runtime,
    queue: &'static str,
    wake: Wakeup,
    concurrency: usize,
) -> Monitor {
    let worker_id = rt.worker_id.clone();
    let name = move |restarts: usize| format!("{queue}-{worker_id}-{restarts}");
    let rt = rt.clone();
    match rt.queue.backend() {
        Backend::Redis { storages, .. } => {
            let storage = storages[queue].clone();
            let name = name.clone();
            monitor.register(move |restarts| {
                WorkerBuilder::new(name(restarts))
                    .backend(storage.clone().poll_with_strategy(strategy(&wake)))
                    .data(rt.clone())
                    .concurrency(concurrency)
                    .build(handle)
            })
        }
        Backend::Sqlite { storages } => {
            let storage = storages[queue].clone();
            monitor.register(move |restarts| {
                WorkerBuilder::new(name(restarts))
                    .backend(storage.clone().poll_with_strategy(strategy(&wake)))
                    .data(rt.clone())
                    .concurrency(concurrency)
                    .build(handle)
            })
        }
    }
}

/// apalis' handler: always `Ok`. Attempts, retries and dead-lettering live in the job row.
async fn handle(delivery: Delivery, rt: Data<Runtime>) -> Result<(), BoxDynError> {
    let rt: Runtime = (*rt).clone();
    let grace = rt.grace_over.clone();
    execute(rt, delivery, grace).await;
    Ok(())
}
