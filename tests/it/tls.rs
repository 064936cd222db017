//! TLS on `tls-port` (Redis 6+'s options): certificates made here with
//! rcgen (a CA, a server certificate for 127.0.0.1/localhost, client
//! certificates), clients from the `redis` crate, a small rustls client
//! that can look at the server's certificate, and `redis-cli --tls`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::support::{free_port, Raw};

/// A CA and the files of what it signed, in a directory of their own.
struct Pki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

/// A certificate and its key, as PEM files.
#[derive(Clone)]
struct Pair {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

impl Pki {
    fn new(name: &str) -> Pki {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "keyward-tls-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca_key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, format!("keyward test CA {name}"));
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = p.self_signed(&ca_key).expect("CA");
        std::fs::write(dir.join("ca.crt"), ca.pem()).expect("write");
        Pki { dir, ca, ca_key }
    }

    fn ca_file(&self) -> String {
        self.dir.join("ca.crt").display().to_string()
    }

    /// A certificate signed by this CA; `server` = for 127.0.0.1 and
    /// localhost, else a client certificate.
    fn issue(&self, file: &str, cn: &str, serial: u64, server: bool) -> Pair {
        let sans = if server {
            vec!["localhost".to_string(), "127.0.0.1".to_string()]
        } else {
            Vec::new()
        };
        let mut p = CertificateParams::new(sans).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.serial_number = Some(SerialNumber::from(serial));
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &self.ca, &self.ca_key).expect("sign");
        let pair = Pair {
            cert: self.dir.join(format!("{file}.crt")),
            key: self.dir.join(format!("{file}.key")),
            der: cert.der().clone(),
        };
        std::fs::write(&pair.cert, cert.pem()).expect("write");
        std::fs::write(&pair.key, key.serialize_pem()).expect("write");
        pair
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// keyward with TLS on a free port; `plain` also serves a plain port.
async fn start(
    pki: &Pki,
    server: &Pair,
    plain: bool,
    edit: impl Fn(&mut keyward::Config),
) -> keyward::ServerHandle {
    let mut last = None;
    // A free port can be taken between the probe and the bind: retry.
    for _ in 0..5 {
        let mut c = keyward::Config {
            bind: vec!["127.0.0.1".into()],
            port: if plain { free_port() } else { 0 },
            ..Default::default()
        };
        c.tls.port = free_port();
        c.tls.cert_file = path(&server.cert);
        c.tls.key_file = path(&server.key);
        c.tls.ca_cert_file = pki.ca_file();
        edit(&mut c);
        match keyward::Server::builder().config(c).start().await {
            Ok(h) => return h,
            Err(e) => last = Some(e),
        }
    }
    panic!("server starts: {last:?}");
}

fn client_config(pki: &Pki, client: Option<&Pair>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).expect("CA");
    let b = rustls::ClientConfig::builder().with_root_certificates(roots);
    Arc::new(match client {
        Some(c) => b
            .with_client_auth_cert(
                vec![c.der.clone()],
                PrivateKeyDer::from_pem_file(&c.key).expect("key"),
            )
            .expect("client cert"),
        None => b.with_no_client_auth(),
    })
}

/// A TLS connection from our own rustls client.
async fn connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").expect("name");
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// Sends one inline command and reads what comes back until a reply line
/// is complete; `None` when the server closed or failed the connection.
async fn call(s: &mut TlsStream<TcpStream>, line: &str) -> Option<String> {
    s.write_all(format!("{line}\r\n").as_bytes()).await.ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // A bound so a bug shows as a failure, not a stuck suite.
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("a reply or a close within 10 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        out.extend_from_slice(&buf[..n]);
        if out.ends_with(b"\r\n")
            && (out[0] != b'$' || out.iter().filter(|&&b| b == b'\n').count() >= 2)
        {
            return Some(String::from_utf8_lossy(&out).into_owned());
        }
    }
}

fn peer_cert(s: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref()
        .1
        .peer_certificates()
        .expect("server certificate")[0]
        .clone()
}

#[tokio::test]
async fn ping_set_get_over_tls_with_the_redis_crate() {
    let pki = Pki::new("basic");
    let server = pki.issue("server", "server", 1, true);
    let client = pki.issue("client", "client", 2, false);
    let h = start(&pki, &server, false, |_| {}).await;
    let addr = h.tls_addrs()[0];
    assert_eq!(h.addr(), addr, "port 0: TLS only");
    let certs = redis::TlsCertificates {
        client_tls: Some(redis::ClientTlsConfig {
            client_cert: std::fs::read(&client.cert).expect("read"),
            client_key: std::fs::read(&client.key).expect("read"),
        }),
        root_cert: Some(std::fs::read(pki.ca_file()).expect("read")),
    };
    let c = redis::Client::build_with_tls(format!("rediss://127.0.0.1:{}/", addr.port()), certs)
        .expect("client");
    let mut con = c
        .get_multiplexed_async_connection()
        .await
        .expect("TLS connection");
    let pong: String = redis::cmd("PING")
        .query_async(&mut con)
        .await
        .expect("ping");
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v".repeat(100_000))
        .query_async(&mut con)
        .await
        .expect("set");
    let v: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut con)
        .await
        .expect("get");
    assert_eq!(v.len(), 100_000, "a reply larger than one TLS record");
    // CLIENT LIST as Redis: the TLS port is the client's laddr.
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut con)
        .await
        .expect("client list");
    assert!(list.contains(&format!("laddr={addr}")), "{list}");
    // No plain TCP listener: INFO's tcp_port is 0, as in Redis.
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await
        .expect("info");
    assert!(info.contains("tcp_port:0\r\n"), "{info}");
    assert!(
        h.addrs().is_empty(),
        "port 0 with tls-port: no plain listener"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn auth_clients_yes_refuses_a_client_without_a_certificate() {
    let pki = Pki::new("auth-yes");
    let server = pki.issue("server", "server", 1, true);
    let client = pki.issue("client", "client", 2, false);
    let h = start(&pki, &server, false, |_| {}).await;
    let addr = h.tls_addrs()[0];
    // Redis's default is yes: the handshake (TLS 1.3: the first read) fails.
    let refused = match connect(addr, client_config(&pki, None)).await {
        Err(_) => true,
        Ok(mut s) => call(&mut s, "PING").await.is_none(),
    };
    assert!(refused, "no certificate, no connection");
    let mut s = connect(addr, client_config(&pki, Some(&client)))
        .await
        .expect("handshake");
    assert_eq!(call(&mut s, "PING").await.as_deref(), Some("+PONG\r\n"));
    // A certificate from another CA is refused too.
    let other = Pki::new("other");
    let stranger = other.issue("client", "stranger", 3, false);
    let refused = match connect(addr, client_config(&pki, Some(&stranger))).await {
        Err(_) => true,
        Ok(mut s) => call(&mut s, "PING").await.is_none(),
    };
    assert!(refused, "a certificate the CA did not sign");
    h.shutdown().await;
}

#[tokio::test]
async fn auth_clients_no_and_optional() {
    let pki = Pki::new("auth-no");
    let server = pki.issue("server", "server", 1, true);
    let client = pki.issue("client", "client", 2, false);
    let h = start(&pki, &server, true, |c| {
        c.tls.auth_clients = keyward::config::TlsAuthClients::No;
        c.tls.ca_cert_file.clear();
    })
    .await;
    let addr = h.tls_addrs()[0];
    let mut s = connect(addr, client_config(&pki, None))
        .await
        .expect("handshake");
    assert_eq!(call(&mut s, "PING").await.as_deref(), Some("+PONG\r\n"));
    // optional needs a CA (Redis's rule): CONFIG SET without one fails and
    // keeps the old setting.
    let mut r = Raw::connect(h.addrs()[0]).await;
    let e = r.call_str("CONFIG SET tls-auth-clients optional").await;
    assert!(
        String::from_utf8_lossy(&e).starts_with("-ERR CONFIG SET failed (possibly related to argument 'tls-auth-clients') - Unable to update TLS configuration"),
        "{}",
        String::from_utf8_lossy(&e)
    );
    assert_eq!(
        r.call_str("CONFIG GET tls-auth-clients").await,
        b"*2\r\n$16\r\ntls-auth-clients\r\n$2\r\nno\r\n"
    );
    let ca = pki.ca_file();
    assert_eq!(
        r.call(&[
            b"CONFIG",
            b"SET",
            b"tls-auth-clients",
            b"optional",
            b"tls-ca-cert-file",
            ca.as_bytes()
        ])
        .await,
        b"+OK\r\n"
    );
    let mut s = connect(addr, client_config(&pki, None))
        .await
        .expect("handshake");
    assert_eq!(
        call(&mut s, "PING").await.as_deref(),
        Some("+PONG\r\n"),
        "optional: none is fine"
    );
    let mut s = connect(addr, client_config(&pki, Some(&client)))
        .await
        .expect("handshake");
    assert_eq!(
        call(&mut s, "PING").await.as_deref(),
        Some("+PONG\r\n"),
        "optional: a good one too"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn plaintext_client_on_the_tls_port_is_disconnected() {
    let pki = Pki::new("plain");
    let server = pki.issue("server", "server", 1, true);
    let h = start(&pki, &server, false, |_| {}).await;
    let mut raw = Raw::connect(h.tls_addrs()[0]).await;
    raw.send(b"PING\r\n").await;
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), raw.stream.read(&mut buf))
            .await
            .expect("closed, not left hanging")
        {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(!got.windows(4).any(|w| w == b"PONG"), "no reply in clear");
    h.shutdown().await;
}

#[tokio::test]
async fn config_set_reloads_certificates_for_new_handshakes() {
    let pki = Pki::new("reload");
    let first = pki.issue("server", "server-1", 1001, true);
    let client = pki.issue("client", "client", 2, false);
    let h = start(&pki, &first, true, |_| {}).await;
    let tls = h.tls_addrs()[0];
    let cfg = client_config(&pki, Some(&client));
    let mut old = connect(tls, cfg.clone()).await.expect("handshake");
    assert_eq!(peer_cert(&old), first.der);

    // A new pair at new paths.
    let second = pki.issue("server2", "server-2", 1002, true);
    let mut r = Raw::connect(h.addrs()[0]).await;
    let (c2, k2) = (path(&second.cert), path(&second.key));
    assert_eq!(
        r.call(&[
            b"CONFIG",
            b"SET",
            b"tls-cert-file",
            c2.as_bytes(),
            b"tls-key-file",
            k2.as_bytes()
        ])
        .await,
        b"+OK\r\n"
    );
    let mut new = connect(tls, cfg.clone()).await.expect("handshake");
    assert_eq!(
        peer_cert(&new),
        second.der,
        "a new handshake sees the new certificate"
    );
    assert_eq!(call(&mut new, "PING").await.as_deref(), Some("+PONG\r\n"));
    assert_eq!(
        call(&mut old, "PING").await.as_deref(),
        Some("+PONG\r\n"),
        "open ones go on"
    );

    // A bad file: CONFIG SET fails, the configuration in use stays.
    let e = r
        .call_str("CONFIG SET tls-cert-file /nonexistent/keyward.crt")
        .await;
    assert!(
        String::from_utf8_lossy(&e).starts_with("-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs."),
        "{}",
        String::from_utf8_lossy(&e)
    );
    let got = r.call_str("CONFIG GET tls-cert-file").await;
    assert!(
        got.ends_with(format!("{c2}\r\n").as_bytes()),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let s = connect(tls, cfg.clone()).await.expect("handshake");
    assert_eq!(peer_cert(&s), second.der);

    // A renewed certificate at the same path: CONFIG SET of the same
    // value reloads it (Redis's rotation recipe).
    let third = pki.issue("server2", "server-3", 1003, true);
    assert_eq!(
        r.call(&[b"CONFIG", b"SET", b"tls-cert-file", c2.as_bytes()])
            .await,
        b"+OK\r\n"
    );
    let s = connect(tls, cfg).await.expect("handshake");
    assert_eq!(peer_cert(&s), third.der);
    h.shutdown().await;
}

#[tokio::test]
async fn plain_and_tls_ports_at_once_with_auth() {
    let pki = Pki::new("both");
    let server = pki.issue("server", "server", 1, true);
    let client = pki.issue("client", "client", 2, false);
    let h = start(&pki, &server, true, |c| {
        c.requirepass = Some("s3cret".into())
    })
    .await;
    let plain = h.addrs()[0];
    let tls = h.tls_addrs()[0];
    assert_ne!(plain.port(), tls.port());
    let mut s = connect(tls, client_config(&pki, Some(&client)))
        .await
        .expect("handshake");
    // AUTH behaves the same over TLS.
    assert!(call(&mut s, "GET k")
        .await
        .expect("reply")
        .starts_with("-NOAUTH"));
    assert_eq!(
        call(&mut s, "AUTH s3cret").await.as_deref(),
        Some("+OK\r\n")
    );
    assert_eq!(
        call(&mut s, "SET k over-tls").await.as_deref(),
        Some("+OK\r\n")
    );
    let mut r = Raw::connect(plain).await;
    assert_eq!(r.call_str("AUTH s3cret").await, b"+OK\r\n");
    assert_eq!(r.call_str("GET k").await, b"$8\r\nover-tls\r\n");
    assert_eq!(r.call_str("SET k plain").await, b"+OK\r\n");
    assert_eq!(
        call(&mut s, "GET k").await.as_deref(),
        Some("$5\r\nplain\r\n")
    );
    let info = String::from_utf8_lossy(&r.call_str("INFO server").await).into_owned();
    assert!(
        info.contains(&format!("tcp_port:{}\r\n", plain.port())),
        "{info}"
    );
    let list = String::from_utf8_lossy(&r.call_str("CLIENT LIST").await).into_owned();
    assert!(
        list.contains(&format!("laddr={tls}")) && list.contains(&format!("laddr={plain}")),
        "{list}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn bad_files_stop_startup_and_encrypted_keys_need_their_pass() {
    let pki = Pki::new("startup");
    let server = pki.issue("server", "server", 1, true);
    let mut c = keyward::Config {
        bind: vec!["127.0.0.1".into()],
        port: 0,
        ..Default::default()
    };
    c.tls.port = free_port();
    c.tls.cert_file = path(&server.cert);
    c.tls.key_file = "/nonexistent/keyward.key".into();
    c.tls.auth_clients = keyward::config::TlsAuthClients::No;
    let e = keyward::Server::builder()
        .config(c.clone())
        .start()
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("Failed to load private key"), "{e}");

    // An encrypted PKCS#8 key (openssl pkcs8 -topk8 -v2 aes-256-cbc):
    // refused without tls-key-file-pass, served with it.
    let Some(enc) = encrypt_key(&server.key, "k3y-pass") else {
        return;
    };
    c.tls.key_file = path(&enc);
    let e = keyward::Server::builder()
        .config(c.clone())
        .start()
        .await
        .err()
        .expect("refused");
    assert!(
        e.to_string().contains("tls-key-file-pass is not set"),
        "{e}"
    );
    c.tls.key_file_pass = "wrong".into();
    let e = keyward::Server::builder()
        .config(c.clone())
        .start()
        .await
        .err()
        .expect("refused");
    assert!(
        !e.to_string().contains("wrong"),
        "the passphrase is never printed: {e}"
    );
    c.tls.key_file_pass = "k3y-pass".into();
    let h = keyward::Server::builder()
        .config(c)
        .start()
        .await
        .expect("starts");
    let mut s = connect(h.tls_addrs()[0], client_config(&pki, None))
        .await
        .expect("handshake");
    assert_eq!(call(&mut s, "PING").await.as_deref(), Some("+PONG\r\n"));
    h.shutdown().await;
}

/// The key at `key` encrypted with `pass` by openssl; `None` (skipped)
/// when openssl is missing outside CI.
fn encrypt_key(key: &Path, pass: &str) -> Option<PathBuf> {
    let out = key.with_extension("enc.key");
    let status = std::process::Command::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout"])
        .arg(format!("pass:{pass}"))
        .arg("-in")
        .arg(key)
        .arg("-out")
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        _ if std::env::var("CI").is_ok() => panic!("openssl is required in CI"),
        _ => {
            eprintln!("openssl not found: skipping the encrypted-key part");
            None
        }
    }
}

#[tokio::test]
async fn redis_cli_tls() {
    let pki = Pki::new("cli");
    let server = pki.issue("server", "server", 1, true);
    let client = pki.issue("client", "client", 2, false);
    let h = start(&pki, &server, false, |_| {}).await;
    let port = h.tls_addrs()[0].port().to_string();
    let base = vec![
        "--tls".to_string(),
        "--cacert".into(),
        pki.ca_file(),
        "--cert".into(),
        path(&client.cert),
        "--key".into(),
        path(&client.key),
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port,
    ];
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new("redis-cli");
        cmd.args(&base).args(args);
        async move {
            tokio::task::spawn_blocking(move || cmd.output())
                .await
                .expect("joins")
        }
    };
    let out = match run(&["PING"]).await {
        Ok(o) => o,
        Err(_) if std::env::var("CI").is_err() => {
            eprintln!("redis-cli not found: skipping (apt-get install redis-tools)");
            return;
        }
        Err(e) => panic!("redis-cli is required in CI (redis-tools): {e}"),
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PONG\n", "{out:?}");
    let out = run(&["SET", "cli", "tls"]).await.expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n");
    let out = run(&["GET", "cli"]).await.expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tls\n");
    h.shutdown().await;
}

#[tokio::test]
async fn ca_cert_dir_and_session_caching() {
    let pki = Pki::new("cadir");
    let server = pki.issue("server", "server", 1, true);
    let client = pki.issue("client", "client", 2, false);
    // The CA only in a directory (with a file that holds no certificate).
    let dir = pki.dir.join("cas");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(pki.ca_file(), dir.join("0a1b2c3d.0")).expect("copy");
    std::fs::write(dir.join("README"), "not a certificate").expect("write");
    let h = start(&pki, &server, true, |c| {
        c.tls.ca_cert_file.clear();
        c.tls.ca_cert_dir = path(&dir);
    })
    .await;
    let tls = h.tls_addrs()[0];
    let cfg = client_config(&pki, Some(&client));
    let mut first = connect(tls, cfg.clone()).await.expect("handshake");
    // The reply also brings the session tickets the client keeps.
    assert_eq!(call(&mut first, "PING").await.as_deref(), Some("+PONG\r\n"));
    let mut second = connect(tls, cfg.clone()).await.expect("handshake");
    assert_eq!(
        second.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed),
        "tls-session-caching yes: a known client resumes"
    );
    assert_eq!(
        call(&mut second, "PING").await.as_deref(),
        Some("+PONG\r\n")
    );

    let mut r = Raw::connect(h.addrs()[0]).await;
    assert_eq!(
        r.call_str("CONFIG SET tls-session-caching no").await,
        b"+OK\r\n"
    );
    let fresh = client_config(&pki, Some(&client));
    let mut a = connect(tls, fresh.clone()).await.expect("handshake");
    assert_eq!(call(&mut a, "PING").await.as_deref(), Some("+PONG\r\n"));
    let b = connect(tls, fresh).await.expect("handshake");
    assert_eq!(
        b.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Full),
        "tls-session-caching no: every handshake is a full one"
    );
    h.shutdown().await;
}

