//! Alibaba Cloud's MQTT client id, `<id>|securemode=3,signmethod=hmacsha1|`, parsed into
//! [`ClientIdParams`] with a typed [`ClientIdError`] that names what is wrong.

use std::fmt;

use super::sign::SignMethod;

/// Longest `<id>` head the cloud accepts (MQTT-TCP连接通信: "64个字符以内").
pub const MAX_HEAD_LEN: usize = 64;

/// An Alibaba Cloud client id taken apart.
///
/// The forms seen in the wild (aliyun-onenet.md §1.2, §2.2) all fit:
/// `Air601|securemode=3,signmethod=hmacsha1|` (the seeds),
/// `pk&dn|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,_v=1.2.13,timestamp=…|`
/// (Python SDK), `pk.dn|timestamp=…,_ss=1,_v=…,securemode=2,signmethod=hmacsha256,ext=3,|`
/// (Link SDK 4, note the trailing comma).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdParams {
    /// The part before the first `|`: the `clientId` value that goes into the sign content.
    pub head: String,
    /// Any integer: 2 (TLS), 3 (TCP), -1, -2, 8 all occur; the harness does not bind it to the
    /// transport because ESP-AT projects send 2 over plain TCP (aliyun-onenet.md §0.5).
    pub securemode: Option<i32>,
    /// `None` when the client id names none; the cloud then signs with hmacmd5
    /// ([`ClientIdParams::sign_method`]).
    pub signmethod: Option<SignMethod>,
    /// Kept as text: the sign covers the exact characters sent, seconds or milliseconds alike.
    pub timestamp: Option<String>,
    /// Every other `name=value` (`ext`, `_ss`, `lan`, `_v`, `sii`, …) in the order sent.
    pub others: Vec<(String, String)>,
    /// The list ended with `,` before the closing `|` (Link SDK 4 does this).
    pub trailing_comma: bool,
}

/// Why a client id is not of the form `<id>|name=value,…|`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse client id {client_id:?}: {problem}")]
pub struct ClientIdError {
    pub client_id: String,
    pub problem: ClientIdProblem,
}

/// The specific fault in a client id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdProblem {
    #[error(
        "it has no `|…|` parameter section (expected `<id>|securemode=3,signmethod=hmacsha1|`)"
    )]
    NoParams,
    #[error("the parameter section opened with `|` is never closed with `|`")]
    Unterminated,
    #[error("{0:?} follows the closing `|`")]
    TrailingText(String),
    #[error("the id before `|` is empty")]
    EmptyHead,
    #[error("the id before `|` is {0} characters long; the cloud allows at most 64")]
    HeadTooLong(usize),
    #[error("it holds the control character {ch:?} at byte {at}")]
    ControlCharacter { ch: char, at: usize },
    #[error("parameter {0} is empty (two commas in a row, or a leading comma)")]
    EmptyParam(usize),
    #[error("parameter {0:?} has no `=`")]
    ParamWithoutValue(String),
    #[error("parameter {0:?} has no name before `=`")]
    EmptyParamName(String),
    #[error("parameter `{0}` is given twice")]
    DuplicateParam(String),
    #[error("securemode {0:?} is not an integer")]
    BadSecuremode(String),
    #[error("signmethod {0:?} is not hmacmd5, hmacsha1 or hmacsha256")]
    UnsupportedSignMethod(String),
    #[error("timestamp {0:?} is not a decimal number")]
    BadTimestamp(String),
}

impl ClientIdParams {
    /// The form the seeds send: `<head>|securemode=3,signmethod=<method>|`.
    pub fn new(head: impl Into<String>, signmethod: SignMethod) -> ClientIdParams {
        ClientIdParams {
            head: head.into(),
            securemode: Some(3),
            signmethod: Some(signmethod),
            timestamp: None,
            others: Vec::new(),
            trailing_comma: false,
        }
    }

    /// The method the cloud verifies the password with: the named one, else hmacmd5.
    pub fn sign_method(&self) -> SignMethod {
        self.signmethod.unwrap_or(SignMethod::ALIYUN_DEFAULT)
    }

