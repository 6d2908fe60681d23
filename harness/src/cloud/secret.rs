//! [`DeviceSecret`]: a device key that cannot end up in a log line by accident.

use std::fmt;
use std::str::FromStr;

/// A device key: Alibaba Cloud's DeviceSecret, OneNET's device or product access key.
///
/// `Debug` and `Display` print `***`, so the value cannot leak through a log line, an error
/// message, `{:?}` of a struct that holds it, or a failing test's output. The raw value is
/// reachable only through [`DeviceSecret::expose`], a name that stands out in review.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceSecret(String);

impl DeviceSecret {
    pub fn new(value: impl Into<String>) -> DeviceSecret {
        DeviceSecret(value.into())
    }

    /// The raw secret, for computing a sign. Never print or log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Lets clap parse `--device-secret` straight into the redacting type, so the parsed arguments
/// can derive `Debug` safely.
impl FromStr for DeviceSecret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<DeviceSecret, Self::Err> {
        Ok(DeviceSecret::new(s))
    }
}

impl<'de> serde::Deserialize<'de> for DeviceSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DeviceSecret, D::Error> {
        String::deserialize(d).map(DeviceSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = DeviceSecret::new("1448e1c58996469449813ed68e3b0fed");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        #[derive(Debug)]
        #[allow(dead_code)] // only read through Debug, which is the point of the test
        struct Holder {
            secret: DeviceSecret,
        }
        let shown = format!("{:?}", Holder { secret: s.clone() });
        assert!(!shown.contains("1448e1c5"), "{shown}");
        assert_eq!(s.expose(), "1448e1c58996469449813ed68e3b0fed");
    }
}
