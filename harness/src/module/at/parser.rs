//! The AT receive state machine, [`AtParser`]: serial bytes in, in any chunking, [`AtEvent`]s
//! out. Pure (no I/O, no clock); the dialect's [`ReceiveRules`] say what a line means and where
//! a socket-data header ends, the parser does the byte work that is the same for every vendor:
//! lines, the unterminated prompt, length-counted binary payloads, echo tracking.

use std::sync::Arc;

use super::event::AtEvent;
use crate::module::dialect::{LineKind, ReceiveRules};

/// A line longer than this without a line end is reported as it is and restarted, so boot noise
/// at the wrong baud rate cannot grow the buffer without bound.
const MAX_LINE: usize = 4096;

/// A header announcing more than this is treated as text: no module sends that much in one
/// notice (ESP32 caps `+IPD` at 2920 bytes), so it is a corrupted digit, and trusting it would
/// swallow the rest of the session as payload.
const MAX_SOCKET_PAYLOAD: usize = 65_535;

/// An event with where it sits in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub event: AtEvent,
    /// Offset, in all serial bytes fed so far, of the event's first byte: the start of its line,
    /// the prompt marker, or (for [`AtEvent::SocketData`]) the first payload byte.
    pub serial_offset: usize,
    /// How many text bytes (serial bytes minus socket payloads) had been fed when the event
    /// was complete. The driver uses it to keep its text view and event view on one cursor.
    pub text_end: usize,
}

/// What one call to [`AtParser::feed`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    pub events: Vec<Located>,
    /// The chunk with socket payload bytes removed: echo, lines, URCs, headers, the prompt.
    pub text: Vec<u8>,
}

#[derive(Debug)]
enum State {
    /// Reading lines (the usual state).
    Lines,
    /// Just after the prompt marker: one space may still belong to the prompt.
    AfterPrompt,
    /// Inside a length-counted payload.
    Payload {
        link: Option<u8>,
        remaining: usize,
        bytes: Vec<u8>,
        start: usize,
    },
}

/// A command line the module may echo, and the part of it not yet seen.
#[derive(Debug)]
struct PendingEcho {
    full: String,
    rest: String,
}

/// The receive state machine. Feed it bytes; it never blocks and never guesses: a header or a
/// payload cut by a chunk boundary waits for the next chunk.
#[derive(Debug)]
pub struct AtParser {
    rules: Arc<dyn ReceiveRules>,
    state: State,
    line: Vec<u8>,
    line_start: usize,
    serial_pos: usize,
    text_pos: usize,
    echo: Option<PendingEcho>,
    /// The link a read command asked for: the next header that names no link (`+QIRD: <n>`)
    /// carries its bytes.
    read_link: Option<u8>,
}

impl AtParser {
    pub fn new(rules: Arc<dyn ReceiveRules>) -> AtParser {
        AtParser {
            rules,
            state: State::Lines,
            line: Vec::new(),
            line_start: 0,
            serial_pos: 0,
            text_pos: 0,
            echo: None,
            read_link: None,
        }
    }

    /// Tells the parser the host just asked for buffered bytes of `link` (`AT+QIRD=<id>,…`),
    /// whose answer header does not repeat the link: the next header without one is
    /// reported as `link`'s data. The next final result forgets it (the answer is over).
    pub fn expect_read_reply(&mut self, link: u8) {
        self.read_link = Some(link);
    }

    /// Tells the parser the host just sent `command` (without its line ending), so an echo of
    /// it is reported as [`AtEvent::Echo`] rather than as an information line, also when a URC
    /// lands inside it (`AT+CIPSEND=0,1,CONNECT\r\n98\r\n`). Harmless with echo off: the next
    /// final result forgets it.
    pub fn expect_echo(&mut self, command: &str) {
        self.echo = Some(PendingEcho {
            full: command.to_string(),
            rest: command.to_string(),
        });
    }

    /// Serial bytes fed so far.
    pub fn serial_offset(&self) -> usize {
        self.serial_pos
    }

    /// Text bytes (serial bytes minus payloads) fed so far.
    pub fn text_offset(&self) -> usize {
        self.text_pos
    }

    /// A payload the stream announced but has not finished delivering: its link, the offset of
    /// its first byte, and the bytes that did arrive.
    pub fn unfinished_payload(&self) -> Option<(Option<u8>, usize, &[u8])> {
        match &self.state {
            State::Payload {
                link, bytes, start, ..
            } => Some((*link, *start, bytes)),
            State::Lines | State::AfterPrompt => None,
        }
    }

    /// Consumes a chunk of serial bytes.
    pub fn feed(&mut self, chunk: &[u8]) -> Feed {
        let mut feed = Feed::default();
        let mut i = 0;
        while i < chunk.len() {
            if let State::Payload {
                remaining, bytes, ..
            } = &mut self.state
            {
                let take = (*remaining).min(chunk.len() - i);
                bytes.extend_from_slice(&chunk[i..i + take]);
                *remaining -= take;
                i += take;
                self.serial_pos += take;
                if *remaining == 0 {
                    self.finish_payload(&mut feed);
                }
                continue;
            }
            let byte = chunk[i];
            i += 1;
            self.byte(byte, &mut feed);
        }
        feed
    }

