//! One AT command line taken apart: [`Command`] (name, `_CUR`/`_DEF` variant, form) and its
//! comma-separated [`Param`]s, with the firmware's string escapes (`\,` `\"` `\\`).

/// Which of the four AT command forms a line uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `AT+X`
    Exec,
    /// `AT+X?`
    Query,
    /// `AT+X=?`
    Test,
    /// `AT+X=<params>`
    Set(Vec<Param>),
}

/// NonOS's flash variants: `AT+CWMODE_CUR` (this boot) and `AT+CWMODE_DEF` (saved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Plain,
    Cur,
    Def,
}

/// A parsed command line, e.g. `AT+CWJAP_CUR="lab","pw"` is name `+CWJAP`, variant `Cur`,
/// form `Set(["lab", "pw"])`. Basic commands keep their letters: `ATE0` is name `E0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub variant: Variant,
    pub form: Form,
}

/// One parameter as written: a quoted string (unescaped), a decimal number, or nothing
/// (`AT+CWJAP="a","b",,1` has an empty third parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Str(String),
    Int(i64),
    Empty,
}

/// Why a line could not be parsed; the firmware answers all of these with `ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed;

/// Parses the text of a line after `AT` and without its CR LF.
pub fn parse(rest: &[u8]) -> Result<Command, Malformed> {
    let text = std::str::from_utf8(rest).map_err(|_| Malformed)?;
    if !text.starts_with('+') {
        // Basic commands (`AT`, `ATE0`): letters and digits only.
        if !text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(Malformed);
        }
        return Ok(Command {
            name: text.to_string(),
            variant: Variant::Plain,
            form: Form::Exec,
        });
    }
    let name_len = 1 + text[1..]
        .bytes()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        .count();
    let (full_name, tail) = text.split_at(name_len);
    if full_name.len() < 2 {
        return Err(Malformed);
    }
    let (name, variant) = if let Some(base) = full_name.strip_suffix("_CUR") {
        (base, Variant::Cur)
    } else if let Some(base) = full_name.strip_suffix("_DEF") {
        (base, Variant::Def)
    } else {
        (full_name, Variant::Plain)
    };
    let form = match tail {
        "" => Form::Exec,
        "?" => Form::Query,
        "=?" => Form::Test,
        _ => match tail.strip_prefix('=') {
            Some(params) => Form::Set(parse_params(params)?),
            None => return Err(Malformed),
        },
    };
    Ok(Command {
        name: name.to_string(),
        variant,
        form,
    })
}

/// Splits `"a\,b",12,,-3` into parameters; quotes must close and numbers must be whole.
pub fn parse_params(text: &str) -> Result<Vec<Param>, Malformed> {
    let bytes = text.as_bytes();
    let mut params = Vec::new();
    let mut i = 0;
    loop {
        let param = match bytes.get(i) {
            Some(b'"') => {
                let mut value = Vec::new();
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(Malformed),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            value.push(*bytes.get(i + 1).ok_or(Malformed)?);
                            i += 2;
                        }
                        Some(&b) => {
                            value.push(b);
                            i += 1;
                        }
                    }
                }
                Param::Str(String::from_utf8(value).map_err(|_| Malformed)?)
            }
            Some(b',') | None => Param::Empty,
            Some(_) => {
                let len = bytes[i..].iter().take_while(|&&b| b != b',').count();
                let number = &text[i..i + len];
                i += len;
                let digits = number.strip_prefix('-').unwrap_or(number);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Malformed);
                }
                Param::Int(number.parse().map_err(|_| Malformed)?)
            }
        };
        params.push(param);
        match bytes.get(i) {
            None => return Ok(params),
            Some(b',') => i += 1,
            Some(_) => return Err(Malformed),
        }
    }
}

impl Param {
    pub fn int(&self) -> Option<i64> {
        match self {
            Param::Int(n) => Some(*n),
            Param::Str(_) | Param::Empty => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Param::Str(s) => Some(s),
            Param::Int(_) | Param::Empty => None,
        }
    }
}

/// The integer parameter at `index`, if it is one and lies in `range`.
pub fn int_in(params: &[Param], index: usize, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
    params
        .get(index)
        .and_then(Param::int)
        .filter(|n| range.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn s(text: &str) -> Param {
        Param::Str(text.to_string())
    }

    #[rstest]
    #[case(b"", "", Variant::Plain, Form::Exec)]
    #[case(b"E0", "E0", Variant::Plain, Form::Exec)]
    #[case(b"+GMR", "+GMR", Variant::Plain, Form::Exec)]
    #[case(b"+CWMODE_CUR?", "+CWMODE", Variant::Cur, Form::Query)]
    #[case(b"+CWMODE=?", "+CWMODE", Variant::Plain, Form::Test)]
    #[case(b"+UART_DEF=115200,8,1,0,0", "+UART", Variant::Def, Form::Set(vec![Param::Int(115200), Param::Int(8), Param::Int(1), Param::Int(0), Param::Int(0)]))]
    #[case(b"+CIPSTART=\"TCP\",\"iot-ksf114514.mqtt.iothub.aliyuncs.com\",1883", "+CIPSTART", Variant::Plain,
        Form::Set(vec![s("TCP"), s("iot-ksf114514.mqtt.iothub.aliyuncs.com"), Param::Int(1883)]))]
    #[case(b"+CWJAP=\"ab\\\\\\,c\",\"0123456789\\\"\\\\\"", "+CWJAP", Variant::Plain,
        Form::Set(vec![s("ab\\,c"), s("0123456789\"\\")]))]
    #[case(b"+CWJAP=\"a\",\"b\",,,,,,,3", "+CWJAP", Variant::Plain,
        Form::Set(vec![s("a"), s("b"), Param::Empty, Param::Empty, Param::Empty, Param::Empty, Param::Empty, Param::Empty, Param::Int(3)]))]
    #[case(b"+CIPSEND=0,-4", "+CIPSEND", Variant::Plain, Form::Set(vec![Param::Int(0), Param::Int(-4)]))]
    fn parses(
        #[case] line: &[u8],
        #[case] name: &str,
        #[case] variant: Variant,
        #[case] form: Form,
    ) {
        let command = parse(line).unwrap();
        assert_eq!(
            command,
            Command {
                name: name.to_string(),
                variant,
                form
            }
        );
    }

    #[rstest]
    #[case(b"+GMR ")]
    #[case(b"+")]
    #[case(b"+CIPSEND=4x")]
    #[case(b"+CIPSEND=-")]
    #[case(b"+CWJAP=\"open")]
    #[case(b"+CWJAP=\"a\"b")]
    #[case(b"e0")]
    #[case(b"+CIPSEND=99999999999999999999")]
    #[case(b"+X=\"\xff\"")]
    fn rejects(#[case] line: &[u8]) {
        assert_eq!(parse(line), Err(Malformed));
    }
}
