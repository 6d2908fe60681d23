//! A benchmark peer, not part of the impersonation: plain rumqttd on a fixed address with a v4
//! TCP listener, no gateway and no auth, built with the same configuration as the embedded one
//! ([`super::rumqttd`]'s `config`). `cargo bench --bench broker` runs it as a child process
//! (`athil bench-peer rumqttd --listen ADDR`) so athil broker's figures have a baseline of the
//! broker it embeds. Main item: [`serve_plain_rumqttd`].

use std::net::SocketAddr;

use super::error::BrokerError;

/// Runs rumqttd on `listen` on this thread until the process ends. It returns only if rumqttd
/// stops by itself (it could not bind, or its server thread ended), with the reason.
pub fn serve_plain_rumqttd(listen: SocketAddr) -> BrokerError {
    let mut config = super::rumqttd::config();
    config.v4 = Some(std::collections::HashMap::from([(
        "plain".to_owned(),
        server_settings(listen),
    )]));
    let mut broker = rumqttd::Broker::new(config);
    let why = match broker.start() {
        Ok(()) => "its server thread ended (could it bind the port?)".to_owned(),
        Err(e) => e.to_string(),
    };
    BrokerError::PlainRumqttd {
        reason: format!("port {}: {why}", listen.port()),
    }
}

/// One TCP listener with rumqttd's usual connection settings and no auth.
fn server_settings(listen: SocketAddr) -> rumqttd::ServerSettings {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: 1024 * 1024,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    rumqttd::ServerSettings {
        name: "plain".to_owned(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    }
}
