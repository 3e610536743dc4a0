//! Recursive-descent parser for scripts and lambda expressions.
//!
//! Depth is checked before every recursive step, so the stack use is bounded by
//! [`Limits::max_depth`] whatever the input.

use crate::ast::{
    Arg, ArgValue, BinaryOp, Chain, DbrpStmt, Expr, ExprKind, Link, LinkKind, RegexLit, Script,
    Statement, UnaryOp, VarDecl, VarType, VarValue,
};
use crate::error::ParseError;
use crate::lexer::{Tok, Token, lex};
use crate::limits::Limits;
use crate::span::Span;

type PResult<T> = Result<T, ParseError>;

/// Parses a whole TICKscript with the default [`Limits`].
///
/// ```
/// let script = klaxon_tick::parse(
///     "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)",
/// )
/// .unwrap();
/// let chain = script.statements[0].as_pipeline().unwrap();
/// assert_eq!(chain.head, "stream");
/// assert_eq!(chain.links.len(), 4);
/// assert_eq!(chain.links[3].span.line, 5);
/// ```
pub fn parse(source: &str) -> Result<Script, ParseError> {
    parse_with(source, &Limits::default())
}

/// Parses a whole TICKscript with the given limits.
///
/// ```
/// use klaxon_tick::{parse_with, Limits};
/// assert!(parse_with("stream|from()", &Limits::default()).is_ok());
/// ```
pub fn parse_with(source: &str, limits: &Limits) -> Result<Script, ParseError> {
    if source.len() > limits.max_script_size {
        return Err(ParseError::new(
            source,
            Span {
                start: 0,
                end: 0,
                line: 1,
                column: 1,
            },
            format!(
                "the TICKscript is {} bytes; {} is {}",
                source.len(),
                Limits::SCRIPT_SETTING,
                limits.max_script_size
            ),
        ));
    }
    let tokens = lex(source)?;
    let mut p = Parser::new(source, &tokens, limits);
    p.script()
}

/// Parses a lambda expression on its own, as topic-handler `match` filters are written (no
/// `lambda:` prefix is needed; one is accepted).
///
/// ```
/// use klaxon_tick::{parse_lambda, ExprKind, Limits};
/// let e = parse_lambda("\"host\" == 'serverA' AND level() == CRITICAL", &Limits::default()).unwrap();
/// assert!(matches!(e.kind, ExprKind::Binary { .. }));
/// assert_eq!((e.span.line, e.span.column), (1, 21)); // the AND
/// ```
pub fn parse_lambda(source: &str, limits: &Limits) -> Result<Expr, ParseError> {
    let tokens = lex(source)?;
    let mut p = Parser::new(source, &tokens, limits);
    if p.peek().tok == Tok::Lambda {
        p.next();
    }
    let (expr, _) = p.expr()?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        return Err(p.err(
            t.span,
            format!("expected end of expression, found {}", t.tok),
        ));
    }
    Ok(expr)
}

struct Parser<'a> {
    src: &'a str,
    tokens: &'a [Token],
    pos: usize,
    limits: &'a Limits,
    /// Current recursion depth inside an expression.
    nesting: usize,
    /// Regex literals compiled so far, against [`Limits::MAX_REGEXES`].
    regexes: std::cell::Cell<usize>,
}

