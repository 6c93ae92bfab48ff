-- A version per customer's hosts, moved by every change of one of its hosts: a node that learns from the
-- `hosts` counter that hosts changed reads these (one row per customer) and drops the cached hosts of
-- only the customers whose version moved, not every customer's. Statement triggers over the transition
-- table: one upsert per customer a statement touched, not one per host.
CREATE TABLE host_versions (
    cid     TEXT PRIMARY KEY REFERENCES customers (cid),
    version BIGINT NOT NULL
);
INSERT INTO host_versions (cid, version) SELECT DISTINCT cid, 1 FROM hosts;
CREATE FUNCTION talon_host_versions_bump() RETURNS TRIGGER AS $$
BEGIN
    INSERT INTO host_versions (cid, version) SELECT DISTINCT cid, 1 FROM changed_hosts
    ON CONFLICT (cid) DO UPDATE SET version = host_versions.version + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER host_versions_inserted AFTER INSERT ON hosts REFERENCING NEW TABLE AS changed_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION talon_host_versions_bump();
CREATE TRIGGER host_versions_updated AFTER UPDATE ON hosts REFERENCING NEW TABLE AS changed_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION talon_host_versions_bump();
CREATE TRIGGER host_versions_deleted AFTER DELETE ON hosts REFERENCING OLD TABLE AS changed_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION talon_host_versions_bump();
