//! `keyward --ping`: a health check for containers (`HEALTHCHECK CMD
//! keyward --ping`). Connects, logs in when a password is known, sends
//! PING; exit status 0 on `+PONG`, 1 on anything else (refused, -LOADING,
//! -DENIED, a failed AUTH, a timeout). Never prints the password.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

const USAGE: &str = "Usage: keyward --ping [--host H] [--port N | --unixsocket PATH] [--user U] [--pass P] [--timeout SECONDS]
                      [--tls --cacert FILE | --cacertdir DIR [--cert FILE --key FILE] [--sni NAME]]
  The port defaults to $PORT, else 6379; the password to $REDIS_PASSWORD (no AUTH without one).
  --tls speaks TLS to a tls-port, verifying the server against the CA (redis-cli's flags).";

/// What to reach and how.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub unixsocket: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub timeout: Duration,
    /// `--tls`: TLS over TCP (not with `--unixsocket`).
    pub tls: Option<TlsTarget>,
}

/// redis-cli's TLS flags.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct TlsTarget {
    pub cacert: String,
    pub cacertdir: String,
    pub cert: String,
    pub key: String,
    /// The name the certificate must carry; the host by default.
    pub sni: Option<String>,
}

/// Parses the words after `--ping`; `env` reads the environment.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Target, String> {
    let mut t = Target {
        host: "127.0.0.1".into(),
        port: 6379,
        unixsocket: None,
        user: None,
        pass: env("REDIS_PASSWORD").filter(|p| !p.is_empty()),
        timeout: Duration::from_secs(5),
        tls: None,
    };
    let mut tls = TlsTarget::default();
    let mut tls_flags = false;
    if let Some(p) = env("PORT").filter(|p| !p.is_empty()) {
        t.port = p.parse().map_err(|_| format!("PORT={p} is not a port"))?;
    }
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--host" | "-h" => t.host = value()?,
            "--port" | "-p" => {
                let v = value()?;
                t.port = v.parse().map_err(|_| format!("--port {v}: not a port"))?;
            }
            "--unixsocket" | "-s" => t.unixsocket = Some(value()?),
            "--user" => t.user = Some(value()?),
            "--pass" | "-a" => t.pass = Some(value()?).filter(|p| !p.is_empty()),
            "--timeout" => {
                let v = value()?;
                let s: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| format!("--timeout {v}: not a number of seconds"))?;
                t.timeout = Duration::from_secs_f64(s);
            }
            "--tls" => t.tls = Some(TlsTarget::default()),
            "--cacert" => (tls.cacert, tls_flags) = (value()?, true),
            "--cacertdir" => (tls.cacertdir, tls_flags) = (value()?, true),
            "--cert" => (tls.cert, tls_flags) = (value()?, true),
            "--key" => (tls.key, tls_flags) = (value()?, true),
            "--sni" => (tls.sni, tls_flags) = (Some(value()?), true),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    match (&t.tls, tls_flags) {
        (Some(_), _) if t.unixsocket.is_some() => {
            return Err(format!("--tls is for TCP, not --unixsocket\n{USAGE}"))
        }
        (Some(_), _) => t.tls = Some(tls),
        (None, true) => return Err(format!("TLS flags need --tls\n{USAGE}")),
        (None, false) => {}
    }
    Ok(t)
}

