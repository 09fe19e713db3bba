//! Bounded reads of what other servers send: every body from outside (a provider, GitHub,
//! Vercel, Google Drive, a search backend, a local model server) is read up to a documented cap,
//! so a server that sends an endless or enormous body can neither hold a call for ever nor fill
//! the memory; what is larger fails with a sentence that says so.

/// Most of an error answer that is read: only its message is shown.
pub(crate) const MAX_ERROR: usize = 64 << 10;
/// Most of an API answer (JSON) that is read: a provider's whole answer, a model-list page, a
/// GitHub, Vercel or Drive answer.
pub(crate) const MAX_API: usize = 16 << 20;
/// Most of a search backend's results page that is read.
pub(crate) const MAX_SEARCH: usize = 4 << 20;

/// Reads at most `max` bytes of a body; the flag says whether more was there (the rest is not
/// read). A connection that breaks off ends the body where it broke.
pub(crate) async fn read_capped(mut response: reqwest::Response, max: usize) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = max - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return (body, true);
        }
        body.extend_from_slice(&chunk);
    }
    (body, false)
}

/// An answer larger than the reader takes; none of it was used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{who} sent an answer larger than {limit}; it was not read")]
pub(crate) struct TooLarge {
    /// Who sent it ("GitHub", "provider \"openai\"").
    who: String,
    /// The limit, for a person ("4 MiB").
    limit: String,
}

/// A whole body of at most `max` bytes as text; `Err` says it was larger (`who` sent it).
pub(crate) async fn text_within(
    response: reqwest::Response,
    max: usize,
    who: &str,
) -> Result<String, TooLarge> {
    let (body, more) = read_capped(response, max).await;
    if more {
        return Err(TooLarge {
            who: who.to_owned(),
            limit: size(max),
        });
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The start of an error body (at most `MAX_ERROR`), for its message.
pub(crate) async fn error_text(response: reqwest::Response) -> String {
    let (body, _) = read_capped(response, MAX_ERROR).await;
    String::from_utf8_lossy(&body).into_owned()
}

/// Why a key or token must not go to `url`: it is plain `http://` (or `ws://`) to another
/// machine, where anyone on the way reads it. `None` for https, and for this machine.
pub(crate) fn in_the_clear(url: &str, what: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    plain_off_this_machine(&parsed).then(|| {
        format!(
            "{what} was not sent: {} is reached by plain {}, where anyone on the way could \
             read it; use https://",
            parsed.host_str().unwrap_or_default(),
            parsed.scheme()
        )
    })
}

/// Whether a URL is unencrypted (`http://`, `ws://`) and leads to another machine.
pub(crate) fn plain_off_this_machine(url: &url::Url) -> bool {
    matches!(url.scheme(), "http" | "ws") && url.host_str().is_some_and(|h| !is_this_machine(h))
}

/// Whether a host names this machine: `localhost` or a loopback address (bracketed or not).
pub(crate) fn is_this_machine(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_goes_only_over_tls_or_to_this_machine() {
        for url in [
            "http://api.example.com/v1",
            "ws://10.0.0.5:8000",
            "http://192.168.1.4:11434/v1",
        ] {
            assert!(in_the_clear(url, "the key").is_some(), "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:11434/v1",
            "http://localhost:1234/v1",
            "http://[::1]:8080/v1",
            "wss://db.example.com",
        ] {
            assert!(in_the_clear(url, "the key").is_none(), "{url}");
        }
    }
}
