//! Deterministic, realistic demo hosts: the same customer and count always give the same hosts, so tests
//! and demos can name them.

use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};
use talon_auth::CustomerId;

use crate::host::{Host, HostStatus, Platform};

/// The instant demo data is anchored to (2026-11-01T00:00:00Z), so dates do not move between runs.
pub const ANCHOR: i64 = 1_793_491_200;

const DEPARTMENTS: &[&str] = &["fin", "hr", "eng", "ops", "sales", "legal", "it", "mkt"];
const SERVER_ROLES: &[&str] = &["web", "db", "api", "cache", "build", "mail", "vpn", "log"];
const ENVIRONMENTS: &[&str] = &["prod", "stage", "dev"];
const PEOPLE: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];
const WINDOWS_VERSIONS: &[&str] = &["Windows 11", "Windows 10", "Windows Server 2022", "Windows Server 2019"];
const MAC_VERSIONS: &[&str] = &["Sequoia (15)", "Sonoma (14)", "Ventura (13)"];
const LINUX_VERSIONS: &[&str] = &["Ubuntu 22.04", "Ubuntu 24.04", "RHEL 9.4", "Amazon Linux 2023", "Debian 12"];
const AGENT_BUILDS: &[&str] = &["7.18.18902.0", "7.17.18804.0", "7.16.18613.0", "7.15.18513.0"];
const TAGS: &[&str] = &["FalconGroupingTags/Servers", "FalconGroupingTags/Workstations", "SensorGroupingTags/pci"];

/// Generates `count` hosts for `cid`. Host `i` depends only on `cid` and `i`.
pub fn generate(cid: &CustomerId, count: usize) -> Vec<Host> {
    (0..count).map(|i| host(cid, i)).collect()
}

fn host(cid: &CustomerId, index: usize) -> Host {
    let seed: [u8; 32] = Sha256::new()
        .chain_update(b"talon-demo-host")
        .chain_update(cid.as_str())
        .chain_update((index as u64).to_be_bytes())
        .finalize()
        .into();
    let pick = |byte: usize, list: &'static [&'static str]| list[seed[byte] as usize % list.len()];
    let platform = match seed[16] % 10 {
        0..=5 => Platform::Windows,
        6..=7 => Platform::Mac,
        _ => Platform::Linux,
    };
    let number = index + 1;
    let (hostname, os_version, tags) = match platform {
        Platform::Windows => {
            let os = pick(17, WINDOWS_VERSIONS);
            if os.contains("Server") {
                (format!("WIN-{}-{number:04}", pick(18, SERVER_ROLES).to_uppercase()), os, vec![TAGS[0]])
            } else {
                (format!("WIN-{}-{number:04}", pick(18, DEPARTMENTS).to_uppercase()), os, vec![TAGS[1]])
            }
        }
        Platform::Mac => (format!("{}-macbook-{number:03}", pick(18, PEOPLE)), pick(17, MAC_VERSIONS), vec![TAGS[1]]),
        Platform::Linux => {
            let hostname = format!("{}-{}-{number:02}", pick(18, SERVER_ROLES), pick(19, ENVIRONMENTS));
            // One Linux server in four is in PCI scope.
            let tags = if seed[20].is_multiple_of(4) { vec![TAGS[0], TAGS[2]] } else { vec![TAGS[0]] };
            (hostname, pick(17, LINUX_VERSIONS), tags)
        }
    };
    let first_seen = ANCHOR - 86_400 * (30 + i64::from(u16::from_be_bytes([seed[21], seed[22]]) % 700));
    let last_seen = ANCHOR - i64::from(u32::from_be_bytes([0, seed[23], seed[24], seed[25]]) % (72 * 3600));
    Host {
        device_id: hex::encode(&seed[..16]),
        cid: cid.clone(),
        hostname,
        platform,
        os_version: os_version.to_owned(),
        local_ip: Ipv4Addr::new(10, seed[26] % 32, seed[27], seed[28].max(1)),
        // TEST-NET-3: documentation addresses, never routed.
        external_ip: Ipv4Addr::new(203, 0, 113, seed[29].max(1)),
        mac_address: format!("00-50-56-{:02x}-{:02x}-{:02x}", seed[29], seed[30], seed[31]),
        agent_version: pick(30, AGENT_BUILDS).to_owned(),
        first_seen,
        last_seen,
        status: HostStatus::Normal,
        tags: tags.into_iter().map(str::to_owned).collect(),
        hidden: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_per_customer_and_distinct_across_customers() {
        let cid = CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid");
        assert_eq!(generate(&cid, 20), generate(&cid, 20));
        let other = generate(&CustomerId::generate(), 20);
        assert!(generate(&cid, 20).iter().zip(&other).all(|(a, b)| a.device_id != b.device_id));
    }

    #[test]
    fn hosts_look_real() {
        let hosts = generate(&CustomerId::generate(), 200);
        let mut ids: Vec<_> = hosts.iter().map(|h| h.device_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200, "device IDs are unique");
        for p in [Platform::Windows, Platform::Mac, Platform::Linux] {
            assert!(hosts.iter().any(|h| h.platform == p), "{p:?} present");
        }
        for h in &hosts {
            assert!(talon_wire::ids::is_hex32(&h.device_id));
            assert!(h.first_seen < h.last_seen && h.last_seen <= ANCHOR);
            assert_eq!(h.mac_address.len(), 17);
            assert_eq!(h.status, HostStatus::Normal);
        }
    }
}
