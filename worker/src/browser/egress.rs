//! The filtering proxy each browser session is pointed at (`--proxy-server`, with loopback
//! not bypassed). Every request the page makes, navigations, redirects, sub-resources and
//! scripts' fetches alike, reaches the network only through here: its host must match the
//! target's allowed hosts and, unless the target allows private networks, every address it
//! resolves to must be public. The connection goes to the address that was checked, so a
//! DNS answer cannot change between the check and the connect. Refusals are answered 403
//! and kept, so the step that caused one fails naming the host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::automation::egress::{EgressPolicy, Refusal, literal_ip};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const MAX_HEAD: usize = 32 * 1024;

/// Chromium's own service hosts. Refused like any host the target does not allow, but not
/// held against the page: the browser calls them on its own (autofill, safe browsing,
/// component updates, Google's `*-pa.googleapis.com` service APIs) whatever page is open.
const BROWSER_SERVICES: &[&str] = &[
    "content-autofill.googleapis.com",
    "update.googleapis.com",
    "safebrowsing.googleapis.com",
    "sb-ssl.google.com",
    "optimizationguide-pa.googleapis.com",
    "clientservices.googleapis.com",
    "clients1.google.com",
    "clients2.google.com",
    "redirector.gvt1.com",
    "edgedl.me.gvt1.com",
    "accounts.google.com",
];
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

pub struct EgressProxy {
    pub addr: SocketAddr,
    refusals: Arc<Mutex<Vec<Refusal>>>,
    task: JoinHandle<()>,
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EgressProxy {
    pub async fn start(policy: EgressPolicy) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let refusals = Arc::new(Mutex::new(Vec::new()));
        let policy = Arc::new(policy);
        let seen = refusals.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let policy = policy.clone();
                let seen = seen.clone();
                connections.spawn(async move {
                    let _ = serve(client, &policy, &seen, addr.port()).await;
                });
                // Reap finished connections so the set stays small.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(EgressProxy {
            addr,
            refusals,
            task,
        })
    }

    /// How many refusals so far (an attempt notes it before its first step).
    pub fn refusal_count(&self) -> usize {
        self.refusals.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// The refusals after the first `from`.
    pub fn refusals_since(&self, from: usize) -> Vec<Refusal> {
        self.refusals
            .lock()
            .map(|r| r.iter().skip(from).cloned().collect())
            .unwrap_or_default()
    }
}

struct Head {
    raw: Vec<u8>,
    /// Bytes read past the head (the start of a body or of TLS).
    rest: Vec<u8>,
}

async fn read_head(client: &mut TcpStream) -> std::io::Result<Option<Head>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some(Head { raw: buf, rest }));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

async fn serve(
    mut client: TcpStream,
    policy: &EgressPolicy,
    seen: &Mutex<Vec<Refusal>>,
    proxy: u16,
) -> std::io::Result<()> {
    let Ok(Ok(Some(head))) = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await
    else {
        tracing::debug!(proxy, "a connection closed before its request");
        return Ok(());
    };
    let text = String::from_utf8_lossy(&head.raw).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    let tunnel = method.eq_ignore_ascii_case("CONNECT");
    let (host, port, path) = if tunnel {
        match split_authority(target, 443) {
            Some((h, p)) => (h, p, String::new()),
            None => return answer(&mut client, 400, "bad CONNECT target").await,
        }
    } else {
        match url::Url::parse(target) {
            Ok(u) if u.scheme() == "http" => {
                let host = u.host_str().unwrap_or_default().to_owned();
                let mut path = u.path().to_owned();
                if let Some(q) = u.query() {
                    path.push('?');
                    path.push_str(q);
                }
                (host, u.port().unwrap_or(80), path)
            }
            _ => {
                return answer(
                    &mut client,
                    400,
                    "only http:// requests and CONNECT are proxied",
                )
                .await;
            }
        }
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let checked = match policy.check_host(&host) {
        Err(refusal) => Err(refusal),
        Ok(()) => match resolve(&host, port).await {
            Err(e) => {
                return answer(&mut client, 502, &format!("cannot resolve {host}: {e}")).await;
            }
            Ok(addrs) => {
                let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
                policy.check_addresses(&host, &ips).map(|()| addrs)
            }
        },
    };
    let addrs = match checked {
        Ok(a) => a,
        Err(refusal) => {
            let message = refusal.to_string();
            let browser_own = (BROWSER_SERVICES.contains(&host.as_str())
                || host.ends_with("-pa.googleapis.com"))
                && matches!(refusal, Refusal::HostNotAllowed { .. });
            if !browser_own
                && let Ok(mut list) = seen.lock()
                && !list.contains(&refusal)
            {
                list.push(refusal);
            }
            tracing::info!(host = %host, "egress refused");
            return answer(&mut client, 403, &message).await;
        }
    };
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, connect_any(&addrs)).await {
        Ok(Ok(s)) => s,
        _ => {
            return answer(
                &mut client,
                502,
                &format!("cannot connect to {host}:{port}"),
            )
            .await;
        }
    };
    let mut upstream = upstream;
    if tunnel {
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
    } else {
        // Origin-form to the server, and one request per connection: a kept-alive proxy
        // connection must never carry a later request for another host.
        let mut out = format!("{method} {path} {version}\r\n");
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let name = line.split(':').next().unwrap_or_default().trim();
            if [
                "proxy-connection",
                "proxy-authorization",
                "connection",
                "keep-alive",
            ]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
            {
                continue;
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("Connection: close\r\n\r\n");
        upstream.write_all(out.as_bytes()).await?;
    }
    if !head.rest.is_empty() {
        upstream.write_all(&head.rest).await?;
    }
    let started = std::time::Instant::now();
    // When the server has answered and closed, the whole client connection ends too. A
    // half-close would leave the browser free to send its next request on a connection
    // nobody reads any more (a keep-alive race): that request would wait forever, so a
    // form's POST could hang the page. Closed, the browser retries on a fresh connection.
    let (mut from_client, mut to_client) = client.split();
    let (mut from_upstream, mut to_upstream) = upstream.split();
    let response = async {
        let n = tokio::io::copy(&mut from_upstream, &mut to_client).await;
        let _ = to_client.shutdown().await;
        n
    };
    let request = async {
        let _ = tokio::io::copy(&mut from_client, &mut to_upstream).await;
        let _ = to_upstream.shutdown().await;
        // The client is done sending; the response still decides the end.
        std::future::pending::<()>().await
    };
    let copied = tokio::select! {
        n = response => n,
        () = request => unreachable!("pending never completes"),
    };
    // Not the path: a URL may carry a secret (`{{secret.token}}` in a GOTO's query).
    tracing::debug!(
        proxy,
        method,
        body_in_head = head.rest.len(),
        host = %host,
        ms = started.elapsed().as_millis() as u64,
        result = ?copied,
        "proxied"
    );
    Ok(())
}

fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default_port), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((authority.to_owned(), default_port)),
    }
}

