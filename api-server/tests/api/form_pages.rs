//! The form corpus for analysis and generation: local pages, each with a success marker
//! ("Thank you") and the errors a server would give ("Please correct: …"). Each page's
//! server side checks its own rules, written here by hand (not with Opsdeck's), so a value
//! the browser lets through (a `maxlength` bypassed, a honeypot filled) is still refused.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

pub const SUCCESS: &str = "Thank you";
pub const USER: &str = "ada";
pub const PASSWORD: &str = "correct-horse-9";

#[derive(Clone, Default)]
pub struct FormSite {
    pub port: u16,
    /// Every submission the server accepted: (page, fields).
    pub accepted: Arc<Mutex<Vec<(String, Fields)>>>,
    /// Every submission it refused: (page, errors).
    pub refused: Arc<Mutex<Vec<Refusal>>>,
}

type Fields = BTreeMap<String, String>;
type Refusal = (String, Vec<String>);

impl FormSite {
    pub async fn start() -> FormSite {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = FormSite {
            port: listener.local_addr().unwrap().port(),
            ..FormSite::default()
        };
        let app = Router::new()
            .route("/forms/login", get(login_page).post(log_in))
            .route("/forms/account", get(account_page).post(account))
            .route("/forms/iframe", get(|| async { Html(IFRAME_OUTER) }))
            .route("/forms/moved", get(moved))
            .route("/forms/api/{page}", post(api))
            .route("/forms/{page}", get(page).post(submit))
            .with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        site
    }

    pub fn base(&self) -> String {
        format!("http://forms.localhost:{}", self.port)
    }

    pub fn accepted_on(&self, page: &str) -> Vec<Fields> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == page)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// The corpus: every page the tests analyze, generate for and run.
pub const PAGES: &[&str] = &[
    "reveal",
    "dates",
    "constraints",
    "labels",
    "groups",
    "wizard",
    "iframe",
    "shadow",
    "spinner",
    "upload",
    "honeypot",
    "account",
];

fn html_of(page: &str) -> Option<&'static str> {
    Some(match page {
        "constraints" => CONSTRAINTS,
        "labels" => LABELS,
        "groups" => GROUPS,
        "wizard" => WIZARD,
        "iframe-inner" => IFRAME_INNER,
        "shadow" => SHADOW,
        "spinner" => SPINNER,
        "upload" => UPLOAD,
        "honeypot" => HONEYPOT,
        "reveal" => REVEAL,
        "dates" => DATES,
        _ => return None,
    })
}

async fn page(Path(name): Path<String>) -> Response {
    match html_of(&name) {
        Some(html) => Html(html).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A form page again with the server's errors on top (as servers answer a bad post).
fn with_errors(html: &str, errors: &[String]) -> Html<String> {
    let list: String = errors.iter().map(|e| format!("<li>{e}</li>")).collect();
    let block = format!("<div class=\"errors\"><p>Please correct:</p><ul>{list}</ul></div>");
    Html(html.replacen("<form", &format!("{block}<form"), 1))
}

fn thank_you(page: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><body><h1>{SUCCESS}</h1><p id=\"done\">Your {page} form was received.</p></body></html>"
    ))
}

fn record(site: &FormSite, page: &str, fields: &Fields, errors: &[String]) {
    if errors.is_empty() {
        site.accepted
            .lock()
            .unwrap()
            .push((page.to_owned(), fields.clone()));
    } else {
        site.refused
            .lock()
            .unwrap()
            .push((page.to_owned(), errors.to_vec()));
    }
}

