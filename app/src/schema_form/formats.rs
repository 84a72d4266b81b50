//! The `format`s the browser checks: the simple, common ones. Others are left to the server.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `Some(valid)` for a format checked here, `None` for one that is not.
pub fn check(format: &str, text: &str) -> Option<bool> {
    Some(match format {
        "email" => is_email(text),
        "uri" | "url" => is_uri(text),
        "hostname" => is_hostname(text),
        "ipv4" => is_ipv4(text),
        "ipv6" => text.parse::<Ipv6Addr>().is_ok(),
        "date" => is_date(text),
        "date-time" => is_date_time(text),
        _ => return None,
    })
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && !local.chars().any(|c| c.is_whitespace() || c == '@')
        && (is_hostname(domain) || (domain.starts_with('[') && domain.ends_with(']')))
}

fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_hostname(text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_ipv4(text: &str) -> bool {
    // Leading zeros ("010.0.0.1") are refused: they read as octal in some tools.
    text.parse::<Ipv4Addr>().is_ok() && text.split('.').all(|part| part == "0" || !part.starts_with('0'))
}

fn digits(text: &str, count: usize) -> Option<u32> {
    (text.len() == count && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn is_date(text: &str) -> bool {
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else { return false };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

fn is_date_time(text: &str) -> bool {
    let Some((date, time)) = text.split_once(['T', 't', ' ']) else { return false };
    if !is_date(date) {
        return false;
    }
    let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, None)
    } else if let Some(at) = time.rfind(['+', '-']) {
        (&time[..at], Some(&time[at + 1..]))
    } else {
        return false;
    };
    let clock = clock.split_once('.').map_or(clock, |(whole, frac)| {
        if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) { whole } else { "" }
    });
    let mut hms = clock.split(':');
    let (Some(h), Some(m), Some(s), None) = (hms.next(), hms.next(), hms.next(), hms.next()) else { return false };
    let clock_ok = matches!((digits(h, 2), digits(m, 2), digits(s, 2)), (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s <= 60);
    let offset_ok = offset.is_none_or(|o| {
        let mut hm = o.split(':');
        matches!((hm.next().and_then(|h| digits(h, 2)), hm.next().and_then(|m| digits(m, 2)), hm.next()), (Some(h), Some(m), None) if h < 24 && m < 60)
    });
    clock_ok && offset_ok
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn simple_formats() {
        assert_eq!(check("email", "ops@example.com"), Some(true));
        assert_eq!(check("email", "not an email"), Some(false));
        assert_eq!(check("uri", "https://example.com/x"), Some(true));
        assert_eq!(check("uri", "example.com"), Some(false));
        assert_eq!(check("hostname", "db-1.internal"), Some(true));
        assert_eq!(check("hostname", "-bad-.x"), Some(false));
        assert_eq!(check("ipv4", "10.0.0.1"), Some(true));
        assert_eq!(check("ipv4", "10.0.0.256"), Some(false));
        assert_eq!(check("ipv4", "010.0.0.1"), Some(false));
        assert_eq!(check("ipv6", "::1"), Some(true));
        assert_eq!(check("date", "2024-02-29"), Some(true));
        assert_eq!(check("date", "2023-02-29"), Some(false));
        assert_eq!(check("date-time", "2024-01-31T12:00:00Z"), Some(true));
        assert_eq!(check("date-time", "2024-01-31T12:00:00.5+01:00"), Some(true));
        assert_eq!(check("date-time", "2024-01-31 25:00:00Z"), Some(false));
        assert_eq!(check("uuid", "whatever"), None);
    }
}
