//! A disk image at a URL (an Azure blob with a SAS, an S3 presigned URL,
//! any server that serves byte ranges), read by HTTP range requests through
//! a bounded block cache: nothing is downloaded whole.
//!
//! The query string of a URL often holds a secret (a SAS token, a
//! signature): it is sent, and never shown. Reports, errors and `-v` name a
//! URL without it ([`super::display_name`]), and every message from the
//! HTTP client has its URLs' queries cut ([`scrub`]).
//!
//! The client is ureq with rustls and the Mozilla roots (webpki-roots):
//! the same trust on Linux and Windows, with no OpenSSL and no system
//! store to depend on. `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
//! `NO_PROXY` are honoured (an HTTP proxy is asked to CONNECT).
//! `TLSREG_HTTP_TIMEOUT` (seconds) bounds connecting and each wait for
//! bytes: 30 by default.

mod cache;

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use cache::{Cache, CachedDisk, Fetch, SHAPE, Shape};

use super::{Place, Source, SourceError, file_name_of, relative_parts};

/// What one URL input cost: requests made and bytes received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The URL without its query string.
    pub name: String,
    pub requests: u64,
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
}

/// Every URL input opened by this process, in order, with its counts so
/// far (the files it names beside it, extents and parents, count with it).
pub fn stats() -> Vec<Stat> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(name, c)| Stat {
            name: name.clone(),
            requests: c.requests.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
        })
        .collect()
}

/// Each URL input's name and counts, for [`stats`].
type Registry = Mutex<Vec<(String, Arc<Counters>)>>;

fn registry() -> &'static Registry {
    static REGISTRY: Registry = Mutex::new(Vec::new());
    &REGISTRY
}

/// A byte count as people read it: `512 bytes`, `3.2 MiB`.
pub fn amount(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A URL split where its query starts (a fragment is never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    /// Scheme, authority and path.
    base: String,
    /// `?...`, or empty.
    query: String,
}

impl Url {
    fn parse(arg: &str) -> Url {
        let sent = arg.split('#').next().unwrap_or(arg);
        let (base, query) = match sent.find('?') {
            Some(at) => sent.split_at(at),
            None => (sent, ""),
        };
        Url {
            base: base.to_owned(),
            query: query.to_owned(),
        }
    }

    fn full(&self) -> String {
        format!("{}{}", self.base, self.query)
    }

    /// The URL of a file beside this one: `parts` (a relative name's
    /// components) under this URL's folder, with this URL's query (an
    /// Azure container SAS signs every blob of the container).
    fn beside(&self, parts: &[&str]) -> Url {
        let authority = self.base.find("://").map_or(0, |at| at + 3);
        let folder = match self.base[authority..].rfind('/') {
            Some(at) => &self.base[..authority + at + 1],
            None => &self.base[..],
        };
        let mut base = folder.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let encoded: Vec<String> = parts.iter().map(|p| encode(p)).collect();
        base.push_str(&encoded.join("/"));
        Url {
            base,
            query: self.query.clone(),
        }
    }
}

impl Url {
    /// Where a name written in an image is looked for, in order: a relative
    /// name under this URL's folder, then its file name alone there.
    fn candidates(&self, name: &str) -> Vec<Url> {
        let mut candidates: Vec<Url> = Vec::new();
        if let Some(parts) = relative_parts(name) {
            candidates.push(self.beside(&parts));
        }
        let alone = file_name_of(name);
        if !alone.is_empty() && alone != "." && alone != ".." {
            let url = self.beside(&[alone]);
            if !candidates.contains(&url) {
                candidates.push(url);
            }
        }
        candidates
    }
}

/// A name written in an image as one path segment of a URL.
fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for &b in part.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `text` with the query of every URL in it cut (`?` up to the next space
/// or quote): a client's message may quote the URL it was given, or the one
/// a redirect led to.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let token_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        // `tail` starts at `://`: a `user:password@` after it goes too.
        let token = super::without_userinfo(&tail[..token_end]);
        match token.find(['?', '#']) {
            Some(q) => {
                out.push_str(&token[..q]);
                out.push_str("?…");
            }
            None => out.push_str(&token),
        }
        rest = &tail[token_end..];
    }
    out.push_str(rest);
    out
}

