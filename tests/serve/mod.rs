//! A small HTTP/1.1 server on 127.0.0.1 for the tests that read images at
//! URLs: byte ranges (206 with Content-Range) from files read with
//! positioned reads (so a sparse 40 GiB file costs what is read of it),
//! keep-alive, and on demand a server that ignores ranges, answers a
//! status, or stalls. It counts requests and body bytes sent, and keeps the
//! request lines. Also a CONNECT proxy that records what it was asked.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tlsreg::image::{Disk, FileDisk};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Byte ranges, as Azure, S3 and most servers serve them.
    Ranges,
    /// 200 and the whole body, whatever the Range header says.
    NoRanges,
    /// This status for every request.
    Status(u16),
    /// Reads the request and answers nothing (until the server is dropped).
    Stall,
    /// Closes the connection of the first request unanswered, then serves
    /// ranges: a kept connection the server had dropped.
    DropFirst,
}

#[derive(Default)]
struct State {
    files: Mutex<HashMap<String, PathBuf>>,
    mode: Mutex<Option<Mode>>,
    /// A query every request must carry (else 403), as a SAS is checked.
    query: Mutex<Option<String>>,
    requests: AtomicU64,
    connections: AtomicU64,
    bytes: AtomicU64,
    lines: Mutex<Vec<String>>,
    /// Path -> where a 307 sends it (as S3 redirects to a region).
    redirects: Mutex<HashMap<String, String>>,
    dropped: AtomicBool,
    stop: AtomicBool,
}

pub struct Server {
    pub port: u16,
    state: Arc<State>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        *state.mode.lock().unwrap() = Some(mode);
        let shared = state.clone();
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let state = shared.clone();
                thread::spawn(move || {
                    let _ = serve(conn, &state);
                });
            }
        });
        Server {
            port,
            state,
            accept: Some(accept),
        }
    }

    /// Serves `file` at `/path` (`path` starts with `/`).
    pub fn add(&self, path: &str, file: &Path) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(path.to_owned(), file.to_path_buf());
    }

    /// Answers `path` with a 307 to `location` (any query: it is not
    /// checked there).
    pub fn redirect(&self, path: &str, location: &str) {
        self.state
            .redirects
            .lock()
            .unwrap()
            .insert(path.to_owned(), location.to_owned());
    }

    pub fn require_query(&self, query: &str) {
        *self.state.query.lock().unwrap() = Some(query.to_owned());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Body bytes written to the sockets.
    pub fn bytes(&self) -> u64 {
        self.state.bytes.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.state.requests.store(0, Ordering::SeqCst);
        self.state.connections.store(0, Ordering::SeqCst);
        self.state.bytes.store(0, Ordering::SeqCst);
        self.state.lines.lock().unwrap().clear();
    }

    /// The request lines received (`GET /x.vhd?q HTTP/1.1`).
    pub fn lines(&self) -> Vec<String> {
        self.state.lines.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// The head of a request: its line and its headers (lower-cased names).
fn head(reader: &mut impl BufRead) -> io::Result<Option<(String, HashMap<String, String>)>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    Ok(Some((line.trim().to_owned(), headers)))
}

fn serve(conn: TcpStream, state: &State) -> io::Result<()> {
    // An idle kept connection ends on its own.
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    while let Some((line, headers)) = head(&mut reader)? {
        if state.stop.load(Ordering::SeqCst) {
            break;
        }
        state.requests.fetch_add(1, Ordering::SeqCst);
        state.lines.lock().unwrap().push(line.clone());
        let mode = state.mode.lock().unwrap().unwrap_or(Mode::Ranges);
        let target = line.split(' ').nth(1).unwrap_or("/");
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let head_only = line.starts_with("HEAD ");
        match mode {
            Mode::Stall => {
                let until = Instant::now() + Duration::from_secs(60);
                while !state.stop.load(Ordering::SeqCst) && Instant::now() < until {
                    thread::sleep(Duration::from_millis(50));
                }
                return Ok(());
            }
            Mode::Status(code) => {
                status(&mut out, code, "refused")?;
                continue;
            }
            Mode::DropFirst if !state.dropped.swap(true, Ordering::SeqCst) => {
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            _ => {}
        }
        let moved = state.redirects.lock().unwrap().get(path).cloned();
        if let Some(location) = moved {
            write!(
                out,
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            )?;
            continue;
        }
        let wanted = state.query.lock().unwrap().clone();
        if wanted.is_some() && wanted.as_deref() != query {
            status(&mut out, 403, "the signature does not match")?;
            continue;
        }
        let file = state.files.lock().unwrap().get(path).cloned();
        let Some(file) = file else {
            status(&mut out, 404, "no such blob")?;
            continue;
        };
        // Positioned reads (tlsreg's own file disk): a sparse 40 GiB file
        // costs what is read of it.
        let f = FileDisk::new(File::open(&file)?)?;
        let size = f.size();
        let range = headers.get("range").and_then(|r| parse_range(r, size));
        match (mode, range) {
            (Mode::Ranges | Mode::DropFirst, Some(Ok((a, b)))) => {
                write!(
                    out,
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {a}-{b}/{size}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n\r\n",
                    b - a + 1
                )?;
                if !head_only {
                    body(&mut out, &f, a, b + 1, state)?;
                }
            }
            (Mode::Ranges | Mode::DropFirst, Some(Err(()))) => {
                write!(
                    out,
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{size}\r\nContent-Length: 0\r\n\r\n"
                )?;
            }
            _ => {
                write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n")?;
                if !head_only {
                    body(&mut out, &f, 0, size, state)?;
                }
            }
        }
        out.flush()?;
    }
    let _ = out.shutdown(Shutdown::Both);
    Ok(())
}

fn status(out: &mut TcpStream, code: u16, text: &str) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {code} {text}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{text}",
        text.len()
    )?;
    out.flush()
}

