//! The one table of process exit codes `athil` uses, for CI scripts to branch on.

/// What an `athil` invocation ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran and passed: every scenario green, every decoded packet valid.
    Success = 0,
    /// It ran, and something failed: a scenario step, an invalid packet, a refused sign check.
    Failure = 1,
    /// The input was unusable: bad arguments, unreadable files, scenario or hex that does not
    /// parse, a serial port that cannot be opened. Nothing was judged.
    Usage = 2,
    /// The run was interrupted (Ctrl-C); reports for what ran were still written.
    Interrupted = 130,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}
