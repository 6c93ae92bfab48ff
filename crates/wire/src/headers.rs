//! Header names and fixed header values of the Falcon wire contract.

/// Trace ID of the request; the same value as `meta.trace_id`.
pub const TRACE_ID: &str = "x-cs-traceid";
/// Region name of the answering cloud. Talon sends a configurable name (default `local`).
pub const REGION: &str = "x-cs-region";
/// Requests allowed in the current rate-limit window.
pub const RATELIMIT_LIMIT: &str = "x-ratelimit-limit";
/// Requests left in the current rate-limit window.
pub const RATELIMIT_REMAINING: &str = "x-ratelimit-remaining";
/// On 429: when the client may try again, as Unix epoch **seconds** (what every SDK reads).
pub const RATELIMIT_RETRY_AFTER: &str = "x-ratelimit-retryafter";

/// The form media type of the OAuth2 endpoints.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// `meta.powered_by` of the OAuth2 endpoints.
pub const POWERED_BY_OAUTH2: &str = "csam";
/// `meta.powered_by` of the API gateway's own answers (401/403 on resource routes).
pub const POWERED_BY_GATEWAY: &str = "crowdstrike-api-gateway";
/// `meta.powered_by` of the hosts API.
pub const POWERED_BY_DEVICES: &str = "device-api";
/// `meta.powered_by` of the CSPM settings API.
pub const POWERED_BY_CSPM: &str = "cspm-registration";
/// `meta.powered_by` of the MSSP (Flight Control) API.
pub const POWERED_BY_MSSP: &str = "mssp";
/// `meta.powered_by` of the sensor download API.
pub const POWERED_BY_SENSORS: &str = "sensor-download";
/// `meta.powered_by` of the Host Group API.
pub const POWERED_BY_HOST_GROUPS: &str = "host-groups";
