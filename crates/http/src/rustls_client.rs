//! A rustls client configuration from Kapacitor's outbound TLS keys, for clients that are not
//! HTTP (the Kafka consumer's broker connections): the platform's roots plus `ssl-ca`, a client
//! certificate from `ssl-cert` and `ssl-key`, and `insecure-skip-verify`.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::tls::{
    ClientTls, TlsError, install_crypto_provider, read_certificates, read_private_key,
};

/// The rustls client configuration of `tls`, refusing (naming the setting and file) a CA,
/// certificate or key that cannot be read, or a certificate without its key.
///
/// ```
/// let config = klaxon_http::rustls_client(&klaxon_http::ClientTls::default()).unwrap();
/// assert!(config.alpn_protocols.is_empty());
/// let half = klaxon_http::ClientTls { cert: "/etc/klaxon/client.pem".into(), ..Default::default() };
/// let err = klaxon_http::rustls_client(&half).unwrap_err();
/// assert_eq!(err.to_string(), "ssl-cert is set but ssl-key is not: a client certificate needs both");
/// ```
pub fn rustls_client(tls: &ClientTls) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    install_crypto_provider();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Client(e.to_string()))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        let extra = if tls.ca.is_empty() {
            Vec::new()
        } else {
            read_certificates("ssl-ca", Path::new(&tls.ca))?
        };
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
            .map_err(|e| TlsError::Client(format!("ssl-ca {}: {e}", tls.ca)))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
    let config = match tls.client_pair()? {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = read_certificates("ssl-cert", Path::new(cert))?;
            let private_key = read_private_key("ssl-key", Path::new(key))?;
            builder
                .with_client_auth_cert(chain, private_key)
                .map_err(|e| TlsError::Pair {
                    cert: cert.into(),
                    key: key.into(),
                    reason: e.to_string(),
                })?
        }
    };
    Ok(Arc::new(config))
}

/// `insecure-skip-verify`: any certificate for any name (signatures are still checked, so the
/// handshake itself is sound).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
