//! The only module that reads `OPSDECK_*` settings. Sources, later ones winning: built-in
//! defaults, the optional TOML file named by `OPSDECK_CONFIG` (keys are the variable names
//! without the prefix, lower-cased: `database_url = "…"`), then the environment. Every error
//! names the variable and what is wrong with it, so start-up fails in one readable line.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::role::Role;

/// A URL or secret whose `Debug`/`Display` never shows credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep the scheme so logs still tell postgres from sqlite.
        match self.0.split_once("://") {
            Some((scheme, _)) => write!(f, "{scheme}://***"),
            None => f.write_str("***"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: String },
    #[error("OPSDECK_CONFIG: cannot read {path}: {problem}")]
    File { path: String, problem: String },
}

/// GraphQL limits; each is rejected before execution.
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// 0 = batched requests refused.
    pub max_batch: usize,
    pub max_body_bytes: usize,
    pub max_page_size: u64,
    pub introspection: bool,
    pub graphiql: bool,
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    pub algorithms: Vec<String>,
    /// An unknown `kid` refetches the JWKS at most this often.
    pub jwks_refetch_interval_secs: u64,
    pub leeway_secs: u64,
}

#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
}

/// Workflow runs: their limits and the browser that executes them.
#[derive(Debug, Clone)]
pub struct RunsConfig {
    /// Queued runs per org, at most; more is QUOTA_EXCEEDED.
    pub org_queued_max: u64,
    pub step_timeout_ms: u64,
    pub run_timeout_secs: u64,
    /// One screenshot, page or log, at most.
    pub artifact_max_bytes: u64,
    /// A WebDriver endpoint to use instead of starting chromedriver per attempt.
    pub webdriver_url: Option<String>,
    /// The chromedriver binary started per attempt (looked up on PATH).
    pub chromedriver: String,
    /// The Chromium binary; found on PATH when unset.
    pub chromium: Option<String>,
}

/// The OpenAI-compatible chat-completions endpoint scenario generation may ask about
/// fields its rules cannot decide. Off unless `base_url` is set (and the org enables it).
#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub model: String,
    pub timeout_ms: u64,
    /// Tokens per organization and calendar month (UTC), unless the org sets its own.
    pub monthly_token_cap: u64,
}

/// The job system's timings and limits (worker processes, and in-process when embedded).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// A claimed job's lease; renewed every sixth of it while the handler runs.
    pub lease_secs: u64,
    /// Interval of the reconciler (expired leases, due retries, lost deliveries).
    pub reconcile_secs: u64,
    /// A delivered job still queued after this long is delivered again.
    pub redeliver_after_secs: u64,
    /// Default attempts of a job kind that does not set its own.
    pub max_attempts: u32,
    /// First retry delay; it doubles per attempt (with jitter) up to `retry_cap_secs`.
    pub retry_base_secs: u64,
    pub retry_cap_secs: u64,
    /// Running jobs of one kind per org, at most.
    pub org_concurrency: u32,
    /// Running workflow runs per org (each holds a browser).
    pub run_org_concurrency: u32,
    /// Jobs one worker process runs at once.
    pub worker_concurrency: u32,
    /// Threads of a worker process's async runtime.
    pub worker_threads: u32,
    /// After SIGTERM, how long running jobs may take before they are released.
    pub worker_grace_secs: u64,
    /// The queues a worker consumes; `None` = all.
    pub worker_queues: Option<Vec<String>>,
    /// Interval of the retention sweep (files of reports past their org's retention).
    pub retention_sweep_secs: u64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub worker_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: the embedded SQLite database under `data_dir`.
    pub database_url: Option<Secret>,
    /// The owner role that runs migrations; defaults to `database_url`.
    pub migration_database_url: Option<Secret>,
    pub database_max_connections: u32,
    /// Connections kept open while idle: opening one costs tens of milliseconds (a backend
    /// process and a SCRAM exchange), which a job's pickup or a request should not pay.
    pub database_min_connections: u32,
    /// `None`: the embedded queue and in-process event bus.
    pub redis_url: Option<Secret>,
    pub s3: Option<S3Config>,
    pub oidc: Option<OidcConfig>,
    pub bootstrap_admin_key: Option<Secret>,
    pub graphql: GraphqlLimits,
    pub log_filter: String,
    pub log_json: bool,
    pub request_timeout_secs: u64,
    /// How long a verified API key or token is trusted without a database look-up.
    pub auth_cache_secs: u64,
    /// Interval of the SLA sweep (worker processes; in-process when embedded).
    pub sla_sweep_secs: u64,
    pub jobs: JobsConfig,
    pub runs: RunsConfig,
    pub llm: LlmConfig,
    /// The server's external base URL (local object links); default `http://` + listen address.
    pub public_url: Option<String>,
    /// HMAC key for local object links; default: generated once into `OPSDECK_DATA_DIR`.
    pub object_signing_key: Option<Secret>,
    /// Seals target secrets (32 bytes as hex); required in production.
    pub secrets_key: Option<Secret>,
    pub attachment_max_bytes: u64,
    /// `OPSDECK_*` variables that are set but are no setting (likely typos): warned about.
    pub unknown_variables: Vec<String>,
}

