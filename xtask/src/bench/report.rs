//! What a bench run found: rows of figures against their baselines and targets, the machine they
//! ran on, the table printed at the end and the JSON written to `<target dir>/bench/results.json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

/// A measured value with its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub value: f64,
    pub unit: &'static str,
}

impl Measure {
    pub fn new(value: f64, unit: &'static str) -> Measure {
        Measure { value, unit }
    }

    /// A rate: `count` things in `elapsed`.
    pub fn rate(count: u64, elapsed: Duration, unit: &'static str) -> Measure {
        Measure::new(count as f64 / elapsed.as_secs_f64().max(1e-9), unit)
    }

    /// A duration in milliseconds.
    pub fn millis(elapsed: Duration) -> Measure {
        Measure::new(elapsed.as_secs_f64() * 1e3, "ms")
    }
}

/// Which way a target goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The figure must be at least the limit.
    AtLeast,
    /// The figure must be below the limit.
    Below,
}

/// A target: on the figure itself, or on the ratio of the figure to its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub bound: Bound,
    pub limit: f64,
    pub on_ratio: bool,
}

impl Target {
    pub fn at_least(limit: f64) -> Target {
        Target {
            bound: Bound::AtLeast,
            limit,
            on_ratio: false,
        }
    }

    pub fn below(limit: f64) -> Target {
        Target {
            bound: Bound::Below,
            limit,
            on_ratio: false,
        }
    }

    pub fn ratio_at_least(limit: f64) -> Target {
        Target {
            bound: Bound::AtLeast,
            limit,
            on_ratio: true,
        }
    }

    /// `>= 1000000 points/s`, `< 5 ms`, `>= 90 % of baseline`.
    pub fn describe(&self, unit: &str) -> String {
        let op = match self.bound {
            Bound::AtLeast => ">=",
            Bound::Below => "<",
        };
        if self.on_ratio {
            format!("{op} {} % of baseline", fmt_number(self.limit * 100.0))
        } else {
            format!("{op} {} {unit}", fmt_number(self.limit))
        }
    }

    fn met(&self, value: f64, ratio: Option<f64>) -> Option<bool> {
        let x = if self.on_ratio { ratio? } else { value };
        Some(match self.bound {
            Bound::AtLeast => x >= self.limit,
            Bound::Below => x < self.limit,
        })
    }
}

/// One line of the table: a figure, what it is compared with, and the target if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: String,
    pub figure: Measure,
    /// The baseline measured in the same run, and what it is.
    pub baseline: Option<(Measure, String)>,
    pub target: Option<Target>,
}

impl Row {
    pub fn new(metric: impl Into<String>, figure: Measure) -> Row {
        Row {
            metric: metric.into(),
            figure,
            baseline: None,
            target: None,
        }
    }

    pub fn baseline(mut self, baseline: Measure, what: impl Into<String>) -> Row {
        self.baseline = Some((baseline, what.into()));
        self
    }

    pub fn target(mut self, target: Target) -> Row {
        self.target = Some(target);
        self
    }

    /// figure / baseline, when both are in the same unit and the baseline is not zero.
    pub fn ratio(&self) -> Option<f64> {
        let (baseline, _) = self.baseline.as_ref()?;
        (baseline.unit == self.figure.unit && baseline.value > 0.0)
            .then(|| self.figure.value / baseline.value)
    }

    pub fn met(&self) -> Option<bool> {
        self.target.as_ref()?.met(self.figure.value, self.ratio())
    }
}

/// What one scenario produced: its rows, the CPU each side used, and notes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScenarioReport {
    pub name: &'static str,
    pub rows: Vec<Row>,
    /// CPU used by the load generator (this process) during the measured server phase, in % of
    /// one core.
    pub generator_cpu: Option<f64>,
    /// CPU used by klaxond during the same phase, in % of one core.
    pub server_cpu: Option<f64>,
    pub notes: Vec<String>,
    pub seconds: f64,
    pub error: Option<String>,
}

/// The machine the run was on.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned()),
        }
    }
}

/// The first `model name` of /proc/cpuinfo.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_load_average(&text)
}

fn parse_load_average(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    Some([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ])
}

/// The whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub command: String,
    pub date: String,
    pub quick: bool,
    pub machine: Machine,
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
    pub build_seconds: f64,
    pub scenarios: Vec<ScenarioReport>,
}

fn opt_number(x: Option<f64>) -> Value {
    x.filter(|x| x.is_finite())
        .map_or(Value::Null, |x| json!(x))
}

