//! Alerts (v2) with behaviour: demo alerts tied to a customer's demo hosts, and the alert actions of
//! `PatchEntitiesAlertsV3` (`action_parameters`). The generic engine keeps and serves them (queries,
//! `PostEntitiesAlertsV2` by composite ID, aggregates); this module says what they hold and how an action
//! changes one.
//!
//! A demo alert is deterministic in its host and the clock: about a third of the hosts have one to three,
//! each with a MITRE tactic and technique, a severity (10 to 100) and its name, a status among Falcon's
//! (`new`, `in_progress`, `closed`, `reopened`; most new), the process that raised it, and timestamps
//! minutes to days before the clock. IDs follow Falcon's forms: `composite_id` is
//! `<cid>:ind:<device id>:<n>`, `id` is `ind:<device id>:<n>`.

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use crate::generic::select::Object;
use crate::host::{rfc3339, Host};

/// The generic engine's resource of the alerts routes (`/alerts/.../alerts/vN`).
pub const RESOURCE: &str = "alerts/alerts";
/// The statuses an alert may have.
pub const STATUSES: &[&str] = &["new", "in_progress", "closed", "reopened"];

/// Tactic, its ID, technique, its ID, the alert's name and the process that raised it.
const BEHAVIOURS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("Credential Access", "TA0006", "OS Credential Dumping", "T1003", "CredentialDumping", "rundll32.exe"),
    ("Execution", "TA0002", "Command and Scripting Interpreter", "T1059", "SuspiciousPowerShell", "powershell.exe"),
    ("Persistence", "TA0003", "Scheduled Task/Job", "T1053", "ScheduledTaskPersistence", "schtasks.exe"),
    ("Defense Evasion", "TA0005", "Impair Defenses", "T1562", "DisableSecurityTools", "cmd.exe"),
    ("Lateral Movement", "TA0008", "Remote Services", "T1021", "RemoteServiceLateralMovement", "psexesvc.exe"),
    ("Discovery", "TA0007", "System Information Discovery", "T1082", "ReconnaissanceCommands", "whoami.exe"),
    ("Impact", "TA0040", "Data Encrypted for Impact", "T1486", "RansomwareFileEncryption", "svch0st.exe"),
    ("Machine Learning", "CSTA0004", "Sensor-based ML", "CST0007", "MaliciousFileML", "invoice.pdf.exe"),
];

/// Falcon's name of a severity (0 to 100).
pub fn severity_name(severity: u64) -> &'static str {
    match severity {
        0..=19 => "Informational",
        20..=39 => "Low",
        40..=59 => "Medium",
        60..=79 => "High",
        _ => "Critical",
    }
}

/// The demo alerts of `hosts` at `now`: (composite ID, record) pairs, oldest host first.
pub fn demo(hosts: &[Host], now: i64) -> Vec<(String, Object)> {
    let mut alerts = Vec::new();
    for host in hosts {
        let seed: [u8; 32] =
            Sha256::new().chain_update(b"talon-demo-alert").chain_update(host.device_id()).finalize().into();
        let count = match seed[0] % 6 {
            0 => 1,
            1 => 2,
            2 => 3,
            _ => 0,
        };
        for n in 0..count {
            alerts.push(alert(host, &seed, n, now));
        }
    }
    alerts
}

