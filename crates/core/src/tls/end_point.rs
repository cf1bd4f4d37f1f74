//! The certificate hash SCRAM-SHA-256-PLUS binds to (RFC 5929's `tls-server-end-point`), read
//! from the certificate's DER without a full X.509 parser.

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256, Sha384, Sha512};

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
}
