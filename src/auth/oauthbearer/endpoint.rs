//! A JWKS served by an identity provider, kept as Kafka's
//! `RefreshingHttpsJwks` keeps it: fetched at start-up (a failure stops
//! start-up, as Kafka's broker does not start without its keys), fetched
//! again every `sasl.oauthbearer.jwks.endpoint.refresh.ms`, and sooner when
//! a token names a key id the set lacks — a provider that rotates its keys
//! publishes the new one before signing with it. Such expedited fetches
//! are at least `retry.backoff.max.ms` apart, so that tokens naming made-up
//! key ids cannot turn the broker into a load on the provider. A failed
//! fetch keeps the keys already held and is retried with a doubling
//! backoff.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tracing::{info, warn};

use super::jwks::Jwks;
use super::JwksError;
use crate::config::client_security::ClientTlsConfig;
use crate::config::security::{Pem, StoreAccess};

/// How long one fetch may take, connection included (Kafka's
/// `sasl.oauthbearer` connect and read timeouts default to 10 s each).
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// A JWKS is a few kilobytes; a larger answer is not one.
const MAX_BODY: usize = 1024 * 1024;
/// The first wait after a failed fetch, doubled up to the maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Where the system keeps its CA bundle (Debian, Red Hat, others).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// An endpoint's keys, refreshed in the background.
pub struct RefreshingJwks {
    keys: RwLock<Arc<Jwks>>,
    /// Woken when a token names a key id the set lacks.
    expedite: Arc<Notify>,
}

impl std::fmt::Debug for RefreshingJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshingJwks").finish_non_exhaustive()
    }
}

impl RefreshingJwks {
    /// Fetches the keys, then keeps them fresh until the returned value is
    /// dropped.
    pub async fn start(
        setting: &str,
        url: &str,
        truststore: Option<&std::path::Path>,
        truststore_access: &StoreAccess,
        refresh: Duration,
        retry_backoff_max: Duration,
    ) -> Result<Arc<RefreshingJwks>, JwksError> {
        let fetcher = Fetcher::new(setting, url, truststore, truststore_access)?;
        let keys = fetcher.fetch().await?;
        info!(%url, "JWKS fetched");
        let jwks = Arc::new(RefreshingJwks {
            keys: RwLock::new(Arc::new(keys)),
            expedite: Arc::new(Notify::new()),
        });
        let refresher = Refresher {
            jwks: Arc::downgrade(&jwks),
            expedite: Arc::clone(&jwks.expedite),
            fetcher,
            refresh,
            least_gap: retry_backoff_max.min(refresh),
            backoff_max: retry_backoff_max,
        };
        tokio::spawn(refresher.run());
        Ok(jwks)
    }

    /// The keys as last fetched.
    pub fn current(&self) -> Arc<Jwks> {
        Arc::clone(&self.keys.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// A token named a key the set lacks: fetch again soon.
    pub fn missing_key(&self) {
        self.expedite.notify_one();
    }
}

struct Refresher {
    /// Weak: the task ends once the validator is gone.
    jwks: Weak<RefreshingJwks>,
    expedite: Arc<Notify>,
    fetcher: Fetcher,
    refresh: Duration,
    least_gap: Duration,
    backoff_max: Duration,
}

impl Refresher {
    async fn run(self) {
        let mut wait = self.refresh;
        let mut backoff = FIRST_BACKOFF;
        let mut last_fetch = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.expedite.notified() => {
                    let earliest = last_fetch + self.least_gap;
                    tokio::time::sleep_until(earliest.min(last_fetch + wait)).await;
                }
            }
            if self.jwks.strong_count() == 0 {
                return;
            }
            let fetched = self.fetcher.fetch().await;
            last_fetch = Instant::now();
            let Some(jwks) = self.jwks.upgrade() else {
                return;
            };
            match fetched {
                Ok(keys) => {
                    *jwks.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                    wait = self.refresh;
                    backoff = FIRST_BACKOFF;
                }
                Err(error) => {
                    warn!(%error, retry_in = ?backoff, "refreshing the JWKS failed; the keys fetched before stay in use");
                    wait = backoff;
                    backoff = (backoff * 2).min(self.backoff_max);
                }
            }
        }
    }
}

/// One `GET` of the endpoint, over TLS for `https`.
struct Fetcher {
    setting: String,
    url: String,
    authority: String,
    address: String,
    host: String,
    path: String,
    tls: Option<TlsConnector>,
}

