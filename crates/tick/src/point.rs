//! What the evaluator reads: a point (for task lambdas) or an alert event (for topic-handler
//! match expressions). The engine implements these on its own types, so nothing is copied.

use crate::value::FieldValue;

/// A data point as a lambda sees it.
///
/// ```
/// use klaxon_tick::{FieldValue, Point};
///
/// struct Cpu { idle: f64, host: String, time: i64 }
///
/// impl Point for Cpu {
///     fn field(&self, name: &str) -> Option<FieldValue<'_>> {
///         (name == "usage_idle").then_some(FieldValue::Float(self.idle))
///     }
///     fn tag(&self, name: &str) -> Option<&str> {
///         (name == "host").then_some(self.host.as_str())
///     }
///     fn time(&self) -> i64 { self.time }
///     fn name(&self) -> &str { "cpu" }
/// }
///
/// let mut crit = klaxon_tick::Lambda::parse("\"usage_idle\" < 10 AND \"host\" =~ /^web/").unwrap();
/// let point = Cpu { idle: 3.5, host: "web-1".into(), time: 0 };
/// assert!(crit.eval_bool(&point).unwrap());
/// ```
pub trait Point {
    /// The field called `name`, if the point has one.
    fn field(&self, name: &str) -> Option<FieldValue<'_>>;
    /// The tag called `name`, if the point has one.
    fn tag(&self, name: &str) -> Option<&str>;
    /// The point's time in nanoseconds since the Unix epoch (what `"time"` evaluates to).
    fn time(&self) -> i64;
    /// The measurement. Lambdas cannot read it; it is part of the trait so one point type serves
    /// the engine's other uses (and error reports) without a second adapter.
    fn name(&self) -> &str;
}

/// What a topic-handler `match` expression can see of an alert event: its tags and the
/// context functions `level()`, `changed()`, `name()`, `taskName()` and `alertDuration()`.
///
/// ```
/// use klaxon_tick::{MatchContext, MatchExpr};
///
/// struct Event { host: &'static str, level: i64 }
/// impl MatchContext for Event {
///     fn tag(&self, name: &str) -> Option<&str> { (name == "host").then_some(self.host) }
///     fn level(&self) -> i64 { self.level }
///     fn changed(&self) -> bool { true }
///     fn name(&self) -> &str { "cpu" }
///     fn task_name(&self) -> &str { "cpu_alert" }
///     fn alert_duration(&self) -> i64 { 30_000_000_000 }
/// }
///
/// let mut m = MatchExpr::parse("\"host\" == 'serverA' AND level() == CRITICAL").unwrap();
/// assert!(m.matches(&Event { host: "serverA", level: 3 }).unwrap());
/// assert!(!m.matches(&Event { host: "serverB", level: 3 }).unwrap());
/// ```
pub trait MatchContext {
    /// The event tag called `name`.
    fn tag(&self, name: &str) -> Option<&str>;
    /// The event level: OK 0, INFO 1, WARNING 2, CRITICAL 3.
    fn level(&self) -> i64;
    /// Whether the level differs from the previous level of this event in the topic (a
    /// first-ever non-OK event counts as changed).
    fn changed(&self) -> bool;
    /// The measurement name.
    fn name(&self) -> &str;
    /// The name of the task that raised the event.
    fn task_name(&self) -> &str;
    /// How long the alert has been in a non-OK state, in nanoseconds.
    fn alert_duration(&self) -> i64;
}
