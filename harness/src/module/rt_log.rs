//! RT-Thread's AT client dump read back into bytes: [`read_rt_log`] turns the
//! `[D/AT] sendline:` / `recvline:` / `urc_recv:` lines of a console log (what the AT component
//! prints with `AT_PRINT_RAW_CMD`) into [`LogRecord`]s, each one logged buffer and its direction.
//!
//! A dump line is `[D/AT] <name>: <start>-<end>: <hex bytes> <ASCII rendering>`. RT-Thread
//! prints at most `<end> - <start>` (32) bytes a line and continues a longer buffer on lines
//! starting at `0020`, `0040`…; the last line carries fewer. The ASCII column shows each byte
//! as itself when printable and as `.` otherwise, so it may hold spaces and text that looks
//! like hex (`41 42` renders `AB`), and copies of logs often collapse its leading spaces. So
//! the byte count is not read from the ASCII column: a full line carries `<end> - <start>`
//! bytes, and a shorter one carries the longest run of hex tokens whose rendering is what
//! follows them, compared without whitespace.

use std::fmt;

/// The tag every dump line carries.
const TAG: &str = "[D/AT] ";

/// More bytes a line than this is not RT-Thread's dump (it prints 32).
const MAX_WIDTH: usize = 256;

/// Which way a logged buffer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HostToModule,
    ModuleToHost,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::HostToModule => "host → module",
            Direction::ModuleToHost => "module → host",
        })
    }
}

/// The dump names RT-Thread's AT client prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// `sendline`: a command line (without the CR LF the client appends) or data after a
    /// prompt.
    SendLine,
    /// `recvline`: one line the client read, terminator included; or the text up to the
    /// prompt `>`, where the client stops a line early.
    RecvLine,
    /// `urc_recv`: bytes a URC handler read raw (the payload after `+QIURC: "recv",<id>,<n>`).
    UrcRecv,
}

impl DumpKind {
    fn from_name(name: &str) -> Option<DumpKind> {
        Some(match name {
            "sendline" => DumpKind::SendLine,
            "recvline" => DumpKind::RecvLine,
            "urc_recv" => DumpKind::UrcRecv,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DumpKind::SendLine => "sendline",
            DumpKind::RecvLine => "recvline",
            DumpKind::UrcRecv => "urc_recv",
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            DumpKind::SendLine => Direction::HostToModule,
            DumpKind::RecvLine | DumpKind::UrcRecv => Direction::ModuleToHost,
        }
    }
}

/// One logged buffer, joined from its continuation lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub kind: DumpKind,
    /// 1-based line of the log where the record starts, and where it ends.
    pub first_line: usize,
    pub last_line: usize,
    pub bytes: Vec<u8>,
}

/// A dump line that does not read, with where and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: expected {expected}, found {found}")]
pub struct RtLogError {
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub expected: String,
    pub found: String,
}

/// Every problem in a log, in line order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read the RT-Thread AT log: {}", list(.0))]
pub struct RtLogErrors(pub Vec<RtLogError>);

fn list(errors: &[RtLogError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    match lines.as_slice() {
        [one] => one.clone(),
        _ => format!("{} problems\n  {}", lines.len(), lines.join("\n  ")),
    }
}

/// Whether `text` holds RT-Thread AT dump lines (and is a log to read, not hex).
pub fn is_rt_log(text: &str) -> bool {
    text.lines().any(|line| {
        line.split_once(TAG)
            .and_then(|(_, rest)| rest.split_once(':'))
            .is_some_and(|(name, _)| DumpKind::from_name(name).is_some())
    })
}

/// The records of every dump line in `text`, in order. Lines without a dump (other log
/// output, prose around a pasted log) are skipped; a dump line that does not read is an error,
/// and every such line is reported.
pub fn read_rt_log(text: &str) -> Result<Vec<LogRecord>, RtLogErrors> {
    let mut records: Vec<LogRecord> = Vec::new();
    // Whether the last line of the last record was full, so a continuation may follow.
    let mut last_full = false;
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end();
        let dump = match parse_line(line, number) {
            Ok(Some(dump)) => dump,
            Ok(None) => continue,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if dump.start == 0 {
            last_full = dump.bytes.len() == dump.width;
            records.push(LogRecord {
                kind: dump.kind,
                first_line: number,
                last_line: number,
                bytes: dump.bytes,
            });
            continue;
        }
        match records.last_mut() {
            Some(record)
                if record.kind == dump.kind && record.bytes.len() == dump.start && last_full =>
            {
                last_full = dump.bytes.len() == dump.width;
                record.last_line = number;
                record.bytes.extend_from_slice(&dump.bytes);
            }
            previous => errors.push(RtLogError {
                line: number,
                column: dump.range_column,
                expected: match previous {
                    Some(r) if r.kind == dump.kind && last_full => format!(
                        "`0000-` (a new record) or `{:04X}-`, where the `{}` record of line {} \
                         ends",
                        r.bytes.len(),
                        r.kind.name(),
                        r.first_line
                    ),
                    _ => format!(
                        "`0000-`: a `{}` line at offset {:04X} continues a full `{}` line \
                         just before it",
                        dump.kind.name(),
                        dump.start,
                        dump.kind.name()
                    ),
                },
                found: format!("`{:04X}-`", dump.start),
            }),
        }
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(RtLogErrors(errors))
    }
}

/// One dump line, read.
struct DumpLine {
    kind: DumpKind,
    start: usize,
    width: usize,
    bytes: Vec<u8>,
    range_column: usize,
}

/// A position in one line, for errors with columns.
struct Cursor<'a> {
    line: &'a str,
    number: usize,
    pos: usize,
}

