//! Boot, identity, echo, errors and registration of the virtual Quectel, byte for byte.

use super::bench::Bench;
use super::QuectelModel::{Bg96, Ec20};
use crate::sim::firmware::NetEvent;

#[test]
fn ec20_boots_with_rdy_and_the_sim_urcs_and_no_app_rdy() {
    let mut b = Bench::new(Ec20);
    b.settle();
    assert_eq!(b.reset(), b"");
    assert_eq!(
        b.settle(),
        b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n"
    );
}

#[test]
fn bg96_boots_with_app_rdy_after_rdy() {
    let mut b = Bench::new(Bg96);
    b.reset();
    assert!(b
        .settle()
        .starts_with(b"\r\nRDY\r\n\r\nAPP RDY\r\n\r\n+CPIN: READY\r\n"));
}

#[test]
fn input_while_rebooting_is_lost() {
    let mut b = Bench::new(Ec20);
    b.reset();
    assert_eq!(b.typed(b"AT\r"), b"");
}

#[test]
fn cfun_1_1_reboots_and_the_bg96_says_powered_down() {
    let mut b = Bench::attached(Bg96);
    let out = b.run(b"AT+CFUN=1,1\r");
    assert!(
        out.starts_with(b"\r\nOK\r\n\r\nPOWERED DOWN\r\n\r\n+QIURC: \"pdpdeact\",1\r\n\r\nRDY\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // Echo is back on after the reboot, and the context is gone.
    assert_eq!(b.run(b"AT+QIACT?\r"), b"AT+QIACT?\r\r\nOK\r\n");
}

#[test]
fn echo_runs_at_cr_and_includes_it() {
    let mut b = Bench::new(Ec20);
    assert_eq!(b.run(b"AT\r"), b"AT\r\r\nOK\r\n");
    // The LF of a CR LF is echoed as a stray byte after the answer.
    assert_eq!(b.run(b"AT\r\n"), b"AT\r\r\nOK\r\n\n");
    assert_eq!(b.run(b"ATE0\r"), b"ATE0\r\r\nOK\r\n");
    assert_eq!(b.run(b"AT\r\n"), b"\r\nOK\r\n");
    // Echo is on again by the time the LF arrives.
    assert_eq!(b.run(b"ATE1\r\n"), b"\r\nOK\r\n\n");
    assert_eq!(b.run(b"at\r"), b"at\r\r\nOK\r\n");
}

#[test]
fn ati_and_revisions_differ_per_model() {
    let mut ec20 = Bench::new(Ec20);
    ec20.run(b"ATE0\r");
    assert_eq!(
        ec20.run(b"ATI\r"),
        b"\r\nQuectel\r\nEC20F\r\nRevision: EC20CEFDR02A09M4G\r\n\r\nSubEdition: V04\r\n\r\nOK\r\n"
    );
    assert_eq!(
        ec20.run(b"AT+GMR\r"),
        b"\r\nEC20CEFDR02A09M4G\r\n\r\nOK\r\n"
    );
    let mut bg96 = Bench::new(Bg96);
    bg96.run(b"ATE0\r");
    assert_eq!(
        bg96.run(b"ATI\r"),
        b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n"
    );
    assert_eq!(
        bg96.run(b"AT+QGMR\r"),
        b"\r\nBG96MAR02A07M1G_01.018.01.018\r\n\r\nOK\r\n"
    );
}

#[test]
fn identity_numbers() {
    let mut b = Bench::new(Ec20);
    b.run(b"ATE0\r");
    assert_eq!(b.run(b"AT+GSN\r"), b"\r\n866123456789012\r\n\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CIMI\r"), b"\r\n460001234567890\r\n\r\nOK\r\n");
    assert_eq!(
        b.run(b"AT+QCCID\r"),
        b"\r\n+QCCID: 89860012345678901234\r\n\r\nOK\r\n"
    );
    assert_eq!(b.run(b"AT+CPIN?\r"), b"\r\n+CPIN: READY\r\n\r\nOK\r\n");
}

#[test]
fn registration_waits_for_the_configured_delay() {
    let mut b = Bench::new(Ec20);
    b.run(b"ATE0\r");
    // `run` lets every timer pass, so look before the search ends with `typed`.
    let mut early = Bench::new(Ec20);
    early.typed(b"ATE0\r");
    assert_eq!(early.typed(b"AT+CSQ\r"), b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n");
    assert_eq!(early.typed(b"AT+CREG?\r"), b"\r\n+CREG: 0,2\r\n\r\nOK\r\n");
    assert_eq!(early.typed(b"AT+COPS?\r"), b"\r\n+COPS: 0\r\n\r\nOK\r\n");
    assert_eq!(early.typed(b"AT+QIACT=1\r"), b"\r\n+CME ERROR: 30\r\n");
    assert_eq!(early.typed(b"AT+CEREG=1\r"), b"\r\nOK\r\n");
    assert_eq!(early.settle(), b"\r\n+CEREG: 1\r\n");
    assert_eq!(b.run(b"AT+CSQ\r"), b"\r\n+CSQ: 24,99\r\n\r\nOK\r\n");
    assert_eq!(b.run(b"AT+CGREG?\r"), b"\r\n+CGREG: 0,1\r\n\r\nOK\r\n");
    assert_eq!(
        b.run(b"AT+COPS?\r"),
        b"\r\n+COPS: 0,0,\"CHINA MOBILE\",7\r\n\r\nOK\r\n"
    );
}

#[test]
fn cmee_chooses_how_errors_read() {
    let mut b = Bench::new(Ec20);
    b.run(b"ATE0\r");
    assert_eq!(b.run(b"AT+QIACT=17\r"), b"\r\n+CME ERROR: 552\r\n");
    assert_eq!(b.run(b"AT+CMEE=0\r"), b"\r\nOK\r\n");
    assert_eq!(b.run(b"AT+QIACT=17\r"), b"\r\nERROR\r\n");
    assert_eq!(b.run(b"AT+CMEE=2\r"), b"\r\nOK\r\n");
    assert_eq!(
        b.run(b"AT+CEREG=7\r"),
        b"\r\n+CME ERROR: incorrect parameters\r\n"
    );
    assert_eq!(b.run(b"AT+CMEE?\r"), b"\r\n+CMEE: 2\r\n\r\nOK\r\n");
    // An unknown command is a plain ERROR whatever CMEE says.
    assert_eq!(b.run(b"AT+CIPSTART=\"TCP\",\"x\",1\r"), b"\r\nERROR\r\n");
}

#[test]
fn pdp_context_activates_after_registration_and_reports_its_address() {
    let mut b = Bench::attached(Ec20);
    assert_eq!(
        b.run(b"AT+QIACT?\r"),
        b"\r\n+QIACT: 1,1,1,\"10.68.40.17\"\r\n\r\nOK\r\n"
    );
    assert_eq!(
        b.run(b"AT+QICSGP=1\r"),
        b"\r\n+QICSGP: 1,\"CMNET\",\"\",\"\",0\r\n\r\nOK\r\n"
    );
    assert_eq!(b.run(b"AT+QIACT=1\r"), b"\r\nERROR\r\n");
    assert_eq!(b.run(b"AT+QIDEACT=1\r"), b"\r\nOK\r\n");
    assert_eq!(b.run(b"AT+QIACT?\r"), b"\r\nOK\r\n");
}

#[test]
fn qiact_blocks_other_commands_until_it_answers() {
    let mut b = Bench::new(Ec20);
    b.settle();
    b.run(b"ATE0\r");
    assert_eq!(b.typed(b"AT+QIACT=1\r"), b"");
    assert_eq!(b.typed(b"AT\r"), b"");
    assert_eq!(b.settle(), b"\r\nOK\r\n");
}

proptest::proptest! {
    /// Whatever the host types and the network does, the module never panics and never
    /// sends on a socket it did not open.
    #[test]
    fn random_input_never_panics(
        chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 0..24),
        events in proptest::collection::vec(0u8..5, 0..24),
    ) {
        let mut b = Bench::attached(Ec20);
        b.run(b"AT+QIOPEN=1,0,\"TCP\",\"mqtt.heclouds.com\",6002,0,1\r");
        b.accept(40000);
        let socket = b.last_socket();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut typed = b"AT+QISEND=0,3\r".to_vec();
            typed.extend_from_slice(chunk);
            b.typed(&typed);
            let event = match events.get(i) {
                Some(0) => NetEvent::Sent { socket },
                Some(1) => NetEvent::SendFailed { socket },
                Some(2) => NetEvent::Received { socket, data: chunk.clone() },
                Some(3) => NetEvent::Closed { socket },
                _ => NetEvent::ConnectFailed { socket },
            };
            b.net(event);
            b.settle();
        }
        proptest::prop_assert!(b.sends.iter().all(|(s, _)| *s == socket));
    }
}
