-- Talon's schema on PostgreSQL. Times are Unix seconds. Lists are JSON arrays of strings (as text, the same
-- encoding as on SQLite, so one conversion serves both).

CREATE TABLE customers (
    cid        TEXT PRIMARY KEY,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX customers_one_default ON customers (is_default) WHERE is_default;

CREATE TABLE api_clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    cid           TEXT NOT NULL REFERENCES customers (cid),
    member_cids   TEXT NOT NULL,
    allowed_ips   TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    secret_digest BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    -- tokens issued before this second are refused (secret reset, client disabled)
    tokens_not_before BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    pkcs8      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- txid orders revocations by the transaction that wrote them: readers ask for everything at or after the
-- oldest transaction still running at their last read, so a revocation that commits late is never skipped.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    txid       BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);
CREATE INDEX revoked_tokens_by_txid ON revoked_tokens (txid);

CREATE TABLE hosts (
    device_id       TEXT PRIMARY KEY,
    cid             TEXT NOT NULL REFERENCES customers (cid),
    hostname        TEXT NOT NULL,
    platform_name   TEXT NOT NULL,
    os_version      TEXT NOT NULL,
    local_ip        TEXT NOT NULL,
    local_ip_num    BIGINT NOT NULL,
    external_ip     TEXT NOT NULL,
    external_ip_num BIGINT NOT NULL,
    mac_address     TEXT NOT NULL,
    agent_version   TEXT NOT NULL,
    first_seen      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    status          TEXT NOT NULL,
    tags            TEXT NOT NULL,
    hidden          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX hosts_by_customer ON hosts (cid, hostname);

-- CSPM policy settings a customer changed; policies without a row are at their catalogue defaults.
CREATE TABLE policy_settings (
    cid          TEXT NOT NULL REFERENCES customers (cid),
    policy_id    BIGINT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    severity     TEXT NOT NULL,
    regions      TEXT NOT NULL,
    tag_excluded BOOLEAN NOT NULL,
    PRIMARY KEY (cid, policy_id)
);

-- Change counters, kept by triggers, each change also announced on the channel talon_changes so that
-- listening nodes refresh at once instead of at their next poll.
CREATE TABLE change_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO change_counters (name, value) VALUES ('clients', 0), ('customers', 0), ('revocations', 0), ('keys', 0), ('hosts', 0);

CREATE FUNCTION talon_bump(counter TEXT) RETURNS VOID AS $$
BEGIN
    UPDATE change_counters SET value = value + 1 WHERE name = counter;
    PERFORM pg_notify('talon_changes', counter);
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION talon_clients_changed() RETURNS TRIGGER AS $$
BEGIN PERFORM talon_bump('clients'); RETURN NULL; END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION talon_customers_changed() RETURNS TRIGGER AS $$
BEGIN PERFORM talon_bump('customers'); RETURN NULL; END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION talon_hosts_changed() RETURNS TRIGGER AS $$
BEGIN PERFORM talon_bump('hosts'); RETURN NULL; END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION talon_keys_changed() RETURNS TRIGGER AS $$
BEGIN PERFORM talon_bump('keys'); RETURN NULL; END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION talon_revocations_changed() RETURNS TRIGGER AS $$
BEGIN PERFORM talon_bump('revocations'); RETURN NULL; END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER clients_inserted AFTER INSERT OR DELETE ON api_clients
    FOR EACH STATEMENT EXECUTE FUNCTION talon_clients_changed();
-- last_used_at is left out on purpose: recording use is not a change of the client.
CREATE TRIGGER clients_updated AFTER UPDATE OF name, description, scopes, cid, member_cids, allowed_ips, enabled,
    secret_digest, tokens_not_before ON api_clients FOR EACH STATEMENT EXECUTE FUNCTION talon_clients_changed();
-- Per row: an INSERT ... ON CONFLICT DO NOTHING that inserts nothing is no change.
CREATE TRIGGER customers_inserted AFTER INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION talon_customers_changed();
CREATE TRIGGER revocations_inserted AFTER INSERT ON revoked_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION talon_revocations_changed();
CREATE TRIGGER keys_inserted AFTER INSERT ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION talon_keys_changed();
-- Hosts: nodes cache each customer's hosts and drop the cache when this counter moves.
CREATE TRIGGER hosts_changed AFTER INSERT OR UPDATE OR DELETE ON hosts
    FOR EACH STATEMENT EXECUTE FUNCTION talon_hosts_changed();
