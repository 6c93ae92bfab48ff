-- Host groups, per customer: the group's record and a static group's members as JSON. A group's change
-- changes its customer's hosts as the API shows them (their `groups` field), so it moves the customer's
-- host version and the hosts counter as a host change does.
CREATE TABLE host_groups (
    id       TEXT PRIMARY KEY,
    cid      TEXT NOT NULL REFERENCES customers (cid),
    -- The lowercased name: unique per customer.
    name_key TEXT NOT NULL,
    record   TEXT NOT NULL,
    UNIQUE (cid, name_key)
);
CREATE TRIGGER host_groups_inserted AFTER INSERT ON host_groups
BEGIN
    INSERT INTO host_versions (cid, version) VALUES (NEW.cid, 1) ON CONFLICT (cid) DO UPDATE SET version = version + 1;
    UPDATE change_counters SET value = value + 1 WHERE name = 'hosts';
END;
CREATE TRIGGER host_groups_updated AFTER UPDATE ON host_groups
BEGIN
    INSERT INTO host_versions (cid, version) VALUES (NEW.cid, 1) ON CONFLICT (cid) DO UPDATE SET version = version + 1;
    UPDATE change_counters SET value = value + 1 WHERE name = 'hosts';
END;
CREATE TRIGGER host_groups_deleted AFTER DELETE ON host_groups
BEGIN
    INSERT INTO host_versions (cid, version) VALUES (OLD.cid, 1) ON CONFLICT (cid) DO UPDATE SET version = version + 1;
    UPDATE change_counters SET value = value + 1 WHERE name = 'hosts';
END;