impl Fetcher {
    fn new(
        setting: &str,
        url: &str,
        truststore: Option<&std::path::Path>,
        truststore_access: &StoreAccess,
    ) -> Result<Fetcher, JwksError> {
        let error = |reason: String| JwksError::Read {
            setting: setting.to_string(),
            origin: format!("endpoint {url}"),
            reason,
        };
        let parsed = ParsedUrl::parse(url).map_err(&error)?;
        let tls = match parsed.https {
            false => None,
            true => {
                let truststore = match truststore {
                    Some(path) => path.to_path_buf(),
                    None => SYSTEM_BUNDLES
                        .iter()
                        .map(std::path::PathBuf::from)
                        .find(|path| path.exists())
                        .ok_or_else(|| {
                            error("no CA bundle to check its certificate with: set ssl.truststore.location in the OAUTHBEARER JAAS options".to_string())
                        })?,
                };
                let config = ClientTlsConfig {
                    truststore: Some(Pem::File(truststore)),
                    truststore_access: truststore_access.clone(),
                    keystore: None,
                    keystore_access: Default::default(),
                    key_password: None,
                    verify_hostname: true,
                };
                Some(
                    crate::auth::tls::connector(&config)
                        .map_err(|tls_error| error(tls_error.to_string()))?,
                )
            }
        };
        Ok(Fetcher {
            setting: setting.to_string(),
            url: url.to_string(),
            authority: parsed.authority,
            address: parsed.address,
            host: parsed.host,
            path: parsed.path,
            tls,
        })
    }

    async fn fetch(&self) -> Result<Jwks, JwksError> {
        let origin = format!("endpoint {}", self.url);
        let text = match tokio::time::timeout(FETCH_TIMEOUT, self.get()).await {
            Ok(Ok(text)) => text,
            Ok(Err(reason)) => {
                return Err(JwksError::Read {
                    setting: self.setting.clone(),
                    origin,
                    reason,
                })
            }
            Err(_) => {
                return Err(JwksError::Read {
                    setting: self.setting.clone(),
                    origin,
                    reason: format!("no answer within {FETCH_TIMEOUT:?}"),
                })
            }
        };
        Jwks::from_text(&self.setting, &origin, &text)
    }

    async fn get(&self) -> Result<String, String> {
        let tcp = TcpStream::connect(&self.address)
            .await
            .map_err(|error| format!("cannot connect to {}: {error}", self.address))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => self.exchange(tcp).await,
            Some(connector) => {
                let name = rustls_pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|error| format!("{}: {error}", self.host))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|error| format!("TLS: {error}"))?;
                self.exchange(stream).await
            }
        }
    }

    async fn exchange<S>(&self, stream: S) -> Result<String, String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP: {error}"))?;
        tokio::spawn(connection);
        let request = hyper::Request::get(&self.path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::USER_AGENT, "gregor")
            .body(Empty::<Bytes>::new())
            .map_err(|error| format!("HTTP request: {error}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("HTTP: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP status {status}"));
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|error| format!("reading the answer: {error}"))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| "the answer is not UTF-8".to_string())
    }
}

/// The parts of an `http(s)://host[:port]/path` URL a `GET` needs.
#[derive(Debug, PartialEq, Eq)]
struct ParsedUrl {
    https: bool,
    /// `host[:port]` as written, for the `Host` header.
    authority: String,
    /// Where to connect.
    address: String,
    /// The host name (or address) the certificate must name.
    host: String,
    path: String,
}

impl ParsedUrl {
    fn parse(url: &str) -> Result<ParsedUrl, String> {
        let (https, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            _ => return Err("not an http(s) URL".to_string()),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let path = match path.starts_with('?') {
            true => format!("/{path}"),
            false => path.to_string(),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not supported".to_string());
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or("an IPv6 address without its closing bracket")?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        if host.is_empty() {
            return Err("no host".to_string());
        }
        let port = match port {
            None => match https {
                true => 443,
                false => 80,
            },
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| format!("invalid port {port:?}"))?,
        };
        let address = match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        };
        Ok(ParsedUrl {
            https,
            authority: authority.to_string(),
            address,
            host: host.to_string(),
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_where_to_connect_and_what_to_ask() {
        let parsed = ParsedUrl::parse("https://idp.example.com/realms/k/certs?x=1").unwrap();
        assert_eq!(
            parsed,
            ParsedUrl {
                https: true,
                authority: "idp.example.com".into(),
                address: "idp.example.com:443".into(),
                host: "idp.example.com".into(),
                path: "/realms/k/certs?x=1".into(),
            }
        );
        let parsed = ParsedUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (parsed.address.as_str(), parsed.path.as_str()),
            ("127.0.0.1:8080", "/")
        );
        let parsed = ParsedUrl::parse("https://[::1]:8443/jwks").unwrap();
        assert_eq!(
            (parsed.address.as_str(), parsed.host.as_str()),
            ("[::1]:8443", "::1")
        );
        for bad in [
            "ftp://x/y",
            "https://",
            "https://:443/x",
            "https://h:99999/x",
            "https://u:p@h/x",
            "https://[::1/x",
        ] {
            assert!(ParsedUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
