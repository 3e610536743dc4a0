//! Lambda evaluation throughput against a point with ten fields and five tags.
//!
//! Run with: `cargo bench -p klaxon-tick --bench eval -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use klaxon_tick::{FieldValue, Lambda, Point};

enum Field {
    Float(f64),
    Int(i64),
    Str(String),
    Bool(bool),
}

/// A point shaped like the engine's: names and values in small vectors, looked up linearly.
struct BenchPoint {
    fields: Vec<(String, Field)>,
    tags: Vec<(String, String)>,
    time: i64,
}

impl Point for BenchPoint {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| match v {
                Field::Float(x) => FieldValue::Float(*x),
                Field::Int(i) => FieldValue::Int(*i),
                Field::Str(s) => FieldValue::Str(s),
                Field::Bool(b) => FieldValue::Bool(*b),
            })
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn time(&self) -> i64 {
        self.time
    }

    fn name(&self) -> &str {
        "cpu"
    }
}

fn point() -> BenchPoint {
    let fields = vec![
        ("usage_user".to_owned(), Field::Float(12.5)),
        ("usage_system".to_owned(), Field::Float(3.25)),
        ("usage_idle".to_owned(), Field::Float(7.5)),
        ("usage_iowait".to_owned(), Field::Float(0.5)),
        ("usage_steal".to_owned(), Field::Float(0.0)),
        ("value".to_owned(), Field::Float(93.4)),
        ("count".to_owned(), Field::Int(42)),
        ("errors".to_owned(), Field::Int(0)),
        ("state".to_owned(), Field::Str("running".to_owned())),
        ("healthy".to_owned(), Field::Bool(true)),
    ];
    let tags = [
        ("host", "web-17"),
        ("cpu", "cpu-total"),
        ("region", "eu-west"),
        ("dc", "ams1"),
        ("role", "frontend"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    BenchPoint {
        fields,
        tags,
        time: 1_700_000_000_000_000_000,
    }
}

fn bench(c: &mut Criterion) {
    let p = point();
    for expr in [
        r#""usage_idle" < 10"#,
        r#""host" =~ /^web-\d+$/ AND "value" > 90.0"#,
        r#"sigma("value") > 3.0"#,
    ] {
        let mut lambda = Lambda::parse(expr).unwrap();
        assert!(lambda.eval_bool(&p).is_ok());
        c.bench_function(expr, |b| {
            b.iter(|| lambda.eval_bool(black_box(&p)).unwrap());
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