    /// Value of a parameter other than the three typed ones, e.g. `other("ext")`.
    pub fn other(&self, name: &str) -> Option<&str> {
        self.others
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Takes a client id apart; see the type's doc for the accepted forms.
    pub fn parse(client_id: &str) -> Result<ClientIdParams, ClientIdError> {
        parse(client_id).map_err(|problem| ClientIdError {
            client_id: client_id.to_owned(),
            problem,
        })
    }
}

fn parse(client_id: &str) -> Result<ClientIdParams, ClientIdProblem> {
    let (head, rest) = client_id.split_once('|').ok_or(ClientIdProblem::NoParams)?;
    let (list, trailing) = rest.split_once('|').ok_or(ClientIdProblem::Unterminated)?;
    // Checked before control characters: seed 002's first CONNECT had a stray `0A` right
    // after the closing `|`, and "text after the closing |" says where it is.
    if !trailing.is_empty() {
        return Err(ClientIdProblem::TrailingText(trailing.to_owned()));
    }
    if let Some((at, ch)) = client_id.char_indices().find(|(_, c)| c.is_control()) {
        return Err(ClientIdProblem::ControlCharacter { ch, at });
    }
    if head.is_empty() {
        return Err(ClientIdProblem::EmptyHead);
    }
    let head_len = head.chars().count();
    if head_len > MAX_HEAD_LEN {
        return Err(ClientIdProblem::HeadTooLong(head_len));
    }

    let mut params = ClientIdParams {
        head: head.to_owned(),
        securemode: None,
        signmethod: None,
        timestamp: None,
        others: Vec::new(),
        trailing_comma: false,
    };
    // Nothing between the bars (`dev||`) is legal: no parameters at all.
    let mut items: Vec<&str> = if list.is_empty() {
        Vec::new()
    } else {
        list.split(',').collect()
    };
    if items.len() > 1 && items.last() == Some(&"") {
        items.pop();
        params.trailing_comma = true;
    }
    let mut seen: Vec<&str> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        if item.is_empty() {
            return Err(ClientIdProblem::EmptyParam(index + 1));
        }
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| ClientIdProblem::ParamWithoutValue(item.to_owned()))?;
        if name.is_empty() {
            return Err(ClientIdProblem::EmptyParamName(item.to_owned()));
        }
        if seen.contains(&name) {
            return Err(ClientIdProblem::DuplicateParam(name.to_owned()));
        }
        seen.push(name);
        match name {
            "securemode" => {
                let mode = value
                    .parse::<i32>()
                    .map_err(|_| ClientIdProblem::BadSecuremode(value.to_owned()))?;
                params.securemode = Some(mode);
            }
            "signmethod" => {
                let method = SignMethod::from_aliyun_name(value)
                    .ok_or_else(|| ClientIdProblem::UnsupportedSignMethod(value.to_owned()))?;
                params.signmethod = Some(method);
            }
            "timestamp" => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ClientIdProblem::BadTimestamp(value.to_owned()));
                }
                params.timestamp = Some(value.to_owned());
            }
            _ => params.others.push((name.to_owned(), value.to_owned())),
        }
    }
    Ok(params)
}

/// Writes the client id in a canonical order: securemode, signmethod, timestamp, then the
/// others as parsed. A parsed id whose typed parameters came in another order (the Python
/// SDK puts `timestamp` last) prints reordered; the sign does not depend on that order.
impl fmt::Display for ClientIdParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = Vec::new();
        if let Some(mode) = self.securemode {
            items.push(format!("securemode={mode}"));
        }
        if let Some(method) = self.signmethod {
            items.push(format!("signmethod={}", method.aliyun_name()));
        }
        if let Some(ts) = &self.timestamp {
            items.push(format!("timestamp={ts}"));
        }
        items.extend(self.others.iter().map(|(n, v)| format!("{n}={v}")));
        let comma = if self.trailing_comma { "," } else { "" };
        write!(f, "{}|{}{comma}|", self.head, items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_000_client_id() {
        let p = ClientIdParams::parse("Air601|securemode=3,signmethod=hmacsha1|").unwrap();
        assert_eq!(p, ClientIdParams::new("Air601", SignMethod::HmacSha1));
        assert_eq!(p.to_string(), "Air601|securemode=3,signmethod=hmacsha1|");
    }

    #[test]
    fn seed_002_stray_line_feed_is_named() {
        let err = ClientIdParams::parse("device2|securemode=3,signmethod=hmacsha1|\n").unwrap_err();
        assert_eq!(err.problem, ClientIdProblem::TrailingText("\n".into()));
        assert_eq!(
            err.to_string(),
            "parse client id \"device2|securemode=3,signmethod=hmacsha1|\\n\": \
             \"\\n\" follows the closing `|`"
        );
    }

    #[test]
    fn no_signmethod_means_hmacmd5() {
        let p = ClientIdParams::parse("12345|securemode=3|").unwrap();
        assert_eq!(p.signmethod, None);
        assert_eq!(p.sign_method(), SignMethod::HmacMd5);
    }

    #[test]
    fn empty_list_between_bars_is_legal() {
        let p = ClientIdParams::parse("dev||").unwrap();
        assert_eq!(
            (p.securemode, p.others.len(), p.trailing_comma),
            (None, 0, false)
        );
        assert_eq!(p.to_string(), "dev||");
    }

    #[test]
    fn trailing_comma_round_trips() {
        let id = "pk.dn|securemode=2,signmethod=hmacsha256,timestamp=2524608000000,_ss=1,ext=3,|";
        let p = ClientIdParams::parse(id).unwrap();
        assert!(p.trailing_comma);
        assert_eq!(p.to_string(), id);
    }

    #[test]
    fn head_of_64_is_fine_and_65_is_not() {
        let ok = format!("{}|securemode=3|", "a".repeat(64));
        assert!(ClientIdParams::parse(&ok).is_ok());
        let long = format!("{}|securemode=3|", "a".repeat(65));
        assert_eq!(
            ClientIdParams::parse(&long).unwrap_err().problem,
            ClientIdProblem::HeadTooLong(65)
        );
    }
}
