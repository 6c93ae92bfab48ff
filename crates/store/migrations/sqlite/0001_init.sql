-- Talon's schema on SQLite. Times are Unix seconds. Lists are JSON arrays of strings.

CREATE TABLE customers (
    cid        TEXT PRIMARY KEY,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
-- At most one default customer, even when several processes initialise the store at once.
CREATE UNIQUE INDEX customers_one_default ON customers (is_default) WHERE is_default = 1;

CREATE TABLE api_clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    cid           TEXT NOT NULL REFERENCES customers (cid),
    member_cids   TEXT NOT NULL,
    allowed_ips   TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    secret_digest BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    -- tokens issued before this second are refused (secret reset, client disabled)
    tokens_not_before INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    pkcs8      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- seq orders revocations so that other processes can read only what is new.
CREATE TABLE revoked_tokens (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    jti        TEXT NOT NULL UNIQUE,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);

CREATE TABLE hosts (
    device_id       TEXT PRIMARY KEY,
    cid             TEXT NOT NULL REFERENCES customers (cid),
    hostname        TEXT NOT NULL,
    platform_name   TEXT NOT NULL,
    os_version      TEXT NOT NULL,
    local_ip        TEXT NOT NULL,
    local_ip_num    INTEGER NOT NULL,
    external_ip     TEXT NOT NULL,
    external_ip_num INTEGER NOT NULL,
    mac_address     TEXT NOT NULL,
    agent_version   TEXT NOT NULL,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    status          TEXT NOT NULL,
    tags            TEXT NOT NULL,
    hidden          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hosts_by_customer ON hosts (cid, hostname);

-- CSPM policy settings a customer changed; policies without a row are at their catalogue defaults.
CREATE TABLE policy_settings (
    cid          TEXT NOT NULL REFERENCES customers (cid),
    policy_id    INTEGER NOT NULL,
    enabled      INTEGER NOT NULL,
    severity     TEXT NOT NULL,
    regions      TEXT NOT NULL,
    tag_excluded INTEGER NOT NULL,
    PRIMARY KEY (cid, policy_id)
);

-- Change counters: a running server polls these to learn of changes made by other processes (the CLI).
-- Triggers keep them, so no writer can forget to.
CREATE TABLE change_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO change_counters (name, value) VALUES ('clients', 0), ('customers', 0), ('keys', 0), ('hosts', 0);

CREATE TRIGGER clients_inserted AFTER INSERT ON api_clients
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'clients'; END;
-- last_used_at is left out on purpose: recording use is not a change of the client.
CREATE TRIGGER clients_updated AFTER UPDATE OF name, description, scopes, cid, member_cids, allowed_ips, enabled,
    secret_digest, tokens_not_before ON api_clients
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'clients'; END;
CREATE TRIGGER clients_deleted AFTER DELETE ON api_clients
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'clients'; END;
CREATE TRIGGER customers_inserted AFTER INSERT ON customers
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'customers'; END;
CREATE TRIGGER keys_inserted AFTER INSERT ON signing_keys
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'keys'; END;
-- Hosts: nodes cache each customer's hosts and drop the cache when this counter moves.
CREATE TRIGGER hosts_inserted AFTER INSERT ON hosts
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'hosts'; END;
CREATE TRIGGER hosts_updated AFTER UPDATE ON hosts
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'hosts'; END;
CREATE TRIGGER hosts_deleted AFTER DELETE ON hosts
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'hosts'; END;
