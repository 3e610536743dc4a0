//! The answers of InfluxDB's `/query`: one result per statement, each a list of series.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::InfluxError;

/// One statement's result.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct QueryResult {
    /// Its series, one per group.
    #[serde(default)]
    pub series: Vec<Series>,
    /// InfluxDB's error for this statement.
    #[serde(default)]
    pub error: Option<String>,
}

/// One series of a result: a measurement and group tags, and rows of values by column.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Series {
    /// The measurement.
    #[serde(default)]
    pub name: String,
    /// The group tags (`GROUP BY` tags).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The column names; `time` first when the query selects it.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The rows.
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    results: Vec<QueryResult>,
    #[serde(default)]
    error: Option<String>,
}

/// Decodes a `/query` answer, turning an error of the whole request or of a statement into
/// [`InfluxError::Statement`].
pub(crate) fn decode(statement: &str, body: &str) -> Result<Vec<QueryResult>, InfluxError> {
    let response: Response = serde_json::from_str(body).map_err(|e| InfluxError::Decode {
        statement: statement.to_owned(),
        message: e.to_string(),
    })?;
    let failed = response
        .error
        .or_else(|| response.results.iter().find_map(|r| r.error.clone()));
    if let Some(message) = failed {
        return Err(InfluxError::Statement {
            statement: statement.to_owned(),
            message,
        });
    }
    Ok(response.results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_series_and_errors() {
        let body = r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"cpu":"cpu0"},"columns":["time","mean"],"values":[["2015-10-30T17:14:12Z",1.5]]}]}]}"#;
        let results = decode("SELECT", body).unwrap();
        assert_eq!(results[0].series[0].tags["cpu"], "cpu0");
        assert_eq!(results[0].series[0].values[0][1], 1.5);
        let err = decode(
            "SELECT x",
            r#"{"results":[{"statement_id":0,"error":"database not found: db"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "InfluxDB refused \"SELECT x\": database not found: db"
        );
        assert!(decode("q", "not json").is_err());
    }
}
