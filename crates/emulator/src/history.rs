//! What a host did over time, as the hosts API reports it: whether it is online now, its recent logins
//! and the addresses it had. Derived from the record and the device ID (deterministic, no stored state),
//! so they agree with `last_seen`, `last_login_user`, `local_ip` and `mac_address`.

use sha2::{Digest, Sha256};

use crate::host::{parse_time, Field, Host};

/// A host seen this recently is online.
pub const ONLINE_WITHIN_SECS: i64 = 15 * 60;
/// A host unseen for longer than this is in an unknown state rather than offline.
pub const UNKNOWN_AFTER_SECS: i64 = 30 * 86_400;

/// `online`, `offline` or `unknown` at `now`, from `last_seen`.
pub fn online_state(host: &Host, now: i64) -> &'static str {
    match host.number(Field::LAST_SEEN) {
        Some(seen) if now - seen < ONLINE_WITHIN_SECS => "online",
        Some(seen) if now - seen < UNKNOWN_AFTER_SECS => "offline",
        _ => "unknown",
    }
}

/// Bytes that vary by host, for the derived history.
fn seed(host: &Host, what: &str) -> [u8; 32] {
    Sha256::new().chain_update(what).chain_update(host.device_id()).finalize().into()
}

/// The host's logins, newest first: its last login user at its last login, and earlier ones a few
/// hours to a day apart (a server's are its administrator's).
pub fn logins(host: &Host) -> Vec<(i64, String)> {
    let record = host.record();
    let user = match (record.last_login_user.as_str(), record.platform_name.as_str()) {
        ("", "Windows") => "Administrator",
        ("", "Linux") => "root",
        ("", _) => "admin",
        (user, _) => user,
    };
    let Some(latest) = parse_time(&record.last_login_timestamp).or_else(|| host.number(Field::LAST_SEEN)) else {
        return vec![];
    };
    let seed = seed(host, "logins");
    let mut at = latest;
    (0..(2 + seed[0] % 5))
        .map(|i| {
            let login = (at, user.to_owned());
            at -= 3600 * (4 + i64::from(seed[1 + usize::from(i)] % 20));
            login
        })
        .collect()
}

/// The addresses the host had, newest first: its current one since it was last seen on it, and an
/// earlier one since its first sighting.
pub fn addresses(host: &Host) -> Vec<(String, String, i64)> {
    let record = host.record();
    let (Some(first), Some(seen)) = (host.number(Field::FIRST_SEEN), host.number(Field::LAST_SEEN)) else {
        return vec![];
    };
    let seed = seed(host, "addresses");
    let since = first + (seen - first) * i64::from(seed[0]) / 256;
    let mut history = vec![(record.local_ip.clone(), record.mac_address.clone(), since)];
    if let Some((prefix, last)) = record.local_ip.rsplit_once('.') {
        let earlier = last.parse::<u8>().map_or(1, |n| n.wrapping_add(1 + seed[1] % 50).max(1));
        history.push((format!("{prefix}.{earlier}"), record.mac_address.clone(), first));
    }
    history
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use talon_auth::CustomerId;

    #[test]
    fn state_logins_and_addresses_follow_the_record() {
        let now = demo::ANCHOR;
        let hosts = demo::generate(&CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid"), 50, now);
        let states: Vec<&str> = hosts.iter().map(|h| online_state(h, now)).collect();
        for state in ["online", "offline"] {
            assert!(states.contains(&state), "{state} among {states:?}");
        }
        for h in &hosts {
            let seen = h.number(Field::LAST_SEEN).expect("seen");
            assert_eq!(online_state(h, now) == "online", now - seen < ONLINE_WITHIN_SECS);
            let logins = logins(h);
            assert!(logins.len() >= 2 && logins.windows(2).all(|w| w[0].0 > w[1].0), "newest first");
            if !h.record().last_login_user.is_empty() {
                assert_eq!(logins[0].1, h.record().last_login_user);
            }
            let addresses = addresses(h);
            assert_eq!(addresses[0].0, h.record().local_ip, "the current address first");
            assert_ne!(addresses[1].0, addresses[0].0);
            assert_eq!(logins, super::logins(h), "deterministic");
        }
        assert_eq!(online_state(&hosts[0], now + UNKNOWN_AFTER_SECS * 2), "unknown");
    }
}
