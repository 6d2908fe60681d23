//! Commands and their answers: [`ModuleDriver::command`] (one command, its information lines
//! and final result, busy handled) and [`ModuleDriver::reset_and_sync`] (reset, ready, `AT`
//! until `OK`, echo as configured), the known state every scenario starts from.

use std::time::Duration;

use tokio::time::Instant;

use super::ModuleDriver;
use crate::module::at::{AtEvent, FinalResult, Urc};
use crate::module::error::DriverError;

/// A command's answer: what it printed, then how it ended (always a success word here; error
/// words come back as [`DriverError::Rejected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Information lines in order (`+CIPSTATUS:…`, `AT version:…`); echo and URCs excluded.
    pub lines: Vec<String>,
    pub result: FinalResult,
}

/// How [`ModuleDriver::reset_and_sync`] went, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Whether the ready line arrived after the reset (it can be missed; see at-dialects §2.2).
    pub ready_seen: bool,
    /// How many sync commands it took to get `OK`.
    pub sync_attempts: u32,
    /// Readable lines the firmware printed while booting (version banners, `rst cause:`
    /// lines); boot noise at the wrong baud rate is left out.
    pub boot_lines: Vec<String>,
}

/// Boot banners are short; a module printing more than this is printing noise.
const MAX_BOOT_LINES: usize = 32;

impl ModuleDriver {
    /// Sends `cmd` and waits for its final result. Information lines are collected; URCs are
    /// filed (see [`urcs_since`](Self::urcs_since)) and skipped. `busy p...` means the module
    /// dropped the line: the driver waits [`busy_retry`](super::DriverOptions::busy_retry) for
    /// a late answer, then sends the command again, until `deadline`.
    pub async fn command(
        &mut self,
        cmd: &str,
        deadline: Duration,
    ) -> Result<Response, DriverError> {
        let until = Instant::now() + deadline;
        let shown = self.dialect.redact(cmd);
        self.discard_pending()?;
        self.send_line(cmd).await?;
        let mut lines = Vec::new();
        let mut busy = 0u32;
        let mut resend_at: Option<Instant> = None;
        loop {
            let wait_until = resend_at.map_or(until, |r| r.min(until));
            let Some(event) = self.next_event(wait_until).await? else {
                if resend_at.is_some() && Instant::now() < until {
                    resend_at = None;
                    self.discard_pending()?;
                    self.send_line(cmd).await?;
                    continue;
                }
                let busy_note = match busy {
                    0 => String::new(),
                    n => format!(" (the module answered busy {n} times)"),
                };
                return Err(self.timeout(
                    format!("wait for the final result of `{shown}`{busy_note}"),
                    deadline,
                ));
            };
            match event {
                AtEvent::Line(line) => lines.push(line),
                // A data transfer's result arriving late (mbed-os #11544) ends no command.
                AtEvent::Final(
                    FinalResult::SendOk | FinalResult::SendFail | FinalResult::SendCanceled,
                ) => {}
                AtEvent::Final(result) if result.is_success() => {
                    return Ok(Response { lines, result })
                }
                AtEvent::Final(result) => {
                    return Err(DriverError::Rejected {
                        command: shown,
                        result,
                        lines,
                    })
                }
                AtEvent::Busy(_) => {
                    busy += 1;
                    resend_at = Some(Instant::now() + self.options.busy_retry);
                }
                AtEvent::Prompt => return Err(DriverError::Prompted { command: shown }),
                AtEvent::Urc(Urc::Ready) | AtEvent::Urc(Urc::Reboot { .. }) => {
                    return Err(self.rebooted(
                        format!("wait for the final result of `{shown}`"),
                        event_line(&event),
                    ))
                }
                // `+CPIN: READY` is a boot URC and `AT+CPIN?`'s answer: in answer to the
                // command it names, it is also that command's information line.
                AtEvent::Urc(urc) if answers(cmd, &urc) => lines.push(urc.to_string()),
                AtEvent::Urc(_) | AtEvent::Echo(_) | AtEvent::SocketData { .. } => {}
            }
        }
    }

