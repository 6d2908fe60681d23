//! The dialect-neutral link steps (`join`, `open`, `close`, `expect_closed`): each says what
//! to do and the module driver's dialect says how, so one scenario runs on an ESP8266 and a
//! Quectel alike.

use std::time::Duration;

use crate::module::dialect::{JoinSettings, ReceiveMode};
use crate::scenario::{Join, Open};

use super::step::{StepContext, StepError};

impl StepContext<'_> {
    /// `join:` the run's Wi-Fi (`{{wifi.*}}`) for a Wi-Fi module, the step's APN for a
    /// cellular one.
    pub(super) async fn join(&mut self, join: &Join, t: Duration) -> Result<(), StepError> {
        let apn = join
            .apn
            .as_ref()
            .map(|a| a.render(&self.lookup()))
            .transpose()?;
        let ssid = self.values.lookup("wifi.ssid");
        let password = self.values.lookup("wifi.password");
        let wifi = match (&ssid, &password) {
            (Some(s), Some(p)) => Some((s.as_str(), p.as_str())),
            _ => None,
        };
        let with = JoinSettings {
            wifi,
            apn: apn.as_deref(),
        };
        self.driver.join(&with, t).await?;
        Ok(())
    }

    /// `open:` a TCP link whose received bytes the module pushes (`+IPD`, Quectel direct
    /// push), so `receive` and `receive_mqtt` read them as they arrive.
    pub(super) async fn open(&mut self, open: &Open, t: Duration) -> Result<(), StepError> {
        self.driver.check_link(open.link)?;
        let host = open.host.render(&self.lookup())?;
        let port = open.port.render(&self.lookup())?;
        let port: u16 = match port.trim().parse() {
            Ok(p) if p > 0 => p,
            _ => {
                return Err(StepError::other(format!(
                    "open a link: the port `{}` is `{port}`, not a number from 1 to 65535",
                    open.port.source()
                )))
            }
        };
        self.driver
            .open_tcp(open.link, &host, port, ReceiveMode::Push, t)
            .await?;
        Ok(())
    }

    /// `close:` the dialect's close command.
    pub(super) async fn close(&mut self, link: Option<u8>, t: Duration) -> Result<(), StepError> {
        self.driver.check_link(link)?;
        self.driver.close_link(link, t).await?;
        Ok(())
    }

    /// `expect_closed:` the module reports the link closed.
    pub(super) async fn expect_closed(
        &mut self,
        link: Option<u8>,
        t: Duration,
    ) -> Result<(), StepError> {
        self.driver.check_link(link)?;
        self.driver.expect_closed(link, t).await?;
        Ok(())
    }
}
