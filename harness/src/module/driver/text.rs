//! The text view for raw-replay steps: [`ModuleDriver::wait_text`] (wait until the unconsumed
//! serial text satisfies a matcher, then consume through the match),
//! [`ModuleDriver::expect_absent`] (check something does not appear within a window) and
//! [`ModuleDriver::wait_urc`].

use std::borrow::Cow;
use std::time::Duration;

use tokio::time::Instant;

use super::ModuleDriver;
use crate::module::at::{AtEvent, Urc};
use crate::module::error::DriverError;

impl ModuleDriver {
    /// Waits until `matcher` finds what it looks for in the unconsumed serial text, then
    /// consumes the text up to the end index it returned and gives that text back.
    ///
    /// The matcher sees the text as UTF-8 (invalid bytes as U+FFFD) with socket payloads
    /// removed and everything else left in: echo, URCs (`expect: CLOSED` works), headers, the
    /// prompt. It returns `Some(end)`, a byte index into the `&str` it was given, once it
    /// matches. `what` names the expectation in the timeout error.
    pub async fn wait_text<F>(
        &mut self,
        what: &str,
        mut matcher: F,
        deadline: Duration,
    ) -> Result<String, DriverError>
    where
        F: FnMut(&str) -> Option<usize>,
    {
        let until = Instant::now() + deadline;
        loop {
            self.drain_now()?;
            let view = TextView::new(&self.text);
            if let Some(end) = matcher(&view.text) {
                let raw_end = view.raw_offset(end);
                let taken = String::from_utf8_lossy(&self.text[..raw_end]).into_owned();
                self.consume_text_to(self.text_base + raw_end);
                return Ok(taken);
            }
            if !self.pump(until).await? {
                return Err(self.timeout(format!("see {what} on the serial line"), deadline));
            }
        }
    }

    /// Watches the serial text that arrives during the next `within` and fails if `matcher`
    /// ever matches it. Text that had arrived before the call (even unconsumed, such as the
    /// `+IPD` header of a reply nobody has read yet) is not the window's: the matcher gets the
    /// whole unconsumed text, for line and regex context, and the index where the window's text
    /// begins, and must only report a match that lies after it. Consumes nothing, so later
    /// steps still see everything that arrived.
    pub async fn expect_absent<F>(
        &mut self,
        what: &str,
        mut matcher: F,
        within: Duration,
    ) -> Result<(), DriverError>
    where
        F: FnMut(&str, usize) -> Option<usize>,
    {
        let until = Instant::now() + within;
        // What has reached the host by now arrived before the window opened.
        self.drain_now()?;
        let window_start = self.text_base + self.text.len();
        loop {
            self.drain_now()?;
            // Trimming a run that never reads its text may have moved the base past the mark.
            let raw_start = window_start.saturating_sub(self.text_base);
            let view = TextView::new(&self.text);
            let start = view.str_index(raw_start);
            if let Some(end) = matcher(&view.text, start) {
                let raw_end = view.raw_offset(end).max(raw_start);
                return Err(DriverError::Appeared {
                    what: what.to_string(),
                    window: within,
                    found: self.text[raw_start..raw_end].to_vec(),
                });
            }
            if !self.pump(until).await? {
                return Ok(());
            }
        }
    }

    /// The unconsumed serial text, for showing what did arrive when an expectation failed.
    pub fn pending_text(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }

    /// Waits for a URC that satisfies `wanted`, consuming the events up to it. URCs that
    /// arrived before the call and are still unconsumed count.
    pub async fn wait_urc<F>(
        &mut self,
        what: &str,
        mut wanted: F,
        deadline: Duration,
    ) -> Result<Urc, DriverError>
    where
        F: FnMut(&Urc) -> bool,
    {
        let until = Instant::now() + deadline;
        while let Some(event) = self.next_event(until).await? {
            if let AtEvent::Urc(urc) = event {
                if wanted(&urc) {
                    return Ok(urc);
                }
            }
        }
        Err(self.timeout(format!("see {what}"), deadline))
    }
}