fn alert(host: &Host, seed: &[u8; 32], n: usize, now: i64) -> (String, Object) {
    let byte = |i: usize| seed[(1 + n * 7 + i) % 32] as u64;
    let (tactic, tactic_id, technique, technique_id, name, process) = BEHAVIOURS[byte(0) as usize % BEHAVIOURS.len()];
    let severity = 10 + (byte(1) * 90 / 255);
    let status = match byte(2) % 10 {
        0..=5 => "new",
        6..=7 => "in_progress",
        8 => "closed",
        _ => "reopened",
    };
    // Minutes to days ago: most within the last day, some within the week.
    let age = match byte(3) % 4 {
        0..=2 => 60 * (1 + byte(4) * 5),
        _ => 3_600 * (24 + byte(4) % 144),
    } as i64;
    let created = now - age;
    let updated = created + ((byte(5) as i64) * 60).min(age);
    let device = host.record();
    let cid = device.cid.clone();
    let id = format!("ind:{}:{}", device.device_id, 1000 + n);
    let composite_id = format!("{cid}:{id}");
    let user =
        if device.hostname.is_empty() { "SYSTEM".to_owned() } else { format!("{}\\user", device.machine_domain) };
    let record = json!({
        "composite_id": composite_id,
        "id": id,
        "aggregate_id": format!("aggind:{}:{}", device.device_id, created),
        "cid": cid,
        "agent_id": device.device_id,
        "device": {
            "device_id": device.device_id,
            "hostname": device.hostname,
            "platform_name": device.platform_name,
            "os_version": device.os_version,
            "local_ip": device.local_ip,
            "external_ip": device.external_ip,
            "machine_domain": device.machine_domain,
            "site_name": device.site_name,
            "product_type_desc": device.product_type_desc,
        },
        "name": name,
        "display_name": format!("{name} on {}", device.hostname),
        "description": format!("{technique} ({technique_id}) was observed: {process} behaved as {tactic} does."),
        "tactic": tactic,
        "tactic_id": tactic_id,
        "technique": technique,
        "technique_id": technique_id,
        "objective": if tactic == "Impact" { "Achieve Objectives" } else { "Gain Access" },
        "severity": severity,
        "severity_name": severity_name(severity),
        "confidence": 50 + byte(6) % 50,
        "status": status,
        "product": "epp",
        "type": "ldt",
        "source_products": ["Falcon Insight"],
        "source_vendors": ["CrowdStrike"],
        "filename": process,
        "filepath": format!("\\Device\\HarddiskVolume3\\Windows\\System32\\{process}"),
        "cmdline": format!("{process} {}", ["-enc SQBFAFgA", "/c whoami /all", "/create /sc minute", "lsass.dmp"][n % 4]),
        "user_name": user,
        "tags": [],
        "comments": [],
        "show_in_ui": true,
        "pattern_disposition": 0,
        "created_timestamp": rfc3339(created),
        "timestamp": rfc3339(created),
        "updated_timestamp": rfc3339(updated),
        "falcon_host_link": format!("https://falcon.crowdstrike.com/activity-v2/detections/{cid}:{id}"),
    });
    let Json::Object(record) = record else { unreachable!("a JSON object literal") };
    (composite_id, record)
}

