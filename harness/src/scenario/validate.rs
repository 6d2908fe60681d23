//! Stage two: turns a [`RawScenario`] into a [`Scenario`], checking meaning (hex, durations,
//! regexes, template names, the device) and collecting every problem with its position.
//! Values that failed to read in stage one are skipped here: they were reported already.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::mqtt::hex::{parse_hex, HexErrorKind};
use crate::mqtt::QoS;

use super::de::{Field, Sp};
use super::error::{closest, quoted_list, ErrorKind, ScenarioError};
use super::label;
use super::limits::{MAX_DURATION, MAX_DURATION_TEXT};
use super::location::{Location, Source};
use super::model::{Action, Matcher, Pattern, Scenario, Step, DEFAULT_STEP_TIMEOUT};
use super::opaque::Opaque;
use super::raw::{DurationText, HexText, RawMatcher, RawScenario, RawStep, Text, STEP_KINDS};
use super::template::{self, Template, VarScope};
use super::yaml::{Node, NodeKind};

/// Validation state for one file: where to place errors and the errors so far.
pub(crate) struct Ctx<'a> {
    pub source: &'a Source,
    pub file: &'a Path,
    pub errors: Vec<ScenarioError>,
    pub vars: BTreeMap<String, Template>,
    /// Names captured by the steps validated so far (`capture: {packet_id: NAME}`).
    pub captures: BTreeSet<String>,
    /// The device fixture names `device:` keys may use.
    pub devices: &'a BTreeSet<String>,
}

