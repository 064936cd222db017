//! TLS for client connections: Redis 6+'s `tls-*` settings turned into a
//! rustls [`ServerConfig`] (ring as the crypto provider).
//!
//! Owns the meaning of each setting: which protocol, cipher and suite
//! names rustls can honour (a name it cannot is refused, never ignored),
//! loading the certificate, key and CA files, client certificate
//! verification (`tls-auth-clients`) and the session cache. The listener
//! and the handshake live in `server::tls`. Nothing here logs a key or its
//! passphrase: errors name files, not contents.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
// ring rather than aws-lc-rs: it builds without cmake or NASM on every
// machine we build on. rustls deprecates its provider for lacking the
// post-quantum key exchange (X25519MLKEM768); X25519 and the NIST curves
// are what redis-server's OpenSSL offers clients too.
use rustls::crypto::ring::cipher_suite as cs;
#[allow(deprecated)]
use rustls::crypto::ring::default_provider;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{NoServerSessionStorage, StoresServerSessions, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use crate::config::{TlsAuthClients, TlsConfig};

/// TLS 1.3 suites (`tls-ciphersuites`): OpenSSL's names are IANA's.
const SUITES_13: &[(&str, SupportedCipherSuite)] = &[
    ("TLS_AES_256_GCM_SHA384", cs::TLS13_AES_256_GCM_SHA384),
    ("TLS_AES_128_GCM_SHA256", cs::TLS13_AES_128_GCM_SHA256),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// TLS 1.2 ciphers (`tls-ciphers`): (OpenSSL name, IANA name, suite), in
/// rustls's order of preference.
const CIPHERS_12: &[(&str, &str, SupportedCipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// OpenSSL cipher-string words that select everything rustls offers (all
/// of it is in OpenSSL's DEFAULT and HIGH).
const ALL_WORDS: &[&str] = &["DEFAULT", "ALL", "HIGH", "COMPLEMENTOFDEFAULT"];

/// OpenSSL classes rustls never offers: excluding them (`!aNULL`,
/// `!MEDIUM`, the usual hardening) is true of what rustls does already.
const ABSENT_CLASSES: &[&str] = &[
    "aNULL", "eNULL", "NULL", "ADH", "AECDH", "MD5", "RC4", "DES", "3DES", "MEDIUM", "LOW",
    "EXPORT", "EXP", "PSK", "SRP", "DSS", "aDSS", "CAMELLIA", "SEED", "IDEA", "ARIA", "kRSA",
    "kDHE", "DHE", "EDH", "SHA1", "SSLv3", "CBC",
];

fn refused_name(setting: &str, name: &str, offered: &[&str]) -> String {
    format!(
        "{setting}: '{name}' is not something keyward's TLS (rustls) can honour; it offers {}",
        offered.join(" ")
    )
}

/// `tls-protocols`: the versions, space separated, case-insensitive as in
/// Redis; empty = TLSv1.2 and TLSv1.3 (Redis's default). TLSv1 and
/// TLSv1.1 are refused: rustls does not implement them.
pub fn protocols(v: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let mut out = Vec::new();
    for word in v.split_whitespace() {
        let version: &'static SupportedProtocolVersion = if word.eq_ignore_ascii_case("tlsv1.2") {
            &rustls::version::TLS12
        } else if word.eq_ignore_ascii_case("tlsv1.3") {
            &rustls::version::TLS13
        } else if word.eq_ignore_ascii_case("tlsv1") || word.eq_ignore_ascii_case("tlsv1.1") {
            return Err(format!(
                "{word} is not supported: keyward's TLS (rustls) speaks TLSv1.2 and TLSv1.3 only"
            ));
        } else {
            return Err("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into());
        };
        if !out
            .iter()
            .any(|o: &&SupportedProtocolVersion| o.version == version.version)
        {
            out.push(version);
        }
    }
    if out.is_empty() {
        out = vec![&rustls::version::TLS12, &rustls::version::TLS13];
    }
    Ok(out)
}

/// `tls-ciphers` (TLS 1.2, an OpenSSL cipher string): explicit names
/// (OpenSSL's or IANA's) in order of preference, `DEFAULT`/`HIGH`/`ALL`
/// for all of rustls's, and `!`/`-` exclusions of a name or of a class
/// rustls never offers. Anything else (`@STRENGTH`, `+`, other classes)
/// is refused. Empty = rustls's defaults.
pub fn ciphers(v: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let all: Vec<SupportedCipherSuite> = CIPHERS_12.iter().map(|c| c.2).collect();
    if v.trim().is_empty() {
        return Ok(all);
    }
    let find = |w: &str| {
        CIPHERS_12
            .iter()
            .find(|c| c.0.eq_ignore_ascii_case(w) || c.1.eq_ignore_ascii_case(w))
            .map(|c| c.2)
    };
    let offered: Vec<&str> = CIPHERS_12.iter().map(|c| c.0).collect();
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    let mut removed: Vec<SupportedCipherSuite> = Vec::new();
    for word in v
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        if let Some(rest) = word.strip_prefix(['!', '-']) {
            if let Some(s) = find(rest) {
                out.retain(|o| o.suite() != s.suite());
                if word.starts_with('!') {
                    removed.push(s);
                }
            } else if !ABSENT_CLASSES.iter().any(|c| c.eq_ignore_ascii_case(rest)) {
                return Err(refused_name("tls-ciphers", word, &offered));
            }
        } else if ALL_WORDS.iter().any(|a| a.eq_ignore_ascii_case(word)) {
            for s in &all {
                if !out.iter().any(|o| o.suite() == s.suite()) {
                    out.push(*s);
                }
            }
        } else if let Some(s) = find(word) {
            if !out.iter().any(|o| o.suite() == s.suite()) {
                out.push(s);
            }
        } else {
            return Err(refused_name("tls-ciphers", word, &offered));
        }
    }
    // OpenSSL: a `!` exclusion holds against anything added later.
    out.retain(|o| !removed.iter().any(|r| r.suite() == o.suite()));
    if out.is_empty() {
        return Err(format!("tls-ciphers: '{v}' leaves no cipher"));
    }
    Ok(out)
}

/// `tls-ciphersuites` (TLS 1.3): a colon-separated list of suite names.
/// The CCM suites are refused (rustls does not implement them). Empty =
/// rustls's defaults.
pub fn ciphersuites(v: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    if v.trim().is_empty() {
        return Ok(SUITES_13.iter().map(|s| s.1).collect());
    }
    let offered: Vec<&str> = SUITES_13.iter().map(|s| s.0).collect();
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    for word in v.split(':').map(str::trim).filter(|w| !w.is_empty()) {
        let Some(s) = SUITES_13.iter().find(|s| s.0.eq_ignore_ascii_case(word)) else {
            return Err(refused_name("tls-ciphersuites", word, &offered));
        };
        if !out.iter().any(|o| o.suite() == s.1.suite()) {
            out.push(s.1);
        }
    }
    Ok(out)
}

fn read(what: &str, path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("Failed to load {what}: {path}: {e}"))
}

fn certs_in(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// The server's private key: PKCS#8, PKCS#1 or SEC1 PEM; an encrypted
/// PKCS#8 key (`ENCRYPTED PRIVATE KEY`) is decrypted with
/// `tls-key-file-pass`. OpenSSL's legacy encrypted PEM (`Proc-Type:
/// 4,ENCRYPTED`) is refused: no maintained Rust crate reads it.
fn private_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read("private key", path)?;
    let text = String::from_utf8_lossy(&pem);
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    if let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) {
        if pass.is_empty() {
            return Err(format!(
                "Failed to load private key: {path}: the key is encrypted and tls-key-file-pass is not set"
            ));
        }
        use pkcs8::der::Decode;
        let block = &text[b..e + END.len()];
        let (_, doc) = pkcs8::Document::from_pem(block)
            .map_err(|e| format!("Failed to load private key: {path}: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::from_der(doc.as_bytes())
            .map_err(|e| format!("Failed to load private key: {path}: {e}"))?;
        // The error says only that decryption failed: never the passphrase.
        let plain = info.decrypt(pass).map_err(|_| {
            format!("Failed to load private key: {path}: bad tls-key-file-pass or unsupported encryption")
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "Failed to load private key: {path}: legacy encrypted PEM is not supported; convert it to encrypted PKCS#8 (openssl pkcs8 -topk8) or decrypt it"
        ));
    }
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("Failed to load private key: {path}: {e}"))
}

/// The CAs client certificates are verified against: every certificate
/// in `tls-ca-cert-file`, and in each file of `tls-ca-cert-dir` (files
/// that hold none, such as CRLs, are passed over). The directory is read
/// at startup and at each reload, not per handshake as OpenSSL does.
fn ca_roots(c: &TlsConfig) -> Result<RootCertStore, String> {
    roots_from(&c.ca_cert_file, &c.ca_cert_dir)
}

/// The CAs of a file and/or a directory of PEM files.
fn roots_from(ca_cert_file: &str, ca_cert_dir: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if !ca_cert_file.is_empty() {
        let certs = certs_in(&read("CA certificate(s) file", ca_cert_file)?);
        if certs.is_empty() {
            return Err(format!(
                "Failed to configure CA certificate(s) file/directory: {}: no certificate",
                ca_cert_file
            ));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                format!(
                    "Failed to configure CA certificate(s) file/directory: {}: {e}",
                    ca_cert_file
                )
            })?;
        }
    }
    if !ca_cert_dir.is_empty() {
        let dir = std::fs::read_dir(ca_cert_dir).map_err(|e| {
            format!(
                "Failed to configure CA certificate(s) file/directory: {}: {e}",
                ca_cert_dir
            )
        })?;
        for entry in dir.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Ok(pem) = std::fs::read(entry.path()) {
                roots.add_parsable_certificates(certs_in(&pem));
            }
        }
    }
    Ok(roots)
}

