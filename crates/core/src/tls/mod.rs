//! TLS on rustls, with libpq's rules: which root certificates to trust (`sslrootcert`), how
//! much of the server's certificate to check (`sslmode`), the client's own certificate
//! (`sslcert`, `sslkey`), and the certificate hash that SCRAM channel binding signs. The same
//! material may come as PEM text in memory instead of files (`TlsMaterial`, node-postgres's
//! `ssl.ca`, `ssl.cert`, `ssl.key` and `ssl.servername`).

mod end_point;
mod material;
#[cfg(test)]
mod tests;
mod verifiers;

pub use end_point::server_end_point;

use std::sync::Arc;

use rustls_pki_types::ServerName;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::ServerCertVerifier;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto;
use tokio_rustls::rustls::{CertificateError, ClientConfig};
use tokio_rustls::{rustls, TlsConnector};

use crate::conninfo::{ConnInfo, SslMode};
use crate::error::{ConnectFailure, Error, Result};
use crate::stream::Stream;
use material::{client_identity, load_roots, roots_for};
use verifiers::{AnyCertificate, ChainOnly};

/// The ALPN name PostgreSQL 17 registered; older servers ignore it.
const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// TLS material given as PEM text rather than as files. Each field given takes the place of
/// its conninfo file (`ca`: `sslrootcert`, `cert` and `key`: `sslcert` and `sslkey`); a field
/// left out falls back to the conninfo's file when it names one, but never to libpq's files in
/// `~/.postgresql`: whoever passes material in memory has said what to use. `Debug` leaves the
/// key out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsMaterial {
    /// The certificate authorities to trust: one or more PEM certificates.
    pub ca: Option<String>,
    /// The client's certificate chain, PEM, its own certificate first.
    pub cert: Option<String>,
    /// The client certificate's private key, PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: Option<String>,
    /// The name to send in SNI and to check the server's certificate against, in place of the host.
    pub servername: Option<String>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca", &self.ca.as_ref().map(|_| "<PEM>"))
            .field("cert", &self.cert.as_ref().map(|_| "<PEM>"))
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("servername", &self.servername)
            .finish()
    }
}

/// The client side of TLS for one `connect`: files read once, used for every host.
pub struct Tls {
    connector: TlsConnector,
    /// Where the trusted roots came from, for error messages.
    trusted: String,
    /// `TlsMaterial::servername`: checked and sent in place of each host's name.
    servername: Option<ServerName<'static>>,
}

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encryption only (`require` without root certificates, `prefer`, `allow`).
    Nothing,
    /// The chain up to a trusted root, not the host name (`verify-ca`; `require` with roots).
    Chain,
    /// The chain and the host name (`verify-full`).
    ChainAndHost,
}

impl Tls {
    /// The TLS set-up `info` (and `material`, when given) asks for; `None` under
    /// `sslmode=disable`. Unreadable files and malformed PEM are reported here, naming them,
    /// before any host is tried.
    pub fn new(info: &ConnInfo, material: Option<&TlsMaterial>) -> Result<Option<Tls>> {
        if info.sslmode == SslMode::Disable {
            return Ok(None);
        }
        let servername = material
            .and_then(|m| m.servername.as_deref())
            .map(|name| {
                ServerName::try_from(name.to_string())
                    .map_err(|_| Error::config(format!("TLS servername \"{name}\" is not a host name or IP address")))
            })
            .transpose()?;
        let roots = roots_for(info, material)?;
        let check = match (info.sslmode, &roots) {
            (SslMode::VerifyFull, _) => Check::ChainAndHost,
            (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Check::Chain,
            _ => Check::Nothing,
        };
        let provider = Arc::new(crypto::ring::default_provider());
        let (verifier, trusted): (Arc<dyn ServerCertVerifier>, String) = match roots.filter(|_| check != Check::Nothing)
        {
            None => (Arc::new(AnyCertificate(provider.clone())), String::new()),
            Some(roots) => {
                let (store, trusted) = load_roots(&roots)?;
                let webpki = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
                    .build()
                    .map_err(|e| Error::operational(format!("cannot use the root certificates of {trusted}: {e}")))?;
                let verifier: Arc<dyn ServerCertVerifier> = match check {
                    Check::Chain => Arc::new(ChainOnly(webpki)),
                    _ => webpki,
                };
                (verifier, trusted)
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::operational(format!("TLS set-up failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client_identity(info, material)? {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::operational(format!("cannot use the client certificate: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = info.sslsni;
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
        Ok(Some(Tls {
            connector: TlsConnector::from(Arc::new(config)),
            trusted,
            servername,
        }))
    }

    /// The TLS handshake on a socket whose server has agreed to TLS (answered 'S'), checking
    /// the certificate against `host` or, when given, the servername.
    pub async fn handshake(&self, tcp: Stream, host: &str) -> Result<TlsStream<Stream>> {
        let name = match &self.servername {
            Some(name) => name.clone(),
            None => ServerName::try_from(host.to_string())
                .map_err(|_| Error::operational(format!("\"{host}\" is not a host name TLS can check")))?,
        };
        let checked = name.to_str().into_owned();
        self.connector
            .connect(name, tcp)
            .await
            .map_err(|e| self.explain(e, &checked))
    }

    /// Says what went wrong in the handshake in terms of the connection's settings. A rejected
    /// certificate is named with Node's TLS code for it, and no retry fixes it.
    fn explain(&self, error: std::io::Error, host: &str) -> Error {
        let rustls_error = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
        let (message, code) = match rustls_error {
            Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => (
                format!(
                    "TLS: the server's certificate is not signed by a trusted certificate authority (trusted: {})",
                    self.trusted
                ),
                "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            ),
            Some(rustls::Error::InvalidCertificate(
                e @ (CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }),
            )) => (
                format!("TLS: the server's certificate does not match the host name \"{host}\" ({e})"),
                "ERR_TLS_CERT_ALTNAME_INVALID",
            ),
            Some(rustls::Error::InvalidCertificate(e)) => (format!("TLS handshake failed: {e}"), certificate_code(e)),
            Some(e) => return Error::operational(format!("TLS handshake failed: {e}")),
            None => return Error::operational(format!("TLS handshake failed: {error}")),
        };
        Error::connect(ConnectFailure::certificate(message, code))
    }
}

/// Node's TLS code (OpenSSL's verify error name) for a certificate rustls rejected.
fn certificate_code(error: &CertificateError) -> &'static str {
    match error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "CERT_HAS_EXPIRED",
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => "CERT_NOT_YET_VALID",
        CertificateError::Revoked => "CERT_REVOKED",
        CertificateError::BadSignature => "CERT_SIGNATURE_FAILURE",
        _ => "CERT_REJECTED",
    }
}