async fn submit(
    State(site): State<FormSite>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let fields = collect(fields);
    let Some(html) = html_of(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let errors = check(&name, &fields);
    record(&site, &name, &fields, &errors);
    if errors.is_empty() {
        thank_you(&name).into_response()
    } else {
        with_errors(html, &errors).into_response()
    }
}

/// Form pairs to fields; repeated names (checkbox groups) joined with `|`.
fn collect(pairs: Vec<(String, String)>) -> Fields {
    let mut out = Fields::new();
    for (k, v) in pairs {
        out.entry(k)
            .and_modify(|e| {
                e.push('|');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

/// The JSON endpoint of the script-driven pages (spinner, upload).
async fn api(
    State(site): State<FormSite>,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let fields: Fields = body
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let errors = check(&name, &fields);
    record(&site, &name, &fields, &errors);
    Json(json!({ "ok": errors.is_empty(), "errors": errors }))
}

// ---- The server's rules, page by page. ----

struct Check<'a> {
    fields: &'a Fields,
    errors: Vec<String>,
}

impl<'a> Check<'a> {
    fn get(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
    fn fail(&mut self, name: &str, why: &str) {
        self.errors.push(format!("{name}: {why}"));
    }
    fn required(&mut self, name: &str) -> &mut Self {
        if self.get(name).trim().is_empty() {
            self.fail(name, "is required");
        }
        self
    }
    fn length(&mut self, name: &str, min: usize, max: usize) -> &mut Self {
        let n = self.get(name).chars().count();
        if n > 0 && (n < min || n > max) {
            self.fail(name, &format!("must have {min} to {max} characters"));
        }
        self
    }
    fn matches(&mut self, name: &str, re: &str) -> &mut Self {
        let v = self.get(name).to_owned();
        if !v.is_empty()
            && !regex::Regex::new(&format!("^(?:{re})$"))
                .unwrap()
                .is_match(&v)
        {
            self.fail(name, "has the wrong format");
        }
        self
    }
    fn number(&mut self, name: &str, min: f64, max: f64, step: f64) -> &mut Self {
        let v = self.get(name).to_owned();
        if v.is_empty() {
            return self;
        }
        match v.parse::<f64>() {
            Ok(n)
                if n >= min
                    && n <= max
                    && (((n - min) / step).round() * step + min - n).abs() < 1e-9 => {}
            _ => self.fail(
                name,
                &format!("must be between {min} and {max} in steps of {step}"),
            ),
        }
        self
    }
    fn between(&mut self, name: &str, lo: &str, hi: &str) -> &mut Self {
        let v = self.get(name).to_owned();
        if !v.is_empty() && (v.as_str() < lo || v.as_str() > hi) {
            self.fail(name, &format!("must be between {lo} and {hi}"));
        }
        self
    }
    fn one_of(&mut self, name: &str, options: &[&str]) -> &mut Self {
        let v = self.get(name).to_owned();
        if !v.is_empty() && v.split('|').any(|x| !options.contains(&x)) {
            self.fail(name, "is not one of the choices");
        }
        self
    }
    fn empty(&mut self, name: &str) -> &mut Self {
        if !self.get(name).is_empty() {
            self.errors.push("spam detected".into());
        }
        self
    }
}

const EMAIL: &str = r"[^@\s]+@[^@\s]+";

fn check(page: &str, fields: &Fields) -> Vec<String> {
    let mut c = Check {
        fields,
        errors: Vec::new(),
    };
    match page {
        "constraints" => {
            c.required("full_name").length("full_name", 2, 40);
            c.required("email")
                .length("email", 1, 60)
                .matches("email", EMAIL);
            c.required("age").number("age", 18.0, 99.0, 1.0);
            c.number("qty", 1.0, 10.0, 1.0);
            c.number("budget", 0.5, 100.0, 0.5);
            c.matches("blog", r"[a-zA-Z][a-zA-Z0-9+.-]*:\S+");
            c.matches("phone", r"\+?[0-9]{8,12}");
            c.required("postcode").matches("postcode", "[0-9]{5}");
            c.required("start")
                .between("start", "2026-01-01", "2026-12-31");
            c.between("at", "09:00", "17:00");
            c.required("password").length("password", 8, 200);
            c.length("notes", 0, 200);
        }
        "labels" => {
            c.required("first").length("first", 1, 30);
            c.required("last").length("last", 1, 30);
            c.length("company", 0, 50);
            c.required("city");
            c.matches("promo", "[A-Z]{4}[0-9]{2}");
        }
        "groups" => {
            c.required("contact")
                .one_of("contact", &["email", "phone", "post"]);
            c.one_of("interests", &["news", "sports", "music"]);
            c.required("plan").one_of("plan", &["basic", "plus"]);
            c.required("terms");
        }
        "wizard" => {
            c.required("name");
            c.required("email").matches("email", EMAIL);
            c.required("street");
            c.required("city");
            c.required("arrival")
                .between("arrival", "2026-06-01", "2026-09-30");
        }
        "iframe-inner" => {
            c.required("query").length("query", 3, 20);
            c.required("size").one_of("size", &["s", "m", "l"]);
        }
        "shadow" => {
            c.required("handle")
                .matches("handle", "[a-z][a-z0-9_]{2,15}");
            c.required("email").matches("email", EMAIL);
        }
        "spinner" => {
            c.required("topic").length("topic", 5, 80);
            c.required("seats").number("seats", 1.0, 8.0, 1.0);
        }
        "upload" => {
            c.required("title").length("title", 1, 60);
            if !c.get("cv").ends_with(".pdf") {
                c.fail("cv", "must be a PDF file");
            }
        }
        "honeypot" => {
            c.required("name");
            c.required("email").matches("email", EMAIL);
            c.empty("website").empty("fax");
        }
        "account" => {
            c.required("display_name").length("display_name", 3, 30);
            c.one_of("theme", &["light", "dark"]);
        }
        "reveal" => {
            c.required("email").matches("email", EMAIL);
            c.required("kind").one_of("kind", &["personal", "business"]);
            if c.get("kind") == "business" {
                c.required("company").length("company", 2, 60);
                c.required("vat").matches("vat", "[A-Z]{2}[0-9]{8,10}");
            } else if !c.get("company").is_empty() || !c.get("vat").is_empty() {
                c.fail("company", "is only for business accounts");
            }
            if c.get("has_promo") == "yes" {
                c.required("promo").matches("promo", "[A-Z0-9]{6}");
            }
        }
        "dates" => {
            c.required("start")
                .between("start", "2026-01-01", "2026-12-31");
            c.required("end").between("end", "2026-01-01", "2026-12-31");
            if !c.get("start").is_empty() && c.get("end") <= c.get("start") {
                c.fail("end", "must be after the start date");
            }
        }
        _ => c.errors.push("unknown form".into()),
    }
    c.errors
}

/// A page that moved to a host the tests' targets do not allow.
async fn moved(State(site): State<FormSite>) -> Redirect {
    Redirect::temporary(&format!(
        "http://elsewhere.localhost:{}/forms/labels",
        site.port
    ))
}

// ---- Login and the account page behind it. ----

fn logged_in(headers: &HeaderMap) -> bool {
    headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.contains("session=ok"))
}

async fn login_page() -> Html<&'static str> {
    Html(LOGIN)
}

async fn log_in(Form(fields): Form<Fields>) -> Response {
    if fields.get("username").map(String::as_str) == Some(USER)
        && fields.get("password").map(String::as_str) == Some(PASSWORD)
    {
        return (
            [(header::SET_COOKIE, "session=ok; Path=/; HttpOnly")],
            Redirect::to("/forms/account"),
        )
            .into_response();
    }
    with_errors(LOGIN, &["Wrong user name or password".into()]).into_response()
}

async fn account_page(headers: HeaderMap) -> Response {
    if !logged_in(&headers) {
        return Redirect::to("/forms/login").into_response();
    }
    Html(ACCOUNT).into_response()
}

async fn account(
    State(site): State<FormSite>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !logged_in(&headers) {
        return Redirect::to("/forms/login").into_response();
    }
    let fields = collect(fields);
    let mut errors = check("account", &fields);
    if !errors.is_empty() {
        errors.push(format!("(got {fields:?})"));
    }
    record(&site, "account", &fields, &errors);
    if errors.is_empty() {
        thank_you("account").into_response()
    } else {
        with_errors(ACCOUNT, &errors).into_response()
    }
}

// ---- The pages. ----

const CONSTRAINTS: &str = r#"<!doctype html><html><head><title>Constraints</title></head><body>
<h1>Contact details</h1>
<form method="post">
  <p><label for="full_name">Full name</label> <input id="full_name" name="full_name" required minlength="2" maxlength="40"></p>
  <p><label for="email">E-mail</label> <input id="email" name="email" type="email" required maxlength="60"></p>
  <p><label for="age">Age</label> <input id="age" name="age" type="number" min="18" max="99" required></p>
  <p><label for="qty">Quantity</label> <input id="qty" name="qty" type="number" min="1" max="10"></p>
  <p><label for="budget">Budget</label> <input id="budget" name="budget" type="number" min="0.5" max="100" step="0.5"></p>
  <p><label for="blog">Blog address</label> <input id="blog" name="blog" type="url"></p>
  <p><label for="phone">Phone</label> <input id="phone" name="phone" type="tel" pattern="\+?[0-9]{8,12}"></p>
  <p><label for="postcode">Postcode</label> <input id="postcode" name="postcode" pattern="[0-9]{5}" required></p>
  <p><label for="start">Start date</label> <input id="start" name="start" type="date" min="2026-01-01" max="2026-12-31" required></p>
  <p><label for="at">Preferred time</label> <input id="at" name="at" type="time" min="09:00" max="17:00"></p>
  <p><label for="password">Password</label> <input id="password" name="password" type="password" minlength="8" required></p>
  <p><label for="notes">Notes</label> <textarea id="notes" name="notes" maxlength="200"></textarea></p>
  <button type="submit">Send</button>
</form></body></html>"#;

const LABELS: &str = r#"<!doctype html><html><head><title>Labels</title></head><body>
<h1>Register</h1>
<form method="post">
  <p><label for="first">First name</label> <input id="first" name="first" required maxlength="30"></p>
  <p><label>Last name <input name="last" required maxlength="30"></label></p>
  <p><input name="company" aria-label="Company" maxlength="50"></p>
  <p><span id="city-label">City</span> <input name="city" aria-labelledby="city-label" required></p>
  <p><input name="promo" placeholder="Promo code" pattern="[A-Z]{4}[0-9]{2}"></p>
  <button>Register</button>
</form></body></html>"#;

const GROUPS: &str = r#"<!doctype html><html><head><title>Groups</title></head><body>
<h1>Newsletter</h1>
<form method="post">
  <fieldset><legend>Contact preference</legend>
    <label><input type="radio" name="contact" value="email" required> E-mail</label>
    <label><input type="radio" name="contact" value="phone"> Phone</label>
    <label><input type="radio" name="contact" value="post"> Post</label>
  </fieldset>
  <fieldset><legend>Interests</legend>
    <label><input type="checkbox" name="interests" value="news"> News</label>
    <label><input type="checkbox" name="interests" value="sports"> Sports</label>
    <label><input type="checkbox" name="interests" value="music"> Music</label>
  </fieldset>
  <p><label for="plan">Plan</label> <select id="plan" name="plan" required>
    <option value="">Choose…</option><option value="basic">Basic</option><option value="plus">Plus</option></select></p>
  <p><label><input type="checkbox" name="terms" value="yes" required> I accept the terms</label></p>
  <button type="submit">Subscribe</button>
</form></body></html>"#;

const WIZARD: &str = r#"<!doctype html><html><head><title>Wizard</title></head><body>
<h1>Book a stay</h1>
<form method="post" id="booking">
  <section data-step="1">
    <p><label for="name">Full name</label> <input id="name" name="name" required></p>
    <p><label for="email">E-mail</label> <input id="email" name="email" type="email" required></p>
    <button type="button" class="next">Next</button>
  </section>
  <section data-step="2" hidden>
    <p><label for="street">Street</label> <input id="street" name="street" required></p>
    <p><label for="city">City</label> <input id="city" name="city" required></p>
    <button type="button" class="back">Back</button> <button type="button" class="next">Continue</button>
  </section>
  <section data-step="3" hidden>
    <p><label for="arrival">Arrival date</label> <input id="arrival" name="arrival" type="date" min="2026-06-01" max="2026-09-30" required></p>
    <button type="submit">Book</button>
  </section>
</form>
<script>
const sections = [...document.querySelectorAll('section')];
const show = (i) => sections.forEach((s, j) => { s.hidden = i !== j; });
sections.forEach((s, i) => {
  const next = s.querySelector('.next');
  if (next) next.addEventListener('click', () => {
    // Like a real wizard: a step with an invalid field does not move on.
    const bad = [...s.querySelectorAll('input')].find((el) => !el.checkValidity());
    if (bad) { bad.reportValidity(); return; }
    setTimeout(() => show(i + 1), 150);
  });
  const back = s.querySelector('.back');
  if (back) back.addEventListener('click', () => show(i - 1));
});
</script></body></html>"#;

const IFRAME_OUTER: &str = r#"<!doctype html><html><head><title>Framed</title></head><body>
<h1>Search the catalogue</h1>
<iframe id="embedded" src="/forms/iframe-inner" width="600" height="400"></iframe>
</body></html>"#;

const IFRAME_INNER: &str = r#"<!doctype html><html><body>
<form method="post" action="/forms/iframe-inner">
  <p><label for="query">Search term</label> <input id="query" name="query" required minlength="3" maxlength="20"></p>
  <p><label for="size">Size</label> <select id="size" name="size" required><option value="">Any</option><option value="s">Small</option><option value="m">Medium</option><option value="l">Large</option></select></p>
  <button type="submit">Search</button>
</form></body></html>"#;

const SHADOW: &str = r#"<!doctype html><html><head><title>Shadow</title></head><body>
<h1>Join the forum</h1>
<signup-card></signup-card>
<script>
customElements.define('signup-card', class extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `
      <form method="post" action="/forms/shadow">
        <p><label for="handle">Handle</label> <input id="handle" name="handle" required pattern="[a-z][a-z0-9_]{2,15}"></p>
        <p><label for="email">E-mail</label> <input id="email" name="email" type="email" required></p>
        <button type="submit" id="join">Join</button>
      </form>`;
  }
});
</script></body></html>"#;

const SPINNER: &str = r#"<!doctype html><html><head><title>Spinner</title></head><body>
<h1>Request a workshop</h1>
<form id="f">
  <p><label for="topic">Topic</label> <input id="topic" name="topic" required minlength="5" maxlength="80"></p>
  <p><label for="seats">Seats</label> <input id="seats" name="seats" type="number" min="1" max="8" required></p>
  <button type="submit">Request</button>
</form>
<div id="spinner" class="spinner" hidden>Sending…</div>
<div id="result"></div>
<script>
document.getElementById('f').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.target;
  const spinner = document.getElementById('spinner');
  spinner.hidden = false;
  form.querySelector('button').disabled = true;
  const body = Object.fromEntries(new FormData(form));
  setTimeout(async () => {
    const r = await fetch('/forms/api/spinner', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await r.json();
    spinner.hidden = true;
    form.querySelector('button').disabled = false;
    const out = document.getElementById('result');
    if (answer.ok) {
      form.remove();
      out.innerHTML = '<div role="status">Thank you, your request was received</div>';
    } else {
      out.innerHTML = '<div class="errors"><p>Please correct:</p><ul>' + answer.errors.map((x) => '<li>' + x + '</li>').join('') + '</ul></div>';
    }
  }, 1500);
});
</script></body></html>"#;

