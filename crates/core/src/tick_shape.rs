//! How a handler appears in TICKscript: `.exec(prog, args...)`, `.tcp(address)`,
//! `.foo().room('alerts')`, `.pagerDuty2().link('https://g/', 'Dashboard')`.
//!
//! A handler crate declares its shape as data; the engine turns the TICKscript call into the same
//! JSON options object that a handler file or the HTTP API gives, so one decoder serves all three.

use serde_json::{Map, Value};

use crate::Invalid;

/// The TICKscript form of a handler: its property name, which option fields the positional
/// arguments fill, and which chained properties it accepts.
///
/// ```
/// use klaxon_core::{Chained, TickShape};
/// use serde_json::json;
///
/// const EXEC: TickShape = TickShape::new("exec").args(&["prog"]).rest("args");
/// let options = EXEC.build_options(&[json!("/bin/page"), json!("ops"), json!("now")], &[]).unwrap();
/// assert_eq!(options, json!({"prog": "/bin/page", "args": ["ops", "now"]}));
///
/// const FOO: TickShape = TickShape::new("foo").chained(&[Chained::value("room", "room")]);
/// let options = FOO.build_options(&[], &[("room", vec![json!("alerts")])]).unwrap();
/// assert_eq!(options, json!({"room": "alerts"}));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickShape {
    /// The alert-node property: `exec` for `.exec(...)`.
    pub property: &'static str,
    /// Option fields filled, in order, by the required positional arguments.
    pub args: &'static [&'static str],
    /// An option field that collects any further positional arguments into a list.
    pub rest: Option<&'static str>,
    /// Properties that may follow the handler property and configure it.
    pub chained: &'static [Chained],
}

/// A property that may be chained after a handler property, such as `.room('alerts')`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chained {
    /// The property name in TICKscript.
    pub property: &'static str,
    /// The option field it sets.
    pub field: &'static str,
    /// How its arguments become the option value.
    pub form: ChainedForm,
}

/// How a chained property's arguments become an option value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainedForm {
    /// One argument, stored as the field's value: `.room('alerts')`.
    Value,
    /// No argument; sets the field to `true`: `.captureResponse()`.
    Flag,
    /// Any number of arguments, appended to a list field: `.to('a', 'b')`.
    List,
    /// Two arguments, a key and a value, inserted into a map field: `.header('k', 'v')`.
    Pair,
    /// Arguments that become one object, appended to a list field: each fills the next of these
    /// keys; the first is required, the others may be left out (and are then absent from the
    /// object): `.link('https://g/')`, `.link('https://g/', 'Dashboard')`.
    Record(&'static [&'static str]),
}

impl Chained {
    /// A property taking one argument that becomes the value of `field`.
    pub const fn value(property: &'static str, field: &'static str) -> Self {
        Chained {
            property,
            field,
            form: ChainedForm::Value,
        }
    }

    /// A property taking no argument that sets `field` to `true`.
    pub const fn flag(property: &'static str, field: &'static str) -> Self {
        Chained {
            property,
            field,
            form: ChainedForm::Flag,
        }
    }

    /// A property whose arguments are appended to the list `field`.
    pub const fn list(property: &'static str, field: &'static str) -> Self {
        Chained {
            property,
            field,
            form: ChainedForm::List,
        }
    }

    /// A property taking a key and a value, inserted into the map `field`.
    pub const fn pair(property: &'static str, field: &'static str) -> Self {
        Chained {
            property,
            field,
            form: ChainedForm::Pair,
        }
    }

    /// A property whose arguments become an object of `keys`, appended to the list `field`: the
    /// first argument is required, the others optional, as Kapacitor's `Link(url string, text
    /// ...string)`. Each call appends one object.
    ///
    /// ```
    /// use klaxon_core::{Chained, TickShape};
    /// use serde_json::json;
    ///
    /// const PD: TickShape =
    ///     TickShape::new("pagerDuty2").chained(&[Chained::record("link", "links", &["href", "text"])]);
    /// let options = PD
    ///     .build_options(&[], &[
    ///         ("link", vec![json!("https://g/")]),
    ///         ("link", vec![json!("https://g/d"), json!("Dashboard")]),
    ///     ])
    ///     .unwrap();
    /// assert_eq!(
    ///     options,
    ///     json!({"links": [{"href": "https://g/"}, {"href": "https://g/d", "text": "Dashboard"}]})
    /// );
    /// let err = PD.build_options(&[], &[("link", vec![])]).unwrap_err();
    /// assert_eq!(err.to_string(), ".link() takes 1 or 2 arguments, got 0");
    /// ```
    pub const fn record(
        property: &'static str,
        field: &'static str,
        keys: &'static [&'static str],
    ) -> Self {
        Chained {
            property,
            field,
            form: ChainedForm::Record(keys),
        }
    }
}

