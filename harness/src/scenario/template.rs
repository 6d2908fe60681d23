//! [`Template`]: scenario text with `{{namespace.name}}` holes filled at run time (the broker's
//! address, the device's credentials, environment variables). Names are checked when the
//! scenario loads; values are looked up only when the step runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::error::{did_you_mean, quoted_list, ErrorKind};

/// Text with `{{...}}` holes. `vars.*` references are already replaced by the variable's own
/// parts, so rendering never sees them; [`Template::source`] keeps the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Var(Var),
}

/// A value known only at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    /// `{{broker.host}}`: the address the module must connect to.
    BrokerHost,
    /// `{{broker.port}}`.
    BrokerPort,
    /// `{{device.*}}`: from the scenario's device fixture.
    Device(DeviceField),
    /// `{{env.NAME}}`: an environment variable. Always a secret: reports redact its value.
    Env(String),
    /// `{{wifi.ssid}}`: the network the rig's module joins (the virtual module's lab network
    /// when there is no rig).
    WifiSsid,
    /// `{{wifi.password}}`: its password, from the rig's environment variable or file. A
    /// secret: reports redact it.
    WifiPassword,
}

/// The device fixture values a template can use (the DeviceSecret is deliberately not one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceField {
    ProductKey,
    DeviceName,
    /// The full MQTT client id, e.g. `device2|securemode=3,signmethod=hmacsha1|`.
    ClientId,
    Username,
    /// The signed password, computed at run time.
    Password,
}

const DEVICE_FIELDS: &[(&str, DeviceField)] = &[
    ("product_key", DeviceField::ProductKey),
    ("device_name", DeviceField::DeviceName),
    ("client_id", DeviceField::ClientId),
    ("username", DeviceField::Username),
    ("password", DeviceField::Password),
];

impl Var {
    /// The name `render`'s lookup is asked for: `broker.host`, `device.product_key`,
    /// `env.WIFI_PASSWORD`.
    pub fn key(&self) -> String {
        match self {
            Var::BrokerHost => "broker.host".into(),
            Var::BrokerPort => "broker.port".into(),
            Var::Device(f) => {
                let name = DEVICE_FIELDS
                    .iter()
                    .find(|(_, d)| d == f)
                    .map(|(n, _)| *n)
                    .unwrap_or("?");
                format!("device.{name}")
            }
            Var::Env(name) => format!("env.{name}"),
            Var::WifiSsid => "wifi.ssid".into(),
            Var::WifiPassword => "wifi.password".into(),
        }
    }

    /// Values from the environment are secrets (Wi-Fi passwords, real DeviceSecrets).
    pub fn is_secret(&self) -> bool {
        matches!(self, Var::Env(_) | Var::WifiPassword)
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}}", self.key())
    }
}

/// A template could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("render `{template}`: {var} has no value{hint}")]
pub struct TemplateError {
    /// The template as written.
    pub template: String,
    pub var: Var,
    hint: String,
}