/// Unconsumed text as a `&str`, with the way back from string indices to byte offsets when
/// invalid UTF-8 made the two differ.
struct TextView<'a> {
    text: Cow<'a, str>,
    /// `(string offset, raw offset)` at the start of each valid run and each replacement
    /// character; empty when the bytes were valid UTF-8.
    segments: Vec<(usize, usize)>,
    raw_len: usize,
}

impl<'a> TextView<'a> {
    fn new(raw: &'a [u8]) -> TextView<'a> {
        if let Ok(text) = std::str::from_utf8(raw) {
            return TextView {
                text: Cow::Borrowed(text),
                segments: Vec::new(),
                raw_len: raw.len(),
            };
        }
        let mut text = String::with_capacity(raw.len() + 8);
        let mut segments = Vec::new();
        let mut raw_pos = 0;
        for chunk in raw.utf8_chunks() {
            if !chunk.valid().is_empty() {
                segments.push((text.len(), raw_pos));
                text.push_str(chunk.valid());
                raw_pos += chunk.valid().len();
            }
            if !chunk.invalid().is_empty() {
                segments.push((text.len(), raw_pos));
                text.push(char::REPLACEMENT_CHARACTER);
                raw_pos += chunk.invalid().len();
            }
        }
        TextView {
            text: Cow::Owned(text),
            segments,
            raw_len: raw.len(),
        }
    }

    /// The string index where raw byte offset `raw` falls (a byte inside an invalid run maps
    /// to the end of its replacement character): the inverse of [`raw_offset`](Self::raw_offset).
    fn str_index(&self, raw: usize) -> usize {
        let raw = raw.min(self.raw_len);
        if self.segments.is_empty() {
            return raw;
        }
        let at = self.segments.partition_point(|&(_, r)| r <= raw);
        let Some(&(s, r)) = at.checked_sub(1).and_then(|i| self.segments.get(i)) else {
            return 0;
        };
        if self.text[s..].starts_with(char::REPLACEMENT_CHARACTER) {
            if raw == r {
                s
            } else {
                s + char::REPLACEMENT_CHARACTER.len_utf8()
            }
        } else {
            s + (raw - r)
        }
    }

    /// The raw byte offset for a string index a matcher returned (clamped to the text).
    fn raw_offset(&self, index: usize) -> usize {
        let index = index.min(self.text.len());
        if self.segments.is_empty() {
            return index;
        }
        let at = self.segments.partition_point(|&(s, _)| s <= index);
        let Some(&(s, r)) = at.checked_sub(1).and_then(|i| self.segments.get(i)) else {
            return 0;
        };
        let next_raw = self.segments.get(at).map_or(self.raw_len, |&(_, r)| r);
        if self.text[s..].starts_with(char::REPLACEMENT_CHARACTER) && index > s {
            // Inside or after a replacement character: all of its invalid bytes are taken.
            next_raw
        } else {
            (r + (index - s)).min(next_raw)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TextView;

    #[test]
    fn valid_text_maps_one_to_one() {
        let v = TextView::new(b"\r\nOK\r\n");
        assert_eq!(v.text, "\r\nOK\r\n");
        assert_eq!(v.raw_offset(4), 4);
        assert_eq!(v.raw_offset(99), 6);
    }

    #[test]
    fn invalid_bytes_map_back_to_their_offsets() {
        // Boot noise at the wrong baud rate, then a line.
        let raw = b"\xFF\xFEab\x80OK";
        let v = TextView::new(raw);
        assert_eq!(v.text, "\u{FFFD}\u{FFFD}ab\u{FFFD}OK");
        let ok = v.text.find("OK").unwrap();
        assert_eq!(v.raw_offset(ok), 5);
        assert_eq!(v.raw_offset(ok + 2), 7);
        let ab = v.text.find("ab").unwrap();
        assert_eq!(v.raw_offset(ab), 2);
        assert_eq!(v.raw_offset(3), 1, "after the first replacement character");
        assert_eq!(v.raw_offset(0), 0);
        // And back: the window of an `expect_not` starts at a raw offset.
        assert_eq!(v.str_index(0), 0);
        assert_eq!(v.str_index(1), 3, "the second invalid byte");
        assert_eq!(v.str_index(2), ab);
        assert_eq!(v.str_index(5), ok);
        assert_eq!(v.str_index(7), v.text.len());
        assert_eq!(v.str_index(99), v.text.len());
    }
}