/// `keyward --ping --tls` (a container health check on a TLS-only
/// server): PONG with the CA and a client certificate; refused without
/// the certificate the server requires, against another CA, and with TLS
/// flags but no `--tls`.
#[tokio::test]
async fn keyward_ping_over_tls() {
    let pki = Pki::new("ping");
    let server = pki.issue("server", "server", 1, true);
    let client = pki.issue("client", "client", 2, false);
    let other = Pki::new("ping-other");
    let h = start(&pki, &server, false, |_| {}).await;
    let port = h.tls_addrs()[0].port().to_string();
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
                .arg("--ping")
                .args(&args)
                .env_remove("PORT")
                .env_remove("REDIS_PASSWORD")
                .output()
                .expect("the binary runs");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .expect("joins")
    };
    let base = |ca: String| -> Vec<String> {
        ["--port", &port, "--timeout", "5", "--tls", "--cacert", &ca]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let mut with_cert = base(pki.ca_file());
    with_cert.extend(["--cert".into(), path(&client.cert)]);
    with_cert.extend(["--key".into(), path(&client.key)]);
    let (code, out, err) = run(with_cert.clone()).await;
    assert_eq!((code, out.as_str()), (Some(0), "PONG\n"), "{err}");
    let (code, _, err) = run(base(pki.ca_file())).await;
    assert_eq!(code, Some(1), "no client certificate: {err}");
    let mut wrong_ca = with_cert.clone();
    wrong_ca[6] = other.ca_file();
    let (code, _, err) = run(wrong_ca).await;
    assert_eq!(code, Some(1), "another CA: {err}");
    assert!(err.contains("certificate"), "{err}");
    let no_tls: Vec<String> = with_cert.into_iter().filter(|a| a != "--tls").collect();
    let (code, _, err) = run(no_tls).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("TLS flags need --tls"), "{err}");
    h.shutdown().await;
}