const UPLOAD: &str = r#"<!doctype html><html><head><title>Upload</title></head><body>
<h1>Apply</h1>
<form id="f">
  <p><label for="title">Position</label> <input id="title" name="title" required maxlength="60"></p>
  <p><label for="cv">CV (PDF)</label> <input id="cv" name="cv" type="file" accept=".pdf" required></p>
  <button type="submit">Apply</button>
</form>
<div id="result"></div>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = document.getElementById('cv').files[0];
  const head = file ? (await file.text()).slice(0, 5) : '';
  const body = { title: document.getElementById('title').value, cv: file ? file.name : '', head };
  const r = await fetch('/forms/api/upload', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await r.json();
  document.getElementById('result').innerHTML = answer.ok
    ? '<h2>Thank you for applying</h2>'
    : '<div class="errors"><p>Please correct:</p><ul>' + answer.errors.map((x) => '<li>' + x + '</li>').join('') + '</ul></div>';
});
</script></body></html>"#;

const HONEYPOT: &str = r#"<!doctype html><html><head><title>Honeypot</title>
<style>.trap { position: absolute; left: -9999px; top: 0; }</style></head><body>
<h1>Contact us</h1>
<form method="post">
  <p><label for="name">Your name</label> <input id="name" name="name" required></p>
  <p><label for="email">E-mail</label> <input id="email" name="email" type="email" required></p>
  <div class="trap"><label for="website">Website</label> <input id="website" name="website" tabindex="-1" autocomplete="off"></div>
  <input name="fax" style="display:none">
  <button type="submit">Send message</button>
