//! The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
//! `scripts/browser-env.sh`, which this test runs itself), driven over WebDriver (fantoccini) against a
//! real server on port 0: sign in -> create a client with two scopes (named `<script>alert(1)</script>`,
//! which must show as text) -> the secret is shown once -> it gets a token -> reset the secret -> the old
//! secret is refused, the new one works -> disable -> its token is refused -> delete. A screenshot of each
//! page is saved under target/console-screenshots/, at 1280x800 and at a phone width (390x844); at both
//! sizes no page is wider than the window. Then keyboard only: sign in with Tab and Enter, and a
//! destructive action's dialog opens with the focus on Cancel and closes on Escape without acting.
//!
//! In CI (`CI` set) the test fails when the browser cannot be installed; elsewhere
//! `TALON_SKIP_BROWSER=1` skips it, saying so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use talon_auth::{ApiClient, ClientSpec, Clock, SystemClock};
use talon_server::{AppState, Config};
use talon_wire::ScopeSet;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const XSS_NAME: &str = "<script>alert(1)</script>";
/// WebDriver's codes for the Tab, Enter and Escape keys.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const WAIT: Duration = Duration::from_secs(15);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The chromedriver and chromium paths, installing them when needed; `None` only when skipped.
fn browser_tools() -> Option<(String, String)> {
    let output = std::process::Command::new("bash")
        .arg(repo_root().join("scripts/browser-env.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/browser-env.sh");
    if !output.status.success() {
        let skip = std::env::var_os("CI").is_none() && std::env::var("TALON_SKIP_BROWSER").as_deref() == Ok("1");
        if skip {
            eprintln!("SKIPPED: the browser test (TALON_SKIP_BROWSER=1 and no Chromium could be installed)");
            return None;
        }
        panic!("scripts/browser-env.sh could not provide chromium and chromedriver (see its output above)");
    }
    let text = String::from_utf8(output.stdout).expect("paths");
    let mut lines = text.lines();
    Some((lines.next().expect("driver path").to_owned(), lines.next().expect("browser path").to_owned()))
}

/// chromedriver on a port of its choosing; killed when dropped.
struct Driver {
    _child: Child,
    url: String,
}

async fn start_driver(path: &str) -> Driver {
    let mut child = Command::new(path)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // It says which port it took once it listens.
    let port = loop {
        let line = lines.next_line().await.expect("read chromedriver").expect("chromedriver ended before listening");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            break rest.trim_end_matches('.').to_owned();
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Driver { _child: child, url: format!("http://127.0.0.1:{port}") }
}

/// A real server on port 0 with an admin client holding every scope; its base URL, ID and secret.
async fn start_server(db: &talon_testkit::TestDb) -> (String, String, String, tokio::sync::oneshot::Sender<()>) {
    let now = SystemClock.now();
    let store = talon_store::open(&db.url, now).await.expect("store");
    let spec = ClientSpec::new("admin", ScopeSet::all(), store.default_customer().await.expect("cid"));
    let (admin, secret) = ApiClient::generate(spec, now);
    store.create_client(&admin).await.expect("admin");
    let state = AppState::new(store, Config { demo_hosts: 5, ..Config::default() }, Arc::new(SystemClock))
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(talon_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (base, admin.id.to_string(), secret.expose().to_owned(), stop)
}

struct Browser {
    client: Client,
    shots: PathBuf,
}

impl Browser {
    async fn element(&self, id: &str) -> fantoccini::elements::Element {
        self.client.wait().at_most(WAIT).for_element(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id}: {e}"))
    }

    async fn click(&self, id: &str) {
        self.element(id).await.click().await.unwrap_or_else(|e| panic!("click #{id}: {e}"));
    }

    async fn type_into(&self, id: &str, text: &str) {
        let field = self.element(id).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    async fn text(&self, id: &str) -> String {
        self.element(id).await.text().await.expect("text")
    }

    /// Waits for an element that matches an XPath (e.g. a status showing a given text).
    async fn wait_xpath(&self, xpath: &str) {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("{xpath}: {e}"));
    }

    /// Confirms the open confirmation dialog.
    async fn confirm(&self) {
        self.wait_xpath("//dialog[@id='confirm' and @open]").await;
        self.click("confirm-ok").await;
    }

    async fn go(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Saves a screenshot, and checks the page is no wider than the window (nothing cut off sideways).
    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
        let fits = self
            .client
            .execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![])
            .await
            .expect("measure");
        assert_eq!(fits, json!(true), "{name}: the page is wider than the window");
    }
}

async fn token_status(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> (u16, Option<String>) {
    let reply = http
        .post(format!("{base}/oauth2/token"))
        .form(&[("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .expect("token request");
    let status = reply.status().as_u16();
    let body: serde_json::Value = reply.json().await.expect("json");
    (status, body["access_token"].as_str().map(str::to_owned))
}

async fn hosts_status(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/devices/queries/devices/v1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("hosts")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_manages_a_client_end_to_end_in_chromium() {
    let Some((driver_path, browser_path)) = browser_tools() else { return };
    let db = talon_testkit::TestDb::sqlite();
    let (base, admin_id, admin_secret, _stop) = start_server(&db).await;
    let driver = start_driver(&driver_path).await;
    let shots = repo_root().join("target/console-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": browser_path,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,800", "--hide-scrollbars"]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("WebDriver session");
    client.set_window_size(1280, 800).await.expect("size");
    let b = Browser { client, shots };
    let http = reqwest::Client::new();

    // The console's headers: a CSP that forbids inline scripts and outside hosts.
    let page = http.get(format!("{base}/console")).send().await.expect("console");
    let csp = page.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");

    // Sign in.
    b.go(&format!("{base}/console")).await;
    b.element("sign-in-form").await;
    b.shot("desktop-01-sign-in").await;
    b.type_into("client-id", &admin_id).await;
    b.type_into("client-secret", "wrong-secret").await;
    b.click("sign-in").await;
    b.wait_xpath("//p[@id='error' and not(@hidden)]").await;
    b.shot("desktop-01b-sign-in-refused").await;
    b.type_into("client-secret", &admin_secret).await;
    b.click("sign-in").await;
    b.element("clients").await;
    b.shot("desktop-02-clients").await;
    let storage = b
        .client
        .execute("return [localStorage.length, JSON.stringify(sessionStorage)];", vec![])
        .await
        .expect("storage");
    assert_eq!(storage[0], json!(0), "nothing in localStorage");
    let session = storage[1].as_str().expect("session").to_owned();
    assert!(session.contains("token") && !session.contains(&admin_secret), "the secret is never stored");

    // Create a client with two scopes, named like an attack.
    b.click("new-client").await;
    b.element("client-form").await;
    b.type_into("name", XSS_NAME).await;
    b.type_into("description", "<img src=x onerror=alert(2)> nightly").await;
    b.click("scope-devices-read").await;
    // The filter narrows the grid to what is named, keeping ticked rows in view.
    b.type_into("scope-filter", "host-gr").await;
    let shown = |id: &'static str| {
        let client = b.client.clone();
        async move {
            let script = format!("return document.getElementById('{id}').closest('tr').hidden;");
            client.execute(&script, vec![]).await.expect("script") == json!(false)
        }
    };
    assert!(shown("scope-host-group-read").await, "a matching row is shown");
    assert!(!shown("scope-mssp-read").await, "a row the filter does not name is hidden");
    assert!(shown("scope-devices-read").await, "a ticked row stays in view");
    b.client
        .execute(
            "const f = document.getElementById('scope-filter'); f.value = ''; f.dispatchEvent(new Event('input'));",
            vec![],
        )
        .await
        .expect("clear the filter");
    b.click("scope-devices-write").await;
    b.shot("desktop-03-create").await;
    b.click("save").await;
    let secret = b.text("secret-value").await;
    let id = b.text("secret-client-id").await;
    assert_eq!(secret.len(), 40, "the secret is shown");
    let warning = b.client.find(Locator::Css(".warning")).await.expect("warning").text().await.expect("text");
    assert!(warning.contains("you will not see this again"), "{warning}");
    b.click("copy-secret").await;
    b.wait_xpath("//button[@id='copy-secret' and text()!='Copy secret']").await;
    b.shot("desktop-04-secret").await;

    // That secret gets a token with the two scopes.
    let (status, token) = token_status(&http, &base, &id, &secret).await;
    assert_eq!(status, 201);
    let token = token.expect("token");
    assert_eq!(hosts_status(&http, &base, &token).await, 200);

    // The secret is shown once: the detail page does not have it.
    b.click("secret-done").await;
    assert_eq!(b.text("detail-id").await, id);
    assert_eq!(b.text("detail-name").await, XSS_NAME, "the name is text, not markup");
    let page_source = b.client.source().await.expect("source");
    assert!(!page_source.contains(&secret), "the secret is gone from the page");
    b.shot("desktop-05-detail").await;

    // Reset the secret: the old one is refused at once, the new one works.
    b.click("reset-secret").await;
    b.confirm().await;
    b.wait_xpath("//h1[text()='Secret reset']").await;
    let new_secret = b.text("secret-value").await;
    assert_ne!(new_secret, secret);
    b.shot("desktop-06-reset").await;
    assert_eq!(token_status(&http, &base, &id, &secret).await.0, 403, "the old secret is refused");
    let (status, new_token) = token_status(&http, &base, &id, &new_secret).await;
    assert_eq!(status, 201, "the new secret works");
    let new_token = new_token.expect("token");
    assert_eq!(hosts_status(&http, &base, &new_token).await, 200);

    // Disable: its token is refused at once, and it gets no new one.
    b.click("secret-done").await;
    b.click("toggle-enabled").await;
    b.confirm().await;
    b.wait_xpath("//dd[@id='detail-status' and text()='Disabled']").await;
    b.shot("desktop-07-disabled").await;
    assert_eq!(hosts_status(&http, &base, &new_token).await, 401, "the disabled client's token is refused");
    assert_eq!(token_status(&http, &base, &id, &new_secret).await.0, 403);

    // Edit one field: the save sends that field only (the audit entry names nothing else), so a form
    // loaded earlier cannot undo another admin's change to another field.
    b.type_into("description", "edited nightly").await;
    b.click("save").await;
    b.wait_xpath("//dd[@id='detail-description' and text()='edited nightly']").await;
    let (_, admin_token) = token_status(&http, &base, &admin_id, &admin_secret).await;
    let audit: serde_json::Value = http
        .get(format!("{base}/api-clients/entities/audit/v1?limit=1"))
        .bearer_auth(admin_token.expect("admin token"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    assert_eq!(audit["resources"][0]["action"], "client.update");
    assert_eq!(audit["resources"][0]["details"], "description", "only the edited field was sent");

    // The list shows the name as text; no alert ever opened.
    b.go(&format!("{base}/console#/clients")).await;
    b.wait_xpath(&format!("//table[@id='clients']//a[text()='{XSS_NAME}']")).await;
    b.shot("desktop-08-clients-after").await;
    assert!(b.client.get_alert_text().await.is_err(), "no script ran");
    let scripts = b.client.execute("return document.querySelectorAll('main script, main img').length;", vec![]).await;
    assert_eq!(scripts.expect("count"), json!(0), "nothing the user typed became markup");

    // The audit log shows what happened.
    b.click_link("Audit log").await;
    b.element("audit").await;
    let audit = b.text("audit").await;
    for action in ["client.create", "client.reset-secret", "client.update"] {
        assert!(audit.contains(action), "{action} is not in the audit page: {audit}");
    }
    assert!(!audit.contains(&secret) && !audit.contains(&new_secret));
    b.shot("desktop-09-audit").await;

    // Delete.
    b.go(&format!("{base}/console#/clients/{id}")).await;
    b.element("delete").await;
    b.click("delete").await;
    b.confirm().await;
    b.element("clients").await;
    assert_eq!(token_status(&http, &base, &id, &new_secret).await.0, 400, "the client is unknown now");
    assert!(!b.text("clients").await.contains(&id));

    // Phone width: the same pages, nothing wider than the screen.
    b.client.set_window_size(390, 844).await.expect("size");
    b.shot("phone-01-clients").await;
    b.go(&format!("{base}/console#/clients/new")).await;
    b.element("client-form").await;
    b.shot("phone-02-create").await;
    b.go(&format!("{base}/console#/clients/{admin_id}")).await;
    b.element("detail-id").await;
    b.shot("phone-03-detail").await;
    b.go(&format!("{base}/console#/audit")).await;
    b.element("audit").await;
    b.shot("phone-04-audit").await;
    b.click("sign-out").await;
    b.element("sign-in-form").await;
    b.shot("phone-05-sign-in").await;

    // Keyboard only: type, Tab to the next field, Enter submits; a destructive action's dialog opens on
    // Cancel and Escape closes it without acting.
    b.element("client-id").await.send_keys(&format!("{admin_id}{TAB}")).await.expect("type");
    b.client.active_element().await.expect("focus").send_keys(&format!("{admin_secret}{ENTER}")).await.expect("type");
    b.element("clients").await;
    b.go(&format!("{base}/console#/clients/{admin_id}")).await;
    b.element("delete").await.send_keys(ENTER).await.expect("press");
    b.wait_xpath("//dialog[@id='confirm' and @open]").await;
    let focused = b.client.active_element().await.expect("focus").attr("id").await.expect("id");
    assert_eq!(focused.as_deref(), Some("confirm-cancel"), "the safe choice has the focus");
    b.client.active_element().await.expect("focus").send_keys(ESCAPE).await.expect("press");
    b.wait_xpath("//dialog[@id='confirm' and not(@open)]").await;
    // Had the delete been sent, the page would show the server's refusal (an admin cannot delete itself).
    let error_hidden = b.client.execute("return document.getElementById('error').hidden;", vec![]).await;
    assert_eq!(error_hidden.expect("error box"), json!(true), "Escape sent nothing");

    b.client.close().await.expect("close");
}

impl Browser {
    async fn click_link(&self, text: &str) {
        self.client.find(Locator::LinkText(text)).await.expect("link").click().await.expect("click");
    }
}
