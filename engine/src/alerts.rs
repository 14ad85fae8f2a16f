//! Keyword alerts (J4): phrases a queue watches for in its calls' live transcript, each with a
//! severity, and the rule that says whether a final segment contains one.
//!
//! Matching works on words, not characters: both the phrase and the transcript are cut into
//! lower-case words, anything that is neither a letter nor a digit separating them (an
//! apostrophe inside a word is dropped, so "don't" and "dont" are one word). A phrase matches
//! where its words appear in a row: "cancel my account" is found in "I want to CANCEL my
//! account." but "cancel" is not found in "cancelled".
//!
//! A transcriber commits a sentence in pieces (the words two decodes agree on become final
//! first), so a phrase may straddle two finals of the same leg: an [`AlertScanner`] per leg
//! keeps the last words of the previous final and reports a phrase once, with the final that
//! completes it.

use serde::{Deserialize, Serialize};

/// Most alerts a queue may have.
pub const MAX_ALERTS: usize = 50;
/// Longest phrase, in characters.
pub const MAX_PHRASE_CHARS: usize = 100;
/// Most words in a phrase.
pub const MAX_PHRASE_WORDS: usize = 10;

/// Longest supervisor alert text (`queue.alert`), in characters.
pub const MAX_ALERT_TEXT_CHARS: usize = 500;

/// The words of an alert raised to a queue's supervisors (by an extension such as an SLA
/// watcher), trimmed: 1 to [`MAX_ALERT_TEXT_CHARS`] characters, no control characters.
pub fn supervisor_alert_text(text: &str) -> Result<&str, crate::Error> {
    let text = text.trim();
    let refuse = |why: &str| Err(crate::Error::InvalidAlert(why.to_owned()));
    if text.is_empty() {
        return refuse("the text is empty");
    }
    if text.chars().count() > MAX_ALERT_TEXT_CHARS {
        return refuse("the text is longer than 500 characters");
    }
    if text.chars().any(char::is_control) {
        return refuse("the text has control characters");
    }
    Ok(text)
}

/// How urgent an alert is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth a look (the default).
    #[default]
    Warning,
    /// Worth stepping in.
    Critical,
}

impl Severity {
    /// Its name, as the configuration and the API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One phrase a queue watches for (`[[queues.alerts]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// The words to look for, as the configuration wrote them.
    pub phrase: String,
    /// How urgent (default `warning`).
    #[serde(default)]
    pub severity: Severity,
}

/// Why a queue's alerts are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlertRuleError {
    /// A phrase without a single word (empty, blank or only punctuation).
    #[error("alert phrase {0:?} has no words")]
    Empty(String),
    /// A phrase longer than [`MAX_PHRASE_CHARS`].
    #[error("alert phrase {0:?} is longer than {MAX_PHRASE_CHARS} characters")]
    TooLong(String),
    /// A phrase of more than [`MAX_PHRASE_WORDS`] words.
    #[error("alert phrase {0:?} has more than {MAX_PHRASE_WORDS} words")]
    TooManyWords(String),
    /// More than [`MAX_ALERTS`] alerts.
    #[error("{0} alerts: at most {MAX_ALERTS} per queue")]
    TooMany(usize),
    /// Two phrases with the same words.
    #[error("alert phrases {0:?} and {1:?} are the same words")]
    Duplicate(String, String),
}

/// Cuts `text` into the words alerts are matched on: lower case, split at anything that is
/// not a letter or a digit, apostrophes inside words dropped.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if matches!(c, '\'' | '\u{2019}') && !word.is_empty() {
            // "don't" is one word; a quote before a word is nothing.
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A queue's alerts, checked and ready to match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alerts {
    rules: Vec<(AlertRule, Vec<String>)>,
    /// The most words in any phrase.
    longest: usize,
}

