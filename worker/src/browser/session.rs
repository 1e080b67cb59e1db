//! A fresh browser per attempt: headless Chromium and a chromedriver attached to it, both
//! started by the worker in process groups of their own with a throw-away profile (or a
//! session on a configured WebDriver endpoint). The [`Killer`] stops everything at once from
//! any task, inside a hanging command: both process groups are killed, and any process still
//! holding the profile directory. Dropping the session kills it too, so no path leaves a
//! browser behind.
//!
//! The worker starts the browser itself, rather than letting chromedriver do it, because the
//! headless shell (Chromium's old headless mode, built stand-alone) starts a session for about
//! a third of full Chromium's CPU (docs/benchmarks.md, B8), and chromedriver cannot start it:
//! launched with `--remote-debugging-port` and no URL, the shell opens no page, and
//! chromedriver turns any URL it is given into a `--` switch.

use std::path::{Path, PathBuf};
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
pub const INSTALL_HINT: &str = "install Chromium's headless shell (or Chromium) and chromedriver (Debian/Ubuntu: `apt-get install chromium-headless-shell chromium chromium-driver`), put them on PATH or set OPSDECK_CHROMEDRIVER / OPSDECK_CHROMIUM, or point OPSDECK_WEBDRIVER_URL at a WebDriver server";

/// Headless shells a worker looks for before full Chromium: a third of its start-up CPU.
const HEADLESS_SHELL_NAMES: &[&str] = &[
    // Debian's, without the sh wrapper on PATH: the death signal set on the process the
    // worker spawns must reach the browser, not a shell that waits for it.
    "/usr/lib/chromium/chromium-headless-shell",
    "chromium-headless-shell",
    // Chrome for Testing's.
    "chrome-headless-shell",
];

/// Full Chromium, the only kind a WebDriver endpoint that starts browsers itself can start.
const FULL_CHROMIUM_NAMES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

fn is_headless_shell(browser: &Path) -> bool {
    browser
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("headless-shell") || n.contains("headless_shell"))
}

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

/// The browser a worker of ours starts: the configured one, else a headless shell, else
/// full Chromium.
fn chromium(cfg: &RunsConfig) -> Option<PathBuf> {
    find_browser(cfg, &[HEADLESS_SHELL_NAMES, FULL_CHROMIUM_NAMES])
}

/// The binary a configured WebDriver endpoint is asked to start: only one it can start.
fn full_chromium(cfg: &RunsConfig) -> Option<PathBuf> {
    find_browser(cfg, &[FULL_CHROMIUM_NAMES])
}

fn find_browser(cfg: &RunsConfig, names: &[&[&str]]) -> Option<PathBuf> {
    match &cfg.chromium {
        Some(path) => on_path(path),
        None => names.iter().copied().flatten().find_map(|n| on_path(n)),
    }
}

/// Stops the session's processes; cheap to clone into a watchdog.
#[derive(Clone, Default)]
pub struct Killer(Arc<Mutex<KillState>>);

#[derive(Default)]
struct KillState {
    driver: Option<std::process::Child>,
    browser: Option<std::process::Child>,
    profile: Option<PathBuf>,
    killed: bool,
}

