//! Where `web_fetch` may go: public internet addresses, and the `host:port` places off it that
//! the person listed (`web.private_hosts`). A URL a model or a page chose is resolved here and
//! refused when any address it leads to is loopback, private, link-local, metadata or reserved,
//! whatever name or number spells it; the connection is then pinned to the addresses checked
//! (no second lookup an attacker's DNS could answer differently). Headless Chromium gets the
//! same rules through a proxy of this module that every one of its connections passes, and so
//! does a code sandbox the person let online (`sandboxes::egress`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::TcpListenerStream;

use crate::tool::ToolError;

/// How long a name may take to resolve.
const LOOKUP: Duration = Duration::from_secs(10);
/// The longest request head the proxy reads.
const MAX_HEAD: usize = 16 * 1024;

/// The rules for one fetch: which non-public `host:port` places the person allowed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reach {
    listed: Arc<Vec<(String, u16)>>,
    /// Where refused places are written down (the browser tools tell the model about them).
    refusals: Option<Arc<std::sync::Mutex<Vec<String>>>>,
}

/// A checked place: its host as the URL spells it and the addresses a connection may use.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

impl Reach {
    /// The rules from the config's `host:port` entries (entries that are no `host:port` are
    /// ignored: they allow nothing).
    pub(crate) fn new(private_hosts: &[String]) -> Self {
        let listed = private_hosts
            .iter()
            .filter_map(|entry| {
                let url = url::Url::parse(&format!("http://{}", entry.trim())).ok()?;
                Some((url.host_str()?.to_ascii_lowercase(), url.port()?))
            })
            .collect();
        Self {
            listed: Arc::new(listed),
            refusals: None,
        }
    }

    /// The same rules, writing each refused place (`host:port`, and why) into `refusals`.
    pub(crate) fn watched(self, refusals: Arc<std::sync::Mutex<Vec<String>>>) -> Self {
        Self {
            refusals: Some(refusals),
            ..self
        }
    }

    fn is_listed(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.listed.iter().any(|(h, p)| *h == host && *p == port)
    }

    /// Resolves a URL's host and checks every address it leads to.
    pub(crate) async fn check(&self, url: &url::Url) -> Result<Checked, ToolError> {
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return Err(refused(&super::without_userinfo(url), "it has no host"));
        };
        let name = url.host_str().unwrap_or_default().to_owned();
        let shown = super::without_userinfo(url);
        let addrs = match host {
            url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            url::Host::Domain(domain) => lookup(domain, port).await.map_err(|e| {
                ToolError::RespondToModel(format!(
                    "{shown}: the name {domain} did not resolve: {e}"
                ))
            })?,
        };
        self.allow(&name, port, addrs).map_err(|why| {
            if let Some(refusals) = &self.refusals
                && let Ok(mut refusals) = refusals.lock()
                && refusals.len() < 100
            {
                refusals.push(format!("{name}:{port} ({why})"));
            }
            refused(&shown, &why)
        })
    }

    /// The addresses, when all are public or the place is listed.
    fn allow(&self, host: &str, port: u16, addrs: Vec<SocketAddr>) -> Result<Checked, String> {
        if addrs.is_empty() {
            return Err(format!("{host} has no address"));
        }
        if !self.is_listed(host, port)
            && let Some(private) = addrs.iter().find(|a| !is_public(a.ip()))
        {
            return Err(format!(
                "{host} leads to {}, which is not a public internet address (only places the \
                 person listed in web.private_hosts can be reached off the internet)",
                private.ip()
            ));
        }
        Ok(Checked {
            host: host.to_owned(),
            addrs,
        })
    }
}

async fn lookup(domain: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let found = tokio::time::timeout(LOOKUP, tokio::net::lookup_host((domain, port)))
        .await
        .map_err(|_| std::io::Error::other("the lookup took too long"))??;
    Ok(found.collect())
}

fn refused(url: &str, why: &str) -> ToolError {
    ToolError::RespondToModel(format!("{url} was not fetched: {why}"))
}

/// Whether an address is on the public internet: not this machine, a private or shared network,
/// link-local (cloud metadata lives there), documentation, benchmarking, multicast or reserved.
/// IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        // NAT64: the IPv4 address in the last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded(hi, lo)),
        // 6to4: the IPv4 address after the prefix.
        [0x2002, hi, lo, ..] => is_public_v4(embedded(hi, lo)),
        // Global unicast, less the IETF protocol block (Teredo among it) and documentation.
        [first, second, ..] => {
            (first & 0xe000) == 0x2000
                && !(first == 0x2001 && second < 0x200)
                && !(first == 0x2001 && second == 0xdb8)
        }
    }
}

