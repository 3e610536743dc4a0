//! Bounds on the strings a template builds on its way to its output (issue #25).
//!
//! The output of a render is cut at [`Limits::MAX_TEMPLATE_OUTPUT`], but a template can build
//! values it never prints: `{{ $s = printf "%s%s" $s $s }}` in a `{{ range 40 }}` doubles a
//! string to 2 GiB and aborted the process. So `print`, `printf` and `println`, the built-ins
//! that build strings from strings, are replaced by bounded ones: each refuses arguments or a
//! result longer than [`Limits::MAX_TEMPLATE_OUTPUT`], and a render may build at most
//! [`MAX_BUILT`] bytes with them in all. Past either bound the render fails, with an error naming
//! it, and its one event is dropped.
//!
//! gotmpl keeps its built-ins private, so each bounded function formats through a one-action
//! template of the real built-in (`{{printf (index .a 0) (index .a 1)}}`), made once per arity.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gotmpl::{TemplateError, Value, ValueFunc};

use crate::Limits;

/// The most bytes the bounded functions may build in one render.
pub(super) const MAX_BUILT: usize = 16 << 20;

/// The most arguments a bounded function takes (Go has no bound; alert templates use a few).
const MAX_ARGS: usize = 32;

thread_local! {
    /// Bytes built by the bounded functions in the render running on this thread.
    static BUILT: Cell<usize> = const { Cell::new(0) };
}

/// Starts a render's count afresh; renders run on one thread from start to end.
pub(super) fn reset() {
    BUILT.with(|built| built.set(0));
}

/// The bounded `print`, `printf` and `println`, to register over gotmpl's.
pub(super) fn functions() -> gotmpl::FuncMap {
    ["print", "printf", "println"]
        .into_iter()
        .map(|name| (name.to_owned(), bounded(name)))
        .collect()
}

fn bounded(name: &'static str) -> ValueFunc {
    // The real built-in at each arity, parsed on first use.
    let by_arity: Arc<Mutex<BTreeMap<usize, Arc<gotmpl::Template>>>> = Arc::default();
    Arc::new(move |args: &[Value]| {
        let fail = |what: String| Err(TemplateError::Exec(format!("{name}: {what}")));
        if args.len() > MAX_ARGS {
            return fail(format!("more than {MAX_ARGS} arguments"));
        }
        let input: usize = args.iter().map(text_len).sum();
        if input > Limits::MAX_TEMPLATE_OUTPUT {
            return fail(too_large("its arguments hold", input));
        }
        let template = {
            let mut cache = by_arity.lock().unwrap_or_else(|e| e.into_inner());
            match cache.get(&args.len()) {
                Some(template) => Arc::clone(template),
                None => {
                    let action = (0..args.len())
                        .map(|i| format!(" (index .a {i})"))
                        .collect::<String>();
                    let template = Arc::new(
                        gotmpl::Template::new(name).parse(&format!("{{{{{name}{action}}}}}"))?,
                    );
                    cache.insert(args.len(), Arc::clone(&template));
                    template
                }
            }
        };
        let data = Value::Map(Arc::new(BTreeMap::from([(
            Arc::from("a"),
            Value::List(args.into()),
        )])));
        let mut out = String::new();
        template.execute_fmt(&mut out, &data)?;
        if out.len() > Limits::MAX_TEMPLATE_OUTPUT {
            return fail(too_large("it would build", out.len()));
        }
        let built = BUILT.with(|built| {
            built.set(built.get().saturating_add(out.len()));
            built.get()
        });
        if built > MAX_BUILT {
            return fail(format!(
                "the template built more than {MAX_BUILT} bytes of strings in one render"
            ));
        }
        Ok(Value::String(out.into()))
    })
}

fn too_large(what: &str, bytes: usize) -> String {
    format!(
        "{what} {bytes} bytes; a string built by a template is at most {} bytes",
        Limits::MAX_TEMPLATE_OUTPUT
    )
}

/// The bytes of text a value holds, strings within lists and maps included.
fn text_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::List(items) => items.iter().map(text_len).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| k.len() + text_len(v)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str) -> Result<String, String> {
        reset();
        let template = gotmpl::Template::new("t")
            .max_range_iters(Limits::MAX_TEMPLATE_ITERATIONS)
            .funcs(functions())
            .parse(source)
            .map_err(|e| e.to_string())?;
        let mut out = String::new();
        template
            .execute_fmt(&mut out, &Value::Nil)
            .map(|()| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_bounded_functions_format_as_gotmpl_does() {
        assert_eq!(
            render(r#"{{printf "%s=%05.1f" "v" 3.14159}} {{print "a" 1 2 "b"}} {{println "x" 2}}"#),
            Ok("v=003.1 a1 2b x 2\n".to_owned())
        );
        assert_eq!(
            render(r#"{{printf "%d%%"}}"#),
            Ok("%!d(MISSING)%".to_owned())
        );
    }

    #[test]
    fn a_string_doubled_forty_times_fails_at_the_bound() {
        let bomb = r#"{{$s := "x"}}{{range 40}}{{$s = printf "%s%s" $s $s}}{{end}}{{len $s}}"#;
        let err = render(bomb).unwrap_err();
        assert!(
            err.contains("printf: its arguments hold 1048580 bytes; a string built by a template is at most 1048576 bytes"),
            "{err}"
        );
        // Each value within the bound, but too many of them in one render.
        let many = r#"{{$s := "x"}}{{range 20}}{{$s = print $s $s}}{{end}}{{range 100}}{{$t := print $s}}{{end}}"#;
        let err = render(many).unwrap_err();
        assert!(err.contains("bytes of strings in one render"), "{err}");
        // A later render starts afresh.
        assert_eq!(render(r#"{{print "ok"}}"#), Ok("ok".to_owned()));
    }
}
