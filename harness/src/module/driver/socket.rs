//! Socket traffic through the module: [`ModuleDriver::send_data`] (send command, prompt, exactly
//! the bytes, `SEND OK`) and the receive side, [`ModuleDriver::read_socket`] and
//! [`ModuleDriver::read_mqtt_packet`] over the per-link queues that `+IPD` payloads fill (and,
//! in Quectel's buffer access mode, `AT+QIRD` answers the driver asks for on its own).

use std::time::Duration;

use tokio::time::Instant;

use super::command::event_line;
use super::{link_key, ModuleDriver};
use crate::module::at::{AtEvent, FinalResult, Urc};
use crate::module::error::DriverError;
use crate::mqtt::frame_len;

impl ModuleDriver {
    /// Sends `bytes` on `link` (`None` in single-connection mode) through the dialect's send
    /// command, in pieces of at most the dialect's maximum. For each piece: the command, the
    /// prompt (`OK` before it is accepted, `busy` makes it retry), exactly the bytes, then
    /// `SEND OK` (a `Recv <n> bytes` on the way must count every byte; it is checked, not
    /// required, since Quectel never prints it and Air601's habit is unconfirmed). Fails on
    /// `SEND FAIL`,
    /// `ERROR`, a `CLOSED` of this link, a restart, or the deadline. Afterwards `link` is the
    /// default link for reading.
    pub async fn send_data(
        &mut self,
        link: Option<u8>,
        bytes: &[u8],
        deadline: Duration,
    ) -> Result<(), DriverError> {
        let until = Instant::now() + deadline;
        self.default_link = link_key(link);
        for piece in bytes.chunks(self.dialect.max_send_len()) {
            self.send_piece(link, piece, until, deadline).await?;
        }
        Ok(())
    }

    async fn send_piece(
        &mut self,
        link: Option<u8>,
        piece: &[u8],
        until: Instant,
        deadline: Duration,
    ) -> Result<(), DriverError> {
        let key = link_key(link);
        let len = piece.len();
        let cmd = self.dialect.send_command(link, len);
        self.discard_pending()?;
        // The module already said CLOSED: sending would only earn an ERROR that hides why.
        if self.link_closed(link) {
            return Err(DriverError::LinkClosed {
                link: key,
                len,
                phase: "before the send (the module had reported CLOSED)",
            });
        }
        self.send_line(&cmd).await?;

        let mut lines = Vec::new();
        let mut resend_at: Option<Instant> = None;
        loop {
            let wait_until = resend_at.map_or(until, |r| r.min(until));
            let Some(event) = self.next_event(wait_until).await? else {
                if resend_at.take().is_some() && Instant::now() < until {
                    self.discard_pending()?;
                    self.send_line(&cmd).await?;
                    continue;
                }
                return Err(
                    self.timeout(format!("wait for the data prompt after `{cmd}`"), deadline)
                );
            };
            match event {
                AtEvent::Prompt => break,
                // ESP prints OK, then the prompt. A previous transfer's late result is not an
                // answer to this command.
                AtEvent::Final(
                    FinalResult::Ok
                    | FinalResult::SendOk
                    | FinalResult::SendFail
                    | FinalResult::SendCanceled,
                ) => {}
                AtEvent::Final(result) => {
                    return Err(DriverError::Rejected {
                        command: cmd,
                        result,
                        lines,
                    })
                }
                AtEvent::Line(line) => lines.push(line),
                // NonOS `busy s...`: the previous send is still going; ask again shortly.
                AtEvent::Busy(_) => resend_at = Some(Instant::now() + self.options.busy_retry),
                AtEvent::Urc(Urc::Closed { link: closed }) if link_key(closed) == key => {
                    return Err(DriverError::LinkClosed {
                        link: key,
                        len,
                        phase: "waiting for the data prompt",
                    })
                }
                AtEvent::Urc(Urc::Ready | Urc::Reboot { .. }) => {
                    let line = event_line(&event);
                    return Err(
                        self.rebooted(format!("wait for the data prompt after `{cmd}`"), line)
                    );
                }
                AtEvent::Urc(_) | AtEvent::Echo(_) | AtEvent::SocketData { .. } => {}
            }
        }

        self.write_raw(piece).await?;
        let awaited = || format!("wait for `SEND OK` after writing {len} bytes on link {key}");
        loop {
            let Some(event) = self.next_event(until).await? else {
                return Err(self.timeout(awaited(), deadline));
            };
            match event {
                AtEvent::Final(FinalResult::SendOk) => return Ok(()),
                AtEvent::Final(result) => {
                    return Err(DriverError::SendFailed {
                        link: key,
                        len,
                        result,
                        lines,
                    })
                }
                AtEvent::Urc(Urc::RecvBytes { count }) if count != len => {
                    return Err(DriverError::CountMismatch {
                        link: key,
                        sent: len,
                        reported: count,
                    })
                }
                AtEvent::Urc(Urc::Closed { link: closed }) if link_key(closed) == key => {
                    return Err(DriverError::LinkClosed {
                        link: key,
                        len,
                        phase: "waiting for SEND OK",
                    })
                }
                AtEvent::Urc(Urc::Ready | Urc::Reboot { .. }) => {
                    let line = event_line(&event);
                    return Err(self.rebooted(awaited(), line));
                }
                AtEvent::Line(line) => lines.push(line),
                // `busy p...` after `Recv` means bytes beyond the count were dropped; SEND OK
                // still follows for the counted ones (at-dialects §2.7).
                AtEvent::Busy(_)
                | AtEvent::Prompt
                | AtEvent::Echo(_)
                | AtEvent::Urc(_)
                | AtEvent::SocketData { .. } => {}
            }
        }
    }