/// Runs the check: Ok(()) when the server answered PONG.
pub fn ping(t: &Target) -> Result<(), String> {
    match &t.unixsocket {
        #[cfg(unix)]
        Some(path) => {
            let s = std::os::unix::net::UnixStream::connect(path)
                .map_err(|e| format!("cannot connect to {path}: {e}"))?;
            s.set_read_timeout(Some(t.timeout))
                .map_err(|e| e.to_string())?;
            s.set_write_timeout(Some(t.timeout))
                .map_err(|e| e.to_string())?;
            talk(s, t)
        }
        #[cfg(not(unix))]
        Some(_) => Err("unix sockets need a unix system".into()),
        None => {
            use std::net::ToSocketAddrs;
            let addrs: Vec<_> = (t.host.as_str(), t.port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
                .collect();
            let mut last = format!("{} resolves to no address", t.host);
            for a in addrs {
                match std::net::TcpStream::connect_timeout(&a, t.timeout) {
                    Ok(s) => {
                        s.set_read_timeout(Some(t.timeout))
                            .map_err(|e| e.to_string())?;
                        s.set_write_timeout(Some(t.timeout))
                            .map_err(|e| e.to_string())?;
                        return match &t.tls {
                            None => talk(s, t),
                            Some(tls) => talk(tls_stream(s, tls, &t.host)?, t),
                        };
                    }
                    Err(e) => last = format!("cannot connect to {a}: {e}"),
                }
            }
            Err(last)
        }
    }
}

/// The client side of a TLS connection over `tcp`, verifying the server's
/// certificate for `--sni` (else the host) against the CA.
fn tls_stream(
    tcp: std::net::TcpStream,
    tls: &TlsTarget,
    host: &str,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>, String> {
    if tls.cacert.is_empty() && tls.cacertdir.is_empty() {
        return Err("--tls needs --cacert FILE or --cacertdir DIR to verify the server (the system's bundle is usually /etc/ssl/certs/ca-certificates.crt)".into());
    }
    let config = crate::tls::client_config(&tls.cacert, &tls.cacertdir, &tls.cert, &tls.key)?;
    let name = tls.sni.as_deref().unwrap_or(host);
    let name = rustls::pki_types::ServerName::try_from(name.to_string())
        .map_err(|e| format!("--sni {name}: {e}"))?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

fn talk<S: Read + Write>(stream: S, t: &Target) -> Result<(), String> {
    let mut r = BufReader::new(stream);
    if let Some(pass) = &t.pass {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = &t.user {
            args.push(u.as_bytes());
        }
        args.push(pass.as_bytes());
        let reply = call(&mut r, &args)?;
        if reply != "+OK" {
            // The server's error names no secret (AUTH's own texts).
            return Err(format!("AUTH failed: {reply}"));
        }
    }
    let reply = call(&mut r, &[b"PING"])?;
    if reply == "+PONG" {
        Ok(())
    } else {
        Err(reply)
    }
}

/// Sends one command, returns its one-line reply (without CRLF).
fn call<S: Read + Write>(r: &mut BufReader<S>, args: &[&[u8]]) -> Result<String, String> {
    let mut req = Vec::new();
    crate::protocol::encode_command(&mut req, args);
    r.get_mut()
        .write_all(&req)
        .map_err(|e| format!("write: {e}"))?;
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => Err("connection closed".into()),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// `keyward --ping …`: the process's exit status.
pub fn main(args: &[String]) -> u8 {
    let target = match parse(args, |k| std::env::var(k).ok()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("keyward --ping: {e}");
            return 1;
        }
    };
    match ping(&target) {
        Ok(()) => {
            println!("PONG");
            0
        }
        Err(e) => {
            eprintln!("keyward --ping: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn defaults_come_from_the_environment() {
        let env = |k: &str| match k {
            "PORT" => Some("7000".to_string()),
            "REDIS_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let t = parse(&[], env).expect("parses");
        assert_eq!(
            (t.host.as_str(), t.port, t.pass.as_deref()),
            ("127.0.0.1", 7000, Some("pw"))
        );
        let t = parse(&words("--port 1 --host ::1 --pass x --user u"), env).expect("parses");
        assert_eq!((t.host.as_str(), t.port), ("::1", 1));
        assert_eq!(
            (t.user.as_deref(), t.pass.as_deref()),
            (Some("u"), Some("x"))
        );
        assert!(parse(&words("--port x"), |_| None).is_err());
        assert!(parse(&words("--bogus"), |_| None).is_err());
        assert!(parse(&[], |k| (k == "PORT").then(|| "x".into())).is_err());
    }

    #[test]
    fn tls_flags_need_tls_and_tcp() {
        let t = parse(&words("--tls --cacert ca.pem --sni example"), |_| None).expect("parses");
        let tls = t.tls.expect("tls");
        assert_eq!(
            (tls.cacert.as_str(), tls.sni.as_deref()),
            ("ca.pem", Some("example"))
        );
        assert!(parse(&words("--cacert ca.pem"), |_| None).is_err());
        assert!(parse(&words("--tls --unixsocket /s"), |_| None).is_err());
        assert_eq!(parse(&[], |_| None).expect("parses").tls, None);
    }
}
