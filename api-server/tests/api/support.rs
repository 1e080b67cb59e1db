//! `TestApp`: a real api-server (real migrations, real router) on 127.0.0.1:0 against
//! SQLite or PostgreSQL, with personas in fresh organizations so tests run in parallel:
//! ADMIN, MANAGER, ENGINEER and VIEWER of org A, and an ADMIN of org B. Personas are OIDC
//! users with tokens from the local test issuer.

use std::collections::BTreeMap;
use std::sync::Arc;

use api_server::app::AppState;
use domain::config::Config;
use domain::entity::organization;
use domain::members;
use domain::org::OrgCtx;
use domain::organizations::{self, NewOrganization};
use domain::role::Role;
use domain::users::{self, Identity};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::issuer::{AUDIENCE, TestIssuer};
use crate::test_database::TestDatabase;
use crate::test_redis::TestRedis;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `$case(app)` once per backend: `mod $case { fn sqlite(); fn postgres() }`.
#[macro_export]
macro_rules! both_backends {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn sqlite() {
                super::$case($crate::support::TestApp::new($crate::support::Backend::Sqlite).await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$case($crate::support::TestApp::new($crate::support::Backend::Postgres).await).await
            }
        }
    )+};
}

/// Each case as a test on each backend; the case starts its own app (with `.jobs()`).
#[macro_export]
macro_rules! with_jobs_on_both {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn sqlite() {
                super::$case($crate::support::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$case($crate::support::Backend::Postgres).await
            }
        }
    )+};
}

pub fn env(name: &str) -> String {
    #[allow(clippy::disallowed_methods)] // the test harness reads what scripts/test exported
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test"))
}

#[derive(Clone, Debug)]
pub struct Persona {
    pub token: String,
    pub org: String,
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
}

/// Who a request is from: a bearer credential and an `X-Opsdeck-Org` value.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub bearer: Option<String>,
    pub org: Option<String>,
}

impl Caller {
    pub fn anonymous() -> Self {
        Caller::default()
    }
    pub fn key(secret: &str) -> Self {
        Caller {
            bearer: Some(secret.to_owned()),
            org: None,
        }
    }
    pub fn token(token: &str) -> Self {
        Caller::key(token)
    }
    pub fn in_org(mut self, org: &str) -> Self {
        self.org = Some(org.to_owned());
        self
    }
}

impl Persona {
    pub fn caller(&self) -> Caller {
        Caller {
            bearer: Some(self.token.clone()),
            org: Some(self.org.clone()),
        }
    }
}

pub struct Gql {
    pub status: u16,
    pub body: Value,
}

impl Gql {
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }
    /// The first error's `extensions.code`.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
    }
    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
    }
}

