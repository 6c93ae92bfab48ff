//! Deterministic, realistic demo hosts relative to a clock: the same customer, count and instant always
//! give the same hosts, so tests and demos can name them. Workstations, servers and domain controllers on
//! three platforms, most seen minutes to hours before the instant and a few stale for weeks, each with
//! the fields real records carry (domain, site, OU, hardware, addresses, policies).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use talon_auth::CustomerId;
use talon_wire::device::{Device, DeviceMeta, DevicePolicy};

use crate::host::{rfc3339, Host, HostStatus, Platform};

/// An instant tests anchor demo data to (2026-11-01T00:00:00Z), so dates do not move between runs.
pub const ANCHOR: i64 = 1_793_491_200;

const DEPARTMENTS: &[&str] = &["fin", "hr", "eng", "ops", "sales", "legal", "it", "mkt"];
const SERVER_ROLES: &[&str] = &["web", "db", "api", "cache", "build", "mail", "vpn", "log"];
const ENVIRONMENTS: &[&str] = &["prod", "stage", "dev"];
const PEOPLE: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];
const WINDOWS_DESKTOPS: &[(&str, &str)] = &[("Windows 11", "26100"), ("Windows 10", "19045")];
const WINDOWS_SERVERS: &[(&str, &str)] = &[("Windows Server 2022", "20348"), ("Windows Server 2019", "17763")];
const MAC_VERSIONS: &[(&str, &str)] =
    &[("Sequoia (15)", "24.1.0"), ("Sonoma (14)", "23.6.0"), ("Ventura (13)", "22.6.0")];
const LINUX_VERSIONS: &[(&str, &str)] = &[
    ("Ubuntu 22.04", "5.15.0-119-generic"),
    ("Ubuntu 24.04", "6.8.0-45-generic"),
    ("RHEL 9.4", "5.14.0-427.13.1.el9_4.x86_64"),
    ("Amazon Linux 2023", "6.1.109-118.189.amzn2023.x86_64"),
    ("Debian 12", "6.1.0-25-amd64"),
];
const AGENT_BUILDS: &[&str] = &["7.18.18902.0", "7.17.18804.0", "7.16.18613.0", "7.15.18513.0"];
const SITES: &[&str] = &["Default-First-Site-Name", "HQ", "Branch-East", "Branch-West"];
const LAPTOPS: &[(&str, &str, &str)] = &[
    ("Dell Inc.", "Latitude 7440", "Laptop"),
    ("LENOVO", "ThinkPad T14 Gen 4", "Notebook"),
    ("HP", "EliteBook 840 G10", "Notebook"),
    ("Dell Inc.", "OptiPlex 7010", "Desktop"),
];
const SERVERS: &[(&str, &str, &str)] = &[
    ("VMware, Inc.", "VMware20,1", "Other"),
    ("Dell Inc.", "PowerEdge R750", "Rack Mount Chassis"),
    ("Microsoft Corporation", "Virtual Machine", "Desktop"),
];
const TAGS: &[&str] = &["FalconGroupingTags/Servers", "FalconGroupingTags/Workstations", "SensorGroupingTags/pci"];
/// The domain of the demo customer's Windows hosts (a reserved `example` name).
pub const DOMAIN: &str = "corp.example.com";

/// Generates `count` hosts for `cid`, with times relative to `now` (Unix seconds). Host `i` depends only
/// on `cid`, `i` and `now`.
pub fn generate(cid: &CustomerId, count: usize, now: i64) -> Vec<Host> {
    (0..count).map(|i| host(cid, i, now)).collect()
}

/// What a host is for: it decides its name, OS, hardware and OU.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Workstation,
    Server,
    DomainController,
}

impl Role {
    fn desc(self) -> &'static str {
        match self {
            Role::Workstation => "Workstation",
            Role::Server => "Server",
            Role::DomainController => "Domain Controller",
        }
    }

    /// `product_type` as Windows reports it.
    fn product_type(self) -> &'static str {
        match self {
            Role::Workstation => "1",
            Role::DomainController => "2",
            Role::Server => "3",
        }
    }
}

