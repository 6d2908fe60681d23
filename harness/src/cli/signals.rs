//! The signals that stop a long-running subcommand ([`StopSignals`]): Ctrl-C (SIGINT), SIGTERM
//! (`kill`, `timeout`, a CI agent cancelling a job) and SIGHUP (the terminal or SSH session went
//! away). Left to their default action, SIGTERM and SIGHUP would kill the process with nothing
//! written for the scenario under way and a `--link` symlink left behind.

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::run::Interrupt;

/// The three stop signals, caught from [`StopSignals::install`] on.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl std::fmt::Debug for StopSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopSignals")
    }
}

impl StopSignals {
    /// Catches SIGINT, SIGTERM and SIGHUP from now on, for the life of the process (their
    /// default action does not come back). Must be called within a tokio runtime.
    pub fn install() -> io::Result<StopSignals> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next stop signal to arrive.
    pub async fn next(&mut self) -> Interrupt {
        tokio::select! {
            _ = self.interrupt.recv() => Interrupt::CtrlC,
            _ = self.terminate.recv() => Interrupt::Terminate,
            _ = self.hangup.recv() => Interrupt::HangUp,
        }
    }
}
