//! TLS on rustls, with libpq's rules: which root certificates to trust (`sslrootcert`), how
//! much of the server's certificate to check (`sslmode`), the client's own certificate
//! (`sslcert`, `sslkey`), and the certificate hash that SCRAM channel binding signs. The same
//! material may come as PEM text in memory instead of files (`TlsMaterial`, node-postgres's
//! `ssl.ca`, `ssl.cert`, `ssl.key` and `ssl.servername`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256, Sha384, Sha512};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::{rustls, TlsConnector};

use crate::conninfo::{ConnInfo, SslMode};
use crate::error::{ConnectFailure, Error, Result};
use crate::stream::Stream;

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

/// Where the trusted root certificates come from.
enum Roots {
    File(PathBuf),
    System,
    /// `TlsMaterial::ca`, parsed.
    Given(Vec<CertificateDer<'static>>),
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

/// libpq's order: `sslrootcert` if given, else `~/.postgresql/root.crt` if it exists. For the
/// verify modes without either, pgtide trusts the system's store where libpq would fail.
/// `TlsMaterial::ca` comes before them all, and material given in memory skips the home file.
fn roots_for(info: &ConnInfo, material: Option<&TlsMaterial>) -> Result<Option<Roots>> {
    if let Some(pem) = material.and_then(|m| m.ca.as_deref()) {
        return Ok(Some(Roots::Given(parse_certificates("ca", pem)?)));
    }
    let home = || home_file("root.crt").filter(|path| path.exists() && material.is_none());
    Ok(match info.ssl_files.rootcert.as_deref() {
        Some("system") => Some(Roots::System),
        Some(path) => Some(Roots::File(PathBuf::from(path))),
        None => match home() {
            Some(path) => Some(Roots::File(path)),
            None if matches!(info.sslmode, SslMode::VerifyCa | SslMode::VerifyFull) => Some(Roots::System),
            None => None,
        },
    })
}

/// What is wrong with a PEM text, in terms that never quote it (it may be a private key).
fn pem_problem(error: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error as Pem;
    match error {
        Pem::MissingSectionEnd { .. } => "a PEM section has no END line",
        Pem::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        Pem::Base64Decode(_) => "a PEM section is not valid base64",
        Pem::NoItemsFound => "no PEM section of the expected kind",
        Pem::SectionTooLarge => "a PEM section is too large",
        _ => "it cannot be read as PEM",
    }
}

/// The certificates of the PEM text given as `setting` (`ca` or `cert`); at least one.
fn parse_certificates(setting: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    let invalid = |problem: &str| Error::config(format!("invalid TLS {setting}: {problem}"));
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| invalid(pem_problem(&e)))?;
    if certs.is_empty() {
        return Err(invalid("no PEM certificate (-----BEGIN CERTIFICATE-----) found"));
    }
    Ok(certs)
}

/// The private key of the PEM text given as `key`.
fn parse_private_key(pem: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
        let problem = match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PEM private key found (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY; encrypted keys are not supported)"
            }
            e => pem_problem(&e),
        };
        Error::config(format!("invalid TLS key: {problem}"))
    })
}

fn load_roots(roots: &Roots) -> Result<(Arc<RootCertStore>, String)> {
    match roots {
        Roots::System => Ok((system_roots(), "the system's root certificates".to_string())),
        Roots::Given(certs) => {
            let mut store = RootCertStore::empty();
            for cert in certs {
                store
                    .add(cert.clone())
                    .map_err(|e| Error::config(format!("invalid TLS ca: a certificate cannot be used: {e}")))?;
            }
            Ok((Arc::new(store), "the given ca".to_string()))
        }
        Roots::File(path) => {
            let unreadable = |e: rustls_pki_types::pem::Error| {
                Error::operational(format!(
                    "could not read root certificate file \"{}\": {e}",
                    path.display()
                ))
            };
            let mut store = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
                store
                    .add(cert.map_err(unreadable)?)
                    .map_err(|e| Error::operational(format!("bad root certificate in \"{}\": {e}", path.display())))?;
            }
            if store.is_empty() {
                return Err(Error::operational(format!(
                    "root certificate file \"{}\" holds no certificate",
                    path.display()
                )));
            }
            Ok((Arc::new(store), format!("\"{}\"", path.display())))
        }
    }
}

