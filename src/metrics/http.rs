//! A minimal HTTP/1.x responder for `GET /metrics`: one request per
//! connection, answered and closed. Prometheus needs nothing more, and a
//! full HTTP stack would be the largest dependency in the build.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::debug;

use crate::server::Shared;

/// Largest request head we read; a scraper's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// A scraper that has not sent its request by then is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Scrapes served at once; more connections are closed at once, so a
/// client opening sockets in a loop cannot pile up tasks.
const MAX_SCRAPES: usize = 8;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves scrapes until the server shuts down; then aborts the scrapes in
/// flight (each holds only a rendered string and a socket).
pub async fn serve(srv: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = srv.shutdown_rx();
    let mut scrapes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((_, peer)) if scrapes.len() >= MAX_SCRAPES => {
                    debug!(%peer, "too many concurrent metrics requests; closing");
                }
                Ok((stream, peer)) => {
                    let srv = srv.clone();
                    scrapes.spawn(async move {
                        if let Err(e) = respond(&srv, stream).await {
                            debug!(%peer, error = %e, "metrics request failed");
                        }
                    });
                }
                Err(e) => {
                    debug!(error = %e, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished scrapes so the set does not grow.
            Some(_) = scrapes.join_next(), if !scrapes.is_empty() => {}
            _ = Shared::shutdown_requested(&mut shutdown) => break,
        }
    }
    scrapes.shutdown().await;
}

async fn respond(srv: &Shared, mut stream: TcpStream) -> std::io::Result<()> {
    let head = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Ok(h) => h?,
        Err(_) => return Ok(()),
    };
    let (status, body) = match route(&head) {
        Route::Metrics { head_only } => {
            let text = match &srv.metrics {
                Some(m) => m.render(srv),
                None => String::new(),
            };
            (
                "200 OK",
                if head_only {
                    Body::Empty(text.len())
                } else {
                    Body::Text(text)
                },
            )
        }
        Route::NotFound => (
            "404 Not Found",
            Body::Text("not found; try /metrics\n".into()),
        ),
        Route::BadMethod => ("405 Method Not Allowed", Body::Text("use GET\n".into())),
        Route::BadRequest => ("400 Bad Request", Body::Text("bad request\n".into())),
    };
    let (len, text) = match &body {
        Body::Text(t) => (t.len(), t.as_str()),
        Body::Empty(n) => (*n, ""),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}

enum Body {
    Text(String),
    /// HEAD: the length of the body we would have sent.
    Empty(usize),
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics { head_only: bool },
    NotFound,
    BadMethod,
    BadRequest,
}

/// Reads up to the blank line ending the request head (or EOF, or
/// [`MAX_HEAD`] bytes).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_HEAD && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

fn route(head: &[u8]) -> Route {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with(b"HTTP/1.") {
        return Route::BadRequest;
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    if path != b"/metrics" {
        return Route::NotFound;
    }
    match method {
        b"GET" => Route::Metrics { head_only: false },
        b"HEAD" => Route::Metrics { head_only: true },
        _ => Route::BadMethod,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Route::Metrics { head_only: false }
        );
        assert_eq!(
            route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Route::Metrics { head_only: false }
        );
        assert_eq!(
            route(b"HEAD /metrics HTTP/1.1\r\n\r\n"),
            Route::Metrics { head_only: true }
        );
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Route::BadMethod);
        assert_eq!(route(b"garbage\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(b""), Route::BadRequest);
    }
}