/// A client configuration for an upstream server (proxy mode's
/// `rediss://`): its certificate verified against the CAs of `ca_file`
/// (and/or the PEM files in `ca_dir`), presenting `cert_file`/`key_file`
/// when given (redis-server's default `tls-auth-clients yes` asks for a
/// client certificate). Files are read now; errors name files, not
/// contents.
pub fn client_config(
    ca_file: &str,
    ca_dir: &str,
    cert_file: &str,
    key_file: &str,
) -> Result<Arc<rustls::ClientConfig>, String> {
    if ca_file.is_empty() && ca_dir.is_empty() {
        return Err("a TLS upstream needs a CA to verify it (tls-ca-cert-file or tls-ca-cert-dir; the system's bundle is usually /etc/ssl/certs/ca-certificates.crt)".into());
    }
    let roots = roots_from(ca_file, ca_dir)?;
    #[allow(deprecated)]
    let provider = Arc::new(default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS upstream: {e}"))?
        .with_root_certificates(roots);
    let config = match (cert_file.is_empty(), key_file.is_empty()) {
        (true, true) => builder.with_no_client_auth(),
        (false, false) => {
            let certs = certs_in(&read("certificate", cert_file)?);
            if certs.is_empty() {
                return Err(format!(
                    "Failed to load certificate: {cert_file}: no certificate in the file"
                ));
            }
            let key = private_key(key_file, "")?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?
        }
        _ => return Err("a client certificate needs both tls-cert-file and tls-key-file".into()),
    };
    Ok(Arc::new(config))
}

/// Builds the rustls configuration the settings describe, reading every
/// file now: an error leaves whatever configuration was in use in place
/// (Redis's `tlsConfigure` is atomic the same way). The texts follow
/// Redis's log lines.
pub fn server_config(c: &TlsConfig) -> Result<Arc<ServerConfig>, String> {
    if c.cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if c.key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    if c.auth_clients != TlsAuthClients::No && c.ca_cert_file.is_empty() && c.ca_cert_dir.is_empty()
    {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let versions = protocols(&c.protocols)?;
    let mut suites = ciphersuites(&c.ciphersuites)?;
    suites.extend(ciphers(&c.ciphers)?);
    #[allow(deprecated)]
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..default_provider()
    });
    let certs = certs_in(&read("certificate", &c.cert_file)?);
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {}: no certificate in the file",
            c.cert_file
        ));
    }
    let key = private_key(&c.key_file, &c.key_file_pass)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls-protocols / tls-ciphers / tls-ciphersuites: {e}"))?;
    let builder = if c.auth_clients == TlsAuthClients::No {
        builder.with_no_client_auth()
    } else {
        let roots = Arc::new(ca_roots(c)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let verifier = if c.auth_clients == TlsAuthClients::Optional {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| format!("Failed to configure CA certificate(s): {e}"))?,
        )
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("Failed to load certificate/key pair: {}: {e}", c.cert_file))?;
    config.ignore_client_order = c.prefer_server_ciphers;
    if c.session_caching {
        config.session_storage = Arc::new(SessionCache::new(
            c.session_cache_size as usize,
            c.session_cache_timeout,
        ));
    } else {
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// The server-side session cache (`tls-session-cache-size` entries at
/// most, 0 = no count limit as in OpenSSL; each entry good for
/// `tls-session-cache-timeout` seconds). Entries expire in insertion
/// order, so expired ones are dropped from the front on every insert and
/// an unlimited cache stays bounded by the timeout.
#[derive(Debug)]
struct SessionCache {
    size: usize,
    timeout: u64,
    inner: Mutex<Sessions>,
}

#[derive(Debug, Default)]
struct Sessions {
    map: HashMap<Vec<u8>, (u64, Vec<u8>)>,
    order: VecDeque<(u64, Vec<u8>)>,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SessionCache {
    fn new(size: usize, timeout: u64) -> SessionCache {
        SessionCache {
            size,
            timeout,
            inner: Mutex::new(Sessions::default()),
        }
    }

    fn live(&self, at: u64, now: u64) -> bool {
        now < at.saturating_add(self.timeout)
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let now = now_s();
        let mut s = self.inner.lock();
        while let Some((at, k)) = s.order.front() {
            let full = self.size != 0 && s.map.len() >= self.size;
            if self.live(*at, now) && !full {
                break;
            }
            let (at, k) = (*at, k.clone());
            s.order.pop_front();
            // A key stored again later has a newer entry: keep that one.
            if s.map.get(&k).is_some_and(|e| e.0 == at) {
                s.map.remove(&k);
            }
        }
        if self.timeout == 0 {
            return false;
        }
        s.order.push_back((now, key.clone()));
        s.map.insert(key, (now, value));
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let s = self.inner.lock();
        s.map
            .get(key)
            .filter(|e| self.live(e.0, now_s()))
            .map(|e| e.1.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut s = self.inner.lock();
        let e = s.map.remove(key)?;
        self.live(e.0, now_s()).then_some(e.1)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_as_redis_and_what_rustls_lacks_refused() {
        assert_eq!(protocols("").map(|v| v.len()), Ok(2));
        assert_eq!(protocols("TLSv1.2 tlsv1.3").map(|v| v.len()), Ok(2));
        assert_eq!(protocols("TLSv1.3").map(|v| v.len()), Ok(1));
        assert!(protocols("TLSv1.1 TLSv1.2")
            .expect_err("refused")
            .contains("TLSv1.1 is not supported"));
        assert!(protocols("SSLv3")
            .expect_err("bad")
            .starts_with("Invalid tls-protocols"));
    }

    #[test]
    fn cipher_strings_map_onto_rustls_or_are_refused() {
        assert_eq!(ciphers("").map(|v| v.len()), Ok(6));
        assert_eq!(ciphers("DEFAULT:!MEDIUM:!aNULL").map(|v| v.len()), Ok(6));
        let two = ciphers("ECDHE-RSA-AES128-GCM-SHA256:TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
            .expect("known names");
        assert_eq!(
            two.iter().map(|s| s.suite()).collect::<Vec<_>>(),
            vec![
                cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.suite(),
                cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384.suite()
            ],
            "the order given is the preference"
        );
        assert_eq!(
            ciphers("HIGH:!ECDHE-RSA-CHACHA20-POLY1305").map(|v| v.len()),
            Ok(5)
        );
        assert!(ciphers("AES256-SHA").is_err(), "a cipher rustls lacks");
        assert!(ciphers("DEFAULT:@STRENGTH").is_err());
        assert!(
            ciphers("!ECDHE-RSA-AES128-GCM-SHA256").is_err(),
            "nothing left"
        );
        assert_eq!(ciphersuites("").map(|v| v.len()), Ok(3));
        assert_eq!(
            ciphersuites("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384").map(|v| v.len()),
            Ok(2)
        );
        assert!(ciphersuites("TLS_AES_128_CCM_SHA256").is_err());
    }

    #[test]
    fn session_cache_bounds_by_count_and_time() {
        let c = SessionCache::new(2, 300);
        for k in [b"a", b"b", b"c"] {
            assert!(c.put(k.to_vec(), k.to_vec()));
        }
        assert_eq!(c.get(b"a"), None, "the oldest went first");
        assert_eq!(c.get(b"c"), Some(b"c".to_vec()));
        assert_eq!(c.take(b"b"), Some(b"b".to_vec()));
        assert_eq!(c.get(b"b"), None);
        let none = SessionCache::new(0, 0);
        assert!(
            !none.put(b"a".to_vec(), b"a".to_vec()),
            "timeout 0 keeps nothing"
        );
        let expired = SessionCache::new(0, 300);
        expired
            .inner
            .lock()
            .map
            .insert(b"old".to_vec(), (0, b"v".to_vec()));
        assert_eq!(expired.get(b"old"), None, "past its timeout");
    }

    #[test]
    fn missing_files_and_settings_are_named() {
        let mut c = TlsConfig::default();
        assert_eq!(
            server_config(&c).expect_err("no cert"),
            "No tls-cert-file configured!"
        );
        c.cert_file = "/nonexistent/cert.pem".into();
        c.key_file = "/nonexistent/key.pem".into();
        assert!(server_config(&c)
            .expect_err("no CA")
            .starts_with("Either tls-ca-cert-file"));
        c.auth_clients = TlsAuthClients::No;
        assert!(server_config(&c)
            .expect_err("no file")
            .starts_with("Failed to load certificate: /nonexistent/cert.pem"));
    }
}
