//! `GET /kapacitor/v1/storage/backup`: a consistent copy of `klaxon.db` taken while the server
//! runs (one read transaction, so writes go on meanwhile), sent with its `Content-Length` so that
//! a client can tell a whole backup from a cut one, as Kapacitor's does.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// `GET /kapacitor/v1/storage/backup`.
pub async fn backup(State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = state.alerts.store().clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let dir = store
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        // Beside the database, so the copy needs no other writable place; removed when done.
        let file = TempPath::in_dir(&dir);
        store.backup(&file.0).map_err(|e| e.to_string())?;
        std::fs::read(&file.0).map_err(|e| format!("reading the backup: {e}"))
    })
    .await
    .map_err(|e| ApiError::internal(format!("failed to back up: {e}")))?
    .map_err(|e| ApiError::internal(format!("failed to back up: {e}")))?;
    tracing::info!(bytes = bytes.len(), "backup sent");
    let length = bytes.len();
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"klaxon.db\""),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}

/// A file name in `dir` that is removed when dropped.
struct TempPath(std::path::PathBuf);

impl TempPath {
    /// A name for a new file in `dir`, unique to this process and call.
    fn in_dir(dir: &std::path::Path) -> TempPath {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TempPath(dir.join(format!(".backup-{}-{n}.db", std::process::id())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
