//! `logs [key=value...]` and `watch TASK [key=value...]`: the server's log lines as they happen,
//! from Kapacitor's `GET /kapacitor/v1preview/logs?key=value`, until Ctrl-C or the server ends
//! the stream.

use std::io::Write;

use crate::client::{Client, ClientError, Method, encode_query};

/// `logs [key=value...]`.
pub async fn follow(
    client: &Client,
    tags: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let pairs = pairs(tags)?;
    stream(client, &pairs, out).await
}

/// `watch ID [key=value...]`: the log lines of task ID, its alert events among them. Where no
/// task has the ID but a topic does, the lines of that topic's events (a Klaxon addition).
pub async fn watch(
    client: &Client,
    id: &str,
    tags: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let key = if client
        .get_optional(&format!("/tasks/{}", encode_query(id)))
        .await?
        .is_some()
    {
        "task"
    } else if client
        .get_optional(&format!("/alerts/topics/{}", encode_query(id)))
        .await?
        .is_some()
    {
        "topic"
    } else {
        return Err(ClientError::Server {
            status: 404,
            message: format!(
                "no task or topic {id:?}; 'klaxon list tasks' and 'klaxon list topics' show them"
            ),
        });
    };
    let mut pairs = vec![(key.to_owned(), id.to_owned())];
    pairs.extend(self::pairs(tags)?);
    stream(client, &pairs, out).await
}

/// `key=value` arguments, as Kapacitor reads them (`bad keyvalue pair: 'x'` otherwise).
fn pairs(tags: &[String]) -> Result<Vec<(String, String)>, ClientError> {
    tags.iter()
        .map(|tag| {
            let parts: Vec<&str> = tag.split('=').collect();
            match parts[..] {
                [key, value] => Ok((key.to_owned(), value.to_owned())),
                _ => Err(ClientError::Usage(format!(
                    "bad keyvalue pair: '{tag}'; write filters as key=value, such as lvl=error"
                ))),
            }
        })
        .collect()
}

/// Copies the log stream to `out` until Ctrl-C (success) or the end of the stream.
async fn stream(
    client: &Client,
    pairs: &[(String, String)],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v)))
        .collect();
    let path = format!("/kapacitor/v1preview/logs?{}", query.join("&"));
    let mut response = client
        .raw(Method::GET, &path, None, None)
        .await
        .map_err(|e| {
            if e.is_missing_route() {
                ClientError::server(
                    "this server does not stream its logs (no /kapacitor/v1preview/logs)",
                )
            } else {
                ClientError::server(format!("failed to retrieve logs: {e}"))
            }
        })?;
    loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match chunk {
            Ok(Some(bytes)) => {
                // A reader that went away (`| head`) ends the command quietly.
                if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                    return Ok(());
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(ClientError::server(format!("failed to retrieve logs: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_read_as_kapacitor_reads_them() {
        assert_eq!(
            pairs(&["lvl=info+".to_owned(), "node=alert2".to_owned()]).unwrap(),
            [
                ("lvl".to_owned(), "info+".to_owned()),
                ("node".to_owned(), "alert2".to_owned())
            ]
        );
        assert_eq!(
            pairs(&["a=b=c".to_owned()]).unwrap_err().to_string(),
            "bad keyvalue pair: 'a=b=c'; write filters as key=value, such as lvl=error"
        );
    }
}
