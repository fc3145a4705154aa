//! Headless Chromium through chromedriver (fantoccini), and DOM helpers that poll with a deadline.
//!
//! Each test starts its own chromedriver on a free port, in its own process group; the guard
//! kills that group (chromedriver and the browsers it started) when dropped, also when a test
//! fails. Each session gets a fresh profile folder.
//!
//! Without the tools (`chromium`, `chromedriver`, `espeak-ng`, `sox` on PATH) a browser test
//! skips — `Driver::start` answers None, `skip_without` true — and the run prints one line saying
//! so. With `CI=true` (`.ci/run`) a missing tool fails the test instead.

use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const INSTALL_HINT: &str = "the browser tests need Chromium and chromedriver: \
     `apt-get install chromium chromium-driver` (CI installs them)";

/// Every program a browser or voice test runs.
const TOOLS: [&str; 4] = ["chromium", "chromedriver", "espeak-ng", "sox"];

/// The one line a run without the tools prints.
static SKIPPED: Once = Once::new();

/// How often the helpers look at the page again.
const POLL: Duration = Duration::from_millis(20);

/// Finds a program on PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Whether `program` is on PATH (Chromium also under its Ubuntu name).
fn installed(program: &str) -> bool {
    find_program(program).is_some()
        || (program == "chromium" && find_program("chromium-browser").is_some())
}

/// What a test does when `missing` of its tools are not installed.
#[derive(Debug, PartialEq)]
enum Verdict {
    Run,
    Skip,
    /// Under `CI=true`: fail, saying this.
    Fail(String),
}

fn verdict(missing: &[&str], ci: bool) -> Verdict {
    match (missing.is_empty(), ci) {
        (true, _) => Verdict::Run,
        (false, false) => Verdict::Skip,
        (false, true) => Verdict::Fail(format!(
            "CI=true and {} not found on PATH: `apt-get install chromium chromium-driver \
             espeak-ng sox`",
            missing.join(", ")
        )),
    }
}