/// Every setting: (variable, default, description). The README's configuration table is
/// checked against this list by a test, so a new setting cannot go undocumented.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "OPSDECK_CONFIG",
        "",
        "Optional TOML file with any of these settings (keys lower-case, without the prefix).",
    ),
    (
        "OPSDECK_LISTEN",
        "127.0.0.1:8080",
        "Address the api-server listens on.",
    ),
    (
        "OPSDECK_WORKER_LISTEN",
        "127.0.0.1:8081",
        "Address of the worker's /healthz and /metrics.",
    ),
    (
        "OPSDECK_DATA_DIR",
        "./.opsdeck",
        "Embedded mode: SQLite database and local object store.",
    ),
    (
        "OPSDECK_DATABASE_URL",
        "sqlite in OPSDECK_DATA_DIR",
        "postgres://… for production (the app role: not owner, no BYPASSRLS).",
    ),
    (
        "OPSDECK_MIGRATION_DATABASE_URL",
        "OPSDECK_DATABASE_URL",
        "The table owner role that runs migrations.",
    ),
    (
        "OPSDECK_DATABASE_MAX_CONNECTIONS",
        "10",
        "Database pool size.",
    ),
    (
        "OPSDECK_DATABASE_MIN_CONNECTIONS",
        "OPSDECK_DATABASE_MAX_CONNECTIONS",
        "Connections the pool opens at start and keeps open (at most the pool size): a request that finds the pool short waits ~100 ms for an opening. Lower it to let an idle pool shrink.",
    ),
    (
        "OPSDECK_REDIS_URL",
        "",
        "redis://… queue and event bus; unset = embedded queue in the database.",
    ),
    (
        "OPSDECK_S3_BUCKET",
        "",
        "Object store bucket; unset = local directory under OPSDECK_DATA_DIR.",
    ),
    ("OPSDECK_S3_REGION", "us-east-1", "S3 region."),
    (
        "OPSDECK_S3_ENDPOINT",
        "",
        "S3-compatible endpoint URL (path-style addressing).",
    ),
    (
        "OPSDECK_S3_ACCESS_KEY_ID",
        "",
        "Static S3 credentials; unset = the AWS default chain.",
    ),
    (
        "OPSDECK_S3_SECRET_ACCESS_KEY",
        "",
        "Static S3 credentials (secret).",
    ),
    (
        "OPSDECK_OIDC_ISSUER",
        "",
        "OIDC issuer URL; unset = bearer JWTs are refused.",
    ),
    (
        "OPSDECK_OIDC_AUDIENCE",
        "",
        "Required `aud` of access tokens (required with the issuer).",
    ),
    (
        "OPSDECK_OIDC_ALGORITHMS",
        "RS256,ES256",
        "Accepted JWT algorithms (asymmetric only).",
    ),
    (
        "OPSDECK_OIDC_JWKS_REFETCH_SECS",
        "60",
        "Least interval between JWKS refetches on an unknown kid.",
    ),
    (
        "OPSDECK_OIDC_LEEWAY_SECS",
        "30",
        "Clock-skew allowance for exp and nbf.",
    ),
    (
        "OPSDECK_BOOTSTRAP_ADMIN_KEY",
        "",
        "Embedded first start: use this ADMIN key (>= 32 of A-Za-z0-9_-) instead of printing a new one.",
    ),
    (
        "OPSDECK_GRAPHIQL",
        "on in embedded mode",
        "Serve GraphiQL at GET /graphql to browsers.",
    ),
    (
        "OPSDECK_GRAPHQL_INTROSPECTION",
        "true",
        "Allow introspection queries.",
    ),
    ("OPSDECK_GRAPHQL_MAX_DEPTH", "12", "Maximum query depth."),
    (
        "OPSDECK_GRAPHQL_MAX_COMPLEXITY",
        "1000",
        "Maximum query complexity (list fields multiply by `first`).",
    ),
    (
        "OPSDECK_GRAPHQL_MAX_ALIASES",
        "30",
        "Maximum aliases per request.",
    ),
    (
        "OPSDECK_GRAPHQL_MAX_ROOT_FIELDS",
        "20",
        "Maximum root fields per operation.",
    ),
    (
        "OPSDECK_GRAPHQL_MAX_BATCH",
        "0",
        "Batched requests: 0 = refused, otherwise at most this many (<= 10).",
    ),
    (
        "OPSDECK_GRAPHQL_MAX_BODY_BYTES",
        "1048576",
        "Largest request body.",
    ),
    (
        "OPSDECK_GRAPHQL_MAX_PAGE_SIZE",
        "100",
        "Largest `first` on a connection.",
    ),
    (
        "OPSDECK_REQUEST_TIMEOUT_SECS",
        "30",
        "Per-request time limit.",
    ),
    (
        "OPSDECK_PUBLIC_URL",
        "http:// + the listen address",
        "External base URL of the api-server, used in the local object store's upload and download links.",
    ),
    (
        "OPSDECK_OBJECT_SIGNING_KEY",
        "generated into OPSDECK_DATA_DIR",
        "Secret for signing local object links (set the same value on every replica).",
    ),
    (
        "OPSDECK_SECRETS_KEY",
        "generated into OPSDECK_DATA_DIR",
        "64 hex characters (32 bytes) sealing target secrets at rest (AES-256-GCM); required with OPSDECK_DATABASE_URL, the same on every api-server and worker.",
    ),
    (
        "OPSDECK_ATTACHMENT_MAX_BYTES",
        "26214400",
        "Largest incident attachment (25 MiB).",
    ),
    (
        "OPSDECK_SLA_SWEEP_SECS",
        "15",
        "Interval of the SLA sweep that records AT_RISK and BREACHED (worker; in-process when embedded).",
    ),
    (
        "OPSDECK_JOBS_LEASE_SECS",
        "30",
        "Lease of a running job; a worker that stops renewing it (killed, cut off) loses the job to the reconciler after this.",
    ),
    (
        "OPSDECK_JOBS_RECONCILE_SECS",
        "2",
        "Interval of the reconciler: expired leases, due retries and lost queue deliveries.",
    ),
    (
        "OPSDECK_JOBS_REDELIVER_AFTER_SECS",
        "30",
        "A job delivered to the queue but still queued after this long is delivered again (e.g. after Redis was flushed).",
    ),
    (
        "OPSDECK_JOBS_MAX_ATTEMPTS",
        "3",
        "Attempts of a job before it is dead-lettered (retryable failures only).",
    ),
    (
        "OPSDECK_JOBS_RETRY_BASE_SECS",
        "10",
        "First retry delay; doubles per attempt, with jitter.",
    ),
    ("OPSDECK_JOBS_RETRY_CAP_SECS", "300", "Longest retry delay."),
    (
        "OPSDECK_RUNS_ORG_CONCURRENCY",
        "5",
        "Running workflow runs per organization, at most (each target also caps its own).",
    ),
    (
        "OPSDECK_RUNS_ORG_QUEUED_MAX",
        "10000",
        "Queued workflow runs per organization, at most; launching more is QUOTA_EXCEEDED.",
    ),
    (
        "OPSDECK_RUNS_STEP_TIMEOUT_MS",
        "30000",
        "A step's time limit unless the step sets timeoutMs.",
    ),
    (
        "OPSDECK_RUNS_TIMEOUT_SECS",
        "600",
        "A run attempt's time limit; past it the browser is killed and the run is TIMED_OUT.",
    ),
    (
        "OPSDECK_RUNS_ARTIFACT_MAX_BYTES",
        "10485760",
        "Largest screenshot, page HTML or console log a run stores (larger ones are cut).",
    ),
    (
        "OPSDECK_WEBDRIVER_URL",
        "",
        "A WebDriver endpoint for runs; unset, the worker starts chromedriver + Chromium per attempt.",
    ),
    (
        "OPSDECK_CHROMEDRIVER",
        "chromedriver",
        "The chromedriver binary the worker starts per attempt (looked up on PATH).",
    ),
    (
        "OPSDECK_CHROMIUM",
        "chromium-headless-shell, else chromium, on PATH",
        "The browser binary runs drive: a headless shell (a third of Chromium's start-up CPU) or Chromium / Chrome.",
    ),
    (
        "OPSDECK_LLM_BASE_URL",
        "",
        "An OpenAI-compatible endpoint (`…/v1`) scenario generation may ask about fields its rules cannot decide; unset, no model is ever called.",
    ),
    (
        "OPSDECK_LLM_API_KEY",
        "",
        "Bearer token for OPSDECK_LLM_BASE_URL.",
    ),
    ("OPSDECK_LLM_MODEL", "gpt-4o-mini", "The model asked."),
    (
        "OPSDECK_LLM_TIMEOUT_MS",
        "10000",
        "One call's time limit; past it (or on any error) generation goes on with its rules.",
    ),
    (
        "OPSDECK_LLM_MONTHLY_TOKEN_CAP",
        "200000",
        "Tokens per organization and month unless it sets its own (updateOrganization); at the cap, generation that needs the model is QUOTA_EXCEEDED.",
    ),
    (
        "OPSDECK_JOBS_ORG_CONCURRENCY",
        "2",
        "Running jobs of one kind per organization, at most; the rest wait their turn.",
    ),
    (
        "OPSDECK_WORKER_CONCURRENCY",
        "4",
        "Jobs a worker process runs at once.",
    ),
    (
        "OPSDECK_WORKER_THREADS",
        "1",
        "Threads of a worker process (handlers wait on I/O; run more processes to use more cores).",
    ),
    (
        "OPSDECK_WORKER_GRACE_SECS",
        "20",
        "On SIGTERM, how long running jobs may finish before the worker releases them and exits.",
    ),
    (
        "OPSDECK_WORKER_QUEUES",
        "all",
        "Comma-separated queues this worker consumes (reports, probes).",
    ),
    (
        "OPSDECK_RETENTION_SWEEP_SECS",
        "3600",
        "Interval of the sweep that deletes report files older than their organization's retentionDays.",
    ),
    (
        "OPSDECK_AUTH_CACHE_SECS",
        "5",
        "Seconds a verified API key or token is trusted without a database look-up (0 = off); a key revoked in another replica stops within this.",
    ),
    (
        "OPSDECK_LOG",
        "info",
        "Log filter (tracing EnvFilter syntax).",
    ),
    ("OPSDECK_LOG_FORMAT", "json", "`json` or `text`."),
];

