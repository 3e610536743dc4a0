//! The retry policy: how often, how patiently and for which errors a failed delivery is tried
//! again.
//!
//! Delays grow exponentially (doubling from `initial-delay`, each capped at `max-delay`) with
//! "equal jitter": a delay is drawn between half its nominal value and the whole of it. The floor
//! matters more than the spread: an endpoint that is down for a few seconds is outlasted by the
//! sum of the floors, whatever the random draws, so a test (or an operator) can reason about it.

use std::time::Duration;

use klaxon_core::{GoDuration, HandlerError};
use serde::{Deserialize, Serialize};

/// How a (topic, handler) pair retries failed deliveries.
///
/// ```
/// use std::time::Duration;
/// use klaxon_engine::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.attempts, 5);
/// // The third attempt waits 2s nominally, so between 1s and 2s.
/// assert_eq!(policy.nominal_delay(2), Duration::from_secs(2));
/// let delay = policy.delay(2, 0.0);
/// assert_eq!(delay, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 never retries (Kapacitor's behaviour).
    pub attempts: u32,
    /// The nominal wait before the second attempt; it doubles for each further one.
    pub initial_delay: Duration,
    /// The cap on each nominal wait.
    pub max_delay: Duration,
    /// No retry starts later than this after the first attempt began.
    pub max_elapsed: Duration,
    /// Retry every failure, also those the handler reports as permanent (a program that exits
    /// non-zero, an HTTP 4xx). Off by default: retrying them only repeats the failure.
    pub all_errors: bool,
}

impl Default for RetryPolicy {
    /// 5 attempts, 1s first delay doubling up to 30s, giving up after 2 minutes.
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(120),
            all_errors: false,
        }
    }
}

impl RetryPolicy {
    /// The nominal wait after failed attempt `failed` (1 for the first failure).
    pub fn nominal_delay(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(32);
        self.initial_delay
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max_delay)
    }

    /// The jittered wait after failed attempt `failed`, for a `draw` in `[0, 1)`: between half
    /// the nominal delay and the whole of it.
    pub fn delay(&self, failed: u32, draw: f64) -> Duration {
        let nominal = self.nominal_delay(failed);
        let half = nominal / 2;
        half + (nominal - half).mul_f64(draw.clamp(0.0, 1.0))
    }

    /// The wait after failed attempt `failed` that ended in `error`: the jittered backoff
    /// ([`RetryPolicy::delay`]) or, when the receiver asked for more with `Retry-After`, that.
    pub fn delay_after(&self, error: &HandlerError, failed: u32, draw: f64) -> Duration {
        let backoff = self.delay(failed, draw);
        error
            .retry_after()
            .map_or(backoff, |asked| asked.max(backoff))
    }

    /// Whether `error`, the outcome of attempt number `attempt` (1-based), is worth another try
    /// that would start `after` the first attempt began.
    pub fn should_retry(&self, error: &HandlerError, attempt: u32, after: Duration) -> bool {
        (error.is_retryable() || self.all_errors)
            && attempt < self.attempts
            && after <= self.max_elapsed
    }

    /// This policy with the fields `spec` sets replaced.
    pub fn with(mut self, spec: &RetrySpec) -> Result<RetryPolicy, RetryError> {
        if let Some(attempts) = spec.attempts {
            self.attempts = attempts;
        }
        let duration = |key: &'static str, value: Option<GoDuration>| {
            value
                .map(|d| {
                    Some(d.to_std())
                        .filter(|d| !d.is_zero())
                        .ok_or(RetryError::NotPositive { key, got: d })
                })
                .transpose()
        };
        if let Some(d) = duration("initial-delay", spec.initial_delay)? {
            self.initial_delay = d;
        }
        if let Some(d) = duration("max-delay", spec.max_delay)? {
            self.max_delay = d;
        }
        if let Some(d) = duration("max-elapsed", spec.max_elapsed)? {
            self.max_elapsed = d;
        }
        if let Some(all) = spec.all_errors {
            self.all_errors = all;
        }
        self.check()?;
        Ok(self)
    }

    /// Checks the policy's own consistency; the error names the offending key.
    pub fn check(&self) -> Result<(), RetryError> {
        if self.attempts == 0 {
            return Err(RetryError::NoAttempts);
        }
        if self.initial_delay.is_zero() || self.max_delay.is_zero() || self.max_elapsed.is_zero() {
            return Err(RetryError::ZeroDelay);
        }
        Ok(())
    }
}

