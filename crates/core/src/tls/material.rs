//! The trusted roots and the client's identity: from PEM given in memory, the conninfo's files,
//! libpq's files under `~/.postgresql/`, or the system's store, in libpq's order.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::RootCertStore;

use super::TlsMaterial;
use crate::conninfo::{ConnInfo, SslMode};
use crate::error::{Error, Result};

/// Where the trusted root certificates come from.
pub(super) enum Roots {
    File(PathBuf),
    System,
    /// `TlsMaterial::ca`, parsed.
    Given(Vec<CertificateDer<'static>>),
}

/// libpq's order: `sslrootcert` if given, else `~/.postgresql/root.crt` if it exists. For the
/// verify modes without either, pgtide trusts the system's store where libpq would fail.
/// `TlsMaterial::ca` comes before them all, and material given in memory skips the home file.
pub(super) fn roots_for(info: &ConnInfo, material: Option<&TlsMaterial>) -> Result<Option<Roots>> {
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
pub(super) fn parse_certificates(setting: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>> {
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
pub(super) fn parse_private_key(pem: &str) -> Result<PrivateKeyDer<'static>> {
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

pub(super) fn load_roots(roots: &Roots) -> Result<(Arc<RootCertStore>, String)> {
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

pub(super) type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate and key: `TlsMaterial::cert` and `key` (both or neither), else
/// `sslcert`/`sslkey`, else libpq's `~/.postgresql/postgresql.crt` and `.key` when the
/// certificate file exists (not when material is given in memory).
pub(super) fn client_identity(info: &ConnInfo, material: Option<&TlsMaterial>) -> Result<Option<Identity>> {
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
