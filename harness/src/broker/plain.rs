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
    let mut broker = rumqttd::Broker::new(super::rumqttd::config(listen));
    let why = match broker.start() {
        Ok(()) => "its server thread ended (could it bind the port?)".to_owned(),
        Err(e) => e.to_string(),
    };
    BrokerError::RumqttdStart {
        reason: format!("port {}: {why}", listen.port()),
    }
}