/// True when a test needing `tools` must skip: one of them is missing and `CI` is not `true`.
/// Prints, once per run, which tools are missing and how to get them. Under `CI=true` a missing
/// tool fails the test.
pub fn skip_without(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !installed(t)).collect();
    match verdict(&missing, std::env::var("CI").as_deref() == Ok("true")) {
        Verdict::Run => false,
        Verdict::Fail(message) => panic!("{message}"),
        Verdict::Skip => {
            SKIPPED.call_once(|| {
                let all: Vec<&str> = TOOLS.iter().copied().filter(|t| !installed(t)).collect();
                // Straight to stderr: the test harness captures `eprintln!` of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "browser tests skipped: {} not found on PATH; install them with `apt-get \
                     install chromium chromium-driver espeak-ng sox`, or run `bash .ci/run` \
                     (CI=true makes them mandatory)",
                    all.join(", ")
                );
            });
            true
        }
    }
}

#[test]
fn a_browser_test_runs_with_its_tools_skips_without_them_and_fails_without_them_under_ci() {
    assert_eq!(verdict(&[], false), Verdict::Run);
    assert_eq!(verdict(&[], true), Verdict::Run);
    assert_eq!(verdict(&["chromedriver"], false), Verdict::Skip);
    let Verdict::Fail(message) = verdict(&["chromium", "sox"], true) else {
        panic!("no failure under CI");
    };
    assert!(message.contains("chromium, sox not found"), "{message}");
}

#[test]
fn installed_looks_on_path() {
    assert!(installed("sh"));
    assert!(!installed("waitless-no-such-program"));
}

/// A running chromedriver; killed (with its browsers) on drop.
pub struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
    dir: tempfile::TempDir,
    sessions: usize,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it answers; None (the test skips)
    /// when Chromium or chromedriver is missing, see `skip_without`.
    pub async fn start() -> Option<Self> {
        if skip_without(&["chromium", "chromedriver"]) {
            return None;
        }
        let chromedriver = find_program("chromedriver").unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let chromium = find_program("chromium")
            .or_else(|| find_program("chromium-browser"))
            .unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let log = File::create(dir.path().join("chromedriver.log")).unwrap();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group: the guard ends chromedriver and every browser it started.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {}: {e}; {INSTALL_HINT}", chromedriver.display())
            });
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
            dir,
            sessions: 0,
        };
        driver.wait_ready().await;
        Some(driver)
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = client.get(format!("{}/status", self.url)).send().await
                && r.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited ({status}): {}",
                    std::fs::read_to_string(self.dir.path().join("chromedriver.log"))
                        .unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start in 15 s"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A new browser (its own Chromium, fresh profile) with a `width`×`height` window, allowed to
    /// play sound without a tap (as a display set up per docs/screens.md is).
    pub async fn session(&mut self, width: u32, height: u32) -> Browser {
        self.session_with(width, height, true).await
    }

    /// Like `session`; `autoplay: false` leaves Chromium's default: no sound before a tap.
    pub async fn session_with(&mut self, width: u32, height: u32, autoplay: bool) -> Browser {
        self.sessions += 1;
        let profile = self.dir.path().join(format!("profile-{}", self.sessions));
        std::fs::create_dir_all(&profile).unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},{height}"),
        ];
        if autoplay {
            args.push("--autoplay-policy=no-user-gesture-required".to_owned());
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium.display().to_string(),
                "args": args,
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "no browser session ({e}); {INSTALL_HINT}\nchromedriver log:\n{}",
                    std::fs::read_to_string(self.dir.path().join("chromedriver.log"))
                        .unwrap_or_default()
                )
            });
        let browser = Browser { client };
        browser.fit_viewport(width, height).await;
        browser
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.wait();
    }
}

/// One browser session.
pub struct Browser {
    pub client: Client,
}

impl Browser {
    /// Makes the page area exactly `width`×`height` CSS pixels: `--window-size` sizes the whole
    /// window, and headless Chromium still keeps room for its (invisible) toolbar.
    async fn fit_viewport(&self, width: u32, height: u32) {
        for _ in 0..3 {
            let inner = self
                .js("return [window.innerWidth, window.innerHeight];", vec![])
                .await;
            let (iw, ih) = (inner[0].as_u64().unwrap(), inner[1].as_u64().unwrap());
            if (iw, ih) == (u64::from(width), u64::from(height)) {
                return;
            }
            let (ow, oh) = self.client.get_window_size().await.unwrap();
            let w = ow + u64::from(width) - iw;
            let h = oh + u64::from(height) - ih;
            self.client
                .set_window_size(u32::try_from(w).unwrap(), u32::try_from(h).unwrap())
                .await
                .unwrap();
        }
        let inner = self
            .js("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        panic!("cannot make the viewport {width}x{height}: it is {inner}");
    }

    /// Loads `url`. A staff page sends a visitor to the login page first: then this logs in as
    /// the test admin, like a person would, and waits to be back.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
        let here = self.client.current_url().await.map(|u| u.path().to_owned());
        if here.as_deref().ok() == Some("/login") {
            self.js(
                "document.getElementById('login-name').value = arguments[0];
                 document.getElementById('login-password').value = arguments[1];
                 document.getElementById('login-form').requestSubmit();",
                vec![
                    serde_json::json!(crate::common::ADMIN_NAME),
                    serde_json::json!(crate::common::ADMIN_PASSWORD),
                ],
            )
            .await;
            self.wait_until(
                "back from the login page",
                "return location.pathname !== '/login' && document.readyState === 'complete';",
                vec![],
                std::time::Duration::from_secs(10),
            )
            .await;
        }
    }

    /// Runs `script` (a function body; `arguments[0..]` are `args`); awaits a returned promise.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The start of the page's body, for failure messages.
    pub async fn body_html(&self) -> String {
        let html = self
            .client
            .execute(
                "return document.body ? document.body.outerHTML : document.documentElement.outerHTML",
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|e| format!("(no page: {e})"));
        html.chars().take(3_000).collect()
    }

    /// Polls `script` until it returns something other than null/false/""; returns that.
    /// Fails after `within`, saying `what` was awaited, the last answer and the page's body.
    pub async fn wait_until(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        within: Duration,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = match self.client.execute(script, args.clone()).await {
                Ok(v) => v,
                Err(e) => json!(format!("(script failed: {e})")),
            };
            let done = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty() && !s.starts_with("(script failed"),
                _ => true,
            };
            if done {
                return value;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {within:?} for {what}; last answer {value}; url {}\npage:\n{}",
                    self.client
                        .current_url()
                        .await
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                    self.body_html().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The visible text of the first element matching `css`, or None.
    pub async fn text(&self, css: &str) -> Option<String> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); \
                 return e ? e.innerText.trim() : null;",
                vec![json!(css)],
            )
            .await;
        v.as_str().map(str::to_owned)
    }

    /// Waits until the first element matching `css` has `expected` in its text; returns the text.
    pub async fn wait_for_text(&self, css: &str, expected: &str, within: Duration) -> String {
        self.wait_until(
            &format!("{css:?} to show {expected:?}"),
            "const e = document.querySelector(arguments[0]); \
             return e && e.innerText.includes(arguments[1]) ? e.innerText.trim() : null;",
            vec![json!(css), json!(expected)],
            within,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until some element matches `css` and has non-blank text; returns the text.
    pub async fn wait_for_any_text(&self, css: &str, within: Duration) -> String {
        self.wait_until(
            &format!("{css:?} with some text"),
            "const e = document.querySelector(arguments[0]); \
             return e && e.innerText.trim() ? e.innerText.trim() : null;",
            vec![json!(css)],
            within,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Whether the first element matching `css` is on screen (present, not hidden, has a box).
    pub async fn is_visible(&self, css: &str) -> bool {
        self.js(VISIBLE, vec![json!(css)]).await == json!(true)
    }

    pub async fn wait_visible(&self, css: &str, within: Duration) {
        self.wait_until(
            &format!("{css:?} to be visible"),
            VISIBLE,
            vec![json!(css)],
            within,
        )
        .await;
    }

    pub async fn wait_hidden(&self, css: &str, within: Duration) {
        self.wait_until(
            &format!("{css:?} to be hidden or gone"),
            &format!("return !(function() {{ {VISIBLE} }}).apply(null, arguments);"),
            vec![json!(css)],
            within,
        )
        .await;
    }

    /// Waits for a visible element matching `css` and clicks it like a finger would (WebDriver
    /// click: scrolled into view, hit-tested), retrying while it is covered or animating.
    pub async fn tap(&self, css: &str, within: Duration) {
        self.wait_visible(css, within).await;
        let deadline = Instant::now() + within;
        loop {
            let result = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!("cannot tap {css:?}: {e}\npage:\n{}", self.body_html().await)
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Saves a PNG of the viewport to `path`; returns its (width, height) in pixels.
    pub async fn screenshot(&self, path: &Path) -> (u32, u32) {
        // Fonts, images and fade-ins first: no fallback font, no half-drawn screen.
        self.js(
            "return (async () => { \
               await document.fonts.ready; \
               await Promise.all([...document.images].map(i => i.decode().catch(() => null))); \
               const finite = document.getAnimations().filter(a => \
                 a.effect && a.effect.getComputedTiming().endTime !== Infinity); \
               await Promise.race([ \
                 Promise.all(finite.map(a => a.finished.catch(() => null))), \
                 new Promise(done => setTimeout(done, 1500))]); \
               return true; \
             })();",
            vec![],
        )
        .await;
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &png).unwrap();
        png_size(&png)
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Body of a script: is `arguments[0]`'s first match on screen?
const VISIBLE: &str = "const e = document.querySelector(arguments[0]); \
     if (!e || e.hidden || e.closest('[hidden]')) return false; \
     const s = getComputedStyle(e); \
     if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false; \
     return e.getClientRects().length > 0;";

/// Width and height from a PNG's IHDR.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && &png[1..4] == b"PNG", "not a PNG");
    let word = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (word(16), word(20))
}