/// The merged key → value view of file and environment, with where each value came from.
struct Sources {
    values: BTreeMap<String, (String, &'static str)>,
}

impl Sources {
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|(v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        let from = match self.values.get(key) {
            Some((_, "file")) => " (from OPSDECK_CONFIG file)",
            _ => "",
        };
        ConfigError::Invalid {
            key: key.to_owned(),
            problem: format!("{}{from}", problem.into()),
        }
    }

    fn parse<T: FromStr>(&self, key: &str, default: T, expected: &str) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| self.invalid(key, format!("expected {expected}, got {raw:?}"))),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "true" | "on" | "yes" => Ok(true),
                "0" | "false" | "off" | "no" => Ok(false),
                _ => Err(self.invalid(key, format!("expected true or false, got {v:?}"))),
            },
        }
    }

    /// A whole number above zero.
    fn positive(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        match self.parse(key, default, "a positive whole number")? {
            0 => Err(self.invalid(key, "expected a positive whole number")),
            n => Ok(n),
        }
    }

    fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }
}

impl Config {
    /// Loads defaults, then the `OPSDECK_CONFIG` file, then `OPSDECK_*` variables.
    #[allow(clippy::disallowed_methods)] // the one place that reads the environment
    pub fn load() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("OPSDECK_"))
            .collect();
        Self::from_env_map(env)
    }

    /// As [`Config::load`], from an explicit variable map (tests build configs this way).
    pub fn from_env_map(env: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let unknown_variables = Self::unknown_variables(env.keys().cloned());
        let mut values = BTreeMap::new();
        if let Some(path) = env.get("OPSDECK_CONFIG").filter(|p| !p.is_empty()) {
            for (k, v) in read_file(path)? {
                values.insert(k, (v, "file"));
            }
        }
        for (k, v) in env {
            values.insert(k, (v, "env"));
        }
        let mut config = Self::from_sources(&Sources { values })?;
        config.unknown_variables = unknown_variables;
        Ok(config)
    }

    /// Names of `OPSDECK_*` variables that are set but not settings (likely typos).
    pub fn unknown_variables(env: impl IntoIterator<Item = String>) -> Vec<String> {
        env.into_iter()
            .filter(|k| k.starts_with("OPSDECK_") && !k.starts_with("OPSDECK_TEST_"))
            .filter(|k| !SETTINGS.iter().any(|(name, _, _)| name == k))
            .collect()
    }

    fn from_sources(s: &Sources) -> Result<Self, ConfigError> {
        let database_url = s.string("OPSDECK_DATABASE_URL").map(Secret::new);
        if let Some(url) = &database_url {
            let scheme = url.expose().split("://").next().unwrap_or_default();
            if !matches!(scheme, "postgres" | "postgresql" | "sqlite") {
                return Err(s.invalid(
                    "OPSDECK_DATABASE_URL",
                    "expected a postgres:// or sqlite:// URL",
                ));
            }
        }
        let embedded = database_url.is_none();

        let redis_url = s.string("OPSDECK_REDIS_URL").map(Secret::new);
        if let Some(url) = &redis_url
            && !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://"))
        {
            return Err(s.invalid("OPSDECK_REDIS_URL", "expected a redis:// or rediss:// URL"));
        }

        let oidc = match (
            s.string("OPSDECK_OIDC_ISSUER"),
            s.string("OPSDECK_OIDC_AUDIENCE"),
        ) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(s.invalid(
                    "OPSDECK_OIDC_AUDIENCE",
                    "required when OPSDECK_OIDC_ISSUER is set",
                ));
            }
            (None, Some(_)) => {
                return Err(s.invalid(
                    "OPSDECK_OIDC_ISSUER",
                    "required when OPSDECK_OIDC_AUDIENCE is set",
                ));
            }
            (Some(issuer), Some(audience)) => {
                if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                    return Err(s.invalid("OPSDECK_OIDC_ISSUER", "expected an http(s) URL"));
                }
                let algorithms: Vec<String> = s
                    .string("OPSDECK_OIDC_ALGORITHMS")
                    .unwrap_or_else(|| "RS256,ES256".into())
                    .split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect();
                const ASYMMETRIC: &[&str] = &[
                    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
                ];
                if let Some(bad) = algorithms
                    .iter()
                    .find(|a| !ASYMMETRIC.contains(&a.as_str()))
                {
                    return Err(s.invalid(
                        "OPSDECK_OIDC_ALGORITHMS",
                        format!(
                            "{bad:?} is not an accepted asymmetric algorithm ({})",
                            ASYMMETRIC.join(", ")
                        ),
                    ));
                }
                if algorithms.is_empty() {
                    return Err(s.invalid(
                        "OPSDECK_OIDC_ALGORITHMS",
                        "must name at least one algorithm",
                    ));
                }
                Some(OidcConfig {
                    issuer,
                    audience,
                    algorithms,
                    jwks_refetch_interval_secs: s.parse(
                        "OPSDECK_OIDC_JWKS_REFETCH_SECS",
                        60,
                        "a number of seconds",
                    )?,
                    leeway_secs: s.parse("OPSDECK_OIDC_LEEWAY_SECS", 30, "a number of seconds")?,
                })
            }
        };

        let s3 = match s.string("OPSDECK_S3_BUCKET") {
            None => None,
            Some(bucket) => {
                let access_key_id = s.string("OPSDECK_S3_ACCESS_KEY_ID");
                let secret_access_key = s.string("OPSDECK_S3_SECRET_ACCESS_KEY").map(Secret::new);
                if access_key_id.is_some() != secret_access_key.is_some() {
                    return Err(s.invalid(
                        "OPSDECK_S3_SECRET_ACCESS_KEY",
                        "set both OPSDECK_S3_ACCESS_KEY_ID and OPSDECK_S3_SECRET_ACCESS_KEY, or neither",
                    ));
                }
                Some(S3Config {
                    bucket,
                    region: s
                        .string("OPSDECK_S3_REGION")
                        .unwrap_or_else(|| "us-east-1".into()),
                    endpoint: s.string("OPSDECK_S3_ENDPOINT"),
                    access_key_id,
                    secret_access_key,
                })
            }
        };

        let bootstrap_admin_key = s.string("OPSDECK_BOOTSTRAP_ADMIN_KEY").map(Secret::new);
        if let Some(key) = &bootstrap_admin_key {
            let k = key.expose();
            if k.len() < 32
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(s.invalid(
                    "OPSDECK_BOOTSTRAP_ADMIN_KEY",
                    "expected at least 32 characters from A-Za-z0-9_-",
                ));
            }
        }

        let max_batch: usize = s.parse("OPSDECK_GRAPHQL_MAX_BATCH", 0, "a number from 0 to 10")?;
        if max_batch > 10 {
            return Err(s.invalid(
                "OPSDECK_GRAPHQL_MAX_BATCH",
                "expected a number from 0 to 10",
            ));
        }
        let max_page_size: u64 =
            s.parse("OPSDECK_GRAPHQL_MAX_PAGE_SIZE", 100, "a positive number")?;
        if max_page_size == 0 {
            return Err(s.invalid(
                "OPSDECK_GRAPHQL_MAX_PAGE_SIZE",
                "expected a positive number",
            ));
        }
        let graphql = GraphqlLimits {
            max_depth: s.parse("OPSDECK_GRAPHQL_MAX_DEPTH", 12, "a number")?,
            max_complexity: s.parse("OPSDECK_GRAPHQL_MAX_COMPLEXITY", 1000, "a number")?,
            max_aliases: s.parse("OPSDECK_GRAPHQL_MAX_ALIASES", 30, "a number")?,
            max_root_fields: s.parse("OPSDECK_GRAPHQL_MAX_ROOT_FIELDS", 20, "a number")?,
            max_batch,
            max_body_bytes: s.parse(
                "OPSDECK_GRAPHQL_MAX_BODY_BYTES",
                1 << 20,
                "a number of bytes",
            )?,
            max_page_size,
            introspection: s.bool("OPSDECK_GRAPHQL_INTROSPECTION", true)?,
            graphiql: s.bool("OPSDECK_GRAPHIQL", embedded)?,
        };

        let database_max_connections: u32 =
            s.parse("OPSDECK_DATABASE_MAX_CONNECTIONS", 10, "a positive number")?;
        if database_max_connections == 0 {
            return Err(s.invalid(
                "OPSDECK_DATABASE_MAX_CONNECTIONS",
                "expected a positive number",
            ));
        }
        let database_min_connections: u32 = s.parse(
            "OPSDECK_DATABASE_MIN_CONNECTIONS",
            database_max_connections,
            "a number",
        )?;
        if database_min_connections > database_max_connections {
            return Err(s.invalid(
                "OPSDECK_DATABASE_MIN_CONNECTIONS",
                format!("at most OPSDECK_DATABASE_MAX_CONNECTIONS ({database_max_connections})"),
            ));
        }

        let log_json = match s.get("OPSDECK_LOG_FORMAT").unwrap_or("json") {
            "json" => true,
            "text" => false,
            other => {
                return Err(s.invalid(
                    "OPSDECK_LOG_FORMAT",
                    format!("expected json or text, got {other:?}"),
                ));
            }
        };

        Ok(Config {
            listen: s.parse("OPSDECK_LISTEN", ([127, 0, 0, 1], 8080).into(), "host:port")?,
            worker_listen: s.parse(
                "OPSDECK_WORKER_LISTEN",
                ([127, 0, 0, 1], 8081).into(),
                "host:port",
            )?,
            data_dir: PathBuf::from(s.get("OPSDECK_DATA_DIR").unwrap_or("./.opsdeck")),
            migration_database_url: s
                .string("OPSDECK_MIGRATION_DATABASE_URL")
                .map(Secret::new)
                .or_else(|| database_url.clone()),
            database_url,
            database_max_connections,
            database_min_connections,
            redis_url,
            s3,
            oidc,
            bootstrap_admin_key,
            graphql,
            log_filter: s.string("OPSDECK_LOG").unwrap_or_else(|| "info".into()),
            log_json,
            request_timeout_secs: s.parse(
                "OPSDECK_REQUEST_TIMEOUT_SECS",
                30,
                "a number of seconds",
            )?,
            auth_cache_secs: s.parse("OPSDECK_AUTH_CACHE_SECS", 5, "a number of seconds")?,
            public_url: match s.string("OPSDECK_PUBLIC_URL") {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    Some(u.trim_end_matches('/').to_owned())
                }
                Some(_) => return Err(s.invalid("OPSDECK_PUBLIC_URL", "expected an http(s) URL")),
                None => None,
            },
            secrets_key: match s.string("OPSDECK_SECRETS_KEY") {
                Some(k) if k.trim().len() == 64 && hex::decode(k.trim()).is_ok() => {
                    Some(Secret::new(k))
                }
                Some(_) => {
                    return Err(s.invalid(
                        "OPSDECK_SECRETS_KEY",
                        "expected 64 hexadecimal characters (32 bytes)",
                    ));
                }
                None => None,
            },
            object_signing_key: match s.string("OPSDECK_OBJECT_SIGNING_KEY") {
                Some(k) if k.len() >= 32 => Some(Secret::new(k)),
                Some(_) => {
                    return Err(s.invalid(
                        "OPSDECK_OBJECT_SIGNING_KEY",
                        "expected at least 32 characters",
                    ));
                }
                None => None,
            },
            attachment_max_bytes: match s.parse(
                "OPSDECK_ATTACHMENT_MAX_BYTES",
                25 << 20,
                "a number of bytes",
            )? {
                0 => {
                    return Err(s.invalid(
                        "OPSDECK_ATTACHMENT_MAX_BYTES",
                        "expected a positive number of bytes",
                    ));
                }
                n => n,
            },
            sla_sweep_secs: match s.parse(
                "OPSDECK_SLA_SWEEP_SECS",
                15,
                "a positive number of seconds",
            )? {
                0 => {
                    return Err(s.invalid(
                        "OPSDECK_SLA_SWEEP_SECS",
                        "expected a positive number of seconds",
                    ));
                }
                n => n,
            },
            jobs: JobsConfig {
                lease_secs: s.positive("OPSDECK_JOBS_LEASE_SECS", 30)?,
                reconcile_secs: s.positive("OPSDECK_JOBS_RECONCILE_SECS", 2)?,
                redeliver_after_secs: s.positive("OPSDECK_JOBS_REDELIVER_AFTER_SECS", 30)?,
                max_attempts: s.positive("OPSDECK_JOBS_MAX_ATTEMPTS", 3)? as u32,
                retry_base_secs: s.positive("OPSDECK_JOBS_RETRY_BASE_SECS", 10)?,
                retry_cap_secs: s.positive("OPSDECK_JOBS_RETRY_CAP_SECS", 300)?,
                org_concurrency: s.positive("OPSDECK_JOBS_ORG_CONCURRENCY", 2)? as u32,
                run_org_concurrency: s.positive("OPSDECK_RUNS_ORG_CONCURRENCY", 5)? as u32,
                worker_concurrency: s.positive("OPSDECK_WORKER_CONCURRENCY", 4)? as u32,
                worker_threads: s.positive("OPSDECK_WORKER_THREADS", 1)?.min(256) as u32,
                worker_grace_secs: s.parse(
                    "OPSDECK_WORKER_GRACE_SECS",
                    20,
                    "a number of seconds",
                )?,
                worker_queues: match s.string("OPSDECK_WORKER_QUEUES") {
                    None => None,
                    Some(raw) if raw.trim() == "all" => None,
                    Some(raw) => {
                        let queues: Vec<String> =
                            raw.split(',').map(|q| q.trim().to_owned()).collect();
                        if let Some(bad) = queues
                            .iter()
                            .find(|q| !crate::jobs::QUEUES.contains(&q.as_str()))
                        {
                            return Err(s.invalid(
                                "OPSDECK_WORKER_QUEUES",
                                format!(
                                    "unknown queue {bad:?}; expected some of {}",
                                    crate::jobs::QUEUES.join(", ")
                                ),
                            ));
                        }
                        Some(queues)
                    }
                },
                retention_sweep_secs: s.positive("OPSDECK_RETENTION_SWEEP_SECS", 3600)?,
            },
            runs: RunsConfig {
                org_queued_max: s.positive("OPSDECK_RUNS_ORG_QUEUED_MAX", 10_000)?,
                step_timeout_ms: s.positive("OPSDECK_RUNS_STEP_TIMEOUT_MS", 30_000)?,
                run_timeout_secs: s.positive("OPSDECK_RUNS_TIMEOUT_SECS", 600)?,
                artifact_max_bytes: s.positive("OPSDECK_RUNS_ARTIFACT_MAX_BYTES", 10 << 20)?,
                webdriver_url: match s.string("OPSDECK_WEBDRIVER_URL") {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                        Some(u.trim_end_matches('/').to_owned())
                    }
                    Some(_) => {
                        return Err(s.invalid("OPSDECK_WEBDRIVER_URL", "expected an http(s) URL"));
                    }
                    None => None,
                },
                chromedriver: s
                    .string("OPSDECK_CHROMEDRIVER")
                    .unwrap_or_else(|| "chromedriver".into()),
                chromium: s.string("OPSDECK_CHROMIUM"),
            },
            llm: LlmConfig {
                base_url: match s.string("OPSDECK_LLM_BASE_URL") {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                        Some(u.trim_end_matches('/').to_owned())
                    }
                    Some(_) => {
                        return Err(s.invalid("OPSDECK_LLM_BASE_URL", "expected an http(s) URL"));
                    }
                    None => None,
                },
                api_key: s.string("OPSDECK_LLM_API_KEY").map(Secret::new),
                model: s
                    .string("OPSDECK_LLM_MODEL")
                    .unwrap_or_else(|| "gpt-4o-mini".into()),
                timeout_ms: s.positive("OPSDECK_LLM_TIMEOUT_MS", 10_000)?,
                monthly_token_cap: s.positive("OPSDECK_LLM_MONTHLY_TOKEN_CAP", 200_000)?,
            },
            unknown_variables: Vec::new(),
        })
    }

    /// The external base URL (see `OPSDECK_PUBLIC_URL`).
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// True when no external database is configured: SQLite, in-process worker and bus.
    pub fn is_embedded(&self) -> bool {
        self.database_url.is_none()
    }

    /// Checks a role name given on the command line or in a setting.
    pub fn parse_role(key: &str, raw: &str) -> Result<Role, ConfigError> {
        raw.parse().map_err(|_| ConfigError::Invalid {
            key: key.to_owned(),
            problem: format!("expected VIEWER, ENGINEER, MANAGER or ADMIN, got {raw:?}"),
        })
    }
}