</form></body></html>"#;

const LOGIN: &str = r#"<!doctype html><html><head><title>Log in</title></head><body>
<h1>Log in</h1>
<form method="post" action="/forms/login">
  <p><label for="username">User name</label> <input id="username" name="username" required></p>
  <p><label for="password">Password</label> <input id="password" name="password" type="password" required></p>
  <button type="submit">Log in</button>
</form></body></html>"#;

const ACCOUNT: &str = r#"<!doctype html><html><head><title>Account</title></head><body>
<h1>Your profile</h1>
<form method="post" action="/forms/account">
  <p><label for="display_name">Display name</label> <input id="display_name" name="display_name" required minlength="3" maxlength="30"></p>
  <p><label for="theme">Theme</label> <select id="theme" name="theme"><option value="light">Light</option><option value="dark">Dark</option></select></p>
  <button type="submit">Save profile</button>
</form></body></html>"#;

const REVEAL: &str = r#"<!doctype html><html><head><title>Reveal</title></head><body>
<h1>Open an account</h1>
<form method="post">
  <p><label for="email">E-mail</label> <input id="email" name="email" type="email" required></p>
  <p><label for="kind">Account type</label> <select id="kind" name="kind" required>
    <option value="">Choose…</option><option value="personal">Personal</option><option value="business">Business</option></select></p>
  <div id="business" hidden>
    <p><label for="company">Company name</label> <input id="company" name="company" required minlength="2" maxlength="60" disabled></p>
    <p><label for="vat">VAT number</label> <input id="vat" name="vat" required pattern="[A-Z]{2}[0-9]{8,10}" disabled></p>
  </div>
  <p><label><input type="checkbox" id="has_promo" name="has_promo" value="yes"> I have a promo code</label></p>
  <div id="promo-slot"></div>
  <button type="submit">Open account</button>
