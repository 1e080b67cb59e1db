//! A fresh browser per attempt: chromedriver and headless Chromium started by the worker
//! in their own process group with a throw-away profile (or a session on a configured
//! WebDriver endpoint). The [`Killer`] stops everything at once from any task, inside a
//! hanging command: the process group is killed, and any process still holding the
//! profile directory. Dropping the session kills it too, so no path leaves a browser
//! behind.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::config::RunsConfig;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// No browser on this machine: retrying here cannot help.
    #[error("{0}")]
    NotInstalled(String),
    #[error("starting the browser: {0}")]
    Failed(String),
}

/// How to install what is missing, for the run's error and `/readyz`.
pub const INSTALL_HINT: &str = "install Chromium and chromedriver (Debian/Ubuntu: `apt-get install chromium chromium-driver`), put them on PATH or set OPSDECK_CHROMEDRIVER / OPSDECK_CHROMIUM, or point OPSDECK_WEBDRIVER_URL at a WebDriver server";

const CHROMIUM_NAMES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// Finds `name` as the OS would when spawning it: PATH is the process's search path, not a
/// setting of ours, so it is read here rather than through `Config`.
#[allow(clippy::disallowed_methods)]
fn on_path(name: &str) -> Option<PathBuf> {
    let candidate = PathBuf::from(name);
    if candidate.components().count() > 1 {
        return candidate.is_file().then_some(candidate);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// What this machine can run a browser with, or why not.
pub fn availability(cfg: &RunsConfig) -> Result<String, String> {
    if let Some(url) = &cfg.webdriver_url {
        return Ok(format!("WebDriver at {url}"));
    }
    let driver = on_path(&cfg.chromedriver)
        .ok_or_else(|| format!("{} not found; {INSTALL_HINT}", cfg.chromedriver))?;
    let browser = chromium(cfg).ok_or_else(|| format!("no Chromium found; {INSTALL_HINT}"))?;
    Ok(format!("{} with {}", driver.display(), browser.display()))
}

fn chromium(cfg: &RunsConfig) -> Option<PathBuf> {
    match &cfg.chromium {
        Some(path) => on_path(path),
        None => CHROMIUM_NAMES.iter().find_map(|n| on_path(n)),
    }
}

/// Stops the session's processes; cheap to clone into a watchdog.
#[derive(Clone, Default)]
pub struct Killer(Arc<Mutex<KillState>>);

#[derive(Default)]
struct KillState {
    driver: Option<std::process::Child>,
    profile: Option<PathBuf>,
    killed: bool,
}

impl Killer {
    /// Kills the driver's process group and whatever still uses the profile; idempotent.
    pub fn kill(&self) {
        let Ok(mut state) = self.0.lock() else { return };
        if state.killed {
            return;
        }
        state.killed = true;
        if let Some(child) = state.driver.as_mut() {
            let pgid = child.id() as i32;
            // SAFETY: signalling a process group we created; no memory is shared.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = child.wait();
        }
        if let Some(profile) = state.profile.take() {
            kill_processes_with(&format!("--user-data-dir={}", profile.display()));
            let _ = std::fs::remove_dir_all(&profile);
        }
    }

    pub fn was_killed(&self) -> bool {
        self.0.lock().map(|s| s.killed).unwrap_or(true)
    }
}

/// Kills every process whose command line contains `needle` (a profile path: Chromium
/// helpers can leave the process group, but they all carry their profile), and waits until
/// they are gone. How many it killed.
///
/// A killed process still shows until the kernel has torn it down, and a zygote that has not
/// died yet can fork one more renderer: so it scans again until a scan finds none alive
/// (zombies are dead), for at most `EXIT_WAIT`.
fn kill_processes_with(needle: &str) -> usize {
    const EXIT_WAIT: Duration = Duration::from_secs(1);
    let deadline = std::time::Instant::now() + EXIT_WAIT;
    let mut killed = std::collections::HashSet::new();
    loop {
        let alive = live_processes_with(needle);
        if alive.is_empty() || std::time::Instant::now() >= deadline {
            break;
        }
        for pid in alive {
            if killed.insert(pid) {
                // SAFETY: signalling a process; no memory is shared.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    killed.len()
}

/// Processes, not zombies, whose command line contains `needle`.
fn live_processes_with(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            if !String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
            {
                return None;
            }
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // The state follows the parenthesised name, which may itself hold ") ".
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            (state != 'Z' && state != 'X').then_some(pid)
        })
        .collect()
}

/// How long after a marked action a navigation it scheduled is given to begin.
const NAVIGATION_GRACE: Duration = Duration::from_millis(150);

/// The tag `Browser::mark_document` put on the document an action started from.
#[derive(Debug)]
pub struct DocumentMark(String);

impl DocumentMark {
    /// A fresh tag, for a script that runs `MARK_JS` itself.
    pub fn fresh() -> Self {
        DocumentMark(uuid::Uuid::now_v7().to_string())
    }
    pub fn token(&self) -> &str {
        &self.0
    }
}

/// Statements that tag the document with `token` (a variable in scope) and note when it
/// begins to unload.
pub const MARK_JS: &str = "window.__opsdeckMark = { token, leaving: false };
    const leave = () => { if (window.__opsdeckMark) window.__opsdeckMark.leaving = true; };
    addEventListener('beforeunload', leave, { capture: true });
    addEventListener('pagehide', leave, { capture: true });";

pub struct Browser {
    pub client: Client,
    pub webdriver_url: String,
    pub killer: Killer,
    /// For chromedriver's own endpoints (logs, DevTools commands).
    http: reqwest::Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.killer.kill();
    }
}

impl Browser {
    /// `worker` names the profile's parent directory, so a worker's browsers can be found.
    pub async fn launch(
        cfg: &RunsConfig,
        proxy: std::net::SocketAddr,
        worker: &str,
    ) -> Result<Self, LaunchError> {
        let killer = Killer::default();
        let (webdriver_url, binary) = match &cfg.webdriver_url {
            Some(url) => (url.clone(), chromium(cfg)),
            None => {
                let driver = on_path(&cfg.chromedriver).ok_or_else(|| {
                    LaunchError::NotInstalled(format!(
                        "{} not found; {INSTALL_HINT}",
                        cfg.chromedriver
                    ))
                })?;
                let binary = chromium(cfg).ok_or_else(|| {
                    LaunchError::NotInstalled(format!("no Chromium found; {INSTALL_HINT}"))
                })?;
                let port = free_port().map_err(|e| LaunchError::Failed(e.to_string()))?;
                let mut cmd = std::process::Command::new(&driver);
                cmd.arg(format!("--port={port}"))
                    .arg("--allowed-ips=127.0.0.1")
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
                std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
                // chromedriver dies with the worker, even one killed outright; its
                // browser is left to `reap_orphans`. (The signal follows the spawning
                // thread: a runtime worker thread, which lives as long as the runtime.)
                // SAFETY: prctl is async-signal-safe, as pre_exec requires.
                unsafe {
                    std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let child = cmd
                    .spawn()
                    .map_err(|e| LaunchError::Failed(format!("{}: {e}", driver.display())))?;
                killer.0.lock().expect("fresh lock").driver = Some(child);
                (format!("http://127.0.0.1:{port}"), Some(binary))
            }
        };
        let profile = profiles_of(worker).join(uuid::Uuid::now_v7().to_string());
        std::fs::create_dir_all(&profile).map_err(|e| LaunchError::Failed(e.to_string()))?;
        killer.0.lock().expect("fresh lock").profile = Some(profile.clone());
        let mut args = vec![
            "--headless=new".to_owned(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--window-size=1280,800".into(),
            format!("--user-data-dir={}", profile.display()),
            // Everything through the egress proxy, loopback included, and no WebRTC around it.
            format!("--proxy-server=http://{proxy}"),
            "--proxy-bypass-list=<-loopback>".into(),
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp".into(),
            "--disable-quic".into(),
            // The browser's own traffic (autofill, safe browsing, updates, hints) is not the
            // page's: keep it from starting at all.
            "--disable-features=AutofillServerCommunication,OptimizationHints,OptimizationGuideModelDownloading,MediaRouter,DialMediaRouteProvider,Translate,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,PasswordLeakDetection,PasswordManagerOnboarding".into(),
            "--disable-client-side-phishing-detection".into(),
            "--disable-domain-reliability".into(),
            "--disable-default-apps".into(),
            "--disable-extensions".into(),
            "--safebrowsing-disable-auto-update".into(),
            "--no-pings".into(),
            "--password-store=basic".into(),
            "--use-mock-keychain".into(),
        ];
        // The sandbox needs an unprivileged user; as root (containers, CI) it cannot start.
        if unsafe { libc::geteuid() } == 0 {
            args.push("--no-sandbox".into());
        }
        let mut options = json!({
            "args": args,
            "perfLoggingPrefs": { "enableNetwork": true, "enablePage": false },
            "prefs": {
                "credentials_enable_service": false,
                "profile.password_manager_enabled": false,
                "profile.password_manager_leak_detection": false,
                "autofill.profile_enabled": false,
                "homepage": "about:blank",
                "homepage_is_newtabpage": false,
                "search.suggest_enabled": false,
            },
        });
        if let Some(b) = binary {
            options["binary"] = json!(b.display().to_string());
        }
        let caps: serde_json::Map<String, Value> = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": options,
            // Network events let a refusal be told apart from the browser's own traffic.
            "goog:loggingPrefs": { "browser": "ALL", "performance": "ALL" },
            "timeouts": { "pageLoad": cfg.step_timeout_ms, "script": cfg.step_timeout_ms, "implicit": 0 },
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        // chromedriver needs a moment to listen; the session itself ~1 s.
        let started = std::time::Instant::now();
        let client = loop {
            let attempt = ClientBuilder::rustls()
                .map_err(|e| LaunchError::Failed(e.to_string()))?
                .capabilities(caps.clone())
                .connect(&webdriver_url)
                .await;
            match attempt {
                Ok(c) => break c,
                Err(e) if started.elapsed() < Duration::from_secs(15) => {
                    tracing::debug!(error = %e, "webdriver not ready yet");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    killer.kill();
                    return Err(LaunchError::Failed(format!("no WebDriver session: {e}")));
                }
            }
        };
        Ok(Browser {
            client,
            webdriver_url,
            killer,
            http: reqwest::Client::new(),
        })
    }

    /// One of chromedriver's logs (`browser`, `performance`) since the last call.
    async fn log(&self, kind: &str) -> Option<Value> {
        let session = self.client.session_id().await.ok().flatten()?;
        let url = format!("{}/session/{session}/se/log", self.webdriver_url);
        let resp = self
            .http
            .post(url)
            .json(&json!({ "type": kind }))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.json::<Value>().await.ok().map(|v| v["value"].clone())
    }

    /// Tags the current document before an action that may navigate (a click, a
    /// submission), and notes when it begins to unload. chromedriver's click does not
    /// always wait for the navigation it starts; `settle` then tells a navigation still to
    /// commit from none at all.
    pub async fn mark_document(&self) -> Option<DocumentMark> {
        let mark = DocumentMark::fresh();
        self.client
            .execute(
                &format!("const token = arguments[0]; {MARK_JS} return true;"),
                vec![json!(mark.token())],
            )
            .await
            .ok()
            .map(|_| mark)
    }

    /// Waits, at most `within`, until the page is quiet: loaded, and, after an action
    /// that was marked, either still on the marked document that never began to unload,
    /// or on its successor, loaded. False when it is not quiet by then: a screenshot
    /// that starts while a navigation commits can stall the whole session (seen after a
    /// form's POST), so the caller takes none.
    pub async fn settle(&self, mark: Option<&DocumentMark>, within: Duration) -> bool {
        let token = mark.map_or(Value::Null, |m| json!(m.token()));
        let started = std::time::Instant::now();
        tokio::time::timeout(within, async {
            loop {
                let seen = self
                    .client
                    .execute(
                        "const m = window.__opsdeckMark;
                         return { same: !!m && m.token === arguments[0], leaving: !!m && m.leaving,
                                  ready: document.readyState === 'complete' };",
                        vec![token.clone()],
                    )
                    .await;
                // A script that fails ran while the document was being replaced.
                if let Ok(seen) = seen {
                    let flag = |k: &str| seen[k].as_bool().unwrap_or(false);
                    let quiet = match mark {
                        None => flag("ready"),
                        // Not left: give a navigation the action scheduled time to begin.
                        Some(_) if flag("same") => {
                            !flag("leaving") && started.elapsed() >= NAVIGATION_GRACE
                        }
                        Some(_) => flag("ready"),
                    };
                    if quiet {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .is_ok()
    }

    /// Whether the session still answers a trivial command within `within`: after a
    /// screenshot that did not come back, one that does not is stalled for good.
    pub async fn answers(&self, within: Duration) -> bool {
        matches!(
            tokio::time::timeout(within, self.client.execute("return 1;", vec![])).await,
            Ok(Ok(_))
        )
    }

    /// A PNG of the viewport. Through Chromium's DevTools command when the driver offers it
    /// (`optimizeForSpeed`: a faster encoder, taken once per step), else WebDriver's.
    pub async fn screenshot(&self) -> Option<Vec<u8>> {
        if let Some(session) = self.client.session_id().await.ok().flatten() {
            let url = format!("{}/session/{session}/goog/cdp/execute", self.webdriver_url);
            let resp = self
                .http
                .post(url)
                .json(&json!({ "cmd": "Page.captureScreenshot", "params": { "format": "png", "optimizeForSpeed": true } }))
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            if let Ok(resp) = resp
                && resp.status().is_success()
                && let Ok(body) = resp.json::<Value>().await
                && let Some(data) = body["value"]["data"].as_str()
                && let Ok(png) =
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
            {
                return Some(png);
            }
        }
        self.client.screenshot().await.ok()
    }

    /// The browser console's messages since the last call.
    pub async fn console_log(&self) -> Option<Value> {
        self.log("browser").await
    }

    /// Hosts the pages asked for since the last call (navigations, redirects, sub-resources,
    /// scripts' requests); `None` when the WebDriver keeps no performance log.
    pub async fn page_request_hosts(&self) -> Option<std::collections::BTreeSet<String>> {
        let entries = self.log("performance").await?;
        let mut hosts = std::collections::BTreeSet::new();
        for entry in entries.as_array()? {
            let Some(message) = entry["message"].as_str() else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(message) else {
                continue;
            };
            if event["message"]["method"] != "Network.requestWillBeSent" {
                continue;
            }
            if let Some(url) = event["message"]["params"]["request"]["url"].as_str()
                && let Ok(u) = url::Url::parse(url)
                && let Some(h) = u.host_str()
            {
                hosts.insert(
                    h.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_ascii_lowercase(),
                );
            }
        }
        Some(hosts)
    }

    /// Ends the session. A browser of our own is simply killed (its profile is thrown
    /// away, so nothing is lost, and it is faster than a shutdown); a session on a
    /// configured endpoint is closed politely, since we cannot kill its browser.
    pub async fn close(self) {
        let owned = self
            .killer
            .0
            .lock()
            .map(|s| s.driver.is_some())
            .unwrap_or(true);
        if !owned && !self.killer.was_killed() {
            let _ = tokio::time::timeout(Duration::from_secs(3), self.client.clone().close()).await;
        }
        self.killer.kill();
    }
}

/// Stops the browsers of this machine's dead workers: every process using a profile under
/// `opsdeck-browsers/<worker>/` whose worker process is gone (worker names carry their pid:
/// `<host>-<pid>-<suffix>`). Returns how many processes it killed.
pub fn reap_orphans() -> usize {
    let root = std::env::temp_dir().join("opsdeck-browsers");
    let Ok(workers) = std::fs::read_dir(&root) else {
        return 0;
    };
    let mut killed = 0;
    for dir in workers.flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let mut parts = name.rsplitn(3, '-');
        let (_suffix, pid) = (
            parts.next(),
            parts.next().and_then(|p| p.parse::<u32>().ok()),
        );
        let Some(pid) = pid else { continue };
        if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        killed += kill_processes_with(&format!("--user-data-dir={}/", dir.path().display()));
        let _ = std::fs::remove_dir_all(dir.path());
    }
    killed
}

/// Where a worker's browser profiles live: `<tmp>/opsdeck-browsers/<worker>/`.
pub fn profiles_of(worker: &str) -> PathBuf {
    let safe: String = worker
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::env::temp_dir().join("opsdeck-browsers").join(safe)
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