impl TickShape {
    /// A shape with the property name only: `.name()` with no arguments.
    pub const fn new(property: &'static str) -> Self {
        TickShape {
            property,
            args: &[],
            rest: None,
            chained: &[],
        }
    }

    /// Sets the fields that the required positional arguments fill, in order.
    pub const fn args(mut self, fields: &'static [&'static str]) -> Self {
        self.args = fields;
        self
    }

    /// Sets the list field that collects the remaining positional arguments.
    pub const fn rest(mut self, field: &'static str) -> Self {
        self.rest = Some(field);
        self
    }

    /// Sets the chained properties.
    pub const fn chained(mut self, chained: &'static [Chained]) -> Self {
        self.chained = chained;
        self
    }

    /// The call as a user writes it, for error messages: `.exec(prog, args...)`.
    ///
    /// ```
    /// use klaxon_core::TickShape;
    /// assert_eq!(TickShape::new("exec").args(&["prog"]).rest("args").usage(), ".exec(prog, args...)");
    /// ```
    pub fn usage(&self) -> String {
        let mut params: Vec<String> = self.args.iter().map(|a| a.to_string()).collect();
        if let Some(rest) = self.rest {
            params.push(format!("{rest}..."));
        }
        format!(".{}({})", self.property, params.join(", "))
    }

    /// Finds a chained property by name.
    pub fn chained_property(&self, property: &str) -> Option<&Chained> {
        self.chained.iter().find(|c| c.property == property)
    }

    /// Builds the options object from the handler call's positional arguments and the chained
    /// properties that followed it, each already converted to JSON.
    ///
    /// The result is decoded by the handler's `Options` type like any handler file.
    pub fn build_options(
        &self,
        positional: &[Value],
        chained: &[(&str, Vec<Value>)],
    ) -> Result<Value, Invalid> {
        let mut options = Map::new();
        let required = self.args.len();
        let too_many = self.rest.is_none() && positional.len() > required;
        if positional.len() < required || too_many {
            let expected = match (self.rest, required) {
                (Some(_), n) => format!("at least {n}"),
                (None, n) => format!("{n}"),
            };
            let plural = if expected.ends_with(" 1") || expected == "1" {
                ""
            } else {
                "s"
            };
            return Err(Invalid::new(format!(
                "{} takes {expected} argument{plural}, got {}",
                self.usage(),
                positional.len()
            )));
        }
        for (field, value) in self.args.iter().zip(positional) {
            options.insert((*field).to_owned(), value.clone());
        }
        if let Some(rest) = self.rest {
            options.insert(
                rest.to_owned(),
                Value::Array(positional[required..].to_vec()),
            );
        }
        for (property, args) in chained {
            let spec = self.chained_property(property).ok_or_else(|| {
                let known: Vec<String> = self
                    .chained
                    .iter()
                    .map(|c| format!(".{}()", c.property))
                    .collect();
                Invalid::new(format!(
                    ".{}() does not take .{property}(); {}",
                    self.property,
                    if known.is_empty() {
                        "it takes no chained properties".to_owned()
                    } else {
                        format!("it takes: {}", known.join(", "))
                    }
                ))
            })?;
            spec.apply(&mut options, args)?;
        }
        Ok(Value::Object(options))
    }
}