/// The operating system's trusted roots, read once per process; where the system has none
/// (a bare container), the Mozilla roots that webpki-roots carries.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if store.is_empty() {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(store)
        })
        .clone()
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate and key: `TlsMaterial::cert` and `key` (both or neither), else
/// `sslcert`/`sslkey`, else libpq's `~/.postgresql/postgresql.crt` and `.key` when the
/// certificate file exists (not when material is given in memory).
fn client_identity(info: &ConnInfo, material: Option<&TlsMaterial>) -> Result<Option<Identity>> {
    match material.map(|m| (m.cert.as_deref(), m.key.as_deref())) {
        Some((Some(cert), Some(key))) => return Ok(Some((parse_certificates("cert", cert)?, parse_private_key(key)?))),
        Some((Some(_), None)) => return Err(Error::config("TLS cert is given without its key")),
        Some((None, Some(_))) => return Err(Error::config("TLS key is given without its cert")),
        Some((None, None)) | None => {}
    }
    let cert_path = match &info.ssl_files.cert {
        Some(path) => PathBuf::from(path),
        None => match home_file("postgresql.crt").filter(|path| path.exists() && material.is_none()) {
            Some(path) => path,
            None => return Ok(None),
        },
    };
    let key_path = match &info.ssl_files.key {
        Some(path) => PathBuf::from(path),
        None => home_file("postgresql.key").unwrap_or_default(),
    };
    let unreadable = |what: &str, path: &Path, e: rustls_pki_types::pem::Error| {
        Error::operational(format!("could not read {what} file \"{}\": {e}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| unreadable("certificate", &cert_path, e))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| unreadable("private key", &key_path, e))?;
    Ok(Some((chain, key)))
}

fn home_file(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty())?;
    Some(Path::new(&home).join(".postgresql").join(name))
}

/// `require` without root certificates: any certificate, but the handshake's signatures are
/// still checked, so the server holds the key of the certificate channel binding hashes.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the whole of webpki's check but the host name. webpki checks the chain first,
/// so a name mismatch means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            outcome => outcome,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// RFC 5929's `tls-server-end-point` data for SCRAM-SHA-256-PLUS: the server certificate
/// hashed with its signature's hash (SHA-256 in place of MD5 and SHA-1). `None` for signature
/// algorithms PostgreSQL cannot bind to either (Ed25519, RSA-PSS): then SCRAM goes unbound.
pub fn server_end_point(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let bytes: &[u8] = cert.as_ref();
    Some(match signature_hash_bits(signature_algorithm(bytes)?)? {
        256 => Sha256::digest(bytes).to_vec(),
        384 => Sha384::digest(bytes).to_vec(),
        _ => Sha512::digest(bytes).to_vec(),
    })
}

/// 1.2.840.113549.1.1.x: RSA with MD5 (4), SHA-1 (5), SHA-256 (11), SHA-384 (12), SHA-512 (13), SHA-224 (14).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
/// 1.2.840.10045.4.1: ECDSA with SHA-1.
const OID_ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
/// 1.2.840.10045.4.3.x: ECDSA with SHA-224 (1), SHA-256 (2), SHA-384 (3), SHA-512 (4).
const OID_ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];

fn signature_hash_bits(oid: &[u8]) -> Option<u16> {
    if oid == OID_ECDSA_SHA1 {
        return Some(256);
    }
    let (&last, prefix) = oid.split_last()?;
    match (prefix, last) {
        (OID_RSA, 4 | 5 | 11 | 14) | (OID_ECDSA_SHA2, 1 | 2) => Some(256),
        (OID_RSA, 12) | (OID_ECDSA_SHA2, 3) => Some(384),
        (OID_RSA, 13) | (OID_ECDSA_SHA2, 4) => Some(512),
        _ => None,
    }
}

/// The OID of `Certificate.signatureAlgorithm`: SEQUENCE { tbsCertificate, SEQUENCE { OID, .. }, .. }.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (_, certificate, _) = der_element(cert)?;
    let (_, _, after_tbs) = der_element(certificate)?;
    let (_, algorithm, _) = der_element(after_tbs)?;
    let (tag, oid, _) = der_element(algorithm)?;
    const OID_TAG: u8 = 0x06;
    (tag == OID_TAG).then_some(oid)
}