impl Killer {
    /// Kills the driver's and the browser's process groups and whatever still uses the
    /// profile; idempotent.
    pub fn kill(&self) {
        let Ok(mut state) = self.0.lock() else { return };
        if state.killed {
            return;
        }
        state.killed = true;
        let state = &mut *state;
        for child in [state.driver.as_mut(), state.browser.as_mut()]
            .into_iter()
            .flatten()
        {
            let pgid = child.id() as i32;
            // SAFETY: signalling a process group we created; no memory is shared.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = child.wait();
        }
        // The session's processes are dead now. Whatever escaped both groups, and the
        // profile's files, are cleared off the run's path (15–40 ms a session).
        if let Some(profile) = state.profile.take() {
            std::thread::spawn(move || {
                kill_processes_with(&format!("--user-data-dir={}", profile.display()));
                let _ = std::fs::remove_dir_all(&profile);
            });
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
        let profile = profiles_of(worker).join(uuid::Uuid::now_v7().to_string());
        std::fs::create_dir_all(&profile).map_err(|e| LaunchError::Failed(e.to_string()))?;
        killer.0.lock().expect("fresh lock").profile = Some(profile.clone());
        let started = match &cfg.webdriver_url {
            Some(url) => Ok((url.clone(), remote_options(cfg, proxy, &profile))),
            None => start_own(cfg, proxy, &profile, &killer).await,
        };
        let (webdriver_url, options) = match started {
            Ok(started) => started,
            Err(e) => {
                killer.kill();
                return Err(e);
            }
        };
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
        // A chromedriver of our own needs a moment to listen.
        let started = std::time::Instant::now();
        let client = loop {
            let attempt = ClientBuilder::rustls()
                .map_err(|e| LaunchError::Failed(e.to_string()))?
                .capabilities(caps.clone())
                .connect(&webdriver_url)
                .await;
            match attempt {
                Ok(c) => break c,
                Err(e) if started.elapsed() < STARTUP_WAIT => {
                    tracing::debug!(error = %e, "webdriver not ready yet");
                    tokio::time::sleep(Duration::from_millis(20)).await;
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

/// How long a browser or chromedriver of our own is given to start listening.
const STARTUP_WAIT: Duration = Duration::from_secs(15);

/// Starts the browser and a chromedriver beside it, at once; the chromeOptions that attach
/// the one to the other.
async fn start_own(
    cfg: &RunsConfig,
    proxy: std::net::SocketAddr,
    profile: &Path,
    killer: &Killer,
) -> Result<(String, Value), LaunchError> {
    let driver = on_path(&cfg.chromedriver).ok_or_else(|| {
        LaunchError::NotInstalled(format!("{} not found; {INSTALL_HINT}", cfg.chromedriver))
    })?;
    let binary = chromium(cfg)
        .ok_or_else(|| LaunchError::NotInstalled(format!("no Chromium found; {INSTALL_HINT}")))?;
    write_preferences(profile).map_err(|e| LaunchError::Failed(format!("profile: {e}")))?;

    let mut browser = std::process::Command::new(&binary);
    if !is_headless_shell(&binary) {
        browser.arg("--headless=new");
    }
    browser
        .args(browser_switches(proxy, profile))
        .args(AUTOMATION_SWITCHES)
        // Port 0: the browser picks a free one and writes it to the profile.
        .arg("--remote-debugging-port=0")
        .arg("about:blank");
    let browser = spawn_in_own_group(browser)
        .map_err(|e| LaunchError::Failed(format!("{}: {e}", binary.display())))?;
    killer.0.lock().expect("fresh lock").browser = Some(browser);

    let port = free_port().map_err(|e| LaunchError::Failed(e.to_string()))?;
    let mut chromedriver = std::process::Command::new(&driver);
    chromedriver
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1");
    let chromedriver = spawn_in_own_group(chromedriver)
        .map_err(|e| LaunchError::Failed(format!("{}: {e}", driver.display())))?;
    killer.0.lock().expect("fresh lock").driver = Some(chromedriver);

    let debugger = devtools_address(profile, killer, &binary).await?;
    let options = json!({
        "debuggerAddress": debugger,
        "perfLoggingPrefs": { "enableNetwork": true, "enablePage": false },
    });
    Ok((format!("http://127.0.0.1:{port}"), options))
}

/// Spawns `cmd` silent, in a process group of its own (so the killer reaches its helpers)
/// that dies with the worker, even one killed outright; what escapes the group is left to
/// `reap_orphans`. (The signal follows the spawning thread: a runtime worker thread, which
/// lives as long as the runtime.)
fn spawn_in_own_group(mut cmd: std::process::Command) -> std::io::Result<std::process::Child> {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // SAFETY: prctl is async-signal-safe, as pre_exec requires.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn()
}

/// Where the browser's DevTools listen, once it has written `DevToolsActivePort`.
async fn devtools_address(
    profile: &Path,
    killer: &Killer,
    binary: &Path,
) -> Result<String, LaunchError> {
    let file = profile.join("DevToolsActivePort");
    let started = std::time::Instant::now();
    loop {
        // The file is written whole, port then path; a partial read finds no newline yet.
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some((port, _)) = text.split_once('\n')
            && let Ok(port) = port.trim().parse::<u16>()
        {
            return Ok(format!("127.0.0.1:{port}"));
        }
        let exited = killer
            .0
            .lock()
            .ok()
            .and_then(|mut s| s.browser.as_mut().and_then(|b| b.try_wait().ok().flatten()));
        if let Some(status) = exited {
            return Err(LaunchError::Failed(format!(
                "{} exited at start: {status}",
                binary.display()
            )));
        }
        if started.elapsed() >= STARTUP_WAIT {
            return Err(LaunchError::Failed(format!(
                "{} did not open DevTools within {STARTUP_WAIT:?}",
                binary.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The chromeOptions for an endpoint that starts the browser itself.
fn remote_options(cfg: &RunsConfig, proxy: std::net::SocketAddr, profile: &Path) -> Value {
    let mut args = vec!["--headless=new".to_owned()];
    args.extend(browser_switches(proxy, profile));
    let prefs: serde_json::Map<String, Value> = preferences()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    let mut options = json!({
        "args": args,
        "perfLoggingPrefs": { "enableNetwork": true, "enablePage": false },
        "prefs": prefs,
    });
    if let Some(b) = full_chromium(cfg) {
        options["binary"] = json!(b.display().to_string());
    }
    options
}

/// The switches of every browser a run drives.
fn browser_switches(proxy: std::net::SocketAddr, profile: &Path) -> Vec<String> {
    let mut args = vec![
        "--disable-gpu".to_owned(),
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
        // page's: keep it from starting at all. (IgnoreDuplicateNavs and Prewarm are
        // chromedriver's own: one --disable-features holds them all, the last one wins.)
        "--disable-features=AutofillServerCommunication,OptimizationHints,OptimizationGuideModelDownloading,MediaRouter,DialMediaRouteProvider,Translate,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,PasswordLeakDetection,PasswordManagerOnboarding,IgnoreDuplicateNavs,Prewarm".into(),
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
    args
}

/// What chromedriver adds when it starts a browser itself: pages behave as they do under
/// any WebDriver (`navigator.webdriver`, no popup blocker, timers not throttled).
const AUTOMATION_SWITCHES: &[&str] = &[
    "--enable-automation",
    "--test-type=webdriver",
    "--disable-hang-monitor",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--allow-pre-commit-input",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--no-service-autorun",
];

/// Profile preferences, by dotted name: no password manager, autofill or search
/// suggestions, which would offer to fill a run's forms or phone home.
fn preferences() -> [(&'static str, Value); 7] {
    [
        ("credentials_enable_service", json!(false)),
        ("profile.password_manager_enabled", json!(false)),
        ("profile.password_manager_leak_detection", json!(false)),
        ("autofill.profile_enabled", json!(false)),
        ("homepage", json!("about:blank")),
        ("homepage_is_newtabpage", json!(false)),
        ("search.suggest_enabled", json!(false)),
    ]
}

/// `preferences()` as a fresh profile's `Default/Preferences`, where chromedriver would write
/// them: nested by the dots of their names.
fn write_preferences(profile: &Path) -> std::io::Result<()> {
    let mut root = serde_json::Map::new();
    for (name, value) in preferences() {
        let mut parts: Vec<&str> = name.split('.').collect();
        let leaf = parts.pop().unwrap_or(name);
        let mut node = &mut root;
        for part in parts {
            node = node
                .entry(part)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("preference groups are objects");
        }
        node.insert(leaf.to_owned(), value);
    }
    let dir = profile.join("Default");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("Preferences"), Value::Object(root).to_string())
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
