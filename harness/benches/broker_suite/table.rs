//! Printing a run: one table with a column per broker (a failed measurement shows `failed [n]`
//! with its reason in the notes below), then issue 7's targets for athil broker. Main item:
//! [`print`], which writes to a `String` so the short test can print it too.

use std::fmt::Write;
use std::time::Duration;

use super::{BrokerKind, Column, Flow, Outcome, Settings};

const MB: f64 = 1024.0 * 1024.0;

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / MB)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Collects failure reasons as numbered notes.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn cell<T>(
        &mut self,
        broker: BrokerKind,
        row: &str,
        o: &Outcome<T>,
        f: impl Fn(&T) -> String,
    ) -> String {
        match o {
            Ok(v) => f(v),
            Err(why) => {
                let same =
                    |w: &String| w.starts_with(broker.title()) && w.ends_with(&format!(": {why}"));
                if let Some(n) = self.0.iter().position(same) {
                    return format!("failed [{}]", n + 1);
                }
                self.0.push(format!("{}, {row}: {why}", broker.title()));
                format!("failed [{}]", self.0.len())
            }
        }
    }
}

fn flow_rate(f: &Flow) -> String {
    let lost = f.sent.saturating_sub(f.received);
    let lost = if lost > 0 || f.received < f.sent {
        format!(" ({} lost)", thousands(lost))
    } else {
        String::new()
    };
    let dup = if f.duplicates > 0 {
        format!(" ({} dup)", thousands(f.duplicates))
    } else {
        String::new()
    };
    format!("{}/s{lost}{dup}", thousands(f.per_sec as u64))
}

fn flow_latency(f: &Flow) -> String {
    format!("{} / {}", ms(f.p50), ms(f.p99))
}

