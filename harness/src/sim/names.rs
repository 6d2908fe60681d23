//! The lab's DNS as the virtual module sees it: [`NameMap`], host patterns
//! (`*.iot-as-mqtt.*.aliyuncs.com`, exact names, literal IPs) to loopback addresses, so the
//! seeds' real cloud host names reach the local broker and nothing else is ever contacted.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::error::ConfigProblem;

/// Where a name goes: an address (the port of the `AT+CIPSTART` is kept) or a full socket
/// address (the port is replaced, e.g. every Aliyun host to the gateway's `127.0.0.7:1883`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Target {
    Socket(SocketAddr),
    Ip(IpAddr),
}

impl Target {
    fn ip(&self) -> IpAddr {
        match self {
            Target::Socket(addr) => addr.ip(),
            Target::Ip(ip) => *ip,
        }
    }

    fn with_port(&self, port: u16) -> SocketAddr {
        match self {
            Target::Socket(addr) => *addr,
            Target::Ip(ip) => SocketAddr::new(*ip, port),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Target::Socket(addr));
        }
        s.parse::<IpAddr>().map(Target::Ip).map_err(|_| ())
    }
}

/// One rule: a host pattern and where it resolves. In a pattern `*` stands for one or more
/// characters other than `.`, so `*.iot-as-mqtt.*.aliyuncs.com` matches
/// `a1b2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com`. Matching ignores ASCII case, as DNS does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameRule {
    pub host: String,
    pub to: Target,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Connect here (always a loopback address).
    Found(SocketAddr),
    /// No rule and not a literal IP: the firmware's DNS failure.
    NotFound,
    /// A literal IP outside 127.0.0.0/8: refused without sending a packet.
    Refused(IpAddr),
}

/// The ordered rules; the first match wins. The default maps `localhost` to 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NameMap {
    pub rules: Vec<NameRule>,
}

impl Default for NameMap {
    fn default() -> Self {
        NameMap {
            rules: vec![NameRule {
                host: "localhost".to_string(),
                to: Target::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            }],
        }
    }
}

/// The cloud endpoints the seeds and the platforms' docs use (`aliyun-onenet.md` §1.3, §2):
/// Alibaba Cloud's legacy and instance hosts, OneNET's MQTT hosts and its published IPs.
pub const CLOUD_HOSTS: &[&str] = &[
    "*.iot-as-mqtt.*.aliyuncs.com",
    "iot-*.mqtt.iothub.aliyuncs.com",
    "mqtts.heclouds.com",
    "mqtt.heclouds.com",
    "studio-mqtt.heclouds.com",
    "183.230.40.39",
    "183.230.40.16",
];

impl NameMap {
    /// Every [`CLOUD_HOSTS`] entry to `gateway` (port included), then `localhost`: what a run
    /// against the local broker gateway needs.
    pub fn cloud(gateway: SocketAddr) -> NameMap {
        let mut map = NameMap::default();
        for host in CLOUD_HOSTS.iter().rev() {
            map.prepend(host, Target::Socket(gateway));
        }
        map
    }

    /// Adds a rule in front of the others, so it wins over the defaults.
    pub fn prepend(&mut self, host: &str, to: Target) {
        self.rules.insert(
            0,
            NameRule {
                host: host.to_string(),
                to,
            },
        );
    }

    /// Parses a `HOST=ADDR` command-line entry (ADDR is `IP` or `IP:PORT`).
    pub fn parse_entry(entry: &str) -> Result<NameRule, ConfigProblem> {
        let bad = || ConfigProblem::MapEntry(entry.to_string());
        let (host, addr) = entry.split_once('=').ok_or_else(bad)?;
        let to = addr.trim().parse::<Target>().map_err(|_| bad())?;
        let rule = NameRule {
            host: host.trim().to_string(),
            to,
        };
        match rule_problem(&rule) {
            Some(problem) => Err(problem),
            None => Ok(rule),
        }
    }

