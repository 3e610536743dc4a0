//! What a template may call, checked and prepared when the task is defined:
//!
//! - every function it names must exist (Go refuses an unknown function when it parses a
//!   template; gotmpl only when it runs one, which would fail every event instead of the
//!   definition);
//! - methods of `.Time` and `.Duration` (`{{ .Time.Format "15:04" }}`) become calls of the
//!   functions of [`super::gotime`], since gotmpl has no methods: the source is rewritten before
//!   it is parsed for good (`{{ __Time_Format .Time "15:04" }}`).

use gotmpl::parse::{CommandNode, Expr, ListNode, Node, Parser, PipeNode};

use super::gotime::Receiver;

/// Go's built-in template functions, which gotmpl has too.
const BUILTINS: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];

/// One method call to rewrite: the bytes `start..end` of the source (`.Time.Format`) and what
/// replaces them.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Checks the functions of `source` and rewrites its method calls; `extra` are the functions
/// the template has besides Go's (`json` for details). Returns the source to parse, or why it is
/// refused.
pub(crate) fn prepare(source: &str, extra: &[&str]) -> Result<String, String> {
    let parser = Parser::new(source, "{{", "}}").map_err(|e| e.to_string())?;
    let (tree, defines) = parser.parse().map_err(|e| e.to_string())?;
    let mut walk = Walk {
        source,
        extra,
        edits: Vec::new(),
    };
    walk.list(&tree)?;
    for define in &defines {
        walk.list(&define.body)?;
    }
    if walk.edits.is_empty() {
        return Ok(source.to_owned());
    }
    walk.edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(source.len() + 32);
    let mut at = 0;
    for edit in &walk.edits {
        if edit.start < at {
            continue;
        }
        out.push_str(&source[at..edit.start]);
        out.push_str(&edit.text);
        at = edit.end;
    }
    out.push_str(&source[at..]);
    Ok(out)
}

struct Walk<'a> {
    source: &'a str,
    extra: &'a [&'a str],
    edits: Vec<Edit>,
}

