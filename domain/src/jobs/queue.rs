//! The delivery port: apalis on Redis in production, apalis on SQLite (a file of its own
//! beside the embedded database) otherwise. It carries only [`Delivery`]s; the job rows
//! stay the truth, so losing a delivery costs latency (the reconciler redelivers), never
//! a job.
//!
//! apalis 1.0 fetches only at its heartbeat when idle, and its Redis pushes publish
//! nothing, so Opsdeck adds the wake-up path: after a delivery commits, [`Queue::wake`]
//! publishes on `opsdeck:wake:<queue>` (Redis) and signals this process's consumers
//! directly; each consumer's [`Wakeup`] makes apalis fetch at once.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::TaskSink;
use apalis_redis::{Config as RedisConfig, RedisStorage};
use apalis_sqlite::{Config as SqliteConfig, SqliteStorage};
use futures::Stream;
use futures::task::AtomicWaker;

use super::{Delivery, QUEUES};
use crate::config::Config;

/// apalis' own heartbeat; its orphan recovery is a backstop only (leases are ours).
const APALIS_HEARTBEAT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    local: Mutex<HashMap<String, Vec<Wakeup>>>,
}

pub enum Backend {
    Redis {
        conn: redis::aio::ConnectionManager,
        client: redis::Client,
        storages: HashMap<&'static str, RedisStorage<Delivery>>,
    },
    Sqlite {
        storages: HashMap<&'static str, SqliteStorage<Delivery>>,
    },
}

fn apalis_queue(name: &str) -> String {
    // No ':' in apalis queue names (its key parser splits on it).
    format!("opsdeck-{name}")
}

fn wake_channel(name: &str) -> String {
    format!("opsdeck:wake:{name}")
}

impl Queue {
    /// Redis when `OPSDECK_REDIS_URL` is set; otherwise the SQLite queue under the data dir.
    pub async fn from_config(config: &Config) -> anyhow::Result<Queue> {
        match &config.redis_url {
            Some(url) => Self::redis(url.expose()).await,
            None => {
                std::fs::create_dir_all(&config.data_dir)?;
                let path = config.data_dir.join("queue.db");
                Self::sqlite(&format!("sqlite://{}?mode=rwc", path.display())).await
            }
        }
    }

    pub async fn redis(url: &str) -> anyhow::Result<Queue> {
        let client =
            redis::Client::open(url).map_err(|e| anyhow::anyhow!("OPSDECK_REDIS_URL: {e}"))?;
        let conn = redis::aio::ConnectionManager::new(client.clone())
            .await
            .map_err(|e| anyhow::anyhow!("redis: cannot connect: {e}"))?;
        let storages = QUEUES
            .iter()
            .map(|q| {
                // No apalis lock: the job row's claim is the lock (one Redis call saved).
                let config = RedisConfig::default()
                    .queue(apalis_queue(q))
                    .batch_size(8)
                    .lock_tasks(false)
                    .heartbeat_interval(APALIS_HEARTBEAT)
                    .missed_heartbeats(3);
                (*q, RedisStorage::new(conn.clone()).with_config(config))
            })
            .collect();
        Ok(Self::with(Backend::Redis {
            conn,
            client,
            storages,
        }))
    }

    pub async fn sqlite(url: &str) -> anyhow::Result<Queue> {
        use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        use std::str::FromStr;
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SqliteStorage::setup(&pool).await?;
        let storages = QUEUES
            .iter()
            .map(|q| {
                let config = SqliteConfig::default()
                    .queue(apalis_queue(q))
                    .batch_size(8)
                    .heartbeat_interval(APALIS_HEARTBEAT)
                    .missed_heartbeats(3);
                (*q, SqliteStorage::new(&pool).with_config(config))
            })
            .collect();
        Ok(Self::with(Backend::Sqlite { storages }))
    }