impl Template {
    /// Text with no holes.
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        Template {
            parts: vec![Part::Text(text.clone())],
            source: text,
        }
    }

    /// The text as written in the scenario, `{{...}}` and all: safe to show, it holds no
    /// secret values.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The text when there is nothing to fill in.
    pub fn as_literal(&self) -> Option<String> {
        self.vars()
            .next()
            .is_none()
            .then(|| self.render(&|_| None).unwrap_or_default())
    }

    /// The run-time values this template needs.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Text(_) => None,
        })
    }

    /// Whether the rendered text holds a secret (an environment variable's value).
    pub fn is_secret(&self) -> bool {
        self.vars().any(Var::is_secret)
    }

    /// Fills in every hole with `lookup(var.key())`. `lookup` returns `None` for a value it
    /// does not have (an unset environment variable), which is an error naming it.
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
        self.fill(lookup, None)
    }

    /// Fills in the holes of an AT command line (a `send:`). A value that lands between the
    /// double quotes of a string argument goes through `escape`, the module dialect's quoting
    /// rule, so a Wi-Fi password holding `,` `"` or `\` reaches the module as itself without
    /// the scenario asking; a value outside quotes (`{{broker.port}}`) goes in as it is. The
    /// quotes are the ones written in the scenario: an escaped `\"` there does not end a
    /// string, and a filled-in value never opens or closes one.
    pub fn render_command(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        escape: &dyn Fn(&str) -> String,
    ) -> Result<String, TemplateError> {
        self.fill(lookup, Some(escape))
    }

    fn fill(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        escape: Option<&dyn Fn(&str) -> String>,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut quotes = QuoteState::default();
        for part in &self.parts {
            match part {
                Part::Text(t) => {
                    out.push_str(t);
                    quotes.read(t);
                }
                Part::Var(v) => match lookup(&v.key()) {
                    Some(value) => match escape {
                        Some(escape) if quotes.inside => out.push_str(&escape(&value)),
                        _ => out.push_str(&value),
                    },
                    None => {
                        let hint = match v {
                            Var::Env(name) => {
                                format!(" (set the environment variable `{name}`)")
                            }
                            _ => String::new(),
                        };
                        return Err(TemplateError {
                            template: self.source.clone(),
                            var: v.clone(),
                            hint,
                        });
                    }
                },
            }
        }
        Ok(out)
    }
}

/// Whether the text so far has an open string argument: `"` opens and closes one, and inside
/// one a backslash takes the next character as it is (so `\"` does not close it).
#[derive(Debug, Default)]
struct QuoteState {
    inside: bool,
    escaped: bool,
}