    /// Every rule that points off loopback or has an unusable pattern.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        self.rules.iter().filter_map(rule_problem).collect()
    }

    /// Resolves `host` for a connection to `port`.
    pub fn resolve(&self, host: &str, port: u16) -> Lookup {
        if let Some(rule) = self.rules.iter().find(|r| matches(&r.host, host)) {
            let addr = rule.to.with_port(port);
            return if is_loopback(addr.ip()) {
                Lookup::Found(addr)
            } else {
                Lookup::Refused(addr.ip())
            };
        }
        match host.parse::<IpAddr>() {
            Ok(ip) if is_loopback(ip) => Lookup::Found(SocketAddr::new(ip, port)),
            Ok(ip) => Lookup::Refused(ip),
            Err(_) => Lookup::NotFound,
        }
    }
}

fn rule_problem(rule: &NameRule) -> Option<ConfigProblem> {
    if rule.host.is_empty() || rule.host.contains("**") {
        return Some(ConfigProblem::Pattern(rule.host.clone()));
    }
    if !is_loopback(rule.to.ip()) {
        return Some(ConfigProblem::NotLoopback {
            host: rule.host.clone(),
            target: rule.to.ip(),
        });
    }
    None
}

/// The first address of TEST-NET-3 (RFC 5737's 203.0.113.0/24, reserved for documentation):
/// where the names the map rewrites appear to be.
const APPARENT_NET: [u8; 3] = [203, 0, 113];

/// Where the module believes `host` is: the address its DNS answered, as `AT+CIPDOMAIN`,
/// `AT+CIPSTATUS` and `+IPD` with `AT+CIPDINFO=1` show it. A real module never learns that the
/// lab's DNS sent the name to a loopback port, so the rewrite stays inside the simulator: a
/// literal IP is itself, `localhost` is 127.0.0.1, and any other name gets a made-up public
/// address in 203.0.113.0/24, fixed per name (FNV-1a of the lower-case name, hosts .1 to
/// .254), so a transcript reads the same on every run.
pub fn apparent_ip(host: &str) -> IpAddr {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip;
    }
    if host.eq_ignore_ascii_case("localhost") {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    }
    let mut hash: u32 = 0x811c_9dc5;
    for b in host.bytes() {
        hash ^= u32::from(b.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let [a, b, c] = APPARENT_NET;
    IpAddr::V4(Ipv4Addr::new(a, b, c, 1 + (hash % 254) as u8))
}

/// Only IPv4 loopback is reachable from the sim; everything else is refused.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(_) => false,
    }
}