fn read_file(path: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::File {
            path: path.to_owned(),
            problem: e.message().to_owned(),
        })?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let var = format!("OPSDECK_{}", key.to_ascii_uppercase());
        if !SETTINGS.iter().any(|(name, _, _)| *name == var) || var == "OPSDECK_CONFIG" {
            return Err(ConfigError::File {
                path: path.to_owned(),
                problem: format!("unknown key {key:?}"),
            });
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        out.insert(var, text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_the_embedded_deployment() {
        let c = load(&[]).unwrap();
        assert!(c.is_embedded());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.graphql.graphiql);
        assert_eq!(c.graphql.max_depth, 12);
        assert_eq!(c.graphql.max_batch, 0);
    }

    #[test]
    fn unknown_variables_are_reported_not_fatal() {
        let c = load(&[("OPSDECK_DATABSE_URL", "x"), ("OPSDECK_TEST_APP_URL", "y")]).unwrap();
        assert_eq!(c.unknown_variables, vec!["OPSDECK_DATABSE_URL".to_owned()]);
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err = load(&[("OPSDECK_LISTEN", "nowhere")])
            .unwrap_err()
            .to_string();
        assert_eq!(err, r#"OPSDECK_LISTEN: expected host:port, got "nowhere""#);
        let err = load(&[("OPSDECK_GRAPHQL_MAX_BATCH", "11")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("OPSDECK_GRAPHQL_MAX_BATCH:"), "{err}");
        let err = load(&[
            ("OPSDECK_OIDC_ISSUER", "https://idp"),
            ("OPSDECK_OIDC_AUDIENCE", "a"),
            ("OPSDECK_OIDC_ALGORITHMS", "HS256"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("OPSDECK_OIDC_ALGORITHMS:"), "{err}");
        let err = load(&[("OPSDECK_BOOTSTRAP_ADMIN_KEY", "short")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("OPSDECK_BOOTSTRAP_ADMIN_KEY:"), "{err}");
        let err = load(&[
            ("OPSDECK_DATABASE_MAX_CONNECTIONS", "4"),
            ("OPSDECK_DATABASE_MIN_CONNECTIONS", "5"),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "OPSDECK_DATABASE_MIN_CONNECTIONS: at most OPSDECK_DATABASE_MAX_CONNECTIONS (4)"
        );
        let err = load(&[("OPSDECK_DATABASE_MAX_CONNECTIONS", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("OPSDECK_DATABASE_MAX_CONNECTIONS:"),
            "{err}"
        );
    }

    #[test]
    fn production_turns_graphiql_off_and_file_values_are_read() {
        let dir = std::env::temp_dir().join(format!("opsdeck-cfg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("opsdeck.toml");
        std::fs::write(
            &file,
            "graphql_max_depth = 7\nlisten = \"127.0.0.1:9999\"\n",
        )
        .unwrap();
        let c = load(&[
            ("OPSDECK_CONFIG", file.to_str().unwrap()),
            ("OPSDECK_DATABASE_URL", "postgres://app:pw@db/opsdeck"),
            ("OPSDECK_LISTEN", "127.0.0.1:7000"),
        ])
        .unwrap();
        assert!(!c.graphql.graphiql);
        assert_eq!(c.graphql.max_depth, 7, "file value applies");
        assert_eq!(
            c.listen.to_string(),
            "127.0.0.1:7000",
            "environment wins over the file"
        );
        assert_eq!(format!("{:?}", c.database_url.unwrap()), "postgres://***");

        std::fs::write(&file, "graphql_max_depth = \"deep\"\n").unwrap();
        let err = load(&[("OPSDECK_CONFIG", file.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OPSDECK_GRAPHQL_MAX_DEPTH") && err.contains("from OPSDECK_CONFIG file"),
            "{err}"
        );
        std::fs::write(&file, "databse_url = \"x\"\n").unwrap();
        let err = load(&[("OPSDECK_CONFIG", file.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key \"databse_url\""), "{err}");
    }
}