impl Report {
    pub fn to_json(&self) -> Value {
        let scenarios: Vec<Value> = self
            .scenarios
            .iter()
            .map(|s| {
                let rows: Vec<Value> = s
                    .rows
                    .iter()
                    .map(|r| {
                        json!({
                            "metric": r.metric,
                            "value": opt_number(Some(r.figure.value)),
                            "unit": r.figure.unit,
                            "baseline": r.baseline.as_ref().map(|(b, what)| json!({
                                "value": opt_number(Some(b.value)),
                                "unit": b.unit,
                                "what": what,
                            })),
                            "ratio": opt_number(r.ratio()),
                            "target": r.target.as_ref().map(|t| t.describe(r.figure.unit)),
                            "met": r.met(),
                        })
                    })
                    .collect();
                json!({
                    "name": s.name,
                    "rows": rows,
                    "generator_cpu_percent": opt_number(s.generator_cpu),
                    "server_cpu_percent": opt_number(s.server_cpu),
                    "seconds": s.seconds,
                    "notes": s.notes,
                    "error": s.error,
                })
            })
            .collect();
        json!({
            "command": self.command,
            "date": self.date,
            "quick": self.quick,
            "machine": {
                "cores": self.machine.cores,
                "cpu_model": self.machine.cpu_model,
                "kernel": self.machine.kernel,
                "load_average_before": self.load_before,
                "load_average_after": self.load_after,
            },
            "build_seconds": self.build_seconds,
            "scenarios": scenarios,
        })
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut lines = vec![[
            "scenario".to_owned(),
            "metric".to_owned(),
            "figure".to_owned(),
            "baseline".to_owned(),
            "ratio".to_owned(),
            "target".to_owned(),
            "met".to_owned(),
        ]];
        for s in &self.scenarios {
            if let Some(error) = &s.error {
                lines.push([
                    s.name.to_owned(),
                    format!("FAILED: {}", first_line(error)),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
            for r in &s.rows {
                lines.push([
                    s.name.to_owned(),
                    r.metric.clone(),
                    fmt_measure(&r.figure),
                    r.baseline
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |(b, _)| fmt_measure(b)),
                    r.ratio()
                        .map_or_else(|| "-".to_owned(), |x| format!("{x:.2}")),
                    r.target
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |t| t.describe(r.figure.unit)),
                    match r.met() {
                        Some(true) => "yes".to_owned(),
                        Some(false) => "NO".to_owned(),
                        None => "-".to_owned(),
                    },
                ]);
            }
        }
        let mut widths = [0usize; 7];
        for line in &lines {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            let mut text = String::new();
            for (cell, w) in line.iter().zip(widths) {
                let _ = write!(text, "{cell:<w$}  ");
            }
            out.push_str(text.trim_end());
            out.push('\n');
            if i == 0 {
                let total: usize = widths.iter().sum::<usize>() + 2 * 6;
                out.push_str(&"-".repeat(total));
                out.push('\n');
            }
        }
        let _ = writeln!(
            out,
            "\nmachine: {} cores, {}; load average before {} after {}",
            self.machine.cores,
            self.machine.cpu_model,
            fmt_load(self.load_before),
            fmt_load(self.load_after)
        );
        for s in &self.scenarios {
            if let (Some(generator), Some(server)) = (s.generator_cpu, s.server_cpu) {
                let _ = writeln!(
                    out,
                    "{}: load generator used {generator:.0} % of a core, klaxond {server:.0} %",
                    s.name
                );
            }
            for note in &s.notes {
                let _ = writeln!(out, "{}: {note}", s.name);
            }
        }
        out
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn fmt_load(load: Option<[f64; 3]>) -> String {
    load.map_or_else(
        || "unknown".to_owned(),
        |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"),
    )
}

/// A number with three significant digits at most, thousands separated by spaces.
pub fn fmt_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let abs = x.abs();
    if abs >= 999.5 {
        let digits = format!("{:.0}", abs);
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        if x < 0.0 {
            grouped.insert(0, '-');
        }
        grouped
    } else if abs >= 100.0 {
        format!("{x:.0}")
    } else if abs >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn fmt_measure(m: &Measure) -> String {
    format!("{} {}", fmt_number(m.value), m.unit)
}

/// The `p`-th percentile (0 to 100) of `sorted` by the nearest-rank method; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sorts `samples` and returns (p50, p99), or an error naming `what` when there are none.
pub fn p50_p99(mut samples: Vec<f64>, what: &str) -> anyhow::Result<(f64, f64)> {
    samples.sort_by(f64::total_cmp);
    match (percentile(&samples, 50.0), percentile(&samples, 99.0)) {
        (Some(p50), Some(p99)) => Ok((p50, p99)),
        _ => anyhow::bail!("no {what} samples were collected"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        // 10 samples: p99 is the largest, p50 the fifth.
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 99.0), Some(10.0));
        assert_eq!(percentile(&ten, 50.0), Some(5.0));
        assert_eq!(p50_p99(vec![3.0, 1.0, 2.0], "latency").unwrap(), (2.0, 3.0));
        assert_eq!(
            p50_p99(Vec::new(), "latency").unwrap_err().to_string(),
            "no latency samples were collected"
        );
    }

    #[test]
    fn targets_on_figures_and_ratios() {
        let row = Row::new("x", Measure::new(90.0, "events/s"))
            .baseline(Measure::new(100.0, "events/s"), "loop")
            .target(Target::ratio_at_least(0.9));
        assert_eq!(row.ratio(), Some(0.9));
        assert_eq!(row.met(), Some(true));
        let row = row.target(Target::at_least(1000.0));
        assert_eq!(row.met(), Some(false));
        let latency = Row::new("p99", Measure::new(5.0, "ms")).target(Target::below(5.0));
        assert_eq!(latency.met(), Some(false));
        assert_eq!(latency.ratio(), None);
        // A ratio target without a baseline cannot be judged.
        let no_base = Row::new("x", Measure::new(1.0, "ms")).target(Target::ratio_at_least(0.9));
        assert_eq!(no_base.met(), None);
        // Different units give no ratio.
        let mixed = Row::new("x", Measure::new(1.0, "ms")).baseline(Measure::new(1.0, "s"), "y");
        assert_eq!(mixed.ratio(), None);
        assert_eq!(
            Target::at_least(1_000_000.0).describe("points/s"),
            ">= 1 000 000 points/s"
        );
        assert_eq!(Target::below(5.0).describe("ms"), "< 5.00 ms");
        assert_eq!(
            Target::ratio_at_least(0.85).describe("x"),
            ">= 85.0 % of baseline"
        );
    }

    #[test]
    fn numbers_are_short_and_grouped() {
        assert_eq!(fmt_number(1_234_567.4), "1 234 567");
        assert_eq!(fmt_number(999.6), "1 000");
        assert_eq!(fmt_number(123.4), "123");
        assert_eq!(fmt_number(12.34), "12.3");
        assert_eq!(fmt_number(1.234), "1.23");
        assert_eq!(fmt_number(-4321.0), "-4 321");
    }

    #[test]
    fn machine_facts_are_read_from_proc_text() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor: 0\n"), None);
        assert_eq!(
            parse_load_average("0.52 1.03 0.98 2/345 6789\n"),
            Some([0.52, 1.03, 0.98])
        );
        assert_eq!(parse_load_average("garbage"), None);
    }

    #[test]
    fn results_json_has_one_entry_per_scenario_with_rows_ratios_and_the_machine() {
        let report = Report {
            command: "cargo xtask bench --quick tcp".to_owned(),
            date: "2026-01-01T00:00:00Z".to_owned(),
            quick: true,
            machine: Machine {
                cores: 2,
                cpu_model: "AMD EPYC".to_owned(),
                kernel: "6.1".to_owned(),
            },
            load_before: Some([0.5, 0.4, 0.3]),
            load_after: None,
            build_seconds: 12.5,
            scenarios: vec![
                ScenarioReport {
                    name: "tcp",
                    rows: vec![
                        Row::new("events/s", Measure::new(900.0, "events/s"))
                            .baseline(Measure::new(1000.0, "events/s"), "connect-write-close")
                            .target(Target::ratio_at_least(0.9)),
                        Row::new("p99", Measure::new(3.0, "ms")).target(Target::below(5.0)),
                    ],
                    generator_cpu: Some(12.0),
                    server_cpu: Some(80.0),
                    notes: vec!["a note".to_owned()],
                    seconds: 3.0,
                    error: None,
                },
                ScenarioReport {
                    name: "exec",
                    error: Some("klaxond exited".to_owned()),
                    ..ScenarioReport::default()
                },
            ],
        };
        let json = report.to_json();
        assert_eq!(json["machine"]["cores"], 2);
        assert_eq!(json["machine"]["cpu_model"], "AMD EPYC");
        assert_eq!(json["machine"]["load_average_before"][0], 0.5);
        assert_eq!(json["machine"]["load_average_after"], Value::Null);
        assert_eq!(json["quick"], true);
        let tcp = &json["scenarios"][0];
        assert_eq!(tcp["name"], "tcp");
        assert_eq!(tcp["rows"][0]["value"], 900.0);
        assert_eq!(tcp["rows"][0]["baseline"]["value"], 1000.0);
        assert_eq!(tcp["rows"][0]["baseline"]["what"], "connect-write-close");
        assert_eq!(tcp["rows"][0]["ratio"], 0.9);
        assert_eq!(tcp["rows"][0]["met"], true);
        assert_eq!(tcp["rows"][1]["baseline"], Value::Null);
        assert_eq!(tcp["rows"][1]["target"], "< 5.00 ms");
        assert_eq!(tcp["generator_cpu_percent"], 12.0);
        assert_eq!(json["scenarios"][1]["error"], "klaxond exited");
        let table = report.table();
        assert!(table.contains("tcp       events/s"), "{table}");
        assert!(table.contains("0.90"), "{table}");
        assert!(
            table.contains("exec      FAILED: klaxond exited"),
            "{table}"
        );
        assert!(
            table.contains("tcp: load generator used 12 % of a core, klaxond 80 %"),
            "{table}"
        );
    }
}
