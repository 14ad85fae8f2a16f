//! Outbound compliance (E2): the checks every outbound call passes before it is dialed, in
//! this order, the first refusal naming its rule:
//!
//! 1. the number is E.164;
//! 2. the do-not-call list (exact numbers; nobody may call them, whatever else says);
//! 3. the agent's personal allow list (prefixes) lets the number through the company lists;
//! 4. the company block list (prefixes);
//! 5. the company allow list (prefixes): when it has entries, only they may be called;
//! 6. the country allow list (country codes): when it has entries, only those countries;
//! 7. restricted destinations (prefixes) need the PIN.

use crate::call::is_e164;
use crate::Error;
use serde::{Deserialize, Serialize};

/// The compliance lists kept in the database and managed through the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    /// Do-not-call: exact numbers.
    Dnc,
    /// Company block list: prefixes.
    Block,
    /// Company allow list: prefixes.
    Allow,
    /// Country allow list: country calling codes (`+32`).
    Countries,
    /// An agent's personal allow list: prefixes.
    Personal,
}

impl List {
    /// Parses a list's name as used in the API path.
    pub fn parse(s: &str) -> Option<List> {
        match s {
            "dnc" => Some(List::Dnc),
            "block" => Some(List::Block),
            "allow" => Some(List::Allow),
            "countries" => Some(List::Countries),
            "personal" => Some(List::Personal),
            _ => None,
        }
    }

    /// The list's name.
    pub fn as_str(self) -> &'static str {
        match self {
            List::Dnc => "dnc",
            List::Block => "block",
            List::Allow => "allow",
            List::Countries => "countries",
            List::Personal => "personal",
        }
    }

    /// Checks an entry's form: full numbers for do-not-call, country codes (1 to 3 digits)
    /// for countries, prefixes (1 to 15 digits) otherwise.
    pub fn validate(self, entry: &str) -> Result<(), Error> {
        let digits = entry.strip_prefix('+').unwrap_or("");
        let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        let ok = match self {
            List::Dnc => is_e164(entry),
            List::Countries => all_digits && digits.len() <= 3,
            List::Block | List::Allow | List::Personal => all_digits && digits.len() <= 15,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidNumber(entry.to_owned()))
        }
    }
}

/// The rule that refused an outbound call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The number is on the do-not-call list.
    Dnc,
    /// The number matches the company block list.
    Block,
    /// The company allow list has entries and none matches.
    Allow,
    /// The country is not on the country allow list.
    Country,
    /// A restricted destination, and no PIN or the wrong one.
    Pin,
}

impl Rule {
    /// The API's error code for this refusal.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Dnc => "compliance_dnc",
            Rule::Block => "compliance_block",
            Rule::Allow => "compliance_allow",
            Rule::Country => "compliance_country",
            Rule::Pin => "compliance_pin",
        }
    }
}

/// Everything the checks read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Do-not-call numbers.
    pub dnc: Vec<String>,
    /// Blocked prefixes.
    pub block: Vec<String>,
    /// Allowed prefixes (empty: no company allow list).
    pub allow: Vec<String>,
    /// Allowed country codes (empty: every country).
    pub countries: Vec<String>,
    /// The dialing agent's personal allow list.
    pub personal: Vec<String>,
    /// Prefixes that need the PIN.
    pub restricted: Vec<String>,
    /// The PIN for restricted destinations (none configured: they cannot be called).
    pub pin: Option<String>,
}

fn matches_any(number: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| number.starts_with(p.as_str()))
}

/// Checks an outbound call to `number`, with the PIN the agent gave if any.
pub fn check(rules: &Rules, number: &str, pin: Option<&str>) -> Result<(), Error> {
    if !is_e164(number) {
        return Err(Error::InvalidNumber(number.to_owned()));
    }
    let refuse = |rule| Err(Error::Compliance(rule, number.to_owned()));
    if rules.dnc.iter().any(|n| n == number) {
        return refuse(Rule::Dnc);
    }
    if !matches_any(number, &rules.personal) {
        if matches_any(number, &rules.block) {
            return refuse(Rule::Block);
        }
        if !rules.allow.is_empty() && !matches_any(number, &rules.allow) {
            return refuse(Rule::Allow);
        }
    }
    if !rules.countries.is_empty() && !matches_any(number, &rules.countries) {
        return refuse(Rule::Country);
    }
    if matches_any(number, &rules.restricted)
        && (rules.pin.is_none() || rules.pin.as_deref() != pin)
    {
        return refuse(Rule::Pin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn refused(rules: &Rules, n: &str, pin: Option<&str>) -> Option<Rule> {
        match check(rules, n, pin) {
            Ok(()) => None,
            Err(Error::Compliance(rule, _)) => Some(rule),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn each_rule_refuses_and_names_itself() {
        let rules = Rules {
            dnc: s(&["+15550001"]),
            block: s(&["+1900"]),
            allow: s(&["+1", "+32"]),
            countries: s(&["+1", "+32", "+44"]),
            personal: s(&["+44207"]),
            restricted: s(&["+3290"]),
            pin: Some("4321".into()),
        };
        assert_eq!(refused(&rules, "+15550001", None), Some(Rule::Dnc));
        assert_eq!(refused(&rules, "+19005550000", None), Some(Rule::Block));
        assert_eq!(
            refused(&rules, "+4420300000", None),
            Some(Rule::Allow),
            "44 is no company-allowed prefix"
        );
        assert_eq!(
            refused(&rules, "+44207000000", None),
            None,
            "but the personal allow list lets it through"
        );
        assert_eq!(refused(&rules, "+3290123456", None), Some(Rule::Pin));
        assert_eq!(
            refused(&rules, "+3290123456", Some("0000")),
            Some(Rule::Pin)
        );
        assert_eq!(refused(&rules, "+3290123456", Some("4321")), None);
        assert_eq!(refused(&rules, "+15551112222", None), None);
        let countries_only = Rules {
            countries: s(&["+32"]),
            ..Rules::default()
        };
        assert_eq!(
            refused(&countries_only, "+15551112222", None),
            Some(Rule::Country)
        );
        assert!(matches!(
            check(&rules, "5551112222", None),
            Err(Error::InvalidNumber(_))
        ));
    }

    #[test]
    fn the_personal_allow_list_never_overrides_do_not_call() {
        let rules = Rules {
            dnc: s(&["+15550001"]),
            personal: s(&["+1555"]),
            ..Rules::default()
        };
        assert_eq!(refused(&rules, "+15550001", None), Some(Rule::Dnc));
    }

    #[test]
    fn list_entries_are_checked_for_their_form() {
        assert!(List::Dnc.validate("+15550001").is_ok());
        assert!(
            List::Dnc.validate("+1").is_err(),
            "do-not-call takes whole numbers"
        );
        assert!(List::Countries.validate("+32").is_ok());
        assert!(List::Countries.validate("+3212").is_err());
        assert!(List::Block.validate("+1900").is_ok());
        assert!(List::Block.validate("1900").is_err());
        assert_eq!(List::parse("countries"), Some(List::Countries));
        assert_eq!(List::parse("friends"), None);
    }
}