    /// Reads exactly `n` bytes from the default link (see
    /// [`set_default_link`](Self::set_default_link)), joining as many `+IPD` payloads as it
    /// takes. Fails early if the link closes with fewer bytes queued.
    pub async fn read_socket(
        &mut self,
        n: usize,
        deadline: Duration,
    ) -> Result<Vec<u8>, DriverError> {
        let link = self.default_link;
        self.read_socket_on(Some(link), n, deadline).await
    }

    /// [`read_socket`](Self::read_socket) on a given link.
    pub async fn read_socket_on(
        &mut self,
        link: Option<u8>,
        n: usize,
        deadline: Duration,
    ) -> Result<Vec<u8>, DriverError> {
        let key = link_key(link);
        let until = Instant::now() + deadline;
        loop {
            self.drain_now()?;
            let pending = self.sockets.entry(key).or_default().len();
            if pending >= n {
                return Ok(self.take_socket(key, n));
            }
            if self.fetch_announced(key, until).await? {
                continue;
            }
            if self.link_closed(Some(key)) {
                return Err(DriverError::ClosedWhileReading {
                    link: key,
                    wanted: n,
                    pending,
                });
            }
            if !self.pump(until).await? {
                return Err(self.timeout(
                    format!("receive {n} bytes on link {key} ({pending} arrived)"),
                    deadline,
                ));
            }
        }
    }

    /// Reads what the module announced it keeps for `key` (buffer access), if it did; `true`
    /// when it read, so the caller looks at the queue again. Closed links are read too: the
    /// module keeps their last bytes until the host reads or closes.
    async fn fetch_announced(&mut self, key: u8, until: Instant) -> Result<bool, DriverError> {
        if !self.buffered.contains(&key) {
            return Ok(false);
        }
        let left = until.saturating_duration_since(Instant::now());
        self.fetch_buffered(Some(key), left).await?;
        Ok(true)
    }

    /// Reads one whole MQTT packet from the default link, framed by its remaining length.
    pub async fn read_mqtt_packet(&mut self, deadline: Duration) -> Result<Vec<u8>, DriverError> {
        let key = self.default_link;
        let until = Instant::now() + deadline;
        loop {
            self.drain_now()?;
            let queue = self.sockets.entry(key).or_default();
            let framed = frame_len(queue.make_contiguous())
                .map_err(|source| DriverError::Frame { link: key, source })?;
            if let Some(len) = framed {
                return Ok(self.take_socket(key, len));
            }
            let pending = queue.len();
            if self.fetch_announced(key, until).await? {
                continue;
            }
            if self.link_closed(Some(key)) {
                return Err(DriverError::ClosedBeforePacket { link: key, pending });
            }
            if !self.pump(until).await? {
                return Err(self.timeout(
                    format!("receive an MQTT packet on link {key} ({pending} bytes arrived)"),
                    deadline,
                ));
            }
        }
    }
}