fn host(cid: &CustomerId, index: usize, now: i64) -> Host {
    let seed: [u8; 32] = Sha256::new()
        .chain_update(b"talon-demo-host")
        .chain_update(cid.as_str())
        .chain_update((index as u64).to_be_bytes())
        .finalize()
        .into();
    let more: [u8; 32] = Sha256::digest(seed).into();
    let pick = |byte: u8, len: usize| byte as usize % len;
    let platform = match seed[16] % 10 {
        0..=5 => Platform::Windows,
        6..=7 => Platform::Mac,
        _ => Platform::Linux,
    };
    let number = index + 1;
    let role = match (platform, seed[17] % 10) {
        (Platform::Mac, _) => Role::Workstation,
        (Platform::Linux, _) => Role::Server,
        (Platform::Windows, 0) => Role::DomainController,
        (Platform::Windows, 1..=3) => Role::Server,
        (Platform::Windows, _) => Role::Workstation,
    };
    let mut d = Device { device_id: hex::encode(&seed[..16]), ..Device::default() };
    let (hostname, (os, build)) = match (platform, role) {
        (Platform::Windows, Role::DomainController) => {
            (format!("WIN-DC-{number:02}"), WINDOWS_SERVERS[pick(seed[18], WINDOWS_SERVERS.len())])
        }
        (Platform::Windows, Role::Server) => (
            format!("WIN-{}-{number:04}", SERVER_ROLES[pick(seed[18], SERVER_ROLES.len())].to_uppercase()),
            WINDOWS_SERVERS[pick(seed[19], WINDOWS_SERVERS.len())],
        ),
        (Platform::Windows, _) => (
            format!("WIN-{}-{number:04}", DEPARTMENTS[pick(seed[18], DEPARTMENTS.len())].to_uppercase()),
            WINDOWS_DESKTOPS[pick(seed[19], WINDOWS_DESKTOPS.len())],
        ),
        (Platform::Mac, _) => (
            format!("{}-macbook-{number:03}", PEOPLE[pick(seed[18], PEOPLE.len())]),
            MAC_VERSIONS[pick(seed[19], MAC_VERSIONS.len())],
        ),
        (Platform::Linux, _) => (
            format!(
                "{}-{}-{number:02}",
                SERVER_ROLES[pick(seed[18], SERVER_ROLES.len())],
                ENVIRONMENTS[pick(seed[19], ENVIRONMENTS.len())]
            ),
            LINUX_VERSIONS[pick(seed[20], LINUX_VERSIONS.len())],
        ),
    };
    d.hostname = hostname;
    d.platform_name = platform.as_str().to_owned();
    d.platform_id = match platform {
        Platform::Windows => "0",
        Platform::Mac => "1",
        Platform::Linux => "3",
    }
    .to_owned();
    d.os_version = os.to_owned();
    d.product_type_desc = role.desc().to_owned();
    match platform {
        Platform::Windows => {
            d.os_build = build.to_owned();
            d.build_number = build.to_owned();
            d.kernel_version = format!("10.0.{build}.{}", 1000 + u16::from(more[0]) * 4);
            d.major_version = "10".into();
            d.minor_version = "0".into();
            d.product_type = role.product_type().to_owned();
            d.machine_domain = DOMAIN.to_owned();
            d.site_name = SITES[pick(seed[21], SITES.len())].to_owned();
            d.ou = match role {
                Role::DomainController => vec!["Domain Controllers".into()],
                Role::Server => vec!["Servers".into(), "Computers".into()],
                Role::Workstation => vec!["Workstations".into(), "Computers".into()],
            };
            d.service_pack_major = "0".into();
        }
        Platform::Mac => {
            d.kernel_version = build.to_owned();
            d.major_version = build.split('.').next().unwrap_or_default().to_owned();
            d.minor_version = "1".into();
        }
        Platform::Linux => {
            d.kernel_version = build.to_owned();
            d.os_product_name = os.to_owned();
            d.linux_sensor_mode = "Kernel Mode".into();
            // One Linux server in three runs in a cloud.
            if seed[22].is_multiple_of(3) {
                d.service_provider = "AWS_EC2_V2".into();
                d.service_provider_account_id = format!(
                    "{:012}",
                    u64::from_be_bytes([0, 0, 0, more[1], more[2], more[3], more[4], more[5]]) % 1_000_000_000_000
                );
                d.instance_id = format!("i-{}", hex::encode(&more[6..14]));
            }
        }
    }
    let hardware = if role == Role::Workstation { LAPTOPS } else { SERVERS };
    let (maker, model, chassis) = if platform == Platform::Mac {
        ("Apple Inc.", "MacBookPro18,3", "Laptop")
    } else {
        hardware[pick(seed[23], hardware.len())]
    };
    d.system_manufacturer = maker.to_owned();
    d.system_product_name = model.to_owned();
    d.bios_manufacturer = if platform == Platform::Mac { "Apple Inc.".into() } else { maker.to_owned() };
    d.bios_version = format!("{}.{}.{}", 1 + seed[24] % 3, seed[25] % 30, seed[26] % 10);
    d.chassis_type_desc = chassis.to_owned();
    d.chassis_type = match chassis {
        "Laptop" => "9",
        "Notebook" => "10",
        "Desktop" => "3",
        "Rack Mount Chassis" => "23",
        _ => "1",
    }
    .to_owned();
    d.serial_number = hex::encode_upper(&more[14..20]);
    d.cpu_signature = ["460785", "657", "8392465"][pick(seed[27], 3)].to_owned();
    d.cpu_vendor = ["1", "0"][pick(seed[27], 2)].to_owned();
    d.pointer_size = "8".into();

    let local = format!("10.{}.{}.{}", seed[26] % 32, seed[27], seed[28].max(1));
    d.default_gateway_ip = format!("10.{}.{}.1", seed[26] % 32, seed[27]);
    d.connection_ip.clone_from(&local);
    d.local_ip = local;
    // TEST-NET-3: documentation addresses, never routed.
    d.external_ip = format!("203.0.113.{}", seed[29].max(1));
    d.mac_address = format!("00-50-56-{:02x}-{:02x}-{:02x}", seed[29], seed[30], seed[31]);
    d.connection_mac_address.clone_from(&d.mac_address);

    d.agent_version = AGENT_BUILDS[pick(seed[30], AGENT_BUILDS.len())].to_owned();
    d.agent_load_flags = "0".into();
    d.config_id_base = "65994763".into();
    d.config_id_build = d.agent_version.split('.').nth(2).unwrap_or_default().to_owned();
    d.config_id_platform = match platform {
        Platform::Windows => "3",
        Platform::Mac => "4",
        Platform::Linux => "8",
    }
    .to_owned();
    d.provision_status = "Provisioned".into();
    // One host in twenty-five runs in reduced functionality mode (an unsupported kernel, say).
    d.reduced_functionality_mode = if more[20].is_multiple_of(25) { "yes" } else { "no" }.into();
    d.deployment_type = "Standard".into();
    d.status = HostStatus::Normal.as_str().to_owned();
    let tags = match (platform, role) {
        (Platform::Linux, _) if seed[20].is_multiple_of(4) => vec![TAGS[0], TAGS[2]],
        (_, Role::Workstation) => vec![TAGS[1]],
        _ => vec![TAGS[0]],
    };
    d.tags = tags.into_iter().map(str::to_owned).collect();

    // Nearly half are online (seen within the last 15 minutes), as many were seen hours to three days
    // ago, and one in ten is stale, unseen for one to eight weeks.
    let ago = match more[21] % 20 {
        0..=1 => 86_400 * (7 + i64::from(more[22] % 50)),
        2..=10 => i64::from(u32::from_be_bytes([0, more[22], more[23], more[24]]) % (72 * 3600)),
        _ => i64::from(u16::from_be_bytes([more[22], more[23]]) % 900),
    };
    let last_seen = now - ago;
    let first_seen = last_seen - 86_400 * (30 + i64::from(u16::from_be_bytes([seed[21], seed[22]]) % 700));
    d.first_seen = rfc3339(first_seen);
    d.last_seen = rfc3339(last_seen);
    d.agent_local_time = rfc3339(last_seen);
    d.last_reboot = rfc3339(last_seen - 3600 * (1 + i64::from(more[25] % 200)));
    d.modified_timestamp = rfc3339(last_seen);
    if role == Role::Workstation {
        d.last_login_user = PEOPLE[pick(seed[18], PEOPLE.len())].to_owned();
        d.last_login_timestamp = rfc3339(last_seen - 60 * i64::from(more[26] % 240));
    }
    let policy = |kind: &str, byte: u8| DevicePolicy {
        policy_id: hex::encode(Sha256::digest([kind.as_bytes(), &[byte % 3]].concat()))[..32].to_owned(),
        policy_type: kind.to_owned(),
        applied: true,
        applied_date: Some(rfc3339(first_seen + 600)),
        assigned_date: Some(rfc3339(first_seen + 300)),
        settings_hash: hex::encode(&more[27..31]),
        rule_groups: vec![],
    };
    let policies =
        [policy("prevention", more[27]), policy("sensor_update", more[28]), policy("device_control", more[29])];
    d.device_policies = policies.iter().map(|p| (p.policy_type.clone(), p.clone())).collect::<BTreeMap<_, _>>();
    d.policies = vec![policies[0].clone()];
    d.meta = Some(DeviceMeta { version: (1 + u16::from(more[30] % 40)).to_string() });
    Host::new(cid.clone(), d, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{parse_time, Field};

    #[test]
    fn is_deterministic_per_customer_and_distinct_across_customers() {
        let cid = CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid");
        assert_eq!(generate(&cid, 20, ANCHOR), generate(&cid, 20, ANCHOR));
        let other = generate(&CustomerId::generate(), 20, ANCHOR);
        assert!(generate(&cid, 20, ANCHOR).iter().zip(&other).all(|(a, b)| a.device_id() != b.device_id()));
    }

    #[test]
    fn hosts_look_real_and_are_seen_relative_to_the_clock() {
        let now = ANCHOR + 12_345_678;
        let hosts = generate(&CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid"), 200, now);
        let mut ids: Vec<_> = hosts.iter().map(|h| h.device_id().to_owned()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200, "device IDs are unique");
        for p in ["Windows", "Mac", "Linux"] {
            assert!(hosts.iter().any(|h| h.record().platform_name == p), "{p} present");
        }
        for role in ["Workstation", "Server", "Domain Controller"] {
            assert!(hosts.iter().any(|h| h.record().product_type_desc == role), "{role} present");
        }
        let seen = |h: &Host| h.number(Field::LAST_SEEN).expect("last_seen");
        let week = hosts.iter().filter(|h| seen(h) > now - 7 * 86_400).count();
        assert!((160..200).contains(&week), "most hosts seen within a week, a few stale: {week}");
        let online = hosts.iter().filter(|h| now - seen(h) < 900).count();
        assert!((60..=120).contains(&online), "about half online: {online}");
        for h in &hosts {
            let d = h.record();
            assert!(talon_wire::ids::is_hex32(h.device_id()));
            let first = parse_time(&d.first_seen).expect("first_seen");
            assert!(first < seen(h) && seen(h) <= now);
            assert_eq!(d.mac_address.len(), 17);
            assert_eq!(h.status(), HostStatus::Normal);
            assert!(!d.system_manufacturer.is_empty() && !d.serial_number.is_empty() && !d.kernel_version.is_empty());
            assert_eq!(d.cid, h.cid().as_str());
            if d.platform_name == "Windows" {
                assert_eq!(d.machine_domain, DOMAIN);
                assert!(!d.ou.is_empty() && !d.site_name.is_empty());
            }
            assert!(d.device_policies.contains_key("prevention"));
        }
    }
}