/// The timeout for connecting and for each wait for bytes.
fn timeout() -> Duration {
    std::env::var("TLSREG_HTTP_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64)
}

/// One client for the process: connections are kept and reused between
/// the requests of an image and across images on one server.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let t = Some(timeout());
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(ureq::Proxy::try_from_env())
            .timeout_resolve(t)
            .timeout_connect(t)
            .timeout_send_request(t)
            .timeout_recv_response(t)
            .timeout_per_read(t)
            .max_redirects(10)
            .user_agent(format!("tlsreg/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    })
}

/// What the files of one image share: one cache (so the image's memory is
/// bounded whatever number of extents or parents it spans) and one count.
struct Family {
    cache: Arc<Cache>,
    counters: Arc<Counters>,
}

/// Ranged GETs of one URL.
pub struct HttpFetch {
    url: Url,
    counters: Arc<Counters>,
    /// The file's size, as the first answer gave it.
    size: u64,
}

/// A disk at a URL.
pub type HttpDisk = CachedDisk<HttpFetch>;

impl HttpFetch {
    fn shown(&self) -> &str {
        &self.url.base
    }

    /// A GET of bytes `first..=last`, tried once more if the connection
    /// dropped (a kept connection the server had closed); a status is an
    /// answer, never retried.
    fn get(&self, first: u64, last: u64) -> io::Result<ureq::http::Response<ureq::Body>> {
        let mut tried = 0;
        loop {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let sent = agent()
                .get(self.url.full())
                .header("Range", format!("bytes={first}-{last}"))
                .call();
            match sent {
                Ok(response) => return Ok(response),
                Err(e) if tried == 0 && dropped(&e) => tried += 1,
                Err(e) => return Err(client_error(e)),
            }
        }
    }

    /// Bytes `first..=last` (or fewer at the end of the file): the file's
    /// size and a reader of the bytes, which start at `first`.
    fn ranged(&self, first: u64, last: u64) -> io::Result<(u64, u64, ureq::BodyReader<'static>)> {
        let response = self.get(first, last)?;
        let status = response.status().as_u16();
        let range = response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match status {
            206 => {}
            // An empty file has no byte 0 to serve.
            416 if first == 0 => {
                if let Some((None, 0)) = range.as_deref().and_then(content_range) {
                    return Ok((0, 0, response.into_body().into_reader()));
                }
            }
            _ => {}
        }
        if status != 206 {
            // The body is dropped unread: a server that ignores ranges
            // would send the whole image.
            return Err(status_error(status, response.status().canonical_reason()));
        }
        let parsed = range.as_deref().and_then(content_range);
        match parsed {
            Some((Some((a, b)), total)) if a == first && b >= a && b <= last && b < total => {
                // Short only where the file ends.
                if b < last && b + 1 != total {
                    return Err(io::Error::other(format!(
                        "the server sent bytes {a}-{b} of {total} for bytes {first}-{last}"
                    )));
                }
                Ok((total, b - a + 1, response.into_body().into_reader()))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server answered bytes {first}-{last} with Content-Range {}",
                    range
                        .as_deref()
                        .map_or("missing".to_owned(), |r| format!("{r:?}"))
                ),
            )),
        }
    }

    /// Reads `buf.len()` bytes of a body, counting them.
    fn receive(&self, reader: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match reader.read(&mut buf[done..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the connection ended after {done} of {} bytes", buf.len()),
                    ));
                }
                Ok(n) => {
                    done += n;
                    self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        // The body's end, read: the connection then goes back to the pool
        // for the next request (no new TCP and TLS handshake each time).
        match reader.read(&mut [0u8; 1]) {
            Ok(0) => Ok(()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server sent more than the {} bytes asked for",
                    buf.len()
                ),
            )),
            Err(e) => Err(io_error(e)),
        }
    }
}

impl Fetch for HttpFetch {
    fn fetch(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", self.shown()));
        let last = offset + buf.len() as u64 - 1;
        let (total, len, mut reader) = self.ranged(offset, last).map_err(named)?;
        if total != self.size {
            return Err(named(io::Error::other(format!(
                "the file changed while it was read: {total} bytes now, {} before",
                self.size
            ))));
        }
        if len != buf.len() as u64 {
            return Err(named(io::Error::other(format!(
                "the server sent {len} bytes for bytes {offset}-{last}"
            ))));
        }
        self.receive(&mut reader, buf).map_err(named)
    }
}