/// Glob match where `*` is one or more non-`.` characters, ASCII case-insensitive.
fn matches(pattern: &str, host: &str) -> bool {
    fn go(p: &[u8], h: &[u8]) -> bool {
        match p.split_first() {
            None => h.is_empty(),
            Some((b'*', rest)) => {
                let run = h.iter().take_while(|&&c| c != b'.').count();
                (1..=run).any(|n| go(rest, &h[n..]))
            }
            Some((c, rest)) => match h.split_first() {
                Some((d, h_rest)) if c.eq_ignore_ascii_case(d) => go(rest, h_rest),
                _ => false,
            },
        }
    }
    go(pattern.as_bytes(), host.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn lab_map() -> NameMap {
        let mut map = NameMap::default();
        map.prepend(
            "iot-*.mqtt.iothub.aliyuncs.com",
            "127.0.0.7:1883".parse().unwrap(),
        );
        map.prepend(
            "*.iot-as-mqtt.*.aliyuncs.com",
            "127.0.0.7:1883".parse().unwrap(),
        );
        map.prepend("47.102.0.1", "127.0.0.9".parse().unwrap());
        map
    }

    #[rstest]
    #[case("iot-ksf114514.mqtt.iothub.aliyuncs.com", 1883, Lookup::Found("127.0.0.7:1883".parse().unwrap()))]
    #[case("a1b2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com", 443, Lookup::Found("127.0.0.7:1883".parse().unwrap()))]
    #[case("A1B2C3.IOT-AS-MQTT.CN-SHANGHAI.ALIYUNCS.COM", 1883, Lookup::Found("127.0.0.7:1883".parse().unwrap()))]
    #[case("47.102.0.1", 1883, Lookup::Found("127.0.0.9:1883".parse().unwrap()))]
    #[case("localhost", 8080, Lookup::Found("127.0.0.1:8080".parse().unwrap()))]
    #[case("127.3.4.5", 1883, Lookup::Found("127.3.4.5:1883".parse().unwrap()))]
    #[case("8.8.8.8", 53, Lookup::Refused("8.8.8.8".parse().unwrap()))]
    #[case("example.com", 80, Lookup::NotFound)]
    #[case("x.y.iot-as-mqtt.cn-shanghai.aliyuncs.com", 1883, Lookup::NotFound)]
    #[case(".iot-as-mqtt.cn-shanghai.aliyuncs.com", 1883, Lookup::NotFound)]
    #[case("iot-.mqtt.iothub.aliyuncs.com", 1883, Lookup::NotFound)]
    fn resolves(#[case] host: &str, #[case] port: u16, #[case] expected: Lookup) {
        assert_eq!(lab_map().resolve(host, port), expected);
    }

    #[test]
    fn the_cloud_map_sends_every_platform_host_to_the_gateway() {
        let gateway: SocketAddr = "127.0.0.9:1883".parse().unwrap();
        let map = NameMap::cloud(gateway);
        assert!(map.problems().is_empty());
        for host in [
            "a1b2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com",
            "iot-06z00abc.mqtt.iothub.aliyuncs.com",
            "mqtts.heclouds.com",
            "183.230.40.39",
        ] {
            assert_eq!(map.resolve(host, 6002), Lookup::Found(gateway), "{host}");
        }
        assert_eq!(
            map.resolve("localhost", 80),
            Lookup::Found("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(map.resolve("example.com", 80), Lookup::NotFound);
    }

    #[test]
    fn names_appear_at_a_fixed_documentation_address_and_literals_as_themselves() {
        let a = apparent_ip("a1b2c3.iot-as-mqtt.cn-shanghai.aliyuncs.com");
        assert_eq!(
            a,
            apparent_ip("A1B2C3.IOT-AS-MQTT.CN-SHANGHAI.ALIYUNCS.COM")
        );
        let IpAddr::V4(v4) = a else {
            panic!("{a} is not IPv4")
        };
        assert_eq!(v4.octets()[..3], APPARENT_NET);
        assert!((1..=254).contains(&v4.octets()[3]));
        assert_ne!(a, apparent_ip("iot-06z00abc.mqtt.iothub.aliyuncs.com"));
        assert_eq!(
            apparent_ip("183.230.40.39"),
            "183.230.40.39".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            apparent_ip("127.0.0.7"),
            "127.0.0.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(apparent_ip("localhost"), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn off_loopback_targets_are_problems() {
        let mut map = NameMap::default();
        map.prepend("evil.example", "10.0.0.1:1883".parse().unwrap());
        assert!(matches!(
            map.problems().as_slice(),
            [ConfigProblem::NotLoopback { .. }]
        ));
        assert!(NameMap::parse_entry("x=192.168.1.1").is_err());
        assert!(NameMap::parse_entry("x=::1").is_err());
    }

    #[test]
    fn command_line_entries_parse() {
        let rule = NameMap::parse_entry("*.aliyuncs.com=127.0.0.2:1883").unwrap();
        assert_eq!(rule.host, "*.aliyuncs.com");
        assert_eq!(rule.to, Target::Socket("127.0.0.2:1883".parse().unwrap()));
        assert!(NameMap::parse_entry("no-equals-sign").is_err());
        assert!(NameMap::parse_entry("host=not-an-ip").is_err());
    }

    #[test]
    fn yaml_form_reads_both_target_kinds() {
        let map: NameMap = serde_yaml::from_str(
            "- host: a.example\n  to: 127.0.0.5\n- host: b.example\n  to: 127.0.0.6:1883\n",
        )
        .unwrap();
        assert_eq!(
            map.resolve("a.example", 9),
            Lookup::Found("127.0.0.5:9".parse().unwrap())
        );
        assert_eq!(
            map.resolve("b.example", 9),
            Lookup::Found("127.0.0.6:1883".parse().unwrap())
        );
    }
}