/// `bytes=A-B` or `bytes=A-`: the inclusive range within `size`, or
/// `Err` when it starts past the end.
fn parse_range(value: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let r = value.strip_prefix("bytes=")?;
    let (a, b) = r.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = match b.trim() {
        "" => u64::MAX,
        b => b.parse().ok()?,
    };
    if a >= size || b < a {
        return Some(Err(()));
    }
    Some(Ok((a, b.min(size - 1))))
}

fn body(out: &mut TcpStream, f: &FileDisk, from: u64, to: u64, state: &State) -> io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(buf.len());
        f.read_exact_at(at, &mut buf[..n])?;
        out.write_all(&buf[..n])?;
        state.bytes.fetch_add(n as u64, Ordering::SeqCst);
        at += n as u64;
    }
    Ok(())
}

/// A CONNECT proxy on 127.0.0.1 that records each CONNECT line and pipes
/// the tunnel both ways.
pub struct Proxy {
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let (seen, stopped) = (lines.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let seen = seen.clone();
                thread::spawn(move || {
                    let _ = tunnel(conn, &seen);
                });
            }
        });
        Proxy { port, lines, stop }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn tunnel(conn: TcpStream, seen: &Mutex<Vec<String>>) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let Some((line, _)) = head(&mut reader)? else {
        return Ok(());
    };
    seen.lock().unwrap().push(line.clone());
    let mut out = conn;
    let target = line.split(' ').nth(1).unwrap_or("");
    // Only to this machine: the tests' servers are all on loopback.
    if !line.starts_with("CONNECT ") || !target.starts_with("127.0.0.1:") {
        write!(out, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    }
    let upstream = TcpStream::connect(target)?;
    upstream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(out, "HTTP/1.1 200 Connection established\r\n\r\n")?;
    out.flush()?;
    // Bytes the client sent after the CONNECT head are in the reader's buffer.
    let mut up_write = upstream.try_clone()?;
    let pending = reader.buffer().to_vec();
    up_write.write_all(&pending)?;
    let mut down = out.try_clone()?;
    let mut up_read = upstream;
    let back = thread::spawn(move || {
        let _ = io::copy(&mut up_read, &mut down);
        let _ = down.shutdown(Shutdown::Both);
    });
    let mut client = reader.into_inner();
    let _ = io::copy(&mut client, &mut up_write);
    let _ = up_write.shutdown(Shutdown::Both);
    let _ = back.join();
    Ok(())
}

/// A port where something answers plain HTTP to whatever it is sent (for
/// an https:// URL that meets no TLS), for one connection.
pub fn plain_once() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            let _ = conn.shutdown(Shutdown::Both);
        }
    });
    port
}
