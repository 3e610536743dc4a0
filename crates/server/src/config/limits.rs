//! `[limits]`: every bound on hostile or mistaken input but the request body size (which is
//! `[http] max-body-size`), in one section. Each error from a limit names its key here.

use klaxon_core::Invalid;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest body axum reads for the API's routes other than /write; a spec or script limit
/// above it could never be reached through the API.
const API_BODY_LIMIT: usize = 2 << 20;

/// Bounds on what clients may send and define. Reaching one is an error that names the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsConfig {
    /// Longest line of line protocol accepted by /write, in bytes. A longer line refuses the
    /// whole write with 400.
    pub max_line_length: usize,
    /// Most fields one point of line protocol may have. A point with more refuses the whole
    /// write with 400.
    pub max_fields_per_point: usize,
    /// Largest TICKscript a task may have, in bytes (task files in [load] dir too). At most
    /// 2097152, the API's request body limit.
    pub max_script_size: usize,
    /// Deepest lambda or topic-handler match expression: every parenthesis, operator and
    /// function call adds a level, and variables are counted once substituted. From 1 to 256.
    pub max_expression_depth: usize,
    /// Largest compiled form of one regex in a lambda or match expression, in bytes. Rust's
    /// regexes match in linear time; this bounds their memory and compile time.
    pub max_regex_size: usize,
    /// Largest .id(), .message() or .details() template of an alert node, in bytes. (What a
    /// template renders is bounded too, at 1 MiB, and its loops at 100 000 iterations.)
    pub max_template_size: usize,
    /// Largest topic-handler spec, in bytes: a handler file in [load] dir, the body of a
    /// handler request, or the spec a PATCH makes. At most 2097152, the API's request body limit.
    pub max_handler_spec_size: usize,
    /// Most tasks that may be defined.
    pub max_tasks: usize,
    /// Most topic handlers that may be defined, over all topics (a task's inline handlers are
    /// not counted).
    pub max_topic_handlers: usize,
    /// Most series (groups) one node of a task holds: windows, alert states and the other
    /// per-group state. A point of a new series at a node that holds this many is dropped
    /// there, counted in klaxon_task_series_dropped_total and logged (the first ten, then every
    /// thousandth); the series it holds go on. Applies when a task starts.
    pub max_series: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig::from_engine(&klaxon_engine::Limits::default())
    }
}

impl LimitsConfig {
    fn from_engine(limits: &klaxon_engine::Limits) -> Self {
        let pipeline = &limits.pipeline;
        LimitsConfig {
            max_line_length: pipeline.max_line_length,
            max_fields_per_point: pipeline.max_fields_per_point,
            max_script_size: pipeline.tick.max_script_size,
            max_expression_depth: pipeline.tick.max_depth,
            max_regex_size: pipeline.tick.regex_size_limit,
            max_template_size: pipeline.max_template_size,
            max_handler_spec_size: limits.max_handler_spec_size,
            max_tasks: limits.max_tasks,
            max_topic_handlers: limits.max_topic_handlers,
            max_series: pipeline.max_series,
        }
    }

    /// The limits as the engine takes them.
    pub fn engine(&self) -> klaxon_engine::Limits {
        klaxon_engine::Limits {
            pipeline: klaxon_pipeline::Limits {
                tick: klaxon_tick::Limits {
                    max_depth: self.max_expression_depth,
                    regex_size_limit: self.max_regex_size,
                    max_script_size: self.max_script_size,
                },
                max_template_size: self.max_template_size,
                max_line_length: self.max_line_length,
                max_fields_per_point: self.max_fields_per_point,
                max_series: self.max_series,
            },
            max_tasks: self.max_tasks,
            max_topic_handlers: self.max_topic_handlers,
            max_handler_spec_size: self.max_handler_spec_size,
        }
    }

    pub(super) fn validate(&self) -> Result<(), Invalid> {
        let value = serde_json::to_value(self).map_err(|e| Invalid::new(e.to_string()))?;
        if let Some(map) = value.as_object() {
            for (key, value) in map {
                if value.as_u64() == Some(0) {
                    return Err(Invalid::new(format!(
                        "[limits] {key} must be at least 1, got 0 (which would refuse everything)"
                    )));
                }
            }
        }
        let max_depth = klaxon_tick::Limits::MAX_DEPTH;
        if self.max_expression_depth > max_depth {
            return Err(Invalid::new(format!(
                "[limits] max-expression-depth is {}; it can be at most {max_depth}, which keeps \
                 evaluation within the stack",
                self.max_expression_depth
            )));
        }
        for (key, value) in [
            ("max-script-size", self.max_script_size),
            ("max-handler-spec-size", self.max_handler_spec_size),
        ] {
            if value > API_BODY_LIMIT {
                return Err(Invalid::new(format!(
                    "[limits] {key} is {value}; it can be at most {API_BODY_LIMIT}, the API's \
                     request body limit"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_named_in_an_error_is_a_key_of_this_section() {
        let keys = serde_json::to_value(LimitsConfig::default()).unwrap();
        let named = [
            klaxon_tick::Limits::DEPTH_SETTING,
            klaxon_tick::Limits::REGEX_SETTING,
            klaxon_tick::Limits::SCRIPT_SETTING,
            klaxon_pipeline::Limits::TEMPLATE_SETTING,
            klaxon_pipeline::Limits::LINE_SETTING,
            klaxon_pipeline::Limits::FIELDS_SETTING,
            klaxon_pipeline::Limits::SERIES_SETTING,
            klaxon_engine::Limits::TASKS_SETTING,
            klaxon_engine::Limits::HANDLERS_SETTING,
            klaxon_engine::Limits::SPEC_SIZE_SETTING,
        ];
        for setting in named {
            let key = setting.strip_prefix("[limits] ").unwrap();
            assert!(keys.get(key).is_some(), "{setting} is not a [limits] key");
        }
        assert_eq!(keys.as_object().unwrap().len(), named.len());
    }

    #[test]
    fn the_defaults_are_the_engines_and_round_trip() {
        let config = LimitsConfig::default();
        assert_eq!(config.engine(), klaxon_engine::Limits::default());
        config.validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_key() {
        let zero = LimitsConfig {
            max_tasks: 0,
            ..LimitsConfig::default()
        };
        assert_eq!(
            zero.validate().unwrap_err().to_string(),
            "[limits] max-tasks must be at least 1, got 0 (which would refuse everything)"
        );
        let deep = LimitsConfig {
            max_expression_depth: 1000,
            ..LimitsConfig::default()
        };
        assert!(
            deep.validate()
                .unwrap_err()
                .to_string()
                .starts_with("[limits] max-expression-depth is 1000; it can be at most 256"),
        );
        let big = LimitsConfig {
            max_handler_spec_size: 3 << 20,
            ..LimitsConfig::default()
        };
        assert!(
            big.validate()
                .unwrap_err()
                .to_string()
                .starts_with("[limits] max-handler-spec-size is 3145728"),
        );
    }
}
