//! What the firmware remembers: [`Flash`] (survives `AT+RST`), [`Session`] (this boot: echo,
//! Wi-Fi, mux, links) and one open TCP [`Link`].

use std::net::{Ipv4Addr, SocketAddr};

use super::{Firmware, SocketId};
use crate::sim::config::SimConfig;

/// How many links the firmware has (`at_customLinkMax = 5`; ids 0..4).
pub const LINKS: usize = 5;

/// Saved credentials of the last `AT+CWJAP_DEF` (or NonOS's plain `AT+CWJAP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedJoin {
    pub ssid: String,
    pub password: String,
}

/// The module's own access point (`AT+CWSAP`), used in soft-AP modes 2 and 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftAp {
    pub ssid: String,
    pub password: String,
    pub channel: i64,
    /// 0 open, 2 WPA-PSK, 3 WPA2-PSK, 4 WPA/WPA2-PSK.
    pub ecn: i64,
    pub max_conn: i64,
    pub hidden: i64,
}

impl SoftAp {
    /// The factory setting: an open `ESP_XXXXXX` network (the soft-AP MAC's last three bytes)
    /// on channel 1 taking four stations.
    pub fn factory(config: &SimConfig) -> SoftAp {
        let tail: String = config.station.ap_mac.split(':').skip(3).collect();
        SoftAp {
            ssid: format!("ESP_{}", tail.to_uppercase()),
            password: String::new(),
            channel: 1,
            ecn: 0,
            max_conn: 4,
            hidden: 0,
        }
    }
}

/// Settings kept in flash across resets.
#[derive(Debug, Clone)]
pub struct Flash {
    pub wifi_mode: u8,
    pub join: Option<SavedJoin>,
    pub autoconn: bool,
    pub baud: u32,
    pub soft_ap: SoftAp,
}

impl Flash {
    pub fn factory(config: &SimConfig) -> Flash {
        Flash {
            wifi_mode: config.wifi_mode,
            join: None,
            autoconn: true,
            baud: config.baud,
            soft_ap: SoftAp::factory(config),
        }
    }
}

/// The station's association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wifi {
    /// No join attempted since boot.
    NeverJoined,
    /// Associated with `access_points[ap]` and holding an IP.
    Joined { ap: usize },
    /// A join failed or the station left.
    Lost,
}

/// One open TCP link.
#[derive(Debug, Clone)]
pub struct Link {
    pub socket: SocketId,
    /// The remote end as the module knows it: for a link it dialled, the address its DNS gave
    /// and the port it asked for (never the loopback target of the name map).
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub kind: super::LinkKind,
    /// A client of the module's TCP server (`<tetype>` 1 in `+CIPSTATUS`).
    pub accepted: bool,
    pub sent: u64,
    pub received: u64,
    /// Passive receive mode: bytes waiting for `AT+CIPRECVDATA`.
    pub buffer: Vec<u8>,
    /// Passive mode: a `+IPD,<len>` went out and nothing was read since.
    pub announced: bool,
    /// Passive mode: the peer closed but `CLOSED` waits until the buffer is read.
    pub peer_closed: bool,
}

/// What this boot knows; `AT+RST` starts a fresh one from [`Flash`].
#[derive(Debug, Clone)]
pub struct Session {
    pub echo: bool,
    pub wifi_mode: u8,
    pub wifi: Wifi,
    pub mux: bool,
    /// `AT+CIPMODE=1`: `AT+CIPSEND` with no length enters passthrough.
    pub cipmode: bool,
    pub dinfo: bool,
    pub passive: bool,
    pub links: [Option<Link>; LINKS],
    /// The TCP server's port while it listens (`AT+CIPSERVER=1`).
    pub server: Option<u16>,
    /// A link was opened since the join, so `STATUS:4` once all are closed.
    pub had_link: bool,
    pub lap_sort: bool,
    pub lap_mask: u16,
    pub server_timeout: i64,
    pub sleep: i64,
    pub hostname: String,
    /// The AT port's current rate (`AT+UART_CUR`).
    pub baud: u32,
    pub soft_ap: SoftAp,
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub sta_mac: String,
    pub ap_mac: String,
}

impl Session {
    pub fn boot(flash: &Flash, config: &SimConfig) -> Session {
        let mac_tail: String = config
            .station
            .mac
            .split(':')
            .skip(3)
            .collect::<String>()
            .to_uppercase();
        Session {
            echo: config.echo,
            wifi_mode: flash.wifi_mode,
            wifi: Wifi::NeverJoined,
            mux: false,
            cipmode: false,
            dinfo: false,
            passive: false,
            links: Default::default(),
            server: None,
            had_link: false,
            lap_sort: false,
            lap_mask: 0x7FF,
            server_timeout: 180,
            sleep: 2,
            hostname: format!("ESP_{mac_tail}"),
            baud: flash.baud,
            soft_ap: flash.soft_ap.clone(),
            ip: config.station.ip,
            gateway: config.station.gateway,
            netmask: config.station.netmask,
            sta_mac: config.station.mac.to_lowercase(),
            ap_mac: config.station.ap_mac.to_lowercase(),
        }
    }

    pub fn station_enabled(&self) -> bool {
        self.wifi_mode == 1 || self.wifi_mode == 3
    }

    pub fn joined(&self) -> Option<usize> {
        match self.wifi {
            Wifi::Joined { ap } => Some(ap),
            Wifi::NeverJoined | Wifi::Lost => None,
        }
    }

    pub fn link_of(&self, socket: SocketId) -> Option<usize> {
        self.links
            .iter()
            .position(|l| l.as_ref().is_some_and(|l| l.socket == socket))
    }

    pub fn any_link(&self) -> bool {
        self.links.iter().any(Option::is_some)
    }
}

impl Firmware {
    /// `CLOSED` or `<id>,CLOSED` as this mux mode prints it.
    pub(super) fn closed_line(&mut self, id: usize) {
        let line = if self.session.mux {
            format!("{id},CLOSED")
        } else {
            "CLOSED".to_string()
        };
        self.line(&line);
    }

    /// Closes link `id` on the module's side: the socket goes, `CLOSED` is printed.
    pub(super) fn drop_link(&mut self, id: usize) {
        if let Some(link) = self.session.links[id].take() {
            self.passthrough_link_lost(link.socket);
            self.out.push(super::Effect::Close {
                socket: link.socket,
            });
            self.closed_line(id);
        }
    }

    /// The station lost its AP: `WIFI DISCONNECT`, then every link reports `CLOSED`.
    pub(super) fn wifi_lost(&mut self) {
        if self.session.joined().is_some() {
            self.session.wifi = Wifi::Lost;
            self.line("WIFI DISCONNECT");
            for id in 0..LINKS {
                self.drop_link(id);
            }
        }
    }
}
