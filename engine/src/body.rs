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

/// A whole body of at most `max` bytes as text; `Err` says it was larger (`who` sent it).
pub(crate) async fn text_within(
    response: reqwest::Response,
    max: usize,
    who: &str,
) -> Result<String, String> {
    let (body, more) = read_capped(response, max).await;
    if more {
        return Err(format!(
            "{who} sent an answer larger than {}; it was not read",
            size(max)
        ));
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The start of an error body (at most `MAX_ERROR`), for its message.
pub(crate) async fn error_text(response: reqwest::Response) -> String {
    let (body, _) = read_capped(response, MAX_ERROR).await;
    String::from_utf8_lossy(&body).into_owned()
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}
