//! What can go wrong talking to InfluxDB, by cause, so that callers can tell a retry from a fix.

/// An InfluxDB error. Each names the cluster, and the URL or statement involved.
#[derive(Debug, thiserror::Error)]
pub enum InfluxError {
    /// A `[[influxdb]]` element is not valid.
    #[error("[[influxdb]] {cluster:?}: {message}")]
    Config {
        /// The cluster's name.
        cluster: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A task or request names a cluster that is not configured (or not enabled).
    #[error("no InfluxDB cluster named {name:?}; configured: {known}")]
    UnknownCluster {
        /// The name asked for.
        name: String,
        /// The configured names, or "none, add an [[influxdb]] section".
        known: String,
    },
    /// No URL of the cluster answered.
    #[error("InfluxDB cluster {cluster:?} unreachable: {message}")]
    Unavailable {
        /// The cluster's name.
        cluster: String,
        /// What each URL said.
        message: String,
    },
    /// InfluxDB answered with an error status.
    #[error("InfluxDB {url} answered {status}: {body}")]
    Status {
        /// The request's URL, without credentials.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body (InfluxDB's `{"error":...}`).
        body: String,
    },
    /// A statement failed inside InfluxDB (a `"error"` in its result).
    #[error("InfluxDB refused {statement:?}: {message}")]
    Statement {
        /// The InfluxQL statement.
        statement: String,
        /// InfluxDB's message.
        message: String,
    },
    /// The answer could not be decoded.
    #[error("cannot decode InfluxDB's answer to {statement:?}: {message}")]
    Decode {
        /// The InfluxQL statement.
        statement: String,
        /// Why.
        message: String,
    },
}

impl InfluxError {
    /// Whether trying again later may succeed: InfluxDB unreachable, or a 5xx, 429 or 408.
    pub fn is_retryable(&self) -> bool {
        match self {
            InfluxError::Unavailable { .. } => true,
            InfluxError::Status { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            _ => false,
        }
    }
}
