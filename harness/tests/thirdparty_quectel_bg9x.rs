//! The virtual Quectel checked against a driver nobody here wrote: crates.io's
//! `quectel-bg9x-eh-driver` 0.1.3 (an `atat`-based BG9x driver for embedded-hal/embedded-io)
//! powers the module up, reads its revision and IMEI, and runs the attach it covers —
//! `AT+QICSGP`, `AT+QIACT` (with `AT+QIACT?`), `AT+QIDEACT` — over the simulator's real
//! pseudo-terminal. It has no `AT+QIOPEN`/`AT+QISEND`, so sockets are not covered here (seed
//! 004's replay in `sim_quectel.rs` covers them).
//!
//! Its `new()` waits 5.5 s for a power key and boot, as on hardware; that is this test's time.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::time::Duration;

use atat::blocking::Client;
use atat::{AtDigester, AtatIngress, Config, Ingress, ResponseSlot, UrcChannel};
use athil::sim::{spawn, QuectelConfig, QuectelModel, SimConfig};
use quectel_bg9x_eh_driver::cellular::{
    QuectelBG9X, INGRESS_BUF_SIZE, URC_CAPACITY, URC_SUBSCRIBERS,
};
use quectel_bg9x_eh_driver::quectel_atat::urc::Urc;
use serialport::{ClearBuffer, SerialPort, TTYPort};

/// The pty as the embedded-io writer the driver's atat client needs.
struct PtyWriter(TTYPort);

impl embedded_io::ErrorType for PtyWriter {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for PtyWriter {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).map_err(|_| embedded_io::ErrorKind::Other)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().map_err(|_| embedded_io::ErrorKind::Other)
    }
}

/// The power key: a virtual module has none, so pressing it does nothing.
struct PowerKey;

impl embedded_hal::digital::ErrorType for PowerKey {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for PowerKey {
    fn set_low(&mut self) -> Result<(), Infallible> {
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn quectel_bg9x_eh_driver_attaches_the_virtual_bg96() {
    let sim = spawn(SimConfig {
        quectel: Some(QuectelConfig {
            model: QuectelModel::Bg96,
            ..QuectelConfig::default()
        }),
        ..SimConfig::default()
    })
    .unwrap();
    let mut reader = serialport::new(sim.device_path().to_string_lossy(), 115_200)
        .timeout(Duration::from_millis(20))
        .open_native()
        .unwrap();
    reader.clear(ClearBuffer::Input).unwrap();
    let writer = reader.try_clone_native().unwrap();

    // atat's client and ingress share 'static state, as on a microcontroller.
    let res_slot: &'static ResponseSlot<INGRESS_BUF_SIZE> =
        Box::leak(Box::new(ResponseSlot::new()));
    let urc_channel: &'static UrcChannel<Urc, URC_CAPACITY, URC_SUBSCRIBERS> =
        Box::leak(Box::new(UrcChannel::new()));
    let ingress_buf: &'static mut [u8] = Box::leak(vec![0u8; INGRESS_BUF_SIZE].into_boxed_slice());
    let client_buf: &'static mut [u8] = Box::leak(vec![0u8; INGRESS_BUF_SIZE].into_boxed_slice());
    let mut ingress = Ingress::new(AtDigester::<Urc>::new(), ingress_buf, res_slot, urc_channel);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = std::sync::Arc::clone(&stop);
    let transcript = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let seen = std::sync::Arc::clone(&transcript);
    let pump = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while !reading.load(std::sync::atomic::Ordering::SeqCst) {
            match reader.read(&mut buf) {
                Ok(n) => {
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    ingress.try_write(&buf[..n]).expect("ingress keeps up");
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("pty read failed: {e}"),
            }
        }
    });
    let client = Client::new(PtyWriter(writer), res_slot, client_buf, Config::default());

    let outcome = (|| {
        let mut modem = QuectelBG9X::new(PowerKey, client, urc_channel)?;
        modem.set_context_configuration("CMNET", "", "")?;
        modem.context_activate()?;
        modem.context_deactivate()?;
        Ok::<_, quectel_bg9x_eh_driver::ModemError>(())
    })();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    pump.join().unwrap();
    let transcript = String::from_utf8_lossy(&transcript.lock().unwrap()).into_owned();
    outcome.unwrap_or_else(|e| panic!("the driver failed: {e}; module said {transcript:?}"));
    // What it saw is what the simulator says, not an accident of parsing.
    assert!(
        transcript.contains("\r\nBG96MAR02A07M1G_01.018.01.018\r\n"),
        "{transcript:?}"
    );
    assert!(
        transcript.contains("+QIACT: 1,1,1,\"10.68.40.17\""),
        "{transcript:?}"
    );
    sim.shutdown();
}