/// A retry policy that does not hold, named by its key.
///
/// ```
/// let spec: klaxon_engine::RetrySpec = serde_json::from_str(r#"{"attempts":0}"#).unwrap();
/// let err = klaxon_engine::RetryPolicy::default().with(&spec).unwrap_err();
/// assert_eq!(err, klaxon_engine::RetryError::NoAttempts);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryError {
    /// A delay is zero or negative.
    #[error("retry {key} must be a positive duration such as \"1s\", got {got}")]
    NotPositive {
        /// The key: `initial-delay`, `max-delay` or `max-elapsed`.
        key: &'static str,
        /// The duration given.
        got: GoDuration,
    },
    /// `attempts` is 0.
    #[error("retry attempts must be at least 1 (1 means no retries), got 0")]
    NoAttempts,
    /// A delay of the policy is zero.
    #[error("retry delays must be greater than zero")]
    ZeroDelay,
}

/// The optional `retry` object of a handler spec, beside `options`: each field it sets
/// overrides `[alert]`'s default for that handler. Kapacitor clients never send it.
///
/// ```
/// let spec: klaxon_engine::RetrySpec =
///     serde_json::from_str(r#"{"attempts": 1}"#).unwrap();
/// let policy = klaxon_engine::RetryPolicy::default().with(&spec).unwrap();
/// assert_eq!(policy.attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RetrySpec {
    /// Attempts in all, the first included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The nominal wait before the second attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<GoDuration>,
    /// The cap on each nominal wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<GoDuration>,
    /// No retry starts later than this after the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_elapsed: Option<GoDuration>,
    /// Retry permanent failures too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_errors: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let nominal: Vec<u64> = (1..=7).map(|n| policy.nominal_delay(n).as_secs()).collect();
        assert_eq!(nominal, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(policy.nominal_delay(1000), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_between_half_and_whole() {
        let policy = RetryPolicy::default();
        for draw in [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, 7.0] {
            let d = policy.delay(3, draw);
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_secs(4),
                "{draw}: {d:?}"
            );
        }
    }

    #[test]
    fn the_floors_outlast_a_short_outage() {
        // The guarantee the docs make: with the defaults, the attempts span at least 7.5s
        // (0.5 + 1 + 2 + 4) whatever the jitter draws.
        let policy = RetryPolicy::default();
        let floor: Duration = (1..policy.attempts).map(|n| policy.delay(n, 0.0)).sum();
        assert_eq!(floor, Duration::from_millis(7500));
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_is_waited_and_can_end_the_retries() {
        let policy = RetryPolicy::default();
        let asked = HandlerError::transient("429").with_retry_after(Duration::from_secs(20));
        assert_eq!(policy.delay_after(&asked, 1, 0.5), Duration::from_secs(20));
        let short = HandlerError::transient("503").with_retry_after(Duration::from_millis(1));
        assert_eq!(policy.delay_after(&short, 3, 1.0), policy.delay(3, 1.0));
        // A wait that would pass max-elapsed ends the retries instead of waiting.
        let forever = HandlerError::transient("503").with_retry_after(Duration::from_secs(3600));
        let delay = policy.delay_after(&forever, 1, 0.0);
        assert!(!policy.should_retry(&forever, 1, delay));
    }

    #[test]
    fn retries_stop_at_attempts_elapsed_or_permanent_errors() {
        let policy = RetryPolicy::default();
        let transient = HandlerError::transient("connection refused");
        let permanent = HandlerError::permanent("exit status 1");
        assert!(policy.should_retry(&transient, 1, Duration::ZERO));
        assert!(!policy.should_retry(&transient, 5, Duration::ZERO));
        assert!(!policy.should_retry(&transient, 2, Duration::from_secs(121)));
        assert!(!policy.should_retry(&permanent, 1, Duration::ZERO));
        let all = RetryPolicy {
            all_errors: true,
            ..policy
        };
        assert!(all.should_retry(&permanent, 1, Duration::ZERO));
    }

    #[test]
    fn specs_override_fields_and_name_bad_ones() {
        let spec: RetrySpec =
            serde_json::from_str(r#"{"initial-delay":"100ms","all-errors":true}"#).unwrap();
        let policy = RetryPolicy::default().with(&spec).unwrap();
        assert_eq!(policy.initial_delay, Duration::from_millis(100));
        assert!(policy.all_errors);
        assert_eq!(policy.attempts, 5);

        let zero: RetrySpec = serde_json::from_str(r#"{"attempts":0}"#).unwrap();
        assert_eq!(
            RetryPolicy::default().with(&zero).unwrap_err().to_string(),
            "retry attempts must be at least 1 (1 means no retries), got 0"
        );
        let negative: RetrySpec = serde_json::from_str(r#"{"max-delay":"-1s"}"#).unwrap();
        assert!(
            RetryPolicy::default()
                .with(&negative)
                .unwrap_err()
                .to_string()
                .contains("retry max-delay must be a positive duration")
        );
        let unknown = serde_json::from_str::<RetrySpec>(r#"{"attempt":3}"#).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `attempt`"),
            "{unknown}"
        );
    }
}