impl QuoteState {
    fn read(&mut self, text: &str) {
        for c in text.chars() {
            if self.escaped {
                self.escaped = false;
            } else if self.inside && c == '\\' {
                self.escaped = true;
            } else if c == '"' {
                self.inside = !self.inside;
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A problem in a template, at a character offset of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateProblem {
    pub offset: usize,
    pub kind: ErrorKind,
    pub message: String,
}

/// What `{{vars.NAME}}` can refer to while parsing: the scenario's variables, already parsed,
/// or none at all (inside a variable's own value).
pub(crate) enum VarScope<'a> {
    Scenario(&'a BTreeMap<String, Template>),
    InsideVars,
}

/// Parses `text`, checking every name. All problems are returned, each at the character
/// offset of its `{{`.
pub(crate) fn parse(text: &str, scope: &VarScope<'_>) -> Result<Template, Vec<TemplateProblem>> {
    let mut parts = Vec::new();
    let mut problems = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut offset = 0; // characters consumed before `rest`
    while let Some(open) = rest.find("{{") {
        literal.push_str(&rest[..open]);
        let at = offset + rest[..open].chars().count();
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            problems.push(TemplateProblem {
                offset: at,
                kind: ErrorKind::Template,
                message: "`{{` is not closed with `}}`".into(),
            });
            rest = "";
            break;
        };
        let name = after[..close].trim();
        match resolve(name, scope) {
            Ok(resolved) => {
                let pending = Part::Text(std::mem::take(&mut literal));
                for p in std::iter::once(pending).chain(resolved) {
                    match (p, parts.last_mut()) {
                        (Part::Text(t), _) if t.is_empty() => {}
                        (Part::Text(t), Some(Part::Text(prev))) => prev.push_str(&t),
                        (p, _) => parts.push(p),
                    }
                }
            }
            Err(message) => problems.push(TemplateProblem {
                offset: at,
                kind: ErrorKind::Template,
                message,
            }),
        }
        let consumed = open + 2 + close + 2;
        offset += rest[..consumed].chars().count();
        rest = &rest[consumed..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        match parts.last_mut() {
            Some(Part::Text(prev)) => prev.push_str(&literal),
            _ => parts.push(Part::Text(literal)),
        }
    }
    if problems.is_empty() {
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    } else {
        Err(problems)
    }
}

const NAMESPACES: &[&str] = &["broker", "device", "wifi", "vars", "env"];

fn resolve(name: &str, scope: &VarScope<'_>) -> Result<Vec<Part>, String> {
    let Some((ns, field)) = name.split_once('.') else {
        return Err(format!(
            "`{{{{{name}}}}}` names no value; write `{{{{namespace.name}}}}` with namespace {}",
            quoted_list(NAMESPACES)
        ));
    };
    match ns {
        "broker" => match field {
            "host" => Ok(vec![Part::Var(Var::BrokerHost)]),
            "port" => Ok(vec![Part::Var(Var::BrokerPort)]),
            _ => Err(unknown_name(ns, field, &["host", "port"])),
        },
        "wifi" => match field {
            "ssid" => Ok(vec![Part::Var(Var::WifiSsid)]),
            "password" => Ok(vec![Part::Var(Var::WifiPassword)]),
            _ => Err(unknown_name(ns, field, &["ssid", "password"])),
        },
        "device" => match DEVICE_FIELDS.iter().find(|(n, _)| *n == field) {
            Some((_, f)) => Ok(vec![Part::Var(Var::Device(*f))]),
            None => {
                let names: Vec<&str> = DEVICE_FIELDS.iter().map(|(n, _)| *n).collect();
                Err(unknown_name(ns, field, &names))
            }
        },
        "env" => {
            let valid = !field.is_empty()
                && !field.starts_with(|c: char| c.is_ascii_digit())
                && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid {
                Ok(vec![Part::Var(Var::Env(field.to_string()))])
            } else {
                Err(format!(
                    "`{field}` is not an environment variable name (letters, digits and `_`)"
                ))
            }
        }
        "vars" => match scope {
            VarScope::InsideVars => {
                Err("a variable's value cannot use `{{vars.*}}`; write the value out".into())
            }
            VarScope::Scenario(vars) => match vars.get(field) {
                Some(t) => Ok(t.parts.clone()),
                None if vars.is_empty() => Err(format!(
                    "no variable `{field}`: the scenario has no `vars`; add `vars: {{{field}: ...}}`"
                )),
                None => {
                    let names: Vec<&str> = vars.keys().map(String::as_str).collect();
                    Err(format!(
                        "no variable `{field}` in `vars`; defined are {}{}",
                        quoted_list(&names),
                        did_you_mean(field, &names)
                    ))
                }
            },
        },
        _ => Err(format!(
            "unknown namespace `{ns}` in `{{{{{name}}}}}`; expected one of {}{}",
            quoted_list(NAMESPACES),
            did_you_mean(ns, NAMESPACES)
        )),
    }
}

fn unknown_name(ns: &str, field: &str, names: &[&str]) -> String {
    let full: Vec<String> = names.iter().map(|n| format!("{ns}.{n}")).collect();
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    format!(
        "unknown name `{ns}.{field}`; expected one of {}{}",
        quoted_list(&full),
        did_you_mean(&format!("{ns}.{field}"), &full)
    )
}

/// Every environment variable the templates use, for reports to redact and `check` to list.
pub(crate) fn env_names<'a>(templates: impl IntoIterator<Item = &'a Template>) -> BTreeSet<String> {
    templates
        .into_iter()
        .flat_map(Template::vars)
        .filter_map(|v| match v {
            Var::Env(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(key: &str) -> Option<String> {
        match key {
            "broker.host" => Some("127.0.0.1".into()),
            "broker.port" => Some("1883".into()),
            "device.product_key" => Some("a1ndPQHcX7f".into()),
            "env.WIFI_PASS" => Some("hunter2".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_every_hole() {
        let t = parse(
            r#"AT+CIPSTART="TCP","{{broker.host}}",{{ broker.port }}"#,
            &VarScope::InsideVars,
        )
        .unwrap();
        assert_eq!(
            t.render(&lookup).unwrap(),
            r#"AT+CIPSTART="TCP","127.0.0.1",1883"#
        );
        assert_eq!(
            t.source(),
            r#"AT+CIPSTART="TCP","{{broker.host}}",{{ broker.port }}"#
        );
        assert!(!t.is_secret());
        assert_eq!(t.as_literal(), None);
    }

    #[test]
    fn vars_are_inlined_and_keep_their_secrecy() {
        let pass = parse("{{env.WIFI_PASS}}", &VarScope::InsideVars).unwrap();
        let vars = BTreeMap::from([
            ("ssid".to_string(), Template::literal("lab")),
            ("pass".to_string(), pass),
        ]);
        let t = parse(
            r#"AT+CWJAP="{{vars.ssid}}","{{vars.pass}}""#,
            &VarScope::Scenario(&vars),
        )
        .unwrap();
        assert_eq!(t.render(&lookup).unwrap(), r#"AT+CWJAP="lab","hunter2""#);
        assert!(t.is_secret());
        assert_eq!(env_names([&t]), BTreeSet::from(["WIFI_PASS".to_string()]));
        assert_eq!(t.parts().len(), 3, "{:?}", t.parts());
    }

    #[test]
    fn a_missing_value_names_the_hole_and_how_to_fill_it() {
        let t = parse("pass {{env.NOPE}}", &VarScope::InsideVars).unwrap();
        let e = t.render(&lookup).unwrap_err();
        assert_eq!(e.var, Var::Env("NOPE".into()));
        assert_eq!(
            e.to_string(),
            "render `pass {{env.NOPE}}`: {{env.NOPE}} has no value (set the environment \
             variable `NOPE`)"
        );
    }

    #[test]
    fn every_bad_name_is_reported_at_its_braces() {
        let vars = BTreeMap::from([("topic".to_string(), Template::literal("t"))]);
        let problems = parse(
            "{{brokr.host}} é{{device.secret}} {{vars.topik}} {{env.1X}} {{oops",
            &VarScope::Scenario(&vars),
        )
        .unwrap_err();
        let got: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.offset, p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    0,
                    "unknown namespace `brokr` in `{{brokr.host}}`; expected one of `broker`, \
                     `device`, `wifi`, `vars`, `env`; did you mean `broker`?"
                ),
                (
                    16,
                    "unknown name `device.secret`; expected one of `device.product_key`, \
                     `device.device_name`, `device.client_id`, `device.username`, \
                     `device.password`"
                ),
                (
                    34,
                    "no variable `topik` in `vars`; defined are `topic`; did you mean `topic`?"
                ),
                (
                    49,
                    "`1X` is not an environment variable name (letters, digits and `_`)"
                ),
                (60, "`{{` is not closed with `}}`"),
            ]
        );
    }

    /// A stand-in for a dialect's rule that shows where it was applied (the real rules and
    /// their tests live in `module/dialect/`).
    fn marked(value: &str) -> String {
        format!("<{value}>")
    }

    #[test]
    fn a_command_escapes_values_inside_quotes_only() {
        let lookup = |key: &str| match key {
            "wifi.ssid" => Some("lab,2g".to_string()),
            "wifi.password" => Some(r#"p,a"s\s"#.to_string()),
            "broker.port" => Some("1883".to_string()),
            _ => None,
        };
        let t = parse(
            r#"AT+CWJAP="{{wifi.ssid}}","x\"{{wifi.password}}",{{broker.port}}"#,
            &VarScope::InsideVars,
        )
        .unwrap();
        assert_eq!(
            t.render_command(&lookup, &marked).unwrap(),
            r#"AT+CWJAP="<lab,2g>","x\"<p,a"s\s>",1883"#
        );
        // Outside quotes a value goes in as it is, and `render` never escapes.
        let bare = parse("AT+X={{wifi.ssid}}", &VarScope::InsideVars).unwrap();
        assert_eq!(
            bare.render_command(&lookup, &marked).unwrap(),
            "AT+X=lab,2g"
        );
        assert_eq!(
            t.render(&lookup).unwrap(),
            r#"AT+CWJAP="lab,2g","x\"p,a"s\s",1883"#
        );
    }

    #[test]
    fn text_without_holes_is_literal() {
        let t = parse(r#"{"a":{"b":1}}"#, &VarScope::InsideVars).unwrap();
        assert_eq!(t.as_literal().as_deref(), Some(r#"{"a":{"b":1}}"#));
    }
}