    fn with(backend: Backend) -> Queue {
        Queue {
            inner: Arc::new(Inner {
                backend,
                local: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    pub fn kind(&self) -> &'static str {
        match self.inner.backend {
            Backend::Redis { .. } => "redis",
            Backend::Sqlite { .. } => "sqlite",
        }
    }

    /// Hands `deliveries` to `queue` in one batch (one script call on Redis). Call
    /// [`Queue::wake`] once the caller's transaction commits.
    pub async fn push(&self, queue: &str, deliveries: Vec<Delivery>) -> anyhow::Result<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        match &self.inner.backend {
            Backend::Redis { storages, .. } => {
                let mut s = storages
                    .get(queue)
                    .ok_or_else(|| anyhow::anyhow!("unknown queue {queue}"))?
                    .clone();
                s.push_bulk(deliveries)
                    .await
                    .map_err(|e| anyhow::anyhow!("redis push: {e}"))?;
            }
            Backend::Sqlite { storages } => {
                let mut s = storages
                    .get(queue)
                    .ok_or_else(|| anyhow::anyhow!("unknown queue {queue}"))?
                    .clone();
                s.push_bulk(deliveries)
                    .await
                    .map_err(|e| anyhow::anyhow!("queue push: {e}"))?;
            }
        }
        Ok(())
    }

    /// Hands each job to its kind's queue, one batch per queue; returns the queues pushed
    /// to (for [`Queue::wake`] after the caller commits) and the jobs delivered.
    pub async fn deliver(
        &self,
        jobs: impl IntoIterator<Item = (&str, Delivery)>,
    ) -> anyhow::Result<(Vec<&'static str>, Vec<uuid::Uuid>)> {
        let mut by_queue: std::collections::BTreeMap<&'static str, Vec<Delivery>> =
            Default::default();
        for (kind, delivery) in jobs {
            match super::contracts::queue_of(kind) {
                Some(q) => by_queue.entry(q).or_default().push(delivery),
                None => {
                    tracing::error!(job_id = %delivery.job_id, kind, "no queue for this job kind")
                }
            }
        }
        let delivered = by_queue.values().flatten().map(|d| d.job_id).collect();
        let queues = by_queue.keys().copied().collect();
        for (queue, deliveries) in by_queue {
            self.push(queue, deliveries).await?;
        }
        Ok((queues, delivered))
    }

    /// Tells every consumer of `queues` (here and, on Redis, in other processes) to fetch now.
    pub async fn wake(&self, queues: &[&str]) {
        for q in queues {
            self.wake_local(q);
            if let Backend::Redis { conn, .. } = &self.inner.backend {
                let mut conn = conn.clone();
                let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(wake_channel(q))
                    .arg(1)
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = sent {
                    tracing::debug!(error = %e, "wake publish failed; consumers poll");
                }
            }
        }
    }

    fn wake_local(&self, queue: &str) {
        if let Some(list) = self.inner.local.lock().expect("wakeups").get(queue) {
            for w in list {
                w.notify();
            }
        }
    }

    /// A wake-up for a consumer of `queue` in this process (one per apalis worker).
    pub fn wakeup(&self, queue: &str) -> Wakeup {
        let w = Wakeup::default();
        self.inner
            .local
            .lock()
            .expect("wakeups")
            .entry(queue.to_owned())
            .or_default()
            .push(w.clone());
        w
    }

    /// On Redis, forwards other processes' wake-ups on `queues` to this process's
    /// consumers until `shutdown`; reconnects after a Redis restart.
    pub async fn listen(&self, queues: Vec<String>, shutdown: impl Future<Output = ()>) {
        use futures::StreamExt;
        let Backend::Redis { client, .. } = &self.inner.backend else {
            return;
        };
        tokio::pin!(shutdown);
        loop {
            let subscribed = async {
                let mut ps = client.get_async_pubsub().await?;
                for q in &queues {
                    ps.subscribe(wake_channel(q)).await?;
                }
                Ok::<_, redis::RedisError>(ps)
            };
            let ps = tokio::select! {
                _ = &mut shutdown => return,
                ps = subscribed => ps,
            };
            match ps {
                Ok(ps) => {
                    let mut messages = Box::pin(ps.into_on_message());
                    loop {
                        tokio::select! {
                            _ = &mut shutdown => return,
                            m = messages.next() => match m {
                                Some(m) => {
                                    let channel = m.get_channel_name().to_owned();
                                    if let Some(q) = channel.strip_prefix("opsdeck:wake:") {
                                        self.wake_local(q);
                                    }
                                }
                                None => break,
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "wake-up subscription failed; retrying"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Drops finished apalis tasks (the job rows keep the history): Redis keeps them forever.
    pub async fn vacuum(&self) {
        use apalis_core::backend::Vacuum;
        match &self.inner.backend {
            Backend::Redis { storages, .. } => {
                for s in storages.values() {
                    let mut s = s.clone();
                    if let Err(e) = s.vacuum().await {
                        tracing::debug!(error = %e, "queue vacuum failed");
                    }
                }
            }
            Backend::Sqlite { storages } => {
                for s in storages.values() {
                    let mut s = s.clone();
                    if let Err(e) = s.vacuum().await {
                        tracing::debug!(error = %e, "queue vacuum failed");
                    }
                }
            }
        }
    }

    /// Readiness: the queue answers.
    pub async fn check(&self) -> anyhow::Result<()> {
        match &self.inner.backend {
            Backend::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let _: String = redis::cmd("PING").query_async(&mut conn).await?;
            }
            Backend::Sqlite { .. } => {}
        }
        Ok(())
    }
}

#[derive(Default)]
struct WakeInner {
    waker: AtomicWaker,
    set: AtomicBool,
}

/// How long after a wake-up its consumer fetches once more.
///
/// apalis polls the wake-up stream on every poll of its backend but ignores what it
/// yields: a wake-up taken while a fetch is in flight (issued before the delivery was
/// pushed) is spent on that fetch, which comes back empty, and apalis then sleeps until
/// its interval (a second), the next wake-up, or the end of its running jobs. A second
/// fetch shortly after each wake-up comes after any fetch that was in flight when the
/// wake-up arrived.
pub const WAKE_FOLLOW_UP: Duration = Duration::from_millis(20);

/// A stream that yields once per [`Wakeup::notify`], and once more [`WAKE_FOLLOW_UP`]
/// later: apalis' poll strategy fetches on it. Clones share the notifications; each clone
/// keeps its own follow-up.
#[derive(Default)]
pub struct Wakeup {
    inner: Arc<WakeInner>,
    follow_up: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Clone for Wakeup {
    fn clone(&self) -> Self {
        Wakeup {
            inner: self.inner.clone(),
            follow_up: None,
        }
    }
}

impl Wakeup {
    pub fn notify(&self) {
        self.inner.set.store(true, Ordering::Release);
        self.inner.waker.wake();
    }
}

impl Stream for Wakeup {
    type Item = ();
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let this = self.get_mut();
        // On every poll, also the ones that yield: a notification takes the registration,
        // and apalis polls this stream again only when something wakes it.
        this.inner.waker.register(cx.waker());
        if this.inner.set.swap(false, Ordering::AcqRel) {
            let mut follow_up = Box::pin(tokio::time::sleep(WAKE_FOLLOW_UP));
            // Polled once now, so that it wakes this consumer when it is due.
            let _ = follow_up.as_mut().poll(cx);
            this.follow_up = Some(follow_up);
            return Poll::Ready(Some(()));
        }
        if let Some(follow_up) = &mut this.follow_up
            && follow_up.as_mut().poll(cx).is_ready()
        {
            this.follow_up = None;
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    /// A consumer that counts how often it was woken.
    #[derive(Default)]
    struct Consumer(AtomicUsize);

    impl Wake for Consumer {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(stream: &mut Wakeup, consumer: &Arc<Consumer>) -> Poll<Option<()>> {
        let waker = std::task::Waker::from(consumer.clone());
        Pin::new(stream).poll_next(&mut Context::from_waker(&waker))
    }

    fn woken(consumer: &Consumer) -> usize {
        consumer.0.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn every_notification_wakes_the_consumer() {
        let (notifier, consumer) = (Wakeup::default(), Arc::new(Consumer::default()));
        let mut stream = notifier.clone();
        assert_eq!(poll(&mut stream, &consumer), Poll::Pending);
        notifier.notify();
        assert_eq!(woken(&consumer), 1);
        assert_eq!(poll(&mut stream, &consumer), Poll::Ready(Some(())));
        // The consumer does not poll again before the next notification (apalis fetches).
        notifier.notify();
        assert_eq!(
            woken(&consumer),
            2,
            "a notification after a yield woke no one"
        );
    }

    #[tokio::test]
    async fn a_wake_up_is_followed_by_a_second_one_unpolled() {
        let (notifier, consumer) = (Wakeup::default(), Arc::new(Consumer::default()));
        let mut stream = notifier.clone();
        notifier.notify();
        assert_eq!(poll(&mut stream, &consumer), Poll::Ready(Some(())));
        // Not polled meanwhile: the follow-up itself must wake the consumer.
        tokio::time::sleep(WAKE_FOLLOW_UP * 3).await;
        assert_eq!(
            woken(&consumer),
            1,
            "the follow-up did not wake the consumer"
        );
        assert_eq!(poll(&mut stream, &consumer), Poll::Ready(Some(())));
        tokio::time::sleep(WAKE_FOLLOW_UP * 3).await;
        assert_eq!(poll(&mut stream, &consumer), Poll::Pending, "a third yield");
    }

    #[tokio::test]
    async fn notifications_before_a_poll_coalesce_into_one_wake_up() {
        let (notifier, consumer) = (Wakeup::default(), Arc::new(Consumer::default()));
        let mut stream = notifier.clone();
        notifier.notify();
        notifier.notify();
        assert_eq!(poll(&mut stream, &consumer), Poll::Ready(Some(())));
        assert_eq!(poll(&mut stream, &consumer), Poll::Pending);
    }
}
