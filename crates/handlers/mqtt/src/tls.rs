//! The rustls client configuration of an ssl:// or wss:// broker, from Kapacitor's TLS keys
//! (`ssl-ca`, `ssl-cert`, `ssl-key`, `insecure-skip-verify`), verifying as klaxon-http's HTTP
//! clients do: the platform's CA roots plus `ssl-ca`.
//!
//! This belongs in klaxon-http beside its HTTP clients (as `ClientTls::rustls_config`), where the
//! kafka handler needs it too; it lives here until it moves.

use std::path::Path;
use std::sync::Arc;

use klaxon_http::{ClientTls, TlsError, install_crypto_provider};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The client configuration of `tls`. Refuses, naming the setting and the file, a file that
/// cannot be read or holds no PEM of the kind needed, half a client certificate, and a
/// certificate and key that do not go together.
pub(crate) fn client_config(tls: &ClientTls) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    install_crypto_provider();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Client(e.to_string()))?
        .dangerous();
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        })
    } else {
        let extra_roots = if tls.ca.is_empty() {
            Vec::new()
        } else {
            certificates("ssl-ca", &tls.ca)?
        };
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider)
                .map_err(|e| TlsError::Client(format!("ssl-ca {}: {e}", tls.ca)))?;
        Arc::new(verifier)
    };
    let builder = builder.with_custom_certificate_verifier(verifier);
    let config = match (tls.cert.is_empty(), tls.key.is_empty()) {
        (true, true) => builder.with_no_client_auth(),
        (false, true) => {
            return Err(TlsError::HalfPair {
                given: "ssl-cert",
                missing: "ssl-key",
            });
        }
        (true, false) => {
            return Err(TlsError::HalfPair {
                given: "ssl-key",
                missing: "ssl-cert",
            });
        }
        (false, false) => {
            let chain = certificates("ssl-cert", &tls.cert)?;
            let key = private_key("ssl-key", &tls.key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Pair {
                    cert: tls.cert.clone().into(),
                    key: tls.key.clone().into(),
                    reason: e.to_string(),
                })?
        }
    };
    Ok(Arc::new(config))
}

/// The PEM certificates in `path`; at least one.
fn certificates(setting: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(setting, path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(setting, path, &e))?;
    if certificates.is_empty() {
        return Err(TlsError::Missing {
            setting: setting.to_owned(),
            path: path.into(),
            expected: "certificate",
            marker: "CERTIFICATE",
        });
    }
    Ok(certificates)
}

/// The first PEM private key in `path`.
fn private_key(setting: &str, path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(setting, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::Missing {
            setting: setting.to_owned(),
            path: path.into(),
            expected: "private key",
            marker: "PRIVATE KEY",
        },
        other => bad_pem(setting, path, &other),
    })
}

fn read(setting: &str, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(Path::new(path)).map_err(|source| TlsError::Read {
        setting: setting.to_owned(),
        path: path.into(),
        source,
    })
}

fn bad_pem(setting: &str, path: &str, err: &pem::Error) -> TlsError {
    TlsError::BadPem {
        setting: setting.to_owned(),
        path: path.into(),
        reason: format!("{err:?}"),
    }
}

/// `insecure-skip-verify`: any certificate for any name. The handshake's signatures are still
/// checked, so that the session keys are those of whoever holds the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