/// A proxy on loopback that headless Chromium must send every connection through: each target is
/// checked like a fetch and the connection goes to the checked address. It stops when dropped.
pub(crate) struct Proxy {
    pub addr: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub(crate) async fn start(reach: Reach) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = serve_all(TcpListenerStream::new(listener), move || reach.clone());
        Ok(Self { addr, task })
    }
}

/// Serves every client connection that arrives through the checks, each judged by the rules
/// `reach` gives when it arrives, until the returned task is aborted (or accepting fails).
pub(crate) fn serve_all<S>(
    mut clients: impl Stream<Item = std::io::Result<S>> + Send + Unpin + 'static,
    reach: impl Fn() -> Reach + Send + 'static,
) -> tokio::task::AbortHandle
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Some(Ok(client)) = clients.next().await {
            let reach = reach();
            connections.spawn(async move {
                if let Err(e) = serve(client, &reach).await {
                    tracing::debug!(%e, "a proxied connection ended");
                }
            });
            while connections.try_join_next().is_some() {}
        }
    })
    .abort_handle()
}

/// One client's connection (a browser's, or a sandbox's through its socket): `CONNECT host:port`
/// (https, websockets, anything over TCP) or a plain http request in absolute form; anything
/// else, or a refused target, gets a 403 and nothing is reached.
async fn serve<S>(mut browser: S, reach: &Reach) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let end = loop {
        let mut chunk = [0u8; 4096];
        let n = browser.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if head.len() > MAX_HEAD {
            return forbid(&mut browser).await;
        }
    };
    let line = String::from_utf8_lossy(&head[..head.iter().position(|b| *b == b'\r').unwrap_or(0)])
        .into_owned();
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let connect = method == "CONNECT";
    let url = if connect {
        url::Url::parse(&format!("https://{target}/")).ok()
    } else {
        url::Url::parse(target)
            .ok()
            .filter(|u| u.scheme() == "http")
    };
    let Some(url) = url else {
        return forbid(&mut browser).await;
    };
    let checked = match reach.check(&url).await {
        Ok(checked) => checked,
        Err(e) => {
            tracing::debug!(%e, "the browser was kept from a place");
            return forbid(&mut browser).await;
        }
    };
    let mut upstream = TcpStream::connect(&checked.addrs[..]).await?;
    if connect {
        browser
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        upstream.write_all(&head[end..]).await?;
    } else {
        upstream.write_all(&origin_form(&head[..end], &url)).await?;
        upstream.write_all(&head[end..]).await?;
    }
    tokio::io::copy_bidirectional(&mut browser, &mut upstream).await?;
    Ok(())
}

/// A proxied request's head as the origin server takes it: the request line with the path only
/// (`GET /a?b HTTP/1.1`, not the absolute form a proxy gets, which many servers answer with 404)
/// and the connection closed after one exchange — the next request, maybe to another place,
/// comes through the checks again.
fn origin_form(head: &[u8], url: &url::Url) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut words = first.split(' ');
    let (method, version) = (
        words.next().unwrap_or("GET"),
        words.nth(1).unwrap_or("HTTP/1.1"),
    );
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        if [
            "connection",
            "proxy-connection",
            "keep-alive",
            "proxy-authorization",
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
    out.into_bytes()
}

async fn forbid<S: AsyncWrite + Unpin>(browser: &mut S) -> std::io::Result<()> {
    browser
        .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.1",
            "192.168.0.10",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "2001::1",
            "ff02::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.215.14",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_proxied_request_reaches_the_server_in_origin_form_and_closes() {
        let url = url::Url::parse("http://127.0.0.1:8080/a/b?c=1#frag").unwrap();
        let head = b"POST http://127.0.0.1:8080/a/b?c=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nProxy-Connection: keep-alive\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(
            String::from_utf8(origin_form(head, &url)).unwrap(),
            "POST /a/b?c=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn a_listed_place_is_one_host_on_one_port() {
        let reach = Reach::new(&["LocalHost:8080".into(), "[::1]:9000".into(), "junk".into()]);
        let local = |port| vec![SocketAddr::from(([127, 0, 0, 1], port))];
        assert!(reach.allow("localhost", 8080, local(8080)).is_ok());
        assert!(reach.allow("localhost", 8081, local(8081)).is_err());
        assert!(reach.allow("127.0.0.1", 8080, local(8080)).is_err());
        assert!(
            reach
                .allow("[::1]", 9000, vec!["[::1]:9000".parse().unwrap()])
                .is_ok()
        );
        // A name with one public and one private address is refused.
        let mixed = vec![
            SocketAddr::from(([1, 1, 1, 1], 443)),
            SocketAddr::from(([10, 0, 0, 1], 443)),
        ];
        assert!(Reach::default().allow("mixed.example", 443, mixed).is_err());
    }
}
