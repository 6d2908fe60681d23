//! Topic names (what PUBLISH carries) and topic filters (what SUBSCRIBE asks for), checked by
//! the rules of MQTT 3.1.1 §4.7. Shared by the encoder, which refuses bad ones, and the
//! decoder, which reports them.

use std::fmt;

/// Why a topic name or filter is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicError {
    /// Topic names and filters must be at least one character long.
    Empty,
    /// A wildcard in a topic name (only filters may hold `+` and `#`).
    WildcardInName { index: usize, wildcard: char },
    /// `#` that is not the whole last level of a filter (`a/b#`, `a/#/b`).
    MisplacedHash { index: usize },
    /// `+` that does not fill a whole level (`a+/b`).
    MisplacedPlus { index: usize },
    /// U+0000, which no MQTT string may contain.
    Nul { index: usize },
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::Empty => f.write_str("it is empty; topics have at least one character"),
            TopicError::WildcardInName { index, wildcard } => write!(
                f,
                "it holds the wildcard '{wildcard}' at character {index}; only subscriptions \
                 may use wildcards"
            ),
            TopicError::MisplacedHash { index } => write!(
                f,
                "'#' at character {index} must be the whole last level (`a/#`)"
            ),
            TopicError::MisplacedPlus { index } => write!(
                f,
                "'+' at character {index} must fill a whole level (`a/+/b`)"
            ),
            TopicError::Nul { index } => write!(f, "it holds U+0000 at character {index}"),
        }
    }
}

/// A topic name a PUBLISH may carry: non-empty, no wildcards, no U+0000.
pub fn check_topic_name(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    // `+`, `#` and U+0000 are ASCII, never part of a longer UTF-8 sequence, so a byte scan
    // finds the first of them; characters are counted only for the error. Every PUBLISH is
    // checked when it is read and again when it is written, and decoding characters for it
    // was a measurable share of a flood's CPU.
    let Some(at) = memchr::memchr3(b'+', b'#', 0, topic.as_bytes()) else {
        return Ok(());
    };
    let index = topic[..at].chars().count();
    match topic.as_bytes()[at] {
        0 => Err(TopicError::Nul { index }),
        b => Err(TopicError::WildcardInName {
            index,
            wildcard: char::from(b),
        }),
    }
}

/// A topic filter a SUBSCRIBE or UNSUBSCRIBE may carry: `+` fills a level, `#` is the last.
pub fn check_topic_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    let chars: Vec<char> = filter.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        let level_starts = index == 0 || chars[index - 1] == '/';
        let level_ends = index + 1 == chars.len() || chars[index + 1] == '/';
        match c {
            '\0' => return Err(TopicError::Nul { index }),
            '#' if !(level_starts && index + 1 == chars.len()) => {
                return Err(TopicError::MisplacedHash { index })
            }
            '+' if !(level_starts && level_ends) => {
                return Err(TopicError::MisplacedPlus { index })
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/sys/a1ndPQHcX7f/device2/thing/event/property/post")]
    #[case("/a1ji0qFv6Jf/STC15/user/temp")]
    #[case("/")]
    #[case(" ")]
    fn valid_names(#[case] t: &str) {
        assert_eq!(check_topic_name(t), Ok(()));
    }

    #[rstest]
    #[case("", TopicError::Empty)]
    #[case("a/+/b", TopicError::WildcardInName { index: 2, wildcard: '+' })]
    #[case("a/#", TopicError::WildcardInName { index: 2, wildcard: '#' })]
    #[case("a\0", TopicError::Nul { index: 1 })]
    // The index counts characters, not bytes.
    #[case("温度/+", TopicError::WildcardInName { index: 3, wildcard: '+' })]
    #[case("é\0", TopicError::Nul { index: 1 })]
    fn invalid_names(#[case] t: &str, #[case] e: TopicError) {
        assert_eq!(check_topic_name(t), Err(e));
    }

    #[rstest]
    #[case("/sys/a1ndPQHcX7f/device2/thing/service/property/set")]
    #[case("#")]
    #[case("+")]
    #[case("a/+/b/#")]
    #[case("+/+")]
    #[case("/+/")]
    fn valid_filters(#[case] t: &str) {
        assert_eq!(check_topic_filter(t), Ok(()));
    }

    #[rstest]
    #[case("", TopicError::Empty)]
    #[case("a/b#", TopicError::MisplacedHash { index: 3 })]
    #[case("a/#/b", TopicError::MisplacedHash { index: 2 })]
    #[case("a+/b", TopicError::MisplacedPlus { index: 1 })]
    #[case("a/+b", TopicError::MisplacedPlus { index: 2 })]
    fn invalid_filters(#[case] t: &str, #[case] e: TopicError) {
        assert_eq!(check_topic_filter(t), Err(e));
    }
}