impl Ctx<'_> {
    pub fn error(&mut self, at: Location, kind: ErrorKind, message: impl Into<String>) {
        self.errors.push(ScenarioError {
            file: self.file.to_path_buf(),
            location: Some(at),
            kind,
            message: message.into(),
        });
    }

    /// Where the character at `offset` of a scalar's value was written.
    pub fn inside<T>(&self, sp: &Sp<T>, value: &str, offset: usize) -> Location {
        match sp.style {
            Some(style) => self.source.locate_in_scalar(sp.mark, style, value, offset),
            None => sp.mark.location,
        }
    }

    pub fn text(&mut self, sp: &Sp<Text>) -> Option<Template> {
        let scope = VarScope::Scenario(&self.vars);
        match template::parse(&sp.value.0, &scope) {
            Ok(t) => Some(t),
            Err(problems) => {
                for p in problems {
                    let at = self.inside(sp, &sp.value.0, p.offset);
                    self.error(at, p.kind, p.message);
                }
                None
            }
        }
    }

    pub fn hex(&mut self, sp: &Sp<HexText>) -> Option<Vec<u8>> {
        let text = &sp.value.0;
        match parse_hex(text) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                let token_start = text[..e.offset.min(text.len())].chars().count();
                let offset = match &e.kind {
                    // Point at the offending character itself, not at its token.
                    HexErrorKind::NotHex { token, found } => {
                        token_start + token.chars().position(|c| c == *found).unwrap_or(0)
                    }
                    HexErrorKind::Placeholder(_) | HexErrorKind::OddDigits(_) => token_start,
                    HexErrorKind::Empty => 0,
                };
                let at = match e.kind {
                    HexErrorKind::Empty => sp.mark.location,
                    _ => self.inside(sp, text, offset),
                };
                self.error(
                    at,
                    ErrorKind::Hex,
                    format!("expected hex bytes: {}", e.kind),
                );
                None
            }
        }
    }

    pub fn duration(&mut self, sp: &Sp<DurationText>) -> Option<Duration> {
        let text = sp.value.0.trim();
        match humantime::parse_duration(text) {
            Ok(d) if d <= MAX_DURATION => Some(d),
            Ok(_) => {
                self.error(
                    sp.mark.location,
                    ErrorKind::Duration,
                    format!(
                        "`{text}` is too long: a timeout, `wait` or `for` is at most \
                         {MAX_DURATION_TEXT}"
                    ),
                );
                None
            }
            Err(e) => {
                self.error(
                    sp.mark.location,
                    ErrorKind::Duration,
                    format!(
                        "expected a duration with a unit such as `500ms`, `2s` or `1m`, found \
                         `{text}` ({e})"
                    ),
                );
                None
            }
        }
    }

    /// Checks a device fixture name against the registry; reports an unknown one with the
    /// closest known name (or the list, when none is close).
    pub fn device(&mut self, sp: &Sp<String>) -> bool {
        if self.devices.contains(&sp.value) {
            return true;
        }
        let names: Vec<&str> = self.devices.iter().map(String::as_str).collect();
        // A close name is the likely fix; the whole list only when there is none.
        let hint = match closest(&sp.value, &names) {
            Some(close) => format!("did you mean `{close}`?"),
            None if names.is_empty() => "no device fixtures were found".to_string(),
            None if names.len() > 12 => format!(
                "known devices include {} and {} more",
                quoted_list(&names[..12]),
                names.len() - 12
            ),
            None => format!("known devices are {}", quoted_list(&names)),
        };
        self.error(
            sp.mark.location,
            ErrorKind::Device,
            format!("unknown device `{}`; {hint}", sp.value),
        );
        false
    }

    /// A block kept for another layer: it must be a mapping (`what` names its contents).
    /// `node` is the value's node in the tree, kept so the owner's errors have positions.
    pub fn opaque(
        &mut self,
        value: &serde_yaml::Value,
        at: Location,
        node: Option<&Node>,
        what: &str,
    ) -> Option<Opaque> {
        if !value.is_mapping() {
            self.error(at, ErrorKind::Type, format!("expected a mapping of {what}"));
            return None;
        }
        Some(Opaque::new(value.clone(), node?.clone(), self.file))
    }

    pub fn qos(&mut self, sp: &Sp<u8>) -> Option<QoS> {
        match QoS::try_from(sp.value) {
            Ok(q) => Some(q),
            Err(_) => {
                let v = sp.value;
                self.error(
                    sp.mark.location,
                    ErrorKind::Value,
                    format!("expected a QoS of 0, 1 or 2, found {v}"),
                );
                None
            }
        }
    }

    fn regex(&mut self, sp: &Sp<String>) -> Option<Pattern> {
        // The module ends lines with CR LF: `$` must match before it, as a reader of the docs expects.
        match regex::RegexBuilder::new(&sp.value)
            .multi_line(true)
            .crlf(true)
            .build()
        {
            Ok(r) => Some(Pattern(r)),
            Err(e) => {
                let detail = e.to_string();
                let detail = detail
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ");
                self.error(
                    sp.mark.location,
                    ErrorKind::Regex,
                    format!("compile the regular expression `{}`: {detail}", sp.value),
                );
                None
            }
        }
    }

    pub fn matcher(&mut self, sp: &Sp<RawMatcher>) -> Option<Matcher> {
        let list = |ctx: &mut Self, items: &[Sp<RawMatcher>]| -> Option<Vec<Matcher>> {
            if items.is_empty() {
                ctx.error(
                    sp.mark.location,
                    ErrorKind::Value,
                    "expected at least one text to look for, found an empty list",
                );
                return None;
            }
            let all: Vec<Option<Matcher>> = items.iter().map(|m| ctx.matcher(m)).collect();
            all.into_iter().collect()
        };
        match &sp.value {
            RawMatcher::Text(t) => {
                let text = Sp {
                    value: Text(t.clone()),
                    mark: sp.mark,
                    style: sp.style,
                };
                self.text(&text).map(Matcher::Contains)
            }
            RawMatcher::Contains(t) => self.text(t).map(Matcher::Contains),
            RawMatcher::Line(t) => self.text(t).map(Matcher::Line),
            RawMatcher::Regex(r) => self.regex(r).map(Matcher::Regex),
            RawMatcher::InOrder(items) => list(self, items).map(Matcher::InOrder),
            RawMatcher::AnyOf(items) => list(self, items).map(Matcher::AnyOf),
            RawMatcher::AllOf(items) => list(self, items).map(Matcher::AllOf),
        }
    }
}