/// Splits one DER element off `input`: its tag, its contents and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;
    let (length, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        // Long form: the low bits count the length bytes that follow.
        let (bytes, input) = input.split_at_checked(usize::from(first & 0x7f))?;
        if bytes.is_empty() || bytes.len() > 4 {
            return None;
        }
        (bytes.iter().fold(0, |n, b| n << 8 | usize::from(*b)), input)
    };
    let (contents, rest) = input.split_at_checked(length)?;
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_elements_short_and_long_form() {
        let short = [0x30, 0x02, 0x05, 0x00, 0xff];
        assert_eq!(der_element(&short), Some((0x30, &short[2..4], &short[4..])));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        let (tag, contents, rest) = der_element(&long).unwrap();
        assert_eq!((tag, contents.len(), rest.len()), (0x04, 0x80, 0));
        assert_eq!(der_element(&[0x30, 0x05, 0x00]), None, "truncated contents");
        assert_eq!(der_element(&[0x30, 0x85, 1, 1, 1, 1, 1]), None, "absurd length");
    }

    #[test]
    fn end_point_hash_follows_the_signature_algorithm() {
        let with_oid = |oid: &[u8]| {
            // Certificate { tbs: SEQUENCE {}, signatureAlgorithm: SEQUENCE { oid } }
            let mut algorithm = vec![0x06, oid.len() as u8];
            algorithm.extend(oid);
            let mut body = vec![0x30, 0x00, 0x30, algorithm.len() as u8];
            body.extend(algorithm);
            let mut cert = vec![0x30, body.len() as u8];
            cert.extend(body);
            server_end_point(&CertificateDer::from(cert)).map(|hash| hash.len())
        };
        let rsa = |n: u8| [OID_RSA, &[n]].concat();
        let ecdsa = |n: u8| [OID_ECDSA_SHA2, &[n]].concat();
        assert_eq!(with_oid(&rsa(5)), Some(32), "SHA-1 is raised to SHA-256");
        assert_eq!(with_oid(&rsa(11)), Some(32));
        assert_eq!(with_oid(&rsa(12)), Some(48));
        assert_eq!(with_oid(&rsa(13)), Some(64));
        assert_eq!(with_oid(&ecdsa(2)), Some(32));
        assert_eq!(with_oid(&ecdsa(3)), Some(48));
        assert_eq!(with_oid(OID_ECDSA_SHA1), Some(32));
        assert_eq!(with_oid(&[0x2b, 0x65, 0x70]), None, "Ed25519 has no hash to bind with");
        assert_eq!(server_end_point(&CertificateDer::from(vec![0x30])), None);
    }

    /// A self-signed CA certificate (its key was thrown away): PEM the parser must accept.
    const CA_PEM: &str = concat!(
        "-----BEGIN CERTIFICATE-----\n",
        "MIIBkzCCATmgAwIBAgIUbMm3yZ4zP3tdB9EAjnwH5japoiwwCgYIKoZIzj0EAwIw\n",
        "HjEcMBoGA1UEAwwTcGd0aWRlIHVuaXQgdGVzdCBjYTAgFw0yNjEyMDcwMjUwMjRa\n",
        "GA8yMTI2MTExMzAyNTAyNFowHjEcMBoGA1UEAwwTcGd0aWRlIHVuaXQgdGVzdCBj\n",
        "YTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNXVER+IK3oa3Q6qS7aDDjoo7X0R\n",
        "5MIkOhS0Ir9bsa+EPbFXtIyc/DuMR8CqQ8fIxYz+JOmelsbndPz8IYBfI9qjUzBR\n",
        "MB0GA1UdDgQWBBRic78Uu3AbJ77Xtw+FhRYG+luu2zAfBgNVHSMEGDAWgBRic78U\n",
        "u3AbJ77Xtw+FhRYG+luu2zAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA\n",
        "MEUCIH21nRepNB7G+J0PqDUoW/d2yBpvmj4531jEToKgz8vZAiEA4xr8JZnukWXs\n",
        "O0mXOopl7+iWK4zUXB1Y3mWqTWs8GfM=\n",
        "-----END CERTIFICATE-----\n",
    );

    /// A PEM section of `label` around arbitrary bytes: the parser checks the armour, not the DER.
    fn section(label: &str, body: &str) -> String {
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    }

    fn config_message<T: std::fmt::Debug>(outcome: Result<T>) -> String {
        match outcome {
            Err(Error::Config(message)) => message,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn ca_pem_is_read_one_or_several_and_errors_name_the_setting() {
        assert_eq!(parse_certificates("ca", CA_PEM).unwrap().len(), 1);
        let two = format!("{CA_PEM}\n{CA_PEM}\n");
        assert_eq!(parse_certificates("ca", &two).unwrap().len(), 2);
        let none = config_message(parse_certificates("ca", "not a certificate"));
        assert_eq!(
            none,
            "invalid TLS ca: no PEM certificate (-----BEGIN CERTIFICATE-----) found"
        );
        let truncated = CA_PEM.replace("-----END CERTIFICATE-----", "");
        assert_eq!(
            config_message(parse_certificates("ca", &truncated)),
            "invalid TLS ca: a PEM section has no END line"
        );
        let bad = section("CERTIFICATE", "!!!not base64!!!");
        assert_eq!(
            config_message(parse_certificates("cert", &bad)),
            "invalid TLS cert: a PEM section is not valid base64"
        );
    }

    #[test]
    fn private_keys_in_pkcs8_pkcs1_and_sec1() {
        let body = "AAECAwQFBgcICQ==";
        assert!(matches!(
            parse_private_key(&section("PRIVATE KEY", body)),
            Ok(PrivateKeyDer::Pkcs8(_))
        ));
        assert!(matches!(
            parse_private_key(&section("RSA PRIVATE KEY", body)),
            Ok(PrivateKeyDer::Pkcs1(_))
        ));
        assert!(matches!(
            parse_private_key(&section("EC PRIVATE KEY", body)),
            Ok(PrivateKeyDer::Sec1(_))
        ));
        let message = config_message(parse_private_key(CA_PEM));
        assert!(
            message.starts_with("invalid TLS key: no PEM private key found"),
            "{message}"
        );
        let encrypted = config_message(parse_private_key(&section("ENCRYPTED PRIVATE KEY", body)));
        assert!(encrypted.contains("encrypted keys are not supported"), "{encrypted}");
    }

    #[test]
    fn key_errors_never_quote_the_key() {
        let secret = "c2VjcmV0LWtleS1tYXRlcmlhbA";
        for pem in [
            section("PRIVATE KEY", &format!("{secret}*{secret}")),
            format!("-----BEGIN PRIVATE KEY-----\n{secret}\n"),
            format!("-----BEGIN PRIVATE KEY {secret}\n{secret}\n-----END PRIVATE KEY-----\n"),
        ] {
            let message = config_message(parse_private_key(&pem));
            assert!(message.starts_with("invalid TLS key: "), "{message}");
            assert!(!message.contains(secret) && !message.contains("c2Vj"), "{message}");
        }
        let material = TlsMaterial {
            key: Some(secret.to_string()),
            ..Default::default()
        };
        assert!(!format!("{material:?}").contains(secret));
    }

    #[test]
    fn material_replaces_the_files_and_is_checked_before_any_host() {
        let info = ConnInfo::parse("host=localhost sslmode=verify-full").unwrap();
        let with = |material: TlsMaterial| Tls::new(&info, Some(&material)).map(|tls| tls.is_some());
        assert!(with(TlsMaterial::default()).unwrap());
        let ca = TlsMaterial {
            ca: Some(CA_PEM.to_string()),
            servername: Some("db.example.com".to_string()),
            ..Default::default()
        };
        assert!(with(ca).unwrap());
        let bad_ca = TlsMaterial {
            ca: Some("junk".to_string()),
            ..Default::default()
        };
        assert!(config_message(with(bad_ca)).starts_with("invalid TLS ca: "));
        let cert_alone = TlsMaterial {
            cert: Some(CA_PEM.to_string()),
            ..Default::default()
        };
        assert_eq!(config_message(with(cert_alone)), "TLS cert is given without its key");
        let key_alone = TlsMaterial {
            key: Some(section("PRIVATE KEY", "AAEC")),
            ..Default::default()
        };
        assert_eq!(config_message(with(key_alone)), "TLS key is given without its cert");
        let bad_name = TlsMaterial {
            servername: Some("not a name".to_string()),
            ..Default::default()
        };
        assert_eq!(
            config_message(with(bad_name)),
            "TLS servername \"not a name\" is not a host name or IP address"
        );
        let disabled = ConnInfo::parse("host=localhost sslmode=disable").unwrap();
        assert!(Tls::new(&disabled, Some(&TlsMaterial::default())).unwrap().is_none());
    }
}
