//! Reading TLS material: PEM certificates and keys, and errors that name the setting and never
//! quote a key.

use rustls_pki_types::PrivateKeyDer;

use super::material::{parse_certificates, parse_private_key};
use super::*;

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
