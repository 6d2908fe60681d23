//! A benchmark peer, not part of the impersonation: plain rumqttd on a fixed address with a v4
//! TCP listener, no gateway and no auth, with the embedded router's settings
//! ([`super::rumqttd`]'s `config`). `cargo bench --bench broker` runs it as a child process
//! (`athil bench-peer rumqttd --listen ADDR`) so athil broker's figures have a baseline of the
//! broker it embeds. Main item: [`serve_plain_rumqttd`].

use std::collections::HashMap;
use std::net::SocketAddr;

use super::error::BrokerError;

/// Runs rumqttd on `listen` on this thread until the process ends. It returns only if rumqttd
/// stops by itself (it could not bind, or its server thread ended), with the reason.
pub fn serve_plain_rumqttd(listen: SocketAddr) -> BrokerError {
    let mut broker = rumqttd::Broker::new(config(listen));
    let why = match broker.start() {
        Ok(()) => "its server thread ended (could it bind the port?)".to_owned(),
        Err(e) => e.to_string(),
    };
    BrokerError::PlainRumqttd {
        addr: listen,
        reason: why,
    }
}

/// The embedded router's configuration plus the one thing the embedded rumqttd has not: a v4
/// listener. Its connection settings are those the embedded one had while it listened (the
/// gateway, not rumqttd, plays the cloud's limits).
fn config(listen: SocketAddr) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: 1024 * 1024,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "bench-plain".to_owned(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    rumqttd::Config {
        v4: Some(HashMap::from([("bench-plain".to_owned(), server)])),
        ..super::rumqttd::config()
    }
}
