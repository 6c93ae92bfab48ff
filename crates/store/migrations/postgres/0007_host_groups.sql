-- Host groups, per customer: the group's record and a static group's members as JSON. A group's change
-- changes its customer's hosts as the API shows them (their `groups` field), so it moves the customer's
-- host version and the hosts counter as a host change does (the same trigger functions, over the
-- statement's transition table).
CREATE TABLE host_groups (
    id       TEXT PRIMARY KEY,
    cid      TEXT NOT NULL REFERENCES customers (cid),
    -- The lowercased name: unique per customer.
    name_key TEXT NOT NULL,
    record   TEXT NOT NULL,
    UNIQUE (cid, name_key)
);
CREATE TRIGGER host_groups_versions_inserted AFTER INSERT ON host_groups REFERENCING NEW TABLE AS changed_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION talon_host_versions_bump();
CREATE TRIGGER host_groups_versions_updated AFTER UPDATE ON host_groups REFERENCING NEW TABLE AS changed_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION talon_host_versions_bump();
CREATE TRIGGER host_groups_versions_deleted AFTER DELETE ON host_groups REFERENCING OLD TABLE AS changed_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION talon_host_versions_bump();
CREATE TRIGGER host_groups_changed AFTER INSERT OR UPDATE OR DELETE ON host_groups
    FOR EACH STATEMENT EXECUTE FUNCTION talon_hosts_changed();
