//! Hardware tier: the driver against a real module on a real serial port. Built only with
//! `--features hardware`; the port comes from `ATHIL_SERIAL_PORT` (e.g. `/dev/ttyUSB0`), the
//! dialect from `ATHIL_MODULE` (`esp-at` by default), the baud rate from `ATHIL_BAUD`.
//! Without a port named the test fails: a hardware run that tests nothing must not pass.
#![cfg(feature = "hardware")]

use std::time::Duration;

use athil::module::dialect::DialectKind;
use athil::module::{DriverOptions, ModuleDriver, SerialSettings, SerialTransport};
use athil::run::EventSink;

fn open() -> ModuleDriver {
    let port = std::env::var("ATHIL_SERIAL_PORT")
        .expect("set ATHIL_SERIAL_PORT to the module's serial device for hardware tests");
    let kind: DialectKind = std::env::var("ATHIL_MODULE")
        .unwrap_or_else(|_| "esp-at".into())
        .parse()
        .expect("ATHIL_MODULE names a known dialect");
    let mut settings = SerialSettings::default();
    if let Ok(baud) = std::env::var("ATHIL_BAUD") {
        settings.baud = baud.parse().expect("ATHIL_BAUD is a number");
    }
    let transport = SerialTransport::open(&port, &settings, EventSink::discard())
        .unwrap_or_else(|e| panic!("failed to {e}"));
    ModuleDriver::new(transport, kind.dialect(), DriverOptions::default())
}

#[tokio::test]
async fn real_module_resets_syncs_and_answers_at() {
    let mut driver = open();
    let report = driver
        .reset_and_sync(Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("failed to {e}"));
    eprintln!(
        "ready seen: {}, sync attempts: {}",
        report.ready_seen, report.sync_attempts
    );
    let response = driver
        .command("AT", Duration::from_secs(2))
        .await
        .unwrap_or_else(|e| panic!("failed to {e}"));
    assert!(
        response.lines.is_empty(),
        "echo is off: {:?}",
        response.lines
    );
    // An unknown command must come back as a typed rejection, not a timeout.
    let err = driver
        .command("AT+ATHILNOSUCHCOMMAND", Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, athil::module::DriverError::Rejected { .. }),
        "{err}"
    );
}
