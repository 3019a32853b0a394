//! Countries as ISO 3166-1 alpha-2 codes. Okta names countries ("United States"),
//! GitHub's audit log gives codes ("US"); both normalize to the code, and the rules'
//! suspicious-country list may hold either.
use std::str::FromStr;

/// A known country: its alpha-2 code and a display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    pub name: String,
}

/// The country a code (alpha-2 or alpha-3) or a name stands for, case-insensitively.
pub fn lookup(given: &str) -> Option<Country> {
    let s = given.trim();
    if s.is_empty() {
        return None;
    }
    let found = match s.len() {
        2 => celes::Country::from_alpha2(s).ok(),
        3 => celes::Country::from_alpha3(s).ok(),
        _ => None,
    }
    .or_else(|| {
        // The crate's tables key names lowercased without spaces or punctuation.
        let key: String = s
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        celes::Country::from_str(&key)
            .or_else(|_| celes::Country::from_alias(&key))
            .or_else(|_| celes::Country::from_name(&key))
            .ok()
    })?;
    // A code was given: show the crate's name. A name was given: keep it as written.
    let name = if s.len() <= 3 && s.eq_ignore_ascii_case(found.alpha2)
        || s.eq_ignore_ascii_case(found.alpha3)
    {
        let long = found.long_name;
        long.strip_prefix("The ").unwrap_or(long).to_string()
    } else {
        s.to_string()
    };
    Some(Country {
        code: found.alpha2,
        name,
    })
}

/// Whether a listed country (a code or a name) and an event's country (either) are the
/// same country. Values that name no known country (the seed's "Other") compare as
/// text, case-insensitively.
pub fn same_country(listed: &str, seen: &str) -> bool {
    match (lookup(listed), lookup(seen)) {
        (Some(a), Some(b)) => a.code == b.code,
        _ => listed.trim().eq_ignore_ascii_case(seen.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_normalize_to_alpha2() {
        for (given, code) in [
            ("US", "US"),
            ("us", "US"),
            ("USA", "US"),
            ("United States", "US"),
            ("Russia", "RU"),
            ("RU", "RU"),
            ("China", "CN"),
            ("Germany", "DE"),
            ("United Kingdom", "GB"),
            ("South Korea", "KR"),
            ("Iran", "IR"),
            ("North Korea", "KP"),
        ] {
            assert_eq!(lookup(given).map(|c| c.code), Some(code), "{given}");
        }
        assert_eq!(lookup("Other"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(lookup("United States").unwrap().name, "United States");
    }

    #[test]
    fn the_suspicious_list_matches_names_and_codes_alike() {
        assert!(same_country("Russia", "RU"));
        assert!(same_country("RU", "Russia"));
        assert!(same_country("china", "CN"));
        assert!(!same_country("Russia", "US"));
        assert!(same_country("Other", "other"));
        assert!(!same_country("Other", "US"));
    }
}
