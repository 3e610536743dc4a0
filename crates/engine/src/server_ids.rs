//! The server's stable identity for templates (`.ServerInfo.ClusterID`, `.ServerInfo.ServerID`):
//! two random UUIDs made the first time the server opens its database and kept there, as
//! Kapacitor keeps its cluster and server IDs in its own.

use serde_json::json;

use crate::{Store, StoreError};

/// The store namespace and key of the IDs.
const NAMESPACE: &str = "server";
const KEY: &str = "ids";

/// The cluster and server IDs, as UUID text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerIds {
    /// `.ServerInfo.ClusterID`.
    pub cluster_id: String,
    /// `.ServerInfo.ServerID`.
    pub server_id: String,
}

/// The IDs stored in `store`, made and stored on the first call.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("klaxon.db");
/// let first = klaxon_engine::server_ids(&klaxon_engine::Store::open(&path).unwrap()).unwrap();
/// assert_eq!(first.cluster_id.len(), 36);
/// assert_ne!(first.cluster_id, first.server_id);
/// let again = klaxon_engine::server_ids(&klaxon_engine::Store::open(&path).unwrap()).unwrap();
/// assert_eq!(first, again);
/// ```
pub fn server_ids(store: &Store) -> Result<ServerIds, StoreError> {
    if let Some(stored) = store.record(NAMESPACE, KEY)? {
        let id = |name: &str| stored[name].as_str().map(str::to_owned);
        if let (Some(cluster_id), Some(server_id)) = (id("cluster-id"), id("server-id")) {
            return Ok(ServerIds {
                cluster_id,
                server_id,
            });
        }
    }
    let ids = ServerIds {
        cluster_id: uuid_v4(),
        server_id: uuid_v4(),
    };
    store.put_record(
        NAMESPACE,
        KEY,
        &json!({"cluster-id": ids.cluster_id, "server-id": ids.server_id}),
    )?;
    Ok(ids)
}

/// A random (version 4) UUID, as Go's `uuid.New().String()` prints one.
fn uuid_v4() -> String {
    let mut bytes = fastrand::u128(..).to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