impl Alerts {
    /// Checks a queue's alerts: each phrase has 1 to [`MAX_PHRASE_WORDS`] words and at most
    /// [`MAX_PHRASE_CHARS`] characters, no two phrases are the same words, at most
    /// [`MAX_ALERTS`] of them.
    pub fn new(rules: &[AlertRule]) -> Result<Alerts, AlertRuleError> {
        if rules.len() > MAX_ALERTS {
            return Err(AlertRuleError::TooMany(rules.len()));
        }
        let mut checked: Vec<(AlertRule, Vec<String>)> = Vec::with_capacity(rules.len());
        for r in rules {
            if r.phrase.chars().count() > MAX_PHRASE_CHARS {
                return Err(AlertRuleError::TooLong(r.phrase.clone()));
            }
            let w = words(&r.phrase);
            if w.is_empty() {
                return Err(AlertRuleError::Empty(r.phrase.clone()));
            }
            if w.len() > MAX_PHRASE_WORDS {
                return Err(AlertRuleError::TooManyWords(r.phrase.clone()));
            }
            if let Some((other, _)) = checked.iter().find(|(_, o)| *o == w) {
                return Err(AlertRuleError::Duplicate(
                    other.phrase.clone(),
                    r.phrase.clone(),
                ));
            }
            checked.push((r.clone(), w));
        }
        let longest = checked.iter().map(|(_, w)| w.len()).max().unwrap_or(0);
        Ok(Alerts {
            rules: checked,
            longest,
        })
    }

    /// Whether there is nothing to watch for.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The alerts, in configuration order.
    pub fn rules(&self) -> impl Iterator<Item = &AlertRule> {
        self.rules.iter().map(|(r, _)| r)
    }

    /// The alerts whose phrase `text` contains, in configuration order, each once.
    pub fn find(&self, text: &str) -> Vec<&AlertRule> {
        AlertScanner::default().scan(self, text)
    }
}

/// One leg's alert matching across its successive finals (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertScanner {
    /// The last words of the previous finals: at most the longest phrase less one.
    tail: Vec<String>,
}