</form>
<script>
// Like real pages: what is hidden is disabled too, so the browser neither checks nor sends it.
const toggle = (box, on) => { box.hidden = !on; box.querySelectorAll('input').forEach((i) => { i.disabled = !on; }); };
document.getElementById('kind').addEventListener('change', (e) => toggle(document.getElementById('business'), e.target.value === 'business'));
// The promo code field does not exist until the box is checked: the script adds it.
document.getElementById('has_promo').addEventListener('change', (e) => {
  const slot = document.getElementById('promo-slot');
  slot.innerHTML = e.target.checked
    ? '<p><label for="promo">Promo code</label> <input id="promo" name="promo" required pattern="[A-Z0-9]{6}"></p>'
    : '';
});
</script></body></html>"#;

const DATES: &str = r#"<!doctype html><html><head><title>Dates</title></head><body>
<h1>Plan a trip</h1>
<form method="post">
  <p><label for="start">Start date</label> <input id="start" name="start" type="date" min="2026-01-01" max="2026-12-31" required></p>
  <p><label for="end">End date</label> <input id="end" name="end" type="date" min="2026-01-01" max="2026-12-31" required></p>
  <button type="submit">Plan</button>
</form>
<script>
// A rule HTML attributes cannot say: the end comes after the start.
const start = document.getElementById('start'), end = document.getElementById('end');
const check = () => end.setCustomValidity(start.value && end.value && end.value <= start.value ? 'The end date must be after the start date' : '');
start.addEventListener('input', check); end.addEventListener('input', check);
start.addEventListener('change', check); end.addEventListener('change', check);
</script></body></html>"#;