/// `localhost` names are loopback (RFC 6761) without asking DNS, as browsers treat them.
async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    if let Some(ip) = literal_ip(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addrs.is_empty() {
        return Err(std::io::Error::other("no addresses"));
    }
    Ok(addrs)
}

async fn connect_any(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no addresses");
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn answer(client: &mut TcpStream, status: u16, message: &str) -> std::io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        _ => "Bad Gateway",
    };
    let body = format!("Opsdeck: {message}\n");
    let out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nX-Opsdeck-Egress: refused\r\n\r\n{body}",
        body.len()
    );
    client.write_all(out.as_bytes()).await?;
    client.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::automation::egress::HostPattern;

    async fn get_via(proxy: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(proxy).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn refuses_what_the_target_does_not_allow_and_forwards_the_rest() {
        // An origin on loopback, reachable as `site.localhost`.
        let origin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_port = origin.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = origin.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    let body = format!("origin saw: {line}");
                    let _ = s
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .await;
                });
            }
        });
        let policy = |private| EgressPolicy {
            allowed_hosts: vec![
                HostPattern::parse("site.localhost").unwrap(),
                HostPattern::parse("127.0.0.1").unwrap(),
            ],
            allow_private_network: private,
        };
        let open = EgressProxy::start(policy(true)).await.unwrap();
        let r = get_via(open.addr, &format!("GET http://site.localhost:{origin_port}/a?b=1 HTTP/1.1\r\nHost: site.localhost\r\nProxy-Connection: keep-alive\r\n\r\n")).await;
        assert!(r.contains("origin saw: GET /a?b=1 HTTP/1.1"), "{r}");
        let r = get_via(
            open.addr,
            "GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(
            r.starts_with("HTTP/1.1 403") && r.contains("169.254.169.254 is not among"),
            "{r}"
        );
        let r = get_via(open.addr, "CONNECT evil.example:443 HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 403"), "{r}");
        assert_eq!(open.refusal_count(), 2);

        // The same hosts without private networks: loopback names and addresses refused.
        let closed = EgressProxy::start(policy(false)).await.unwrap();
        let r = get_via(
            closed.addr,
            &format!("GET http://site.localhost:{origin_port}/ HTTP/1.1\r\n\r\n"),
        )
        .await;
        assert!(
            r.starts_with("HTTP/1.1 403") && r.contains("loopback"),
            "{r}"
        );
        let r = get_via(
            closed.addr,
            &format!("CONNECT 127.0.0.1:{origin_port} HTTP/1.1\r\n\r\n"),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 403"), "{r}");
        let refusals = closed.refusals_since(0);
        assert!(
            matches!(&refusals[0], Refusal::InternalAddress { host, .. } if host == "site.localhost")
        );
    }
}