impl Cursor<'_> {
    fn column_at(&self, pos: usize) -> usize {
        self.line[..pos].chars().count() + 1
    }

    fn error_at(&self, pos: usize, expected: impl Into<String>) -> RtLogError {
        let rest = &self.line[pos..];
        let found = match rest.split_whitespace().next() {
            Some(token) => format!("`{token}`"),
            None => "the end of the line".to_string(),
        };
        RtLogError {
            line: self.number,
            column: self.column_at(pos),
            expected: expected.into(),
            found,
        }
    }

    fn skip_spaces(&mut self) {
        let rest = &self.line[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// A run of hex digits, as a number.
    fn hex_number(&mut self) -> Option<usize> {
        let rest = &self.line[self.pos..];
        let digits = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_hexdigit())
                .len();
        if digits == 0 || digits > 8 {
            return None;
        }
        let value = usize::from_str_radix(&rest[..digits], 16).ok()?;
        self.pos += digits;
        Some(value)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.line[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }
}

fn parse_line(line: &str, number: usize) -> Result<Option<DumpLine>, RtLogError> {
    let Some(tag) = line.find(TAG) else {
        return Ok(None);
    };
    let after = tag + TAG.len();
    let Some((name, _)) = line[after..].split_once(':') else {
        return Ok(None);
    };
    // Other `[D/AT]` messages (timeouts, client start-up) are not dumps.
    let Some(kind) = DumpKind::from_name(name) else {
        return Ok(None);
    };
    let mut cur = Cursor {
        line,
        number,
        pos: after + name.len() + 1,
    };
    cur.skip_spaces();
    let range_column = cur.column_at(cur.pos);
    let range = "an offset range such as `0000-0020:`";
    let range_at = cur.pos;
    let start = cur
        .hex_number()
        .ok_or_else(|| cur.error_at(range_at, range))?;
    if !cur.eat('-') {
        return Err(cur.error_at(range_at, range));
    }
    let end = cur
        .hex_number()
        .ok_or_else(|| cur.error_at(range_at, range))?;
    if !cur.eat(':') {
        return Err(cur.error_at(range_at, range));
    }
    if end <= start || end - start > MAX_WIDTH {
        return Err(cur.error_at(
            range_at,
            format!("an offset range whose end is 1 to {MAX_WIDTH} bytes past its start"),
        ));
    }
    let width = end - start;
    let tokens: Vec<(usize, &str)> = tokens(&line[cur.pos..])
        .map(|(at, t)| (cur.pos + at, t))
        .collect();
    let hex_run = tokens
        .iter()
        .take(width)
        .take_while(|(_, t)| is_hex_byte(t))
        .count();
    if hex_run == 0 {
        let at = tokens.first().map_or(line.len(), |(at, _)| *at);
        return Err(cur.error_at(at, "hex bytes such as `41 54` after the offset range"));
    }
    let bytes: Vec<u8> = tokens[..hex_run]
        .iter()
        .map(|(_, t)| u8::from_str_radix(t, 16).expect("checked hex"))
        .collect();
    for n in (1..=hex_run).rev() {
        let (at, token) = tokens[n - 1];
        let ascii = &line[at + token.len()..];
        if squeeze(&render(&bytes[..n])) == squeeze(ascii) {
            return Ok(Some(DumpLine {
                kind,
                start,
                width,
                bytes: bytes[..n].to_vec(),
                range_column,
            }));
        }
    }
    let (at, token) = tokens[hex_run - 1];
    let after = at + token.len();
    let rest = &line[after..];
    Err(cur.error_at(
        after + (rest.len() - rest.trim_start().len()),
        format!(
            "the ASCII column after the hex bytes, showing them as `{}`",
            render(&bytes)
        ),
    ))
}

/// Whitespace-separated tokens with their byte positions.
fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split_ascii_whitespace()
        .map(move |t| (t.as_ptr() as usize - s.as_ptr() as usize, t))
}

fn is_hex_byte(token: &str) -> bool {
    token.len() == 2 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The ASCII column RT-Thread prints for `bytes`: printable ASCII as itself, the rest as `.`.
fn render(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7F).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
#[path = "rt_log_tests.rs"]
mod tests;
