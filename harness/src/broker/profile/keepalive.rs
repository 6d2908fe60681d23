//! The keepalive rules of §2.4 as a decision: [`decide`] takes the keepalive a CONNECT asks
//! for and says whether the cloud refuses it, accepts it, or accepts it capped; [`idle_limit`]
//! is how long a device may stay silent before the server closes its link.

use std::time::Duration;

use super::config::{AboveMax, Keepalive};

/// What the cloud makes of a CONNECT's keepalive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted; `effective` is what the server's timer uses, `note` says why it differs.
    Accept {
        effective: u16,
        note: Option<String>,
    },
    /// Refused with CONNACK `code`.
    Refuse { code: u8, detail: String },
}

pub fn decide(rules: &Keepalive, asked: u16) -> Verdict {
    if asked < rules.min {
        return Verdict::Refuse {
            code: rules.out_of_range_code,
            detail: format!(
                "keepalive {asked} s is below Alibaba Cloud's minimum of {} s",
                rules.min
            ),
        };
    }
    if asked > rules.max {
        return match rules.above_max {
            AboveMax::Refuse => Verdict::Refuse {
                code: rules.out_of_range_code,
                detail: format!(
                    "keepalive {asked} s is above Alibaba Cloud's maximum of {} s",
                    rules.max
                ),
            },
            AboveMax::Cap => Verdict::Accept {
                effective: rules.max,
                note: Some(format!(
                    "keepalive {asked} s is above Alibaba Cloud's maximum of {max} s; the \
                     server treats it as {max} s (Link SDK 4: the server overrides it)",
                    max = rules.max
                )),
            },
        };
    }
    Verdict::Accept {
        effective: asked,
        note: None,
    }
}

/// `factor` × keepalive, or `None` when the timer is off or the keepalive is 0 ("none").
pub fn idle_limit(rules: &Keepalive, effective: u16) -> Option<Duration> {
    if !rules.enforce || effective == 0 {
        return None;
    }
    Duration::try_from_secs_f64(f64::from(effective) * rules.timeout_factor).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_window() {
        let rules = Keepalive::default();
        assert!(matches!(
            decide(&rules, 10),
            Verdict::Refuse { code: 3, .. }
        ));
        assert!(matches!(decide(&rules, 0), Verdict::Refuse { code: 3, .. }));
        assert_eq!(
            decide(&rules, 30),
            Verdict::Accept {
                effective: 30,
                note: None
            }
        );
        let Verdict::Accept { effective, note } = decide(&rules, 5000) else {
            panic!("refused keepalive 5000")
        };
        assert_eq!(effective, 1200);
        assert!(note.is_some_and(|n| n.contains("5000 s") && n.contains("1200 s")));
    }

    #[test]
    fn refusing_above_the_maximum_is_a_switch() {
        let rules = Keepalive {
            above_max: AboveMax::Refuse,
            ..Keepalive::default()
        };
        assert!(matches!(
            decide(&rules, 1201),
            Verdict::Refuse { code: 3, .. }
        ));
    }

    #[test]
    fn the_idle_limit_is_one_and_a_half_keepalives() {
        let rules = Keepalive::default();
        assert_eq!(idle_limit(&rules, 100), Some(Duration::from_secs(150)));
        assert_eq!(idle_limit(&rules, 0), None);
        let off = Keepalive {
            enforce: false,
            ..Keepalive::default()
        };
        assert_eq!(idle_limit(&off, 100), None);
    }
}
