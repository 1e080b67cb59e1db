//! A Redis logical database of each PostgreSQL test's own. With a database per test, a job
//! delivered through a shared queue to the worker of a test beside it is not found in that
//! worker's database, and waits for the reconciler (seen in CI: a retry still queued after
//! 20 s). Numbers are claimed with `SET NX` in database 0, so two tests never share one.

use std::time::Duration;

use uuid::Uuid;

const CLAIM_PREFIX: &str = "opsdeck:test-redis-db:";
/// A claim outlives any test; one left by a killed test expires.
const CLAIM_SECS: u64 = 1800;

pub struct TestRedis {
    pub url: String,
    base: String,
    claim: String,
}

impl TestRedis {
    pub async fn claim(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        let client = redis::Client::open(base.as_str()).expect("test Redis URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("test Redis answers");
        let config: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("databases")
            .query_async(&mut conn)
            .await
            .expect("CONFIG GET databases");
        let count: u32 = config.get(1).and_then(|n| n.parse().ok()).unwrap_or(16);
        let owner = Uuid::now_v7().to_string();
        let start = Uuid::new_v4().as_u128() as u32;
        for step in 0..count - 1 {
            let number = 1 + (start.wrapping_add(step)) % (count - 1);
            let claim = format!("{CLAIM_PREFIX}{number}");
            let claimed: Option<String> = redis::cmd("SET")
                .arg(&claim)
                .arg(&owner)
                .arg("NX")
                .arg("EX")
                .arg(CLAIM_SECS)
                .query_async(&mut conn)
                .await
                .expect("claim a Redis database");
            if claimed.is_some() {
                let url = format!("{base}/{number}");
                // What a killed test left in it is no job of this one's.
                let own = redis::Client::open(url.as_str()).expect("numbered Redis URL");
                let mut own = own
                    .get_multiplexed_async_connection()
                    .await
                    .expect("test Redis answers");
                let _: () = redis::cmd("FLUSHDB")
                    .query_async(&mut own)
                    .await
                    .expect("FLUSHDB");
                return TestRedis { url, base, claim };
            }
        }
        panic!("every Redis database of {base} is claimed by a running test");
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (base, claim) = (self.base.clone(), self.claim.clone());
        // Drop may run inside the test's runtime: release on a thread of its own.
        let released = std::thread::spawn(move || {
            let client = redis::Client::open(base.as_str()).ok()?;
            let mut conn = client
                .get_connection_with_timeout(Duration::from_secs(5))
                .ok()?;
            redis::cmd("DEL").arg(&claim).query::<()>(&mut conn).ok()
        });
        let _ = released.join();
    }
}