    /// Brings the module to a known state: the dialect's reset command, its ready line (waited
    /// for at most [`ready_wait`](super::DriverOptions::ready_wait), since it can be missed),
    /// the sync command until `OK`, then echo off (or on, per
    /// [`echo`](super::DriverOptions::echo)). Socket queues are emptied: the module's sockets
    /// did not survive the reset.
    pub async fn reset_and_sync(&mut self, deadline: Duration) -> Result<SyncReport, DriverError> {
        let until = Instant::now() + deadline;
        self.discard_pending()?;
        // Whatever the module had open does not survive its reset.
        self.sockets.clear();
        self.socket_marks.clear();
        for state in self.links.values_mut() {
            *state = super::LinkState::Closed;
        }
        self.multi_link = false;
        let reset = self.dialect.reset_command();
        self.send_line(reset).await?;

        let ready_until = until.min(Instant::now() + self.options.ready_wait);
        let mut report = SyncReport {
            ready_seen: false,
            sync_attempts: 0,
            boot_lines: Vec::new(),
        };
        while let Some(event) = self.next_event(ready_until).await? {
            match event {
                AtEvent::Urc(Urc::Ready) => {
                    report.ready_seen = true;
                    break;
                }
                AtEvent::Line(line) | AtEvent::Urc(Urc::Reboot { line })
                    if report.boot_lines.len() < MAX_BOOT_LINES && is_readable(&line) =>
                {
                    report.boot_lines.push(line)
                }
                _ => {}
            }
        }
        // A module still inside a data prompt swallows these AT lines as data until the
        // announced count is reached, then answers; so keep trying until the deadline.
        let sync = self.dialect.sync_command();
        loop {
            let now = Instant::now();
            if now >= until {
                let ready = if report.ready_seen {
                    "after the ready line"
                } else {
                    "with no ready line after the reset"
                };
                return Err(self.timeout(
                    format!(
                        "get `OK` to `{sync}` {ready} ({} attempts)",
                        report.sync_attempts
                    ),
                    deadline,
                ));
            }
            report.sync_attempts += 1;
            self.discard_pending()?;
            self.send_line(sync).await?;
            let attempt_until = until.min(now + self.options.sync_attempt);
            if self.wait_ok(attempt_until).await? {
                break;
            }
            // An immediate ERROR must not turn this loop into a flood.
            tokio::time::sleep_until(attempt_until).await;
        }
        let echo = self.dialect.echo_command(self.options.echo);
        let left = until.saturating_duration_since(Instant::now());
        self.command(echo, left).await?;
        Ok(report)
    }

    /// Waits for a final result until `until`: `true` for `OK`, `false` for anything else or
    /// nothing.
    async fn wait_ok(&mut self, until: Instant) -> Result<bool, DriverError> {
        while let Some(event) = self.next_event(until).await? {
            if let AtEvent::Final(result) = event {
                return Ok(result == FinalResult::Ok);
            }
        }
        Ok(false)
    }

    pub(super) fn rebooted(&self, awaited: String, line: String) -> DriverError {
        DriverError::Rebooted { awaited, line }
    }
}

/// Whether `urc` reads as an answer to `cmd`: it starts with the command's name and a colon
/// (`+CPIN: READY` for `AT+CPIN?`).
fn answers(cmd: &str, urc: &Urc) -> bool {
    let upper = cmd.to_ascii_uppercase();
    let Some(name) = upper.strip_prefix("AT") else {
        return false;
    };
    let name = name.split(['=', '?']).next().unwrap_or(name);
    if name.len() < 2 || !name.starts_with('+') {
        return false;
    }
    urc.to_string()
        .to_ascii_uppercase()
        .strip_prefix(name)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// Whether a boot line is text rather than the ROM's 74880-baud output read at the AT rate.
fn is_readable(line: &str) -> bool {
    line.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

/// The line behind a reboot-type event, for messages.
pub(super) fn event_line(event: &AtEvent) -> String {
    match event {
        AtEvent::Urc(Urc::Reboot { line }) => line.clone(),
        AtEvent::Urc(urc) => urc.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urc_answers_the_command_it_names() {
        assert!(answers("AT+CPIN?", &Urc::SimReady));
        assert!(answers("at+cpin?", &Urc::SimReady));
        let qusim = Urc::BootStatus {
            line: "+QUSIM: 1".into(),
        };
        assert!(!answers("AT+CPIN?", &qusim));
        assert!(!answers("AT+CPINX?", &Urc::SimReady));
        assert!(!answers("AT", &Urc::SimReady));
        assert!(!answers("ATI", &Urc::Ready));
        assert!(!answers("", &Urc::Ready));
    }
}