impl AlertScanner {
    /// The alerts completed by the leg's next final `text`, in configuration order, each
    /// once: a phrase in `text`, or begun by the previous finals' last words and ended in
    /// `text`. A phrase already reported is not reported again for the same words.
    pub fn scan<'a>(&mut self, alerts: &'a Alerts, text: &str) -> Vec<&'a AlertRule> {
        let new = words(text);
        let carried = self.tail.len();
        let mut all = std::mem::take(&mut self.tail);
        all.extend(new);
        let found = alerts
            .rules
            .iter()
            .filter(|(_, phrase)| {
                all.windows(phrase.len())
                    .enumerate()
                    .any(|(i, w)| i + phrase.len() > carried && w == phrase.as_slice())
            })
            .map(|(r, _)| r)
            .collect();
        let keep = alerts.longest.saturating_sub(1);
        self.tail = all.split_off(all.len().saturating_sub(keep));
        found
    }

    /// Forgets the previous finals (the leg paused: what comes next is not the same
    /// sentence).
    pub fn reset(&mut self) {
        self.tail.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supervisor_alert_has_words_a_bounded_length_and_no_control_characters() {
        assert_eq!(
            supervisor_alert_text("  support: 95 s wait \n"),
            Ok("support: 95 s wait")
        );
        for bad in [
            "",
            "   ",
            "one\u{7}bell",
            &"x".repeat(MAX_ALERT_TEXT_CHARS + 1),
        ] {
            let e = supervisor_alert_text(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_alert", "{bad:?}");
        }
        assert!(supervisor_alert_text(&"é".repeat(MAX_ALERT_TEXT_CHARS)).is_ok());
    }

    fn rule(phrase: &str, severity: Severity) -> AlertRule {
        AlertRule {
            phrase: phrase.into(),
            severity,
        }
    }

    fn phrases<'a>(found: &[&'a AlertRule]) -> Vec<&'a str> {
        found.iter().map(|r| r.phrase.as_str()).collect()
    }

    #[test]
    fn words_ignore_case_and_punctuation_and_keep_contractions_whole() {
        assert_eq!(
            words("I want to CANCEL my account."),
            ["i", "want", "to", "cancel", "my", "account"]
        );
        assert_eq!(words("Don't—'stop', now!"), ["dont", "stop", "now"]);
        assert_eq!(
            words("e-mail 1,000 Ünïcode"),
            ["e", "mail", "1", "000", "ünïcode"]
        );
        assert!(words(" ... !? ").is_empty());
    }

    #[test]
    fn a_phrase_matches_whole_words_in_a_row() {
        let alerts = Alerts::new(&[
            rule("cancel my account", Severity::Warning),
            rule("cancel", Severity::Info),
            rule("Manager!", Severity::Critical),
        ])
        .unwrap();
        assert_eq!(
            phrases(&alerts.find("I want to CANCEL my account.")),
            ["cancel my account", "cancel"]
        );
        // Not inside a longer word, not with words between.
        assert!(alerts.find("I cancelled it").is_empty());
        assert!(alerts.find("cancellation of my account").is_empty());
        assert_eq!(phrases(&alerts.find("cancel, uh, my account")), ["cancel"]);
        // Punctuation and case are nothing; each alert once however often it is said.
        assert_eq!(
            phrases(&alerts.find("Your MANAGER, please. A manager!")),
            ["Manager!"]
        );
        assert!(alerts.find("").is_empty());
        assert!(Alerts::default().find("cancel my account").is_empty());
    }

    #[test]
    fn a_phrase_split_between_two_finals_is_found_once_with_the_second() {
        let alerts = Alerts::new(&[rule("cancel my account", Severity::Warning)]).unwrap();
        let mut leg = AlertScanner::default();
        assert!(leg.scan(&alerts, "I want to cancel").is_empty());
        assert_eq!(
            phrases(&leg.scan(&alerts, "my account.")),
            ["cancel my account"]
        );
        // The same words are not reported again by the next final.
        assert!(leg.scan(&alerts, "today").is_empty());
        // Said again: reported again.
        assert!(leg.scan(&alerts, "Cancel my").is_empty());
        assert_eq!(
            phrases(&leg.scan(&alerts, "account!")),
            ["cancel my account"]
        );
        // A pause in between: not the same sentence.
        assert!(leg.scan(&alerts, "cancel my").is_empty());
        leg.reset();
        assert!(leg.scan(&alerts, "account").is_empty());
        // An empty final keeps what came before.
        assert!(leg.scan(&alerts, "cancel").is_empty());
        assert!(leg.scan(&alerts, "...").is_empty());
        assert_eq!(
            phrases(&leg.scan(&alerts, "my account")),
            ["cancel my account"]
        );
    }

    #[test]
    fn the_scanner_keeps_no_more_than_the_longest_phrase_needs() {
        let alerts = Alerts::new(&[rule("a b c", Severity::Info)]).unwrap();
        let mut leg = AlertScanner::default();
        leg.scan(&alerts, "one two three four five six");
        assert_eq!(leg.tail, ["five", "six"]);
        let single = Alerts::new(&[rule("refund", Severity::Info)]).unwrap();
        let mut leg = AlertScanner::default();
        assert!(leg.scan(&single, "a refund").len() == 1);
        assert!(leg.tail.is_empty());
    }

    #[test]
    fn bad_alerts_are_refused_naming_the_phrase() {
        let err = |rules: &[AlertRule]| Alerts::new(rules).unwrap_err().to_string();
        assert!(err(&[rule("  ", Severity::Info)]).contains("has no words"));
        assert!(err(&[rule("?!", Severity::Info)]).contains("\"?!\" has no words"));
        assert!(err(&[rule(&"x".repeat(101), Severity::Info)]).contains("longer than 100"));
        assert!(
            err(&[rule("a b c d e f g h i j k", Severity::Info)]).contains("more than 10 words")
        );
        assert!(err(&[
            rule("Cancel my account", Severity::Info),
            rule("cancel, my ACCOUNT", Severity::Critical)
        ])
        .contains("are the same words"));
        let many: Vec<AlertRule> = (0..51)
            .map(|i| rule(&format!("word{i}"), Severity::Info))
            .collect();
        assert!(err(&many).contains("at most 50"));
        assert!(Alerts::new(&many[..50]).is_ok());
        assert!(Alerts::new(&[rule(&"x".repeat(100), Severity::Info)]).is_ok());
    }

    #[test]
    fn severities_read_and_write_in_lower_case_and_default_to_warning() {
        let r: AlertRule = serde_json::from_str(r#"{"phrase":"refund"}"#).unwrap();
        assert_eq!(r.severity, Severity::Warning);
        let r: AlertRule =
            serde_json::from_str(r#"{"phrase":"refund","severity":"critical"}"#).unwrap();
        assert_eq!(r.severity, Severity::Critical);
        for s in [Severity::Info, Severity::Warning, Severity::Critical] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(serde_json::from_str::<AlertRule>(r#"{"phrase":"x","severity":"high"}"#).is_err());
        assert!(serde_json::from_str::<AlertRule>(r#"{"phrase":"x","level":"info"}"#).is_err());
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
    }
}