impl Walk<'_> {
    fn list(&mut self, list: &ListNode) -> Result<(), String> {
        list.nodes.iter().try_for_each(|n| self.node(n))
    }

    fn node(&mut self, node: &Node) -> Result<(), String> {
        match node {
            Node::List(list) => self.list(list),
            Node::Action(action) => self.pipe(&action.pipe),
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                self.pipe(&branch.pipe)?;
                self.list(&branch.body)?;
                branch.else_body.as_ref().map_or(Ok(()), |b| self.list(b))
            }
            Node::Template(t) => t.pipe.as_ref().map_or(Ok(()), |p| self.pipe(p)),
            Node::Define(d) => self.list(&d.body),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => Ok(()),
        }
    }

    fn pipe(&mut self, pipe: &PipeNode) -> Result<(), String> {
        for (i, command) in pipe.commands.iter().enumerate() {
            self.command(command, i > 0)?;
        }
        Ok(())
    }

    /// A command: its first word takes the following words (and a piped value) as arguments,
    /// so a method there is called with them.
    fn command(&mut self, command: &CommandNode, piped: bool) -> Result<(), String> {
        for (i, expr) in command.args.iter().enumerate() {
            let called = i == 0 && (command.args.len() > 1 || piped);
            self.expr(expr, called)?;
        }
        Ok(())
    }

    fn expr(&mut self, expr: &Expr, called: bool) -> Result<(), String> {
        match expr {
            Expr::Identifier(_, name) => self.function(name),
            Expr::Pipe(_, pipe) => self.pipe(pipe),
            Expr::Chain(_, inner, _) => self.expr(inner, false),
            Expr::Field(pos, fields) => {
                self.method_chain(pos.offset, ".", fields, called);
                Ok(())
            }
            Expr::Variable(pos, name, fields) => {
                self.method_chain(pos.offset, name, fields, called);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn function(&self, name: &str) -> Result<(), String> {
        if BUILTINS.contains(&name) || self.extra.contains(&name) {
            return Ok(());
        }
        let mut known: Vec<&str> = BUILTINS.iter().chain(self.extra).copied().collect();
        known.sort_unstable();
        Err(format!(
            "function {name:?} not defined; the functions are {}",
            known.join(", ")
        ))
    }

    /// Rewrites `.Time.Format` (or `$x.Duration.Minutes`...) starting at `offset` when one of
    /// its fields is a method of the value before it.
    fn method_chain(
        &mut self,
        offset: usize,
        base: &str,
        fields: &[gotmpl::parse::SmolStr],
        called: bool,
    ) {
        let mut text = if base == "." {
            String::new()
        } else {
            base.to_owned()
        };
        let mut receiver: Option<Receiver> = None;
        let mut rewritten = false;
        for (i, field) in fields.iter().enumerate() {
            let last = i + 1 == fields.len();
            match receiver.and_then(|r| r.method(field).map(|returns| (r, returns))) {
                Some((r, returns)) => {
                    let value = if text.is_empty() {
                        ".".to_owned()
                    } else {
                        text
                    };
                    let function = r.function(field);
                    text = if last && called {
                        format!("{function} {value}")
                    } else {
                        format!("({function} {value})")
                    };
                    receiver = returns;
                    rewritten = true;
                }
                None => {
                    text.push('.');
                    text.push_str(field);
                    receiver = Receiver::of_field(field);
                }
            }
        }
        if !rewritten {
            return;
        }
        // The chain is written without spaces: `$` or a name, then `.Field` parts.
        let rest = &self.source[offset..];
        let len = rest
            .char_indices()
            .find(|(i, c)| {
                !(c.is_alphanumeric() || *c == '_' || *c == '.' || (*i == 0 && *c == '$'))
            })
            .map_or(rest.len(), |(i, _)| i);
        self.edits.push(Edit {
            start: offset,
            end: offset + len,
            text,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::prepare;

    #[test]
    fn methods_become_function_calls() {
        for (source, want) in [
            (
                "{{ .Time.Format \"15:04\" }}",
                "{{ __Time_Format .Time \"15:04\" }}",
            ),
            ("{{ .Time }} {{ .Duration }}", "{{ .Time }} {{ .Duration }}"),
            (
                "{{ .Duration.Minutes }}",
                "{{ (__Duration_Minutes .Duration) }}",
            ),
            (
                "{{ printf \"%.1f\" .Duration.Minutes }}",
                "{{ printf \"%.1f\" (__Duration_Minutes .Duration) }}",
            ),
            (
                "{{ .Time.UTC.Format \"Jan 2\" }}",
                "{{ __Time_Format (__Time_UTC .Time) \"Jan 2\" }}",
            ),
            (
                "{{ \"15:04\" | .Time.Format }}",
                "{{ \"15:04\" | __Time_Format .Time }}",
            ),
            ("{{ $.Time.Unix }}", "{{ (__Time_Unix $.Time) }}"),
            (
                "{{ if gt .Duration.Seconds 60.0 }}long{{ end }}",
                "{{ if gt (__Duration_Seconds .Duration) 60.0 }}long{{ end }}",
            ),
            ("{{ .Tags.Format }}", "{{ .Tags.Format }}"),
        ] {
            assert_eq!(prepare(source, &[]).unwrap(), want, "{source}");
        }
    }

    #[test]
    fn unknown_functions_are_refused_with_the_known_ones() {
        let err = prepare("{{ env \"HOME\" }}", &[]).unwrap_err();
        assert_eq!(
            err,
            "function \"env\" not defined; the functions are and, call, eq, ge, gt, html, index, js, le, len, lt, ne, not, or, print, printf, println, slice, urlquery"
        );
        assert!(prepare("{{ json . }}", &["json", "jsonCompact"]).is_ok());
        assert!(prepare("{{ define \"x\" }}{{ nope }}{{ end }}", &[]).is_err());
        assert!(prepare("{{ .X | nope }}", &[]).is_err());
    }
}