/// The whole report of a run.
pub fn print(columns: &[Column], settings: &Settings) -> String {
    let mut notes = Notes::default();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: String, cells: Vec<String>| rows.push((label, cells));
    let n = thousands(settings.messages);
    for (way, pick) in [("uplink", 0usize), ("downlink", 1)] {
        for (qi, q) in [0u8, 1].into_iter().enumerate() {
            let flows: Vec<&Outcome<Flow>> = columns
                .iter()
                .map(|c| if pick == 0 { &c.up[qi] } else { &c.down[qi] })
                .collect();
            let label = if settings.rounds > 1 {
                format!("{way} QoS {q}, {n} msgs, median of {}", settings.rounds)
            } else {
                format!("{way} QoS {q}, {n} msgs")
            };
            let rates = columns
                .iter()
                .zip(&flows)
                .map(|(c, f)| notes.cell(c.broker, &label, f, flow_rate))
                .collect();
            row(format!("{label}: msgs/s"), rates);
            let lat = columns
                .iter()
                .zip(&flows)
                .map(|(c, f)| notes.cell(c.broker, &label, f, flow_latency))
                .collect();
            row(format!("{way} QoS {q}: latency p50 / p99"), lat);
        }
    }
    let label = format!("first downlink after SUBACK (x{})", settings.first_downlink);
    let cells = columns
        .iter()
        .map(|c| {
            notes.cell(c.broker, &label, &c.first_downlink, |f| {
                let missing = f.repeats - f.arrived;
                let missing = if missing > 0 {
                    format!(" ({missing} lost)")
                } else {
                    String::new()
                };
                format!("{} / {}{missing}", ms(f.p50), ms(f.max))
            })
        })
        .collect();
    row(format!("{label}: p50 / max"), cells);
    let label = format!(
        "RSS, {} up + {} down QoS 0 {} B",
        thousands(settings.rss_messages),
        thousands(settings.rss_messages),
        settings.rss_payload
    );
    let cells = columns
        .iter()
        .map(|c| {
            notes.cell(c.broker, &label, &c.rss, |r| {
                format!("{} -> {}", mb(r.before), mb(r.after))
            })
        })
        .collect();
    row(format!("{label}: before -> after"), cells);
    let cells = columns
        .iter()
        .map(|c| {
            notes.cell(c.broker, &label, &c.rss, |r| {
                let lost = (r.up.sent - r.up.received) + (r.down.sent - r.down.received);
                let lost = if lost > 0 {
                    format!(" ({} msgs lost)", thousands(lost))
                } else {
                    String::new()
                };
                format!("{:+.1} MB{lost}", r.growth() as f64 / MB)
            })
        })
        .collect();
    row("RSS growth".to_owned(), cells);
    let label = format!("devices held (of {})", thousands(settings.devices as u64));
    let cells = columns
        .iter()
        .map(|c| {
            notes.cell(c.broker, &label, &c.held, |h| {
                let mut s = thousands(h.held as u64);
                if h.refused + h.failed > 0 {
                    s += &format!(" ({} refused, {} no CONNACK)", h.refused, h.failed);
                }
                s
            })
        })
        .collect();
    row(label.clone(), cells);
    let cells = columns
        .iter()
        .map(|c| notes.cell(c.broker, &label, &c.held, |h| mb(h.rss)))
        .collect();
    row("RSS holding them".to_owned(), cells);
    let label = format!(
        "quick reconnects lost / {}",
        thousands(settings.reconnects as u64)
    );
    let cells = columns
        .iter()
        .map(|c| {
            notes.cell(c.broker, &label, &c.reconnects, |r| {
                let failed = if r.failed > 0 {
                    format!(" ({} failed)", r.failed)
                } else {
                    String::new()
                };
                format!("{}{failed}", r.lost)
            })
        })
        .collect();
    row(label, cells);
    // Problems inside figures that did come out (a lost message, a refused device).
    for c in columns {
        if let Ok(h) = &c.held {
            if let Some(p) = &h.first_problem {
                notes.0.push(format!(
                    "{}, devices held: first problem: {p}",
                    c.broker.title()
                ));
            }
        }
        if let Ok(r) = &c.reconnects {
            if let Some(p) = &r.first_problem {
                notes.0.push(format!(
                    "{}, reconnects: first problem: {p}",
                    c.broker.title()
                ));
            }
        }
    }

    let label_w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let col_w = rows
        .iter()
        .flat_map(|(_, c)| c.iter().map(String::len))
        .chain(columns.iter().map(|c| c.broker.title().len()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = write!(out, "{:label_w$}", "");
    for c in columns {
        let _ = write!(out, "  {:>col_w$}", c.broker.title());
    }
    out.push('\n');
    for (label, cells) in &rows {
        let _ = write!(out, "{label:label_w$}");
        for cell in cells {
            let _ = write!(out, "  {cell:>col_w$}");
        }
        out.push('\n');
    }
    if !notes.0.is_empty() {
        out.push('\n');
        for (i, n) in notes.0.iter().enumerate() {
            let _ = writeln!(out, "[{}] {n}", i + 1);
        }
    }
    out.push('\n');
    out.push_str(&targets(columns));
    out
}

/// Issue 7's targets, with athil broker's figures next to them.
fn targets(columns: &[Column]) -> String {
    let find = |k| columns.iter().find(|c| c.broker == k);
    let Some(athil) = find(BrokerKind::Athil) else {
        return "issue 7 targets: athil broker was not measured\n".to_owned();
    };
    let mut out = String::from("issue 7 targets, athil broker:\n");
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    let rumqttd = find(BrokerKind::Rumqttd);
    for (way, flows_a, pick) in [("uplink", &athil.up, 0), ("downlink", &athil.down, 1)] {
        for (q, flow_a) in flows_a.iter().enumerate() {
            let peer = rumqttd.map(|r| if pick == 0 { &r.up[q] } else { &r.down[q] });
            let line = match (flow_a, peer) {
                (Ok(a), Some(Ok(r))) if r.per_sec > 0.0 => {
                    let ratio = a.per_sec / r.per_sec;
                    format!("{ratio:.2} (target >= 0.9: {})", verdict(ratio >= 0.9))
                }
                (Err(_), _) => "not measured for athil broker (see the notes)".to_owned(),
                _ => "not measured for plain rumqttd".to_owned(),
            };
            let _ = writeln!(out, "  {way} QoS {q} throughput athil/rumqttd: {line}");
        }
    }
    let line = match &athil.first_downlink {
        Ok(f) => format!(
            "p50 {}, max {}, {} of {} arrived (target < 2 ms: {})",
            ms(f.p50),
            ms(f.max),
            f.arrived,
            f.repeats,
            verdict(f.arrived == f.repeats && f.max < Duration::from_millis(2))
        ),
        Err(_) => "not measured (see the notes)".to_owned(),
    };
    let _ = writeln!(out, "  first downlink after SUBSCRIBE: {line}");
    let line = match &athil.rss {
        Ok(r) => format!(
            "{:+.1} MB (target < 8 MB: {})",
            r.growth() as f64 / MB,
            verdict((r.growth() as f64) < 8.0 * MB)
        ),
        Err(_) => "not measured (see the notes)".to_owned(),
    };
    let _ = writeln!(out, "  RSS growth: {line}");
    let line = match &athil.held {
        Ok(h) => format!(
            "{} of {}, RSS {} (target 10,000 held, < 400 MB: {})",
            thousands(h.held as u64),
            thousands(h.target as u64),
            mb(h.rss),
            verdict(h.held >= 10_000 && (h.rss as f64) < 400.0 * MB)
        ),
        Err(_) => "not measured (see the notes)".to_owned(),
    };
    let _ = writeln!(out, "  devices held: {line}");
    let line = match &athil.reconnects {
        Ok(r) => format!(
            "{} lost of {} ({} failed otherwise) (target 0: {})",
            r.lost,
            thousands(r.cycles as u64),
            r.failed,
            verdict(r.lost == 0 && r.failed == 0)
        ),
        Err(_) => "not measured (see the notes)".to_owned(),
    };
    let _ = writeln!(out, "  quick reconnects: {line}");
    out
}