pub struct TestApp {
    pub base: String,
    pub app: Arc<AppState>,
    pub issuer: TestIssuer,
    pub http: reqwest::Client,
    pub org_a: organization::Model,
    pub org_b: organization::Model,
    pub admin_a: Persona,
    pub manager_a: Persona,
    pub engineer_a: Persona,
    pub viewer_a: Persona,
    pub admin_b: Persona,
    _data_dir: TempDir,
    /// Last: dropped after the app, whose connections it ends.
    _redis: Option<TestRedis>,
    _database: Option<TestDatabase>,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Builder {
    backend: Backend,
    env: BTreeMap<String, String>,
    jobs: bool,
}

impl Builder {
    /// Runs the job runtime in-process with test timings (2 s leases, 1 s retries). On
    /// PostgreSQL the queue is the test Redis and reports go to a fresh bucket of the S3
    /// test server, so whichever test process's worker runs a job, its file is readable.
    pub fn jobs(mut self) -> Self {
        self.jobs = true;
        for (k, v) in [
            ("OPSDECK_JOBS_LEASE_SECS", "2"),
            ("OPSDECK_JOBS_RECONCILE_SECS", "1"),
            ("OPSDECK_JOBS_RETRY_BASE_SECS", "1"),
            ("OPSDECK_JOBS_RETRY_CAP_SECS", "2"),
            ("OPSDECK_JOBS_MAX_ATTEMPTS", "2"),
        ] {
            self.env.entry(k.to_owned()).or_insert_with(|| v.to_owned());
        }
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    pub async fn start(self) -> TestApp {
        domain::install_crypto_provider();
        // Internal errors reach the client as "internal error"; their causes go here.
        // `OPSDECK_TEST_LOG` (an env filter, e.g. `worker::browser=debug`) to see more.
        #[allow(clippy::disallowed_methods)] // the harness's own knob, not the product's
        let log = std::env::var("OPSDECK_TEST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(log.as_str())
            .with_test_writer()
            .try_init();
        let issuer = TestIssuer::start().await;
        let data_dir =
            TempDir(std::env::temp_dir().join(format!("opsdeck-test-{}", Uuid::now_v7())));
        std::fs::create_dir_all(&data_dir.0).unwrap();
        // Bound first, so local object links can name the real port.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut vars: BTreeMap<String, String> = [
            ("OPSDECK_PUBLIC_URL", base.clone()),
            ("OPSDECK_DATA_DIR", data_dir.0.to_str().unwrap().to_owned()),
            ("OPSDECK_OIDC_ISSUER", issuer.issuer.clone()),
            ("OPSDECK_OIDC_AUDIENCE", AUDIENCE.to_owned()),
            ("OPSDECK_LOG", log.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut redis_db = None;
        if self.backend == Backend::Postgres && self.jobs {
            let s3 = env("OPSDECK_TEST_S3_ENDPOINT");
            let bucket = format!(
                "opsdeck-jobs-{}",
                &Uuid::now_v7().simple().to_string()[20..]
            );
            let created = reqwest::Client::new()
                .put(format!("{s3}/{bucket}"))
                .send()
                .await
                .unwrap();
            assert!(
                created.status().is_success(),
                "bucket {bucket}: {created:?}"
            );
            let claimed = TestRedis::claim(&env("OPSDECK_TEST_REDIS_URL")).await;
            let redis = redis_db.insert(claimed);
            for (k, v) in [
                ("OPSDECK_REDIS_URL", redis.url.clone()),
                ("OPSDECK_S3_BUCKET", bucket),
                ("OPSDECK_S3_ENDPOINT", s3),
                ("OPSDECK_S3_ACCESS_KEY_ID", "test".into()),
                ("OPSDECK_S3_SECRET_ACCESS_KEY", "test".into()),
            ] {
                vars.insert(k.into(), v);
            }
        }
        let database = match self.backend {
            Backend::Postgres => Some(TestDatabase::create().await),
            Backend::Sqlite => None,
        };
        if let Some(database) = &database {
            vars.insert("OPSDECK_DATABASE_URL".into(), database.app_url.clone());
            vars.insert("OPSDECK_SECRETS_KEY".into(), "ab".repeat(32));
            vars.insert(
                "OPSDECK_MIGRATION_DATABASE_URL".into(),
                database.owner_url.clone(),
            );
        }
        vars.extend(self.env);
        let config = Config::from_env_map(vars).expect("test configuration");
        domain::db::migrate(&config).await.expect("migrations");
        let app = AppState::new(config).await.expect("app state");
        if self.jobs {
            app.start_jobs(true);
        }
        let served = app.clone();
        tokio::spawn(async move { api_server::serve::run(listener, served).await.unwrap() });

        let suffix = Uuid::now_v7().simple().to_string();
        let suffix = &suffix[suffix.len() - 12..];
        let db = &app.db;
        let org_a = organizations::create_system(
            db,
            NewOrganization {
                slug: format!("a-{suffix}"),
                name: "Org A".into(),
            },
        )
        .await
        .unwrap();
        let org_b = organizations::create_system(
            db,
            NewOrganization {
                slug: format!("b-{suffix}"),
                name: "Org B".into(),
            },
        )
        .await
        .unwrap();
        let persona = async |name: &str, org: &organization::Model, role: Role| {
            let subject = format!("{name}-{suffix}");
            let email = format!("{subject}@example.test");
            let user = users::find_or_create(
                db,
                &Identity {
                    issuer: issuer.issuer.clone(),
                    subject: subject.clone(),
                    email: Some(email.clone()),
                    email_verified: true,
                    display_name: Some(name.to_owned()),
                },
            )
            .await
            .unwrap();
            members::add(db, &OrgCtx::system(org.id), &email, role)
                .await
                .unwrap();
            Persona {
                token: issuer.token(&subject),
                org: org.slug.clone(),
                user_id: user.id,
                email,
                role,
            }
        };
        let admin_a = persona("admin-a", &org_a, Role::Admin).await;
        let manager_a = persona("manager-a", &org_a, Role::Manager).await;
        let engineer_a = persona("engineer-a", &org_a, Role::Engineer).await;
        let viewer_a = persona("viewer-a", &org_a, Role::Viewer).await;
        let admin_b = persona("admin-b", &org_b, Role::Admin).await;
        TestApp {
            base,
            app,
            issuer,
            http: reqwest::Client::new(),
            org_a,
            org_b,
            admin_a,
            manager_a,
            engineer_a,
            viewer_a,
            admin_b,
            _data_dir: data_dir,
            _redis: redis_db,
            _database: database,
        }
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> Builder {
        Builder {
            backend,
            env: BTreeMap::new(),
            jobs: false,
        }
    }

    pub async fn new(backend: Backend) -> Self {
        Self::builder(backend).start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn personas_a(&self) -> [&Persona; 4] {
        [
            &self.viewer_a,
            &self.engineer_a,
            &self.manager_a,
            &self.admin_a,
        ]
    }

    /// The Prometheus text of `/metrics` (this test process's own figures).
    pub async fn metrics(&self) -> String {
        let resp = self.http.get(self.url("/metrics")).send().await.unwrap();
        resp.text().await.unwrap()
    }

    /// POSTs a GraphQL request as `caller`.
    pub async fn gql(&self, caller: &Caller, query: &str, variables: Value) -> Gql {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(json!({ "query": query, "variables": variables }).to_string());
        if let Some(b) = &caller.bearer {
            req = req.bearer_auth(b);
        }
        if let Some(o) = &caller.org {
            req = req.header("x-opsdeck-org", o);
        }
        let resp = req.send().await.unwrap();
        Self::read(resp).await
    }

    pub async fn read(resp: reqwest::Response) -> Gql {
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Gql { status, body }
    }

    /// Creates an API key in the persona's org through the API; returns (id, secret).
    pub async fn create_key(&self, admin: &Persona, role: &str) -> (String, String) {
        let r = self
            .gql(
                &admin.caller(),
                "mutation($role: Role!) { createApiKey(input: { name: \"test key\", role: $role }) { apiKey { id } secret } }",
                json!({ "role": role }),
            )
            .await;
        let p = &r.data()["createApiKey"];
        (
            p["apiKey"]["id"].as_str().unwrap().to_owned(),
            p["secret"].as_str().unwrap().to_owned(),
        )
    }
}
