//! The one table of process exit codes `athil` uses, for CI scripts to branch on. Codes 3-9 are
//! athil's own; a run stopped by a signal exits 128 + the signal's number, as a shell reports a
//! process the signal killed, so `$?` reads the same whether or not athil caught it.
//!
//! Codes marked *reserved* are not returned yet; they are fixed here so scripts written now
//! keep working when the work that needs them lands, and so no one hands them out twice.

use crate::run::Interrupt;

/// What an `athil` invocation ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran and passed: every scenario green, every decoded packet valid.
    Success = 0,
    /// It ran, and something failed: a scenario step, an invalid packet, a refused sign check.
    Failure = 1,
    /// The input was unusable: bad arguments, unreadable files, scenario or hex that does not
    /// parse, a serial port that cannot be opened or is not a terminal. Nothing was judged.
    Usage = 2,
    /// The run finished, but a report (transcript, pcap, JUnit) could not be written: a full
    /// disk, a read-only directory. The console names each file; the results CI would read
    /// are missing, so this wins over 0 and 1.
    ReportsNotWritten = 3,
    /// *Reserved:* it ran and every failure was a deadline (the module or broker went silent)
    /// rather than a wrong answer: the bench, cable or power is the first suspect, not the
    /// firmware.
    TimedOut = 4,
    /// *Reserved:* the board or serial port is in use by another run (a lock held, the port
    /// opened exclusively elsewhere). Nothing was judged; try again later.
    Busy = 5,
    /// Stopped by SIGHUP (the terminal or SSH session went away), 128 + 1; reports for what ran
    /// were written, the unfinished scenarios listed as errors.
    HangUp = 129,
    /// Interrupted by Ctrl-C (SIGINT), 128 + 2; reports for what ran were still written. A second
    /// Ctrl-C exits at once with the same code, without the reports of the scenario under way.
    Interrupted = 130,
    /// Stopped by SIGTERM (`kill`, `timeout`, a CI job cancelled), 128 + 15; reports for what ran
    /// were written, as for Ctrl-C.
    Terminated = 143,
}

impl ExitCode {
    /// The code a run stopped by `i` exits with: 128 + its signal's number.
    pub fn interrupted_by(i: Interrupt) -> ExitCode {
        match i {
            Interrupt::HangUp => ExitCode::HangUp,
            Interrupt::CtrlC => ExitCode::Interrupted,
            Interrupt::Terminate => ExitCode::Terminated,
        }
    }

    /// The number the process exits with.
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_exits_128_plus_its_number() {
        for i in [Interrupt::CtrlC, Interrupt::Terminate, Interrupt::HangUp] {
            assert_eq!(
                ExitCode::interrupted_by(i).code(),
                128 + i32::from(i.signal_number())
            );
        }
    }
}