/// Validates a whole file's raw scenario. `root` is the document's mapping, for the position
/// of problems about the file as a whole and for the trees of the blocks kept opaque.
pub(crate) fn scenario(raw: RawScenario, root: &Node, ctx: &mut Ctx<'_>) -> Option<Scenario> {
    let top = root.mark.location;
    let missing = |ctx: &mut Ctx<'_>, key: &str, why: &str| {
        ctx.error(
            top,
            ErrorKind::MissingKey,
            format!("missing `{key}`: {why}"),
        );
    };
    if raw.name.is_absent() {
        missing(ctx, "name", "every scenario has a name, shown in reports");
    }
    if raw.device.is_absent() {
        missing(
            ctx,
            "device",
            "name the device fixture, e.g. `device: aliyun/device2`",
        );
    }
    if raw.steps.is_absent() {
        missing(ctx, "steps", "a scenario is a list of steps");
    }
    if let Some(device) = raw.device.ok() {
        ctx.device(device);
    }
    if let Some(vars) = raw.vars.ok() {
        for (name, value) in vars {
            match template::parse(&value.value.0, &VarScope::InsideVars) {
                Ok(t) => {
                    ctx.vars.insert(name.clone(), t);
                }
                Err(problems) => {
                    for p in problems {
                        let at = ctx.inside(value, &value.value.0, p.offset);
                        ctx.error(at, p.kind, p.message);
                    }
                }
            }
        }
    }
    let timeout = match raw.timeout.ok() {
        Some(t) => ctx.duration(t),
        None => Some(DEFAULT_STEP_TIMEOUT),
    };
    let virtual_module = raw.virtual_module.ok().and_then(|v| {
        let node = root.get("virtual_module");
        ctx.opaque(&v.value, v.mark.location, node, "virtual module settings")
    });
    let requires = raw.requires.ok().and_then(|v| {
        let node = root.get("requires");
        ctx.opaque(&v.value, v.mark.location, node, "scenario requirements")
    });
    let estimate = raw.estimate.ok().and_then(|t| ctx.duration(t));
    let cloud = raw.cloud.ok().and_then(|c| {
        let node = root.get("cloud");
        ctx.opaque(&c.value.0, c.mark.location, node, "cloud profile settings")
    });
    let step_nodes: &[Node] = match root.get("steps").map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items,
        _ => &[],
    };
    let mut steps = Vec::new();
    // Each validated step's raw form, for checks across steps that point inside a value.
    let mut raws = Vec::new();
    if let Some(raw_steps) = raw.steps.ok() {
        if raw_steps.is_empty() {
            let at = root.get("steps").map(|n| n.mark.location).unwrap_or(top);
            ctx.error(
                at,
                ErrorKind::Value,
                "expected at least one step, found none",
            );
        }
        let starts: Vec<Location> = raw_steps
            .iter()
            .filter_map(|s| s.ok().map(|s| s.mark.location))
            .collect();
        for (raw_step, node) in raw_steps.iter().zip(step_nodes) {
            let Some(sp) = raw_step.ok() else { continue };
            // An unknown key already reported in this step explains a missing kind.
            let next = starts.iter().find(|l| **l > sp.mark.location);
            let reported = ctx.errors.iter().any(|e| {
                e.kind == ErrorKind::UnknownKey
                    && e.location
                        .is_some_and(|l| l >= sp.mark.location && next.map_or(true, |n| l < *n))
            });
            let index = steps.len();
            let default_timeout = timeout.unwrap_or(DEFAULT_STEP_TIMEOUT);
            if let Some(step) = step(ctx, index, sp, node, default_timeout, reported) {
                steps.push(step);
                raws.push(sp);
            }
        }
    }
    super::send_lengths::check(ctx, &steps, &raws);
    if !ctx.errors.is_empty() {
        return None;
    }
    let name = raw.name.into_ok()?;
    Some(Scenario {
        name: name.value,
        description: raw.description.into_ok(),
        file: ctx.file.to_path_buf(),
        device: raw.device.into_ok()?.value,
        tags: raw.tags.into_ok().unwrap_or_default(),
        timeout: timeout?,
        virtual_module,
        cloud,
        requires,
        estimate,
        steps,
        location: name.mark.location,
    })
}