impl Chained {
    fn apply(&self, options: &mut Map<String, Value>, args: &[Value]) -> Result<(), Invalid> {
        let arity = |n: usize| {
            Invalid::new(format!(
                ".{}() takes {n} argument{}, got {}",
                self.property,
                if n == 1 { "" } else { "s" },
                args.len()
            ))
        };
        match self.form {
            ChainedForm::Value => {
                let [value] = args else { return Err(arity(1)) };
                options.insert(self.field.to_owned(), value.clone());
            }
            ChainedForm::Flag => {
                if !args.is_empty() {
                    return Err(arity(0));
                }
                options.insert(self.field.to_owned(), Value::Bool(true));
            }
            ChainedForm::List => {
                let list = options
                    .entry(self.field.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.extend(args.iter().cloned());
                }
            }
            ChainedForm::Record(keys) => {
                if args.is_empty() || args.len() > keys.len() {
                    let expected = match keys.len() {
                        1 => "1 argument".to_owned(),
                        2 => "1 or 2 arguments".to_owned(),
                        n => format!("1 to {n} arguments"),
                    };
                    return Err(Invalid::new(format!(
                        ".{}() takes {expected}, got {}",
                        self.property,
                        args.len()
                    )));
                }
                let record: Map<String, Value> = keys
                    .iter()
                    .zip(args)
                    .map(|(key, value)| ((*key).to_owned(), value.clone()))
                    .collect();
                let list = options
                    .entry(self.field.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(Value::Object(record));
                }
            }
            ChainedForm::Pair => {
                let [Value::String(key), value] = args else {
                    return Err(Invalid::new(format!(
                        ".{}() takes a string key and a value",
                        self.property
                    )));
                };
                let map = options
                    .entry(self.field.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POST: TickShape = TickShape::new("post").args(&["url"]).chained(&[
        Chained::pair("header", "headers"),
        Chained::flag("captureResponse", "capture-response"),
        Chained::list("to", "to"),
    ]);

    #[test]
    fn positional_arguments_fill_fields_in_order() {
        const TCP: TickShape = TickShape::new("relay").args(&["address"]);
        let options = TCP.build_options(&[json!("127.0.0.1:7777")], &[]).unwrap();
        assert_eq!(options, json!({"address": "127.0.0.1:7777"}));
    }

    #[test]
    fn rest_collects_an_empty_list_when_no_extra_arguments() {
        const EXEC: TickShape = TickShape::new("run").args(&["prog"]).rest("args");
        let options = EXEC.build_options(&[json!("/bin/true")], &[]).unwrap();
        assert_eq!(options, json!({"prog": "/bin/true", "args": []}));
    }

    #[test]
    fn wrong_argument_counts_name_the_usage() {
        const EXEC: TickShape = TickShape::new("run").args(&["prog"]).rest("args");
        let err = EXEC.build_options(&[], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".run(prog, args...) takes at least 1 argument, got 0"
        );
        const TCP: TickShape = TickShape::new("relay").args(&["address"]);
        let err = TCP
            .build_options(&[json!("a"), json!("b")], &[])
            .unwrap_err();
        assert_eq!(err.to_string(), ".relay(address) takes 1 argument, got 2");
    }

    #[test]
    fn chained_forms_build_values_flags_lists_and_maps() {
        let options = POST
            .build_options(
                &[json!("http://x")],
                &[
                    ("header", vec![json!("A"), json!("1")]),
                    ("captureResponse", vec![]),
                    ("to", vec![json!("a"), json!("b")]),
                    ("to", vec![json!("c")]),
                ],
            )
            .unwrap();
        assert_eq!(
            options,
            json!({"url": "http://x", "headers": {"A": "1"}, "capture-response": true, "to": ["a", "b", "c"]})
        );
    }

    #[test]
    fn records_take_their_required_argument_and_optional_ones() {
        const THREE: TickShape = TickShape::new("page").chained(&[Chained::record(
            "image",
            "images",
            &["src", "href", "alt"],
        )]);
        let options = THREE
            .build_options(
                &[],
                &[
                    ("image", vec![json!("s")]),
                    ("image", vec![json!("s"), json!("h"), json!("a")]),
                ],
            )
            .unwrap();
        assert_eq!(
            options,
            json!({"images": [{"src": "s"}, {"src": "s", "href": "h", "alt": "a"}]})
        );
        let four = vec![json!(1), json!(2), json!(3), json!(4)];
        let err = THREE.build_options(&[], &[("image", four)]).unwrap_err();
        assert_eq!(err.to_string(), ".image() takes 1 to 3 arguments, got 4");
        const ONE: TickShape =
            TickShape::new("page").chained(&[Chained::record("tag", "tags", &["name"])]);
        let err = ONE.build_options(&[], &[("tag", vec![])]).unwrap_err();
        assert_eq!(err.to_string(), ".tag() takes 1 argument, got 0");
    }

    #[test]
    fn unknown_chained_property_lists_the_known_ones() {
        let err = POST
            .build_options(&[json!("u")], &[("rooom", vec![json!("x")])])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            ".post() does not take .rooom(); it takes: .header(), .captureResponse(), .to()"
        );
    }
}