    /// One byte outside a payload.
    fn byte(&mut self, byte: u8, feed: &mut Feed) {
        let offset = self.serial_pos;
        self.serial_pos += 1;
        self.text_pos += 1;
        feed.text.push(byte);

        if let State::AfterPrompt = self.state {
            self.state = State::Lines;
            if byte == b' ' {
                return;
            }
        }
        if self.line.iter().all(|&b| b == b'\r') {
            if byte == self.rules.prompt_marker() {
                self.line.clear();
                self.state = State::AfterPrompt;
                self.emit(AtEvent::Prompt, offset, feed);
                return;
            }
            if self.line.is_empty() {
                self.line_start = offset;
            }
        }
        if self.line.len() >= MAX_LINE {
            let overflow = std::mem::take(&mut self.line);
            let text = String::from_utf8_lossy(&overflow).into_owned();
            let start = self.line_start;
            self.line_start = offset;
            self.emit(AtEvent::Line(text), start, feed);
        }
        self.line.push(byte);
        if byte != b'\n' && byte != b':' {
            return;
        }
        if let Some(header) = self.rules.socket_header(&self.line) {
            if header.len <= MAX_SOCKET_PAYLOAD {
                self.line.clear();
                let link = match header.link {
                    Some(link) => Some(link),
                    None => self.read_link.take(),
                };
                if header.len > 0 {
                    self.state = State::Payload {
                        link,
                        remaining: header.len,
                        bytes: Vec::with_capacity(header.len),
                        start: self.serial_pos,
                    };
                }
                return;
            }
        }
        if byte == b'\n' {
            self.end_line(feed);
        }
    }

    fn finish_payload(&mut self, feed: &mut Feed) {
        let state = std::mem::replace(&mut self.state, State::Lines);
        if let State::Payload {
            link, bytes, start, ..
        } = state
        {
            self.emit(AtEvent::SocketData { link, bytes }, start, feed);
        }
    }

    fn end_line(&mut self, feed: &mut Feed) {
        let raw = std::mem::take(&mut self.line);
        let mut body: &[u8] = &raw[..raw.len() - 1];
        while let Some(rest) = body.strip_suffix(b"\r") {
            body = rest;
        }
        if body.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(body).into_owned();
        let start = self.line_start;
        if self.match_echo(&text, start, feed) {
            return;
        }
        let event = match self.rules.classify_line(&text) {
            LineKind::Final(result) => {
                // The command is over: an echo not seen by now is not coming (ATE0), nor is
                // the answer to a read.
                self.echo = None;
                self.read_link = None;
                AtEvent::Final(result)
            }
            LineKind::Busy(busy) => AtEvent::Busy(busy),
            LineKind::Urc(urc) => AtEvent::Urc(urc),
            LineKind::Info => AtEvent::Line(text),
        };
        self.emit(event, start, feed);
    }

    /// Whether `text` was (part of) the pending echo; reports it and any URC glued into it.
    fn match_echo(&mut self, text: &str, start: usize, feed: &mut Feed) -> bool {
        let Some(echo) = &mut self.echo else {
            return false;
        };
        let common = common_prefix(text, &echo.rest);
        if common == 0 {
            return false;
        }
        if common == text.len() {
            // The whole line is echo: all of what remained, or a piece cut off by a line that
            // began with CR LF (`AT+CIPSEN` `\r\n+IPD,0,4:....` `D=0,4\r\n`).
            echo.rest.drain(..common);
            self.finish_echo_if_done(start, feed);
            return true;
        }
        // Part of the echo, then a URC the module printed in the middle of echoing
        // (ESP8266_NONOS_SDK #59). The URC starts somewhere inside the common prefix when its
        // first characters happen to match the echo, so try the longest echo part first.
        for split in (1..=common).rev() {
            if !text.is_char_boundary(split) {
                continue;
            }
            if let LineKind::Urc(urc) = self.rules.classify_line(&text[split..]) {
                echo.rest.drain(..split);
                self.emit(AtEvent::Urc(urc), start, feed);
                self.finish_echo_if_done(start, feed);
                return true;
            }
        }
        false
    }

    fn finish_echo_if_done(&mut self, start: usize, feed: &mut Feed) {
        if let Some(echo) = self.echo.take_if(|e| e.rest.is_empty()) {
            self.emit(AtEvent::Echo(echo.full), start, feed);
        }
    }

    fn emit(&self, event: AtEvent, serial_offset: usize, feed: &mut Feed) {
        feed.events.push(Located {
            event,
            serial_offset,
            text_end: self.text_pos,
        });
    }
}

/// Length in bytes of the longest common prefix, on a character boundary of both.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map(|((i, _), _)| i)
        .unwrap_or_else(|| a.len().min(b.len()))
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
