//! TLS for both directions: Kapacitor's outbound keys ([`ClientTls`]) and the HTTPS listener's
//! certificate and key ([`server_tls`]), read from PEM files with errors that name the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The outbound TLS keys Kapacitor's sections carry (`[[slack]]`, `[[mqtt]]`, `[[influxdb]]`...):
/// a CA file trusted beside the platform's roots, a client certificate and key, and whether to
/// skip verifying the server.
///
/// ```
/// let tls = klaxon_http::ClientTls { ca: "/etc/klaxon/ca.pem".into(), ..Default::default() };
/// assert!(!tls.insecure_skip_verify);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientTls {
    /// `ssl-ca`: a PEM file of CA certificates trusted in addition to the platform's roots.
    pub ca: String,
    /// `ssl-cert`: a PEM client certificate (chain), sent when the server asks for one.
    pub cert: String,
    /// `ssl-key`: the PEM private key of `cert`.
    pub key: String,
    /// `insecure-skip-verify`: accept any server certificate, for any name. For tests only.
    pub insecure_skip_verify: bool,
}

/// Why TLS could not be set up. Each names the setting and the file, and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {setting} {path}: {source}")]
    Read {
        /// The setting that names the file (`ssl-ca`, `[http] https-certificate`...).
        setting: String,
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file holds no PEM block of the kind needed.
    #[error(
        "{setting} {path} holds no PEM {expected}; give a PEM file (\"-----BEGIN {marker}-----\")"
    )]
    Missing {
        /// The setting that names the file.
        setting: String,
        /// The file.
        path: PathBuf,
        /// What was looked for: "certificate" or "private key".
        expected: &'static str,
        /// The PEM marker to look for.
        marker: &'static str,
    },
    /// A file's PEM could not be decoded.
    #[error("{setting} {path} is not valid PEM: {reason}")]
    BadPem {
        /// The setting that names the file.
        setting: String,
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// Only one of a certificate and its key is set.
    #[error("{given} is set but {missing} is not: a client certificate needs both")]
    HalfPair {
        /// The setting that is set.
        given: &'static str,
        /// The setting that is missing.
        missing: &'static str,
    },
    /// The certificate and key cannot serve together (they do not match, or the key is of a
    /// kind rustls cannot use).
    #[error("the certificate {cert} and the private key {key} cannot be used together: {reason}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The HTTP client could not be built with these settings.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

impl ClientTls {
    /// The client certificate and key files, when both are set; `None` when neither is; an
    /// error naming the missing one when only one is.
    pub(crate) fn client_pair(&self) -> Result<Option<(&str, &str)>, TlsError> {
        match (self.cert.is_empty(), self.key.is_empty()) {
            (true, true) => Ok(None),
            (false, true) => Err(TlsError::HalfPair {
                given: "ssl-cert",
                missing: "ssl-key",
            }),
            (true, false) => Err(TlsError::HalfPair {
                given: "ssl-key",
                missing: "ssl-cert",
            }),
            (false, false) => Ok(Some((&self.cert, &self.key))),
        }
    }
}

/// Installs rustls's `ring` crypto provider as the process default, once. Every function of this
/// crate that needs TLS calls it; a binary may call it early. Another provider already installed
/// is kept.
pub fn install_crypto_provider() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // An error means a provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The rustls configuration of an HTTPS listener: the certificate chain of `cert` and the
/// private key of `key` (Kapacitor's `[http] https-certificate` and `https-private-key`; an
/// empty `key` means the key is in the certificate's file, as in Kapacitor). Refuses, naming the
/// file, a file that cannot be read, holds no PEM certificate or key, or a key that does not
/// match the certificate.
///
/// ```no_run
/// use std::path::Path;
/// let config = klaxon_http::server_tls(Path::new("/etc/ssl/klaxon.pem"), Path::new("")).unwrap();
/// ```
pub fn server_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    install_crypto_provider();
    let key = if key.as_os_str().is_empty() {
        cert
    } else {
        key
    };
    let chain = read_certificates("[http] https-certificate", cert)?;
    let private_key = read_private_key("[http] https-private-key", key)?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| TlsError::Pair {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(Arc::new(config))
}

/// The PEM certificates in `path`; at least one.
pub(crate) fn read_certificates(
    setting: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(setting, path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(setting, path, &e))?;
    if certificates.is_empty() {
        return Err(TlsError::Missing {
            setting: setting.to_owned(),
            path: path.to_path_buf(),
            expected: "certificate",
            marker: "CERTIFICATE",
        });
    }
    Ok(certificates)
}

/// The first PEM private key in `path`.
pub(crate) fn read_private_key(
    setting: &str,
    path: &Path,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(setting, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::Missing {
            setting: setting.to_owned(),
            path: path.to_path_buf(),
            expected: "private key",
            marker: "PRIVATE KEY",
        },
        other => bad_pem(setting, path, &other),
    })
}

/// The bytes of `path`, or an error naming the setting and the file.
pub(crate) fn read(setting: &str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        setting: setting.to_owned(),
        path: path.to_path_buf(),
        source,
    })
}

fn bad_pem(setting: &str, path: &Path, err: &pem::Error) -> TlsError {
    TlsError::BadPem {
        setting: setting.to_owned(),
        path: path.to_path_buf(),
        reason: format!("{err:?}"),
    }
}