fn binary_op(tok: &Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::Or => BinaryOp::Or,
        Tok::And => BinaryOp::And,
        Tok::Eq => BinaryOp::Eq,
        Tok::Ne => BinaryOp::Ne,
        Tok::RegexEq => BinaryOp::RegexMatch,
        Tok::RegexNe => BinaryOp::RegexNotMatch,
        Tok::Lt => BinaryOp::Lt,
        Tok::Le => BinaryOp::Le,
        Tok::Gt => BinaryOp::Gt,
        Tok::Ge => BinaryOp::Ge,
        Tok::Plus => BinaryOp::Add,
        Tok::Minus => BinaryOp::Sub,
        Tok::Mult => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, tokens: &'a [Token], limits: &'a Limits) -> Self {
        Parser {
            src,
            tokens,
            pos: 0,
            limits,
            nesting: 0,
            regexes: std::cell::Cell::new(0),
        }
    }

    fn peek(&self) -> &'a Token {
        &self.tokens[self.pos]
    }

    fn peek2(&self) -> &'a Token {
        &self.tokens[(self.pos + 1).min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> &'a Token {
        let t = &self.tokens[self.pos];
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn prev_end(&self) -> usize {
        self.tokens[self.pos.saturating_sub(1)].span.end
    }

    fn err(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError::new(self.src, span, message)
    }

    fn too_deep(&self, span: Span) -> ParseError {
        self.err(span, self.limits.too_deep(""))
    }

    fn enter(&mut self, span: Span) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > self.limits.depth() {
            return Err(self.too_deep(span));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    // ---- statements ------------------------------------------------------------------------

    fn script(&mut self) -> PResult<Script> {
        let mut statements = Vec::new();
        loop {
            let t = self.peek();
            match &t.tok {
                Tok::Eof => return Ok(Script { statements }),
                Tok::Var => statements.push(Statement::Var(self.var_decl()?)),
                Tok::Ident(name) if name == "dbrp" && matches!(self.peek2().tok, Tok::Ref(_)) => {
                    statements.push(Statement::Dbrp(self.dbrp()?));
                }
                Tok::Ident(_) => statements.push(Statement::Pipeline(self.chain()?)),
                other => {
                    return Err(self.err(
                        t.span,
                        format!(
                            "expected a statement (var, dbrp or a pipeline such as stream|from()), found {other}"
                        ),
                    ));
                }
            }
        }
    }

    fn var_decl(&mut self) -> PResult<VarDecl> {
        let var_tok = self.next();
        let name_tok = self.next();
        let Tok::Ident(name) = &name_tok.tok else {
            return Err(self.err(
                name_tok.span,
                format!(
                    "expected a variable name after 'var', found {}",
                    name_tok.tok
                ),
            ));
        };
        let eq = self.next();
        match &eq.tok {
            Tok::Assign => {}
            Tok::Ident(ty) => {
                // `var name type`: a template variable, whose value each task gives.
                let Some(ty) = VarType::parse(ty) else {
                    let names: Vec<&str> = VarType::ALL.iter().map(|t| t.name()).collect();
                    return Err(self.err(
                        eq.span,
                        format!(
                            "invalid var type \"{ty}\"; the types are {}",
                            names.join(", ")
                        ),
                    ));
                };
                return Ok(VarDecl {
                    name: name.clone(),
                    name_span: name_tok.span,
                    value: VarValue::Typed(ty),
                    span: Span {
                        end: eq.span.end,
                        ..var_tok.span
                    },
                });
            }
            other => {
                return Err(self.err(
                    eq.span,
                    format!("expected '=' or a type after 'var {name}', found {other}"),
                ));
            }
        }
        let value = match (&self.peek().tok, &self.peek2().tok) {
            (Tok::Ident(_), Tok::Pipe | Tok::Dot | Tok::At) => VarValue::Chain(self.chain()?),
            _ => VarValue::Arg(self.arg(None)?),
        };
        let end = self.prev_end();
        Ok(VarDecl {
            name: name.clone(),
            name_span: name_tok.span,
            value,
            span: Span {
                end,
                ..var_tok.span
            },
        })
    }

    fn dbrp(&mut self) -> PResult<DbrpStmt> {
        let kw = self.next();
        let Tok::Ref(db) = &self.next().tok else {
            unreachable!("dbrp is only parsed when a reference follows")
        };
        let dot = self.next();
        if dot.tok != Tok::Dot {
            return Err(self.err(
                dot.span,
                format!(
                    "expected '.' between database and retention policy (dbrp \"db\".\"rp\"), found {}",
                    dot.tok
                ),
            ));
        }
        let rp_tok = self.next();
        let Tok::Ref(rp) = &rp_tok.tok else {
            return Err(self.err(
                rp_tok.span,
                format!(
                    "expected the retention policy in double quotes (dbrp \"db\".\"rp\"), found {}",
                    rp_tok.tok
                ),
            ));
        };
        Ok(DbrpStmt {
            db: db.clone(),
            rp: rp.clone(),
            span: Span {
                end: rp_tok.span.end,
                ..kw.span
            },
        })
    }

    fn chain(&mut self) -> PResult<Chain> {
        let head_tok = self.next();
        let Tok::Ident(head) = &head_tok.tok else {
            unreachable!("chains start at an identifier")
        };
        let mut links = Vec::new();
        loop {
            let op = self.peek();
            let kind = match op.tok {
                Tok::Pipe => LinkKind::Node,
                Tok::Dot => LinkKind::Property,
                Tok::At => LinkKind::Udf,
                _ => break,
            };
            self.next();
            let name_tok = self.next();
            let Tok::Ident(name) = &name_tok.tok else {
                let what = match kind {
                    LinkKind::Node => "a node name after '|'",
                    LinkKind::Property => "a property name after '.'",
                    LinkKind::Udf => "a UDF name after '@'",
                };
                return Err(self.err(
                    name_tok.span,
                    format!("expected {what}, found {}", name_tok.tok),
                ));
            };
            let open = self.next();
            if open.tok != Tok::LParen {
                return Err(self.err(
                    open.span,
                    format!("expected '(' after '{name}', found {}", open.tok),
                ));
            }
            let args = self.args(name, kind)?;
            links.push(Link {
                kind,
                name: name.clone(),
                args,
                span: Span {
                    end: self.prev_end(),
                    ..op.span
                },
            });
        }
        Ok(Chain {
            head: head.clone(),
            head_span: head_tok.span,
            links,
            span: Span {
                end: self.prev_end(),
                ..head_tok.span
            },
        })
    }

    /// Arguments of a node or property, after the `(`; consumes the `)`.
    fn args(&mut self, call: &str, kind: LinkKind) -> PResult<Vec<Arg>> {
        let mut args = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.arg(Some((call, kind)))?);
            let t = self.next();
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => return Ok(args),
                _ => {
                    return Err(self.err(
                        t.span,
                        format!("expected ')' after argument list, found {}", t.tok),
                    ));
                }
            }
        }
    }

    /// One argument (or the value of a `var`): a lambda, a list, `*`, or an expression, which
    /// Kapacitor's parser accepts outside `lambda:` too (`name + ':{{.Group}}'`, `5m * 2`). A
    /// plain literal, reference or variable stays what it is; anything more is kept as
    /// [`ArgValue::Expr`] for the resolver to evaluate.
    fn arg(&mut self, call: Option<(&str, LinkKind)>) -> PResult<Arg> {
        let t = self.peek();
        let value = match &t.tok {
            Tok::Lambda => {
                self.next();
                let (expr, _) = self.expr()?;
                let span = Span {
                    end: self.prev_end(),
                    ..t.span
                };
                return Ok(Arg {
                    value: ArgValue::Lambda(expr),
                    span,
                });
            }
            Tok::Star => {
                self.next();
                ArgValue::Star
            }
            Tok::LBracket => {
                self.next();
                ArgValue::List(self.list()?)
            }
            Tok::Regex(src) => {
                self.next();
                ArgValue::Regex(self.regex(src, t.span)?)
            }
            Tok::Str(_)
            | Tok::Int(_)
            | Tok::Float(_)
            | Tok::Duration(_)
            | Tok::True
            | Tok::False
            | Tok::Ref(_)
            | Tok::Ident(_)
            | Tok::Minus
            | Tok::Not
            | Tok::LParen => {
                let (expr, _) = self.expr()?;
                match expr.kind {
                    ExprKind::Str(s) => ArgValue::Str(s),
                    ExprKind::Int(i) => ArgValue::Int(i),
                    ExprKind::Float(x) => ArgValue::Float(x),
                    ExprKind::Duration(d) => ArgValue::Duration(d),
                    ExprKind::Bool(b) => ArgValue::Bool(b),
                    ExprKind::Ref(name) => ArgValue::Ref(name),
                    ExprKind::Ident(name) => ArgValue::Ident(name),
                    // `-10`, `-1.5`, `-5m`: literals, as they were before expressions.
                    ExprKind::Unary {
                        op: UnaryOp::Neg,
                        ref operand,
                    } if matches!(
                        operand.kind,
                        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Duration(_)
                    ) =>
                    {
                        match operand.kind {
                            ExprKind::Int(i) => ArgValue::Int(i.wrapping_neg()),
                            ExprKind::Float(x) => ArgValue::Float(-x),
                            ExprKind::Duration(d) => ArgValue::Duration(d.wrapping_neg()),
                            _ => unreachable!("matched above"),
                        }
                    }
                    _ => ArgValue::Expr(expr),
                }
            }
            other => {
                let want = if call.is_some() {
                    "an argument or ')'"
                } else {
                    "a value"
                };
                return Err(self.err(t.span, format!("expected {want}, found {other}")));
            }
        };
        let span = Span {
            end: self.prev_end(),
            ..t.span
        };
        Ok(Arg { value, span })
    }

    fn list(&mut self) -> PResult<Vec<Arg>> {
        let mut items = Vec::new();
        if self.peek().tok == Tok::RBracket {
            self.next();
            return Ok(items);
        }
        loop {
            let t = self.next();
            let value = match &t.tok {
                Tok::Str(s) => ArgValue::Str(s.clone()),
                Tok::Ident(name) => ArgValue::Ident(name.clone()),
                Tok::Star => ArgValue::Star,
                other => {
                    return Err(self.err(
                        t.span,
                        format!("expected a string, a variable or '*' in the list, found {other}"),
                    ));
                }
            };
            items.push(Arg {
                value,
                span: t.span,
            });
            let sep = self.next();
            match sep.tok {
                Tok::Comma => continue,
                Tok::RBracket => return Ok(items),
                _ => {
                    return Err(self.err(
                        sep.span,
                        format!("expected ',' or ']' in the list, found {}", sep.tok),
                    ));
                }
            }
        }
    }

    fn regex(&self, pattern: &str, span: Span) -> PResult<RegexLit> {
        // Each regex may take up to the size limit to compile and hold: a script of thousands
        // took minutes and gigabytes, so a script has a bounded number of them.
        self.regexes.set(self.regexes.get() + 1);
        if self.regexes.get() > Limits::MAX_REGEXES {
            return Err(self.err(
                span,
                format!(
                    "more than {} regexes in one script; each may compile to {} bytes \
                     ({}), so a script has at most {} of them",
                    Limits::MAX_REGEXES,
                    self.limits.regex_size_limit,
                    Limits::REGEX_SETTING,
                    Limits::MAX_REGEXES
                ),
            ));
        }
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(self.limits.regex_size_limit)
            .build()
            .map_err(|e| {
                let detail = match &e {
                    regex::Error::CompiledTooBig(limit) => {
                        format!(
                            "it compiles to more than {limit} bytes; {} is {limit}",
                            Limits::REGEX_SETTING
                        )
                    }
                    other => other
                        .to_string()
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or_default()
                        .trim()
                        .trim_start_matches("error: ")
                        .to_owned(),
                };
                self.err(span, format!("invalid regex /{pattern}/: {detail}"))
            })?;
        Ok(RegexLit {
            source: pattern.to_owned(),
            regex,
        })
    }

    // ---- expressions -----------------------------------------------------------------------

    fn expr(&mut self) -> PResult<(Expr, usize)> {
        self.binary(0)
    }

    /// Precedence climbing; returns the expression and its tree depth.
    fn binary(&mut self, min_prec: u8) -> PResult<(Expr, usize)> {
        let (mut lhs, mut depth) = self.unary()?;
        loop {
            self.check_operator_mistakes()?;
            let t = self.peek();
            let Some(op) = binary_op(&t.tok) else { break };
            if op.precedence() < min_prec {
                break;
            }
            self.next();
            // The operand parse recurses at most once per precedence level before `unary`
            // consumes a token, so only the tree depth needs checking here.
            let (rhs, rhs_depth) = self.binary(op.precedence() + 1)?;
            depth = 1 + depth.max(rhs_depth);
            if depth > self.limits.depth() {
                return Err(self.too_deep(t.span));
            }
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span: t.span,
            };
        }
        Ok((lhs, depth))
    }

    /// Catches the usual slips right after an operand: `=` for `==`, lower-case `and`/`or`,
    /// `||`.
    fn check_operator_mistakes(&self) -> PResult<()> {
        let t = self.peek();
        match &t.tok {
            Tok::Assign => {
                Err(self.err(t.span, "'=' is not a comparison; use '==' to test equality"))
            }
            Tok::Ident(word)
                if word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or") =>
            {
                Err(self.err(
                    t.span,
                    format!(
                        "found '{word}': logical operators are upper-case, use {}",
                        word.to_ascii_uppercase()
                    ),
                ))
            }
            Tok::Pipe if self.peek2().tok == Tok::Pipe => {
                Err(self.err(t.span, "found '||': the logical or is written OR"))
            }
            _ => Ok(()),
        }
    }

    fn unary(&mut self) -> PResult<(Expr, usize)> {
        let t = self.peek();
        let op = match t.tok {
            Tok::Minus => UnaryOp::Neg,
            Tok::Not => UnaryOp::Not,
            _ => return self.primary(),
        };
        self.next();
        self.enter(t.span)?;
        let (operand, depth) = self.unary()?;
        self.leave();
        Ok((
            Expr {
                kind: ExprKind::Unary {
                    op,
                    operand: Box::new(operand),
                },
                span: t.span,
            },
            depth + 1,
        ))
    }

    fn primary(&mut self) -> PResult<(Expr, usize)> {
        let t = self.next();
        let kind = match &t.tok {
            Tok::LParen => {
                self.enter(t.span)?;
                let (inner, depth) = self.expr()?;
                self.leave();
                let close = self.next();
                if close.tok != Tok::RParen {
                    return Err(self.err(
                        close.span,
                        format!(
                            "expected ')' to close the '(' at line {}, column {}, found {}",
                            t.span.line, t.span.column, close.tok
                        ),
                    ));
                }
                return Ok((inner, depth));
            }
            Tok::Int(i) => ExprKind::Int(*i),
            Tok::Float(x) => ExprKind::Float(*x),
            Tok::Str(s) => ExprKind::Str(s.clone()),
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            Tok::Duration(d) => ExprKind::Duration(*d),
            Tok::Regex(src) => ExprKind::Regex(self.regex(src, t.span)?),
            Tok::Ref(name) => ExprKind::Ref(name.clone()),
            Tok::Star => ExprKind::Star,
            Tok::Ident(name) if self.peek().tok == Tok::LParen => {
                self.next();
                return self.call(name, t.span);
            }
            Tok::Ident(name)
                if name.eq_ignore_ascii_case("true") || name.eq_ignore_ascii_case("false") =>
            {
                return Err(self.err(
                    t.span,
                    format!(
                        "found '{name}': booleans are upper-case, use {}",
                        name.to_ascii_uppercase()
                    ),
                ));
            }
            Tok::Ident(name) => ExprKind::Ident(name.clone()),
            Tok::Lambda => {
                return Err(self.err(t.span, "unexpected 'lambda:' inside an expression"));
            }
            other => {
                return Err(self.err(t.span, format!("expected an expression, found {other}")));
            }
        };
        Ok((Expr { kind, span: t.span }, 1))
    }

    /// A function call, after the `(`.
    fn call(&mut self, name: &str, span: Span) -> PResult<(Expr, usize)> {
        self.enter(span)?;
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek().tok == Tok::RParen {
            self.next();
        } else {
            loop {
                let (arg, d) = self.expr()?;
                depth = depth.max(d);
                args.push(arg);
                let t = self.next();
                match t.tok {
                    Tok::Comma => continue,
                    Tok::RParen => break,
                    _ => {
                        return Err(self.err(
                            t.span,
                            format!("expected ')' after argument list, found {}", t.tok),
                        ));
                    }
                }
            }
        }
        self.leave();
        let depth = depth + 1;
        if depth > self.limits.depth() {
            return Err(self.too_deep(span));
        }
        Ok((
            Expr {
                kind: ExprKind::Call {
                    name: name.to_owned(),
                    args,
                },
                span,
            },
            depth,
        ))
    }
}