/// `bytes A-B/TOTAL` (or `bytes */TOTAL`): the range and the total.
fn content_range(value: &str) -> Option<(Option<(u64, u64)>, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total: u64 = total.trim().parse().ok()?;
    match range.trim() {
        "*" => Some((None, total)),
        r => {
            let (a, b) = r.split_once('-')?;
            Some((
                Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
                total,
            ))
        }
    }
}

/// Whether a request failed because the connection went away (worth one
/// more try), not by an answer or a timeout.
fn dropped(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// What a status means to someone auditing an image at a URL.
fn status_error(status: u16, reason: Option<&str>) -> io::Error {
    let what = format!(
        "HTTP {status}{}",
        reason.map(|r| format!(" {r}")).unwrap_or_default()
    );
    match status {
        200 => io::Error::new(
            io::ErrorKind::Unsupported,
            "the server does not serve byte ranges (it answered 200 with the whole file, which is not downloaded)",
        ),
        401 | 403 => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("access denied ({what}): the URL's signature or token may be wrong or expired"),
        ),
        404 | 410 => io::Error::new(io::ErrorKind::NotFound, format!("not found ({what})")),
        _ => io::Error::other(format!("the server answered {what}")),
    }
}

fn client_error(e: ureq::Error) -> io::Error {
    let kind = match &e {
        ureq::Error::Timeout(_) => io::ErrorKind::TimedOut,
        ureq::Error::Io(io) => io.kind(),
        _ => io::ErrorKind::Other,
    };
    // rustls's errors come inside io::Error from the TLS stream.
    let tls = match &e {
        ureq::Error::Io(io) => io.get_ref().is_some_and(|i| i.is::<rustls::Error>()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => true,
        _ => false,
    };
    let text = match &e {
        _ if tls => format!("TLS failed: {}", io_text(&e)),
        ureq::Error::Timeout(_) => format!("no answer in time ({e})"),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::ConnectionFailed => "could not connect".to_owned(),
        _ => io_text(&e),
    };
    io::Error::new(kind, scrub(&text))
}

/// A client error's words without ureq's `io: ` prefix.
fn io_text(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// An error while receiving a body: ureq hands its own errors wrapped.
fn io_error(e: io::Error) -> io::Error {
    let kind = e.kind();
    match e.into_inner() {
        Some(inner) => match inner.downcast::<ureq::Error>() {
            Ok(ureq) => client_error(*ureq),
            Err(other) => io::Error::new(kind, scrub(&other.to_string())),
        },
        None => io::Error::from(kind),
    }
}

/// Opens an image at a URL (`http://` or `https://`) named on purpose.
pub fn open(arg: &str) -> Result<Source, SourceError> {
    let url = Url::parse(arg);
    let family = Arc::new(Family {
        cache: Cache::new(SHAPE),
        counters: Arc::default(),
    });
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((url.base.clone(), family.counters.clone()));
    let source = open_in(url, family)?;
    // WIMs are read from files (by path) today: said plainly rather than
    // "not a disk image".
    let mut head = [0u8; 8];
    if source.disk.read_exact_at(0, &mut head).is_ok() && crate::image::wim::is_wim(&head) {
        return Err(SourceError::Open {
            name: source.name(),
            source: io::Error::new(
                io::ErrorKind::Unsupported,
                "a WIM is read from a file only, not at a URL (download it, or audit the disk image it was applied to)",
            ),
        });
    }
    Ok(source)
}

/// The first request learns the size (and that ranges are served) and
/// brings the first block.
fn open_in(url: Url, family: Arc<Family>) -> Result<Source, SourceError> {
    let shown = url.base.clone();
    let fail = |source: io::Error| SourceError::Open {
        name: shown.clone(),
        source,
    };
    let mut fetch = HttpFetch {
        url: url.clone(),
        counters: family.counters.clone(),
        size: 0,
    };
    let block = SHAPE.block as u64;
    let (total, len, mut reader) = fetch.ranged(0, block - 1).map_err(fail)?;
    // `len` is at most a block: the range asked for.
    let mut first = vec![0u8; len as usize];
    fetch.receive(&mut reader, &mut first).map_err(fail)?;
    drop(reader);
    fetch.size = total;
    let disk = CachedDisk::new(family.cache.clone(), total, fetch);
    disk.prime(0, &first);
    Ok(Source {
        disk: Arc::new(disk),
        place: Arc::new(UrlPlace { url, family }),
    })
}

/// A file at a URL; the files it names are looked for in its folder, with
/// its query string.
pub struct UrlPlace {
    url: Url,
    family: Arc<Family>,
}

impl Place for UrlPlace {
    fn name(&self) -> String {
        super::without_userinfo(&self.url.base)
    }

    /// A relative name under the URL's folder, then its file name alone in
    /// that folder (where an absolute name, `D:\VMs\base.vhdx`, is looked
    /// for too), as for a file on disk.
    fn open_beside(&self, name: &str) -> Result<Source, SourceError> {
        let candidates = self.url.candidates(name);
        for url in &candidates {
            match open_in(url.clone(), self.family.clone()) {
                Err(SourceError::Open { source, .. })
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    continue;
                }
                other => return other,
            }
        }
        Err(SourceError::NotFound {
            wanted: name.to_owned(),
            beside: self.name(),
            tried: candidates.iter().map(|u| u.base.clone()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_beside_keep_the_query() {
        let u =
            Url::parse("https://acct.blob.core.windows.net/vms/win/disk.vmdk?sv=1&sig=S%3D#frag");
        assert_eq!(
            u.base,
            "https://acct.blob.core.windows.net/vms/win/disk.vmdk"
        );
        assert_eq!(u.query, "?sv=1&sig=S%3D");
        assert_eq!(
            u.beside(&["disk-flat.vmdk"]).full(),
            "https://acct.blob.core.windows.net/vms/win/disk-flat.vmdk?sv=1&sig=S%3D"
        );
        assert_eq!(
            u.beside(&["sub", "my disk #2.vmdk"]).full(),
            "https://acct.blob.core.windows.net/vms/win/sub/my%20disk%20%232.vmdk?sv=1&sig=S%3D"
        );
        let root = Url::parse("http://127.0.0.1:8080");
        assert_eq!(
            root.beside(&["a.vmdk"]).full(),
            "http://127.0.0.1:8080/a.vmdk"
        );
        let top = Url::parse("http://h/x.vhd?k");
        assert_eq!(top.beside(&["p.vhd"]).full(), "http://h/p.vhd?k");
    }

    #[test]
    fn names_written_in_images_are_looked_for_beside_the_url() {
        let u = Url::parse("https://h/vms/child.vhdx?sig=x");
        let full =
            |name: &str| -> Vec<String> { u.candidates(name).iter().map(Url::full).collect() };
        assert_eq!(
            full(r"D:\Hyper-V\base.vhdx"),
            ["https://h/vms/base.vhdx?sig=x"]
        );
        assert_eq!(
            full(r"sub\base.vmdk"),
            [
                "https://h/vms/sub/base.vmdk?sig=x",
                "https://h/vms/base.vmdk?sig=x"
            ]
        );
        assert_eq!(full("../base.vmdk"), ["https://h/vms/base.vmdk?sig=x"]);
        assert_eq!(full("base.vmdk"), ["https://h/vms/base.vmdk?sig=x"]);
        assert!(full("..").is_empty());
    }

    #[test]
    fn queries_are_cut_from_messages() {
        assert_eq!(
            scrub("bad uri: https://h/a.vhdx?sig=SECRET&x=1 (redirect to http://o/b?t=2)"),
            // Up to the next space: what follows a query may be part of it.
            "bad uri: https://h/a.vhdx?… (redirect to http://o/b?…"
        );
        assert_eq!(scrub("no url here? no."), "no url here? no.");
        assert_eq!(scrub("x://"), "x://");
        assert_eq!(scrub("at https://me:pw@h/a?s=1 ok"), "at https://h/a?… ok");
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            content_range("bytes 0-99/1000"),
            Some((Some((0, 99)), 1000))
        );
        assert_eq!(content_range("bytes */0"), Some((None, 0)));
        assert_eq!(content_range("bytes 0-99/*"), None);
        assert_eq!(content_range("items 0-1/2"), None);
        assert_eq!(content_range("bytes 5-x/9"), None);
    }

    #[test]
    fn amounts() {
        assert_eq!(amount(512), "512 bytes");
        assert_eq!(amount(3 << 20 | 200 << 10), "3.2 MiB");
        assert_eq!(amount(40 << 30), "40.0 GiB");
    }
}
