//! Joining the network and opening and closing TCP links through the dialect's commands
//! ([`ModuleDriver::join`], [`ModuleDriver::open_tcp`], [`ModuleDriver::close_link`],
//! [`ModuleDriver::expect_closed`]) and reading bytes a module keeps until asked
//! ([`ModuleDriver::fetch_buffered`], Quectel's `AT+QIRD`).

use std::time::Duration;

use tokio::time::Instant;

use super::{link_key, LinkState, ModuleDriver};
use crate::module::at::{FinalResult, Urc};
use crate::module::dialect::{JoinSettings, OpenOutcome, ReceiveMode};
use crate::module::error::DriverError;

impl ModuleDriver {
    /// Brings the module onto its network with the dialect's join commands (ESP station mode
    /// and `AT+CWJAP`, Quectel `AT+QICSGP` and `AT+QIACT`), each awaiting its final result,
    /// all within `deadline`.
    pub async fn join(
        &mut self,
        with: &JoinSettings<'_>,
        deadline: Duration,
    ) -> Result<(), DriverError> {
        let until = Instant::now() + deadline;
        let commands =
            self.dialect
                .join_commands(with)
                .map_err(|needs| DriverError::JoinLacks {
                    dialect: self.dialect.kind(),
                    needs,
                })?;
        for cmd in commands {
            let left = until.saturating_duration_since(Instant::now());
            self.command(&cmd, left).await?;
        }
        Ok(())
    }

    /// `Ok` when `link` is one of the dialect's links (or `None`, the single or first one).
    pub fn check_link(&self, link: Option<u8>) -> Result<(), DriverError> {
        let links = self.dialect.links();
        match link {
            Some(l) if !links.contains(&l) => Err(DriverError::NoSuchLink {
                link: l,
                dialect: self.dialect.kind(),
                links,
            }),
            _ => Ok(()),
        }
    }

    /// Waits until the module reports `link` closed (ESP `CLOSED` / `<id>,CLOSED`, Quectel
    /// `+QIURC: "closed",<id>`); at once if it already has since the link last opened.
    pub async fn expect_closed(
        &mut self,
        link: Option<u8>,
        deadline: Duration,
    ) -> Result<(), DriverError> {
        if self.link_closed(link) {
            return Ok(());
        }
        let key = link_key(link);
        let what = format!("link {key} closed by the module");
        self.wait_urc(
            &what,
            |u| matches!(u, Urc::Closed { link } if link_key(*link) == key),
            deadline,
        )
        .await?;
        Ok(())
    }

    /// Opens a TCP link to `host:port` as `link` with the dialect's open command (after the
    /// dialect's multi-link command, once per reset, when `link` is numbered), and waits
    /// for its outcome where the dialect gives it: the command's final result (ESP `CONNECT`
    /// then `OK`), or a later URC (Quectel `OK` then `+QIOPEN: <id>,<err>`, an error code
    /// other than 0 failing with [`DriverError::OpenFailed`]). Afterwards `link` is the
    /// default link for reading.
    pub async fn open_tcp(
        &mut self,
        link: Option<u8>,
        host: &str,
        port: u16,
        mode: ReceiveMode,
        deadline: Duration,
    ) -> Result<(), DriverError> {
        let until = Instant::now() + deadline;
        let key = link_key(link);
        let target = format!("{host}:{port}");
        let Some(cmd) = self.dialect.open_command(link, host, port, mode) else {
            return Err(DriverError::Unsupported {
                action: format!("open link {key} to {target} with {mode:?} receive"),
                dialect: self.dialect.kind(),
            });
        };
        self.buffered.remove(&key);
        if let (Some(_), Some(multi), false) =
            (link, self.dialect.multi_link_command(), self.multi_link)
        {
            self.command(multi, deadline).await?;
            self.multi_link = true;
        }
        let left = until.saturating_duration_since(Instant::now());
        let mark = self.urc_mark();
        self.command(&cmd, left).await?;
        self.default_link = key;
        let error = match self.dialect.open_outcome() {
            OpenOutcome::FinalResult => {
                self.links.insert(key, LinkState::Open);
                return Ok(());
            }
            OpenOutcome::Urc => {
                let early = self.urcs_since(mark).find_map(|seen| match seen.urc {
                    Urc::Opened { link, error } if link == key => Some(error),
                    _ => None,
                });
                match early {
                    Some(error) => error,
                    None => {
                        let left = until.saturating_duration_since(Instant::now());
                        let what = format!("the outcome of opening link {key} to {target}");
                        let urc = self.wait_urc(
                            &what,
                            |u| matches!(u, Urc::Opened { link, .. } if *link == key),
                            left,
                        );
                        match urc.await? {
                            Urc::Opened { error, .. } => error,
                            _ => unreachable!("wait_urc returns only what it was asked for"),
                        }
                    }
                }
            }
        };
        if error == 0 {
            return Ok(());
        }
        self.links.insert(key, LinkState::Closed);
        Err(DriverError::OpenFailed {
            link: key,
            target,
            code: error,
            meaning: self.dialect.socket_error(error),
        })
    }

    /// Closes `link` with the dialect's close command. A module that answers that the link
    /// was not open (ESP's `UNLINK` then `ERROR`) has it closed all the same.
    pub async fn close_link(
        &mut self,
        link: Option<u8>,
        deadline: Duration,
    ) -> Result<(), DriverError> {
        let key = link_key(link);
        let cmd = self.dialect.close_command(link);
        let closed = match self.command(&cmd, deadline).await {
            Ok(_) => Ok(()),
            Err(DriverError::Rejected {
                result: FinalResult::Error,
                lines,
                ..
            }) if lines.iter().any(|l| l == "UNLINK") => Ok(()),
            Err(e) => Err(e),
        };
        if closed.is_ok() {
            self.links.insert(key, LinkState::Closed);
            self.buffered.remove(&key);
        }
        closed
    }

    /// Reads every byte the module keeps for `link` into its queue with the dialect's read
    /// command, until a read comes back empty: Quectel announces buffered data once and not
    /// again until the host has drained the buffer. Returns how many bytes arrived. Does
    /// nothing when the module announced nothing for `link`.
    pub async fn fetch_buffered(
        &mut self,
        link: Option<u8>,
        deadline: Duration,
    ) -> Result<usize, DriverError> {
        let key = link_key(link);
        if !self.buffered.contains(&key) {
            return Ok(0);
        }
        let Some(cmd) = self.dialect.read_command(Some(key)) else {
            return Ok(0);
        };
        let until = Instant::now() + deadline;
        let mut total = 0;
        loop {
            let before = self.socket_pending(Some(key));
            self.discard_pending()?;
            self.parser.expect_read_reply(key);
            let left = until.saturating_duration_since(Instant::now());
            self.command(&cmd, left).await?;
            let got = self.socket_pending(Some(key)) - before;
            total += got;
            if got == 0 {
                self.buffered.remove(&key);
                return Ok(total);
            }
        }
    }
}