fn step(
    ctx: &mut Ctx<'_>,
    index: usize,
    sp: &Sp<RawStep>,
    node: &Node,
    default_timeout: Duration,
    unknown_key_reported: bool,
) -> Option<Step> {
    let raw = &sp.value;
    let at = sp.mark.location;
    let mut kinds = raw.kinds_present();
    if kinds.contains(&"send") || kinds.contains(&"write") {
        kinds.retain(|k| *k != "expect");
    }
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => {
            if !unknown_key_reported {
                ctx.error(
                    at,
                    ErrorKind::MissingKey,
                    format!("a step needs one of {}", quoted_list(STEP_KINDS)),
                );
            }
            return None;
        }
        many => {
            ctx.error(
                at,
                ErrorKind::Value,
                format!(
                    "a step does one thing, found {}; split it into one step each",
                    quoted_list(many)
                ),
            );
            return None;
        }
    };
    if let Some(w) = raw.window.ok() {
        if kind != "expect_not" {
            ctx.error(
                w.mark.location,
                ErrorKind::Value,
                format!("`for` goes with `expect_not`, not with `{kind}`; use `timeout` here"),
            );
        }
    }
    let link = match raw.link.ok() {
        Some(l) if matches!(kind, "open" | "close" | "expect_closed") => {
            ctx.error(
                l.mark.location,
                ErrorKind::Value,
                format!(
                    "`link` of `{kind}` goes inside it: `{kind}: {{link: {}}}`",
                    l.value
                ),
            );
            None
        }
        Some(l) if !matches!(kind, "mqtt" | "receive" | "receive_mqtt") => {
            ctx.error(
                l.mark.location,
                ErrorKind::Value,
                format!(
                    "`link` goes with `mqtt`, `receive` and `receive_mqtt`, not with `{kind}`; \
                     a `send` writes its link into the command"
                ),
            );
            None
        }
        Some(l) => Some(l.value),
        None => None,
    };
    if let Some(d) = raw.device.ok() {
        if kind != "broker_fault" {
            ctx.error(
                d.mark.location,
                ErrorKind::Value,
                format!(
                    "`device` goes with `broker_fault`, not with `{kind}`; other steps are \
                     about the scenario's device"
                ),
            );
        }
    }
    let timeout = match raw.timeout.ok() {
        Some(t) => ctx.duration(t),
        None => Some(default_timeout),
    };
    let expect = match raw.expect.ok() {
        Some(m) => Some(ctx.matcher(m)?),
        None => None,
    };
    let action = match kind {
        "send" => Action::Send {
            line: ctx.text(raw.send.ok()?)?,
            expect,
        },
        "write" => Action::Write {
            bytes: ctx.hex(raw.write.ok()?)?,
            expect,
        },
        "expect" => Action::Expect(expect?),
        "expect_not" => {
            let matcher = ctx.matcher(raw.expect_not.ok()?);
            let window = match &raw.window {
                Field::Ok(w) => ctx.duration(w),
                Field::Failed => None,
                Field::Absent => {
                    ctx.error(
                        at,
                        ErrorKind::MissingKey,
                        "missing `for`: `expect_not` needs the window to watch, e.g. `for: 2s`",
                    );
                    None
                }
            };
            Action::ExpectNot {
                matcher: matcher?,
                window: window?,
            }
        }
        "receive" => Action::Receive(ctx.hex(raw.receive.ok()?)?),
        "wait" => Action::Wait(ctx.duration(raw.wait.ok()?)?),
        "mqtt" => Action::Mqtt(super::packets::send(ctx, raw.mqtt.ok()?)?),
        "receive_mqtt" => Action::ReceiveMqtt(super::packets::expect(ctx, raw.receive_mqtt.ok()?)?),
        "join" => super::network_steps::join(ctx, raw.join.ok()?)?,
        "open" => super::network_steps::open(ctx, raw.open.ok()?)?,
        "close" => super::network_steps::close(raw.close.ok()?),
        "expect_closed" => super::network_steps::expect_closed(raw.expect_closed.ok()?),
        "broker_saw" => Action::BrokerSaw(super::packets::seen(ctx, raw.broker_saw.ok()?)?),
        "broker_refused" => {
            Action::BrokerRefused(super::packets::refused(ctx, raw.broker_refused.ok()?)?)
        }
        "broker_fault" => super::broker_steps::fault(ctx, raw, node)?,
        "broker_dropped" => {
            Action::BrokerDropped(super::broker_steps::dropped(ctx, raw.broker_dropped.ok()?)?)
        }
        "cloud_publish" => {
            Action::CloudPublish(super::packets::cloud_publish(ctx, raw.cloud_publish.ok()?)?)
        }
        _ => return None,
    };
    // After the step's own fields: its capture serves the steps after it, not itself.
    let capture = match raw.capture.ok() {
        Some(c) if kind != "receive_mqtt" => {
            ctx.error(
                c.mark.location,
                ErrorKind::Value,
                format!("`capture` goes with `receive_mqtt`, not with `{kind}`"),
            );
            return None;
        }
        Some(c) => Some(super::capture::capture(ctx, c)?),
        None => None,
    };
    let inner_link = match kind {
        "open" => raw.open.ok().and_then(|o| o.value.link.as_ref()),
        "close" => raw.close.ok().and_then(|c| c.value.link.as_ref()),
        "expect_closed" => raw.expect_closed.ok().and_then(|c| c.value.link.as_ref()),
        _ => None,
    };
    let link_at = inner_link
        .or(raw.link.ok().filter(|_| link.is_some()))
        .map(|l| l.mark.location);
    Some(Step {
        index,
        location: at,
        label: label::label(&action, raw),
        name: raw.name.ok().cloned(),
        timeout: timeout?,
        action,
        link,
        capture,
        link_at,
    })
}
