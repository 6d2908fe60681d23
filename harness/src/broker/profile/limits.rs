//! The size and count limits of §2.7 as checks: [`check_topic`] for a PUBLISH topic or a
//! SUBSCRIBE filter, [`check_payload`] for a PUBLISH body. Each returns why it fails, worded
//! for the drop or refusal it causes.

use super::config::Limits;

/// Topic length (bytes) and levels (`/` count, outside `/sys/`).
pub fn check_topic(limits: &Limits, topic: &str) -> Result<(), String> {
    if topic.len() > limits.max_topic_length {
        return Err(format!(
            "{topic} is {} bytes long; the cloud allows {} (§2.7)",
            topic.len(),
            limits.max_topic_length
        ));
    }
    // Bytes, not `matches('/')`: this runs for every PUBLISH and the byte count vectorizes.
    let levels = topic.bytes().filter(|&b| b == b'/').count();
    if levels > limits.max_topic_levels && !topic.starts_with("/sys/") {
        return Err(format!(
            "{topic} has {levels} levels (`/`); the cloud allows {} (§2.7)",
            limits.max_topic_levels
        ));
    }
    Ok(())
}

/// PUBLISH payload size.
pub fn check_payload(limits: &Limits, topic: &str, len: usize) -> Result<(), String> {
    if len > limits.max_payload {
        return Err(format!(
            "the PUBLISH to {topic} carries {len} bytes; the cloud takes at most {} (§2.7)",
            limits.max_payload
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::seed_post("/sys/a1ndPQHcX7f/device2/thing/event/property/post", true)]
    #[case::batch_post_exempt("/sys/pk/dn/thing/event/property/batch/post", true)]
    #[case::seven_levels("/pk/dn/user/a/b/c/d", true)]
    #[case::eight_levels("/pk/dn/user/a/b/c/d/e", false)]
    fn levels(#[case] topic: &str, #[case] ok: bool) {
        assert_eq!(
            check_topic(&Limits::default(), topic).is_ok(),
            ok,
            "{topic}"
        );
    }

    #[test]
    fn length_is_counted_in_bytes() {
        let limits = Limits::default();
        let at_limit = format!("/{}", "a".repeat(127));
        assert!(check_topic(&limits, &at_limit).is_ok());
        let why = check_topic(&limits, &format!("{at_limit}b")).unwrap_err();
        assert!(why.contains("129 bytes"), "{why}");
        // Two bytes per character: 65 characters are 130 bytes.
        assert!(check_topic(&limits, &"é".repeat(65)).is_err());
    }

    #[test]
    fn payload_limit_is_256_kb() {
        let limits = Limits::default();
        assert!(check_payload(&limits, "/t", 256 * 1024).is_ok());
        assert!(check_payload(&limits, "/t", 256 * 1024 + 1).is_err());
    }
}
