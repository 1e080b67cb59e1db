//! A local test site for runs: a sign-up form labelled every way a form can be (with a
//! field in a shadow root), a framed form, a page that never loads, one that gets ready
//! late, and pages that try to reach private addresses. It records what was submitted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};

#[derive(Clone, Default)]
pub struct Site {
    pub port: u16,
    pub submissions: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
}

impl Site {
    pub async fn start() -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = Site {
            port: listener.local_addr().unwrap().port(),
            ..Site::default()
        };
        let app = Router::new()
            .route("/signup", get(signup_page).post(signup))
            .route("/framed", get(|| async { Html("<h1>Outer</h1><iframe id=\"inner\" src=\"/inner\"></iframe>") }))
            .route("/inner", get(|| async { Html(INNER) }))
            .route("/slow", get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                "never"
            }))
            .route("/ready-later", get(|| async { Html(READY_LATER) }))
            .route("/to-private", get(|q: Query<BTreeMap<String, String>>| async move {
                Redirect::temporary(q.get("to").map(String::as_str).unwrap_or("http://127.0.0.1:9/"))
            }))
            .route("/fetches", get(|q: Query<BTreeMap<String, String>>| async move {
                let url = q.get("url").cloned().unwrap_or_default();
                Html(format!(
                    "<h1>Fetching</h1><script>const done = () => document.body.append('Done'); fetch({url:?}).then(done, done);</script>"
                ))
            }))
            .route("/secret", get(|| async { "internal secret" }))
            .with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        site
    }

    /// The site as a target's base URL: a `localhost` name (loopback, RFC 6761).
    pub fn base(&self) -> String {
        format!("http://shop.localhost:{}", self.port)
    }

    pub fn submitted(&self) -> Vec<BTreeMap<String, String>> {
        self.submissions.lock().unwrap().clone()
    }
}

async fn signup_page() -> Html<&'static str> {
    Html(SIGNUP)
}

async fn signup(
    State(site): State<Site>,
    Form(form): Form<BTreeMap<String, String>>,
) -> impl IntoResponse {
    site.submissions.lock().unwrap().push(form.clone());
    if form
        .get("email")
        .is_some_and(|e| e.ends_with("@taken.example"))
    {
        return Html("<h1>Sorry</h1><p>This e-mail is already registered.</p>".to_owned());
    }
    Html(format!(
        "<h1>Welcome</h1><p>Member <span id=\"member\">M-{:03}</span></p><p id=\"echo\">{}</p>",
        site.submissions.lock().unwrap().len(),
        form.get("password").cloned().unwrap_or_default()
    ))
}

const SIGNUP: &str = r#"<!doctype html>
<html><head><title>Sign up</title></head><body>
<h1>Sign up</h1>
<form method="post" action="/signup">
  <p><label for="email">E-mail</label> <input id="email" name="email" type="email" required></p>
  <p><label>Age <input name="age" type="number" min="18" max="99" required></label></p>
  <p><input name="code" aria-label="Member code" pattern="[A-Z]{2}[0-9]{3}"></p>
  <p><span id="plan-label">Plan</span> <select name="plan" aria-labelledby="plan-label">
     <option value="free">Free</option><option value="pro">Pro</option></select></p>
  <p><input name="city" placeholder="City"></p>
  <p><label><input type="radio" name="tier" value="free"> Free tier</label>
     <label><input type="radio" name="tier" value="pro"> Pro tier</label></p>
  <p><input name="password" type="password" aria-label="Password"></p>
  <p><label><input type="checkbox" name="terms" value="yes"> I accept the terms</label></p>
  <p><nick-name></nick-name></p>
  <button type="submit">Create account</button>
</form>
<script>
customElements.define('nick-name', class extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = '<label for="nick">Nickname</label> <input id="nick">';
  }
});
document.querySelector('form').addEventListener('submit', () => {
  const h = document.createElement('input');
  h.type = 'hidden'; h.name = 'nickname';
  h.value = document.querySelector('nick-name').shadowRoot.querySelector('input').value;
  document.querySelector('form').appendChild(h);
});
console.log('signup page ready');
</script>
</body></html>"#;

const INNER: &str = r#"<!doctype html><html><body>
<label for="q">Query</label> <input id="q">
<button onclick="document.getElementById('out').textContent = 'Got ' + document.getElementById('q').value">Go</button>
<div id="out"></div>
</body></html>"#;

const READY_LATER: &str = r#"<!doctype html><html><body><h1>Warming up</h1>
<script>setTimeout(() => { const p = document.createElement('p'); p.textContent = 'Ready'; document.body.appendChild(p); }, 2500);</script>
</body></html>"#;
