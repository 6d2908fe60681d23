//! Links over time: passive receive mode (§2.10), the link fault knobs, resets, and property
//! tests that no sequence of inputs makes the firmware panic.

use proptest::prelude::*;

use super::testbench::{lab_config, Bench};
use super::{Effect, Firmware, Input, NetEvent};

fn connected_single() -> Bench {
    let mut b = Bench::lab().joined();
    assert_eq!(b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n"), b"");
    assert_eq!(b.accept(50000), b"CONNECT\r\n\r\nOK\r\n");
    b
}

#[test]
fn passive_mode_buffers_until_read() {
    let mut b = connected_single();
    assert_eq!(b.run(b"AT+CIPRECVMODE=1\r\n"), b"\r\nOK\r\n");
    let socket = b.last_socket();
    assert_eq!(
        b.net(NetEvent::Received {
            socket,
            data: b"\x20\x02".to_vec()
        }),
        b"\r\n+IPD,2\r\n"
    );
    // No second notice until the buffer was read.
    assert_eq!(
        b.net(NetEvent::Received {
            socket,
            data: b"\x00\x00".to_vec()
        }),
        b""
    );
    assert_eq!(
        b.net(NetEvent::Closed { socket }),
        b"",
        "CLOSED waits for the data"
    );
    assert_eq!(
        b.run(b"AT+CIPRECVLEN?\r\n"),
        b"+CIPRECVLEN:4,0,0,0,0\r\n\r\nOK\r\n"
    );
    assert_eq!(
        b.run(b"AT+CIPRECVDATA=3\r\n"),
        b"\r\n+CIPRECVDATA,3:\x20\x02\x00\r\nOK\r\n"
    );
    assert_eq!(
        b.run(b"AT+CIPRECVDATA=3\r\n"),
        b"\r\n+CIPRECVDATA,1:\x00\r\nOK\r\nCLOSED\r\n"
    );
}

#[test]
fn close_after_fault_knobs() {
    let mut config = lab_config();
    config.faults.close_after_sent = Some(5);
    config.faults.close_after_received = Some(3);
    let mut b = Bench::new(config).joined();
    b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    b.accept(50008);
    b.run(b"AT+CIPSEND=4\r\n");
    b.typed(b"abcd");
    assert_eq!(b.ack(), b"\r\nSEND OK\r\n");
    b.run(b"AT+CIPSEND=4\r\n");
    b.typed(b"efgh");
    assert_eq!(b.ack(), b"\r\nSEND OK\r\nCLOSED\r\n");
    b.run(b"AT+CIPSTART=\"TCP\",\"127.0.0.1\",1883\r\n");
    b.accept(50009);
    let socket = b.last_socket();
    assert_eq!(
        b.net(NetEvent::Received {
            socket,
            data: b"xy".to_vec()
        }),
        b"\r\n+IPD,2:xy"
    );
    assert_eq!(
        b.net(NetEvent::Received {
            socket,
            data: b"z!".to_vec()
        }),
        b"\r\n+IPD,2:z!CLOSED\r\n"
    );
    assert_eq!(b.closes.len(), 2);
}

#[test]
fn reset_drops_links_silently() {
    let mut b = connected_single();
    let socket = b.last_socket();
    b.typed(b"AT+RST\r\n");
    assert_eq!(b.closes, [socket]);
    // The plain AT+CWJAP saved the AP, so the module joins again by itself.
    assert!(b
        .settle()
        .ends_with(b"ready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n"));
    // Late events from the old socket are ignored.
    assert_eq!(
        b.net(NetEvent::Received {
            socket,
            data: b"x".to_vec()
        }),
        b""
    );
    assert_eq!(
        b.run(b"AT+CIPSTATUS\r\n"),
        b"AT+CIPSTATUS\r\nSTATUS:2\r\n\r\nOK\r\n"
    );
}

proptest! {
    #[test]
    fn no_input_makes_it_panic(chunks in proptest::collection::vec(
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..40)
    ) {
        let mut config = lab_config();
        config.faults.reset_at_command = Some(7);
        let mut fw = Firmware::new(config);
        let mut timers = Vec::new();
        for (pick, bytes) in chunks {
            let input = match pick % 8 {
                0 => Input::Net(NetEvent::Connected { socket: u64::from(pick % 3), local: "127.0.0.1:5".parse().unwrap(), peer: "127.0.0.1:6".parse().unwrap() }),
                1 => Input::Net(NetEvent::Received { socket: u64::from(pick % 3), data: bytes }),
                2 => Input::Net(NetEvent::Closed { socket: u64::from(pick % 3) }),
                3 => Input::Net(NetEvent::Sent { socket: u64::from(pick % 3) }),
                4 => match timers.pop() { Some(t) => Input::Timer(t), None => Input::Serial(bytes) },
                _ => Input::Serial(bytes),
            };
            for effect in fw.input(input) {
                if let Effect::Wake { timer, .. } = effect {
                    timers.push(timer);
                }
            }
        }
    }

    #[test]
    fn command_like_input_never_panics(lines in proptest::collection::vec("AT\\+[A-Z_]{0,12}(=[-0-9\",\\\\A-Za-z]{0,20}|\\?|=\\?)?\r\n", 0..20)) {
        let mut b = Bench::lab().joined();
        for line in lines {
            b.typed(line.as_bytes());
            b.settle();
        }
    }
}
