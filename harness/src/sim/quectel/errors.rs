//! The `+CME ERROR: <n>` final results the virtual Quectel gives, [`CmeError`], and how
//! `AT+CMEE` renders them: 0 plain `ERROR`, 1 the number, 2 the 3GPP TS 27.007 text for the
//! general codes. The TCP/IP codes (550..) stay numeric in mode 2 too: the EC200U log through
//! RT-Thread's client (which sets `AT+CMEE=2`) shows `+CME ERROR: 516`, a number.

/// One `+CME ERROR` cause. The 27.007 ones carry their verbose text; the 55x ones are the
/// Quectel TCP/IP error codes (also the `<err>` of `+QIOPEN` and `+QIURC: "dnsgip"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmeError {
    /// 3, "operation not allowed": e.g. `AT+QIACT` before the module is registered.
    NotAllowed,
    /// 4, "operation not supported".
    NotSupported,
    /// 30, "no network service".
    NoNetwork,
    /// 50, "incorrect parameters".
    IncorrectParameters,
    /// 552, invalid parameters (TCP/IP).
    InvalidParams,
    /// 561, PDP context open failed.
    PdpOpenFailed,
    /// 563, socket identity has been used.
    SocketInUse,
    /// 565, DNS parse failed.
    DnsFailed,
    /// 566, socket connect failed.
    ConnectFailed,
    /// 567, socket has been closed.
    SocketClosed,
    /// 572, operation not allowed (TCP/IP).
    OperationNotAllowed,
}

impl CmeError {
    pub fn code(self) -> u16 {
        match self {
            CmeError::NotAllowed => 3,
            CmeError::NotSupported => 4,
            CmeError::NoNetwork => 30,
            CmeError::IncorrectParameters => 50,
            CmeError::InvalidParams => 552,
            CmeError::PdpOpenFailed => 561,
            CmeError::SocketInUse => 563,
            CmeError::DnsFailed => 565,
            CmeError::ConnectFailed => 566,
            CmeError::SocketClosed => 567,
            CmeError::OperationNotAllowed => 572,
        }
    }

    /// The 27.007 verbose text, for the codes that have one.
    fn text(self) -> Option<&'static str> {
        match self {
            CmeError::NotAllowed => Some("operation not allowed"),
            CmeError::NotSupported => Some("operation not supported"),
            CmeError::NoNetwork => Some("no network service"),
            CmeError::IncorrectParameters => Some("incorrect parameters"),
            CmeError::InvalidParams
            | CmeError::PdpOpenFailed
            | CmeError::SocketInUse
            | CmeError::DnsFailed
            | CmeError::ConnectFailed
            | CmeError::SocketClosed
            | CmeError::OperationNotAllowed => None,
        }
    }

    /// The line for `AT+CMEE=<mode>` (`+CME ERROR: 3`), or `None` for a plain `ERROR`.
    pub fn render(self, mode: u8) -> Option<String> {
        match mode {
            0 => None,
            2 => Some(match self.text() {
                Some(text) => format!("+CME ERROR: {text}"),
                None => format!("+CME ERROR: {}", self.code()),
            }),
            _ => Some(format!("+CME ERROR: {}", self.code())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmee_modes_render_as_documented() {
        assert_eq!(CmeError::NotAllowed.render(0), None);
        assert_eq!(
            CmeError::NotAllowed.render(1).as_deref(),
            Some("+CME ERROR: 3")
        );
        assert_eq!(
            CmeError::NotAllowed.render(2).as_deref(),
            Some("+CME ERROR: operation not allowed")
        );
        assert_eq!(
            CmeError::SocketInUse.render(2).as_deref(),
            Some("+CME ERROR: 563")
        );
    }
}