/// Applies Falcon's alert actions (`[{"name": "update_status", "value": "closed"}, ...]`) to `record` at
/// `now` by `actor`: `update_status`, `add_tag`, `remove_tag`, `remove_tags_by_prefix`, `append_comment`,
/// `assign_to_name`, `assign_to_uuid`, `assign_to_user_id`, `unassign`, `show_in_ui`. The message of an
/// unknown action or value says what is taken.
pub fn apply_actions(record: &mut Object, actions: &Json, now: i64, actor: &str) -> Result<(), String> {
    let Some(actions) = actions.as_array() else {
        return Err("action_parameters must be a list of {\"name\": ..., \"value\": ...}".into());
    };
    for action in actions {
        let name = action.get("name").and_then(Json::as_str).unwrap_or_default();
        let value = match action.get("value") {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Bool(b)) => b.to_string(),
            Some(Json::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let list = |record: &mut Object, key: &str| -> Vec<Json> {
            record.get(key).and_then(Json::as_array).cloned().unwrap_or_default()
        };
        match name {
            "update_status" => {
                if !STATUSES.contains(&value.as_str()) {
                    return Err(format!("update_status takes one of {}", STATUSES.join(", ")));
                }
                record.insert("status".into(), Json::String(value));
            }
            "add_tag" | "remove_tag" | "remove_tags_by_prefix" if value.is_empty() => {
                return Err(format!("{name} needs a value"));
            }
            "add_tag" => {
                let mut tags = list(record, "tags");
                if !tags.iter().any(|t| t.as_str() == Some(&value)) {
                    tags.push(Json::String(value));
                }
                record.insert("tags".into(), Json::Array(tags));
            }
            "remove_tag" | "remove_tags_by_prefix" => {
                let by_prefix = name == "remove_tags_by_prefix";
                let tags: Vec<Json> = list(record, "tags")
                    .into_iter()
                    .filter(|t| {
                        let t = t.as_str().unwrap_or_default();
                        !(t == value || (by_prefix && t.starts_with(&value)))
                    })
                    .collect();
                record.insert("tags".into(), Json::Array(tags));
            }
            "append_comment" => {
                if value.is_empty() || value.chars().count() > 4_096 {
                    return Err("append_comment takes 1 to 4096 characters".into());
                }
                let mut comments = list(record, "comments");
                comments.push(json!({"value": value, "created_timestamp": rfc3339(now), "user": actor}));
                record.insert("comments".into(), Json::Array(comments));
            }
            "assign_to_name" | "assign_to_uuid" | "assign_to_user_id" => {
                let key = match name {
                    "assign_to_name" => "assigned_to_name",
                    "assign_to_uuid" => "assigned_to_uuid",
                    _ => "assigned_to_uid",
                };
                record.insert(key.into(), Json::String(value));
            }
            "unassign" => {
                for key in ["assigned_to_name", "assigned_to_uuid", "assigned_to_uid"] {
                    record.remove(key);
                }
            }
            "show_in_ui" => {
                let shown = value.parse::<bool>().map_err(|_| "show_in_ui takes true or false".to_owned())?;
                record.insert("show_in_ui".into(), Json::Bool(shown));
            }
            other => {
                let cut: String = other.chars().take(40).collect();
                return Err(format!(
                    "unknown action {cut:?}: use update_status, add_tag, remove_tag, remove_tags_by_prefix, \
                     append_comment, assign_to_name, assign_to_uuid, assign_to_user_id, unassign or show_in_ui"
                ));
            }
        }
    }
    record.insert("updated_timestamp".into(), Json::String(rfc3339(now)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use talon_auth::CustomerId;

    const NOW: i64 = demo::ANCHOR;

    fn alerts() -> Vec<(String, Object)> {
        let cid = CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid");
        demo(&demo::generate(&cid, 60, NOW), NOW)
    }

    #[test]
    fn demo_alerts_are_tied_to_hosts_realistic_and_deterministic() {
        let all = alerts();
        assert_eq!(all, alerts(), "deterministic");
        assert!((15..=90).contains(&all.len()), "{} alerts on 60 hosts", all.len());
        let mut ids: Vec<&String> = all.iter().map(|(id, _)| id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len(), "composite IDs are unique");
        for (composite, a) in &all {
            assert_eq!(a["composite_id"], composite.as_str());
            assert!(composite.starts_with("0123456789abcdef0123456789abcdef:ind:"));
            let severity = a["severity"].as_u64().expect("severity");
            assert!((10..=100).contains(&severity));
            assert_eq!(a["severity_name"], severity_name(severity));
            assert!(STATUSES.contains(&a["status"].as_str().expect("status")));
            assert!(a["created_timestamp"].as_str().expect("t") <= a["updated_timestamp"].as_str().expect("t"));
        }
        let new = all.iter().filter(|(_, a)| a["status"] == "new").count();
        assert!(new * 3 >= all.len(), "most are new: {new} of {}", all.len());
    }

    #[test]
    fn actions_change_status_tags_comments_and_assignment() {
        let (_, mut a) = alerts().remove(0);
        let actions = json!([
            {"name": "update_status", "value": "in_progress"},
            {"name": "add_tag", "value": "triage/1"},
            {"name": "add_tag", "value": "triage/2"},
            {"name": "add_tag", "value": "keep"},
            {"name": "remove_tags_by_prefix", "value": "triage/"},
            {"name": "append_comment", "value": "looking"},
            {"name": "assign_to_name", "value": "Alice"},
            {"name": "show_in_ui", "value": false},
        ]);
        apply_actions(&mut a, &actions, NOW + 60, "client-1").expect("actions");
        assert_eq!(a["status"], "in_progress");
        assert_eq!(a["tags"], json!(["keep"]));
        assert_eq!(a["comments"][0]["value"], "looking");
        assert_eq!(a["comments"][0]["user"], "client-1");
        assert_eq!(a["assigned_to_name"], "Alice");
        assert_eq!(a["show_in_ui"], false);
        assert_eq!(a["updated_timestamp"], rfc3339(NOW + 60));
        apply_actions(&mut a, &json!([{"name": "unassign"}]), NOW + 61, "c").expect("unassign");
        assert!(a.get("assigned_to_name").is_none());
        for bad in [
            json!([{"name": "update_status", "value": "done"}]),
            json!([{"name": "explode"}]),
            json!([{"name": "add_tag"}]),
            json!({"name": "update_status"}),
        ] {
            assert!(apply_actions(&mut a.clone(), &bad, NOW, "c").is_err(), "{bad}");
        }
    }
}
