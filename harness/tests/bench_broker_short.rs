//! The broker benchmark's short form: the same code as `cargo bench --bench broker`, with tiny
//! counts, against athil broker and the peers, so the benchmark cannot rot. It asserts only
//! correctness (every message arrived, every device held, every reconnect accounted for),
//! never a time or a rate: speed and memory targets are the benchmark's business (TESTING.md).
//!
//! mosquitto missing is skipped with a printed reason, except under `CI=true`, where it fails.
//! athil broker's cloud-side measurements need `athil broker --cloud-listen`; until this build
//! has it they are skipped with a printed reason.

#[allow(dead_code)]
#[path = "../benches/broker_suite/mod.rs"]
mod broker_suite;

use std::path::PathBuf;

use broker_suite::{BrokerKind, Column, Flow, Outcome, Settings};

/// Why athil broker cannot run the cloud-side measurements yet, if it cannot.
const NO_CLOUD_LISTENER: &str = "has no --cloud-listen yet";

fn assert_all_arrived(column: &Column, what: &str, flow: &Outcome<Flow>, expected: u64) {
    match flow {
        Ok(f) => assert_eq!(
            (f.sent, f.received),
            (expected, expected),
            "{}, {what}: every message sent and received once",
            column.broker.title()
        ),
        Err(why) if column.broker == BrokerKind::Athil && why.contains(NO_CLOUD_LISTENER) => {
            eprintln!("skipped: athil broker, {what}: {why}");
        }
        Err(why) => panic!("{}, {what}: {why}", column.broker.title()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_benchmark_runs_and_every_message_and_device_gets_through() {
    broker_suite::raise_fd_limit().expect("raise the open-files limit");
    let mut settings = Settings::short(PathBuf::from(env!("CARGO_BIN_EXE_athil")));
    if broker_suite::brokers::mosquitto_path().is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("mosquitto is not installed, and CI=true: .ci/run should have installed it");
        }
        eprintln!("skipped: mosquitto is not installed (set CI=true to make this a failure)");
        settings.brokers.retain(|b| *b != BrokerKind::Mosquitto);
    }
    let columns = broker_suite::run(&settings, &|line| eprintln!("{line}"))
        .await
        .expect("the benchmark sets up");
    // The table is the benchmark's output; printing it here shows it still renders.
    println!("{}", broker_suite::print(&columns, &settings));

    for c in &columns {
        let who = c.broker.title();
        assert_eq!(c.skipped, None, "{who} ran");
        for (i, q) in [0, 1].into_iter().enumerate() {
            assert_all_arrived(c, &format!("uplink QoS {q}"), &c.up[i], settings.messages);
            assert_all_arrived(
                c,
                &format!("downlink QoS {q}"),
                &c.down[i],
                settings.messages,
            );
        }
        match &c.first_downlink {
            Ok(f) => assert_eq!(f.arrived, f.repeats, "{who}: every first downlink arrived"),
            Err(why) if c.broker == BrokerKind::Athil && why.contains(NO_CLOUD_LISTENER) => {
                eprintln!("skipped: athil broker, first downlink: {why}");
            }
            Err(why) => panic!("{who}, first downlink: {why}"),
        }
        match &c.rss {
            Ok(r) => {
                assert_all_arrived(c, "RSS run up", &Ok(r.up.clone()), settings.rss_messages);
                assert_all_arrived(
                    c,
                    "RSS run down",
                    &Ok(r.down.clone()),
                    settings.rss_messages,
                );
                assert!(r.before > 0 && r.after > 0, "{who}: RSS read");
            }
            Err(why) if c.broker == BrokerKind::Athil && why.contains(NO_CLOUD_LISTENER) => {
                eprintln!("skipped: athil broker, RSS run: {why}");
            }
            Err(why) => panic!("{who}, RSS run: {why}"),
        }
        let held = c
            .held
            .as_ref()
            .unwrap_or_else(|why| panic!("{who}, devices held: {why}"));
        assert_eq!(
            (held.accepted, held.held),
            (settings.devices, settings.devices),
            "{who}: every device got CONNACK 0 and was still up ({:?})",
            held.first_problem
        );
        assert!(held.rss > 0, "{who}: RSS read while holding the devices");
        // Lost reconnects are a figure the benchmark reports (issue 7's target is 0), not an
        // assertion here; that every cycle ended one way or the other is.
        let r = c
            .reconnects
            .as_ref()
            .unwrap_or_else(|why| panic!("{who}, reconnects: {why}"));
        assert_eq!(
            r.ok + r.lost + r.failed,
            settings.reconnects,
            "{who}: every cycle counted"
        );
    }
}
