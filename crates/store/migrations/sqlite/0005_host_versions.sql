-- A version per customer's hosts, moved by every change of one of its hosts: a node that learns from the
-- `hosts` counter that hosts changed reads these (one row per customer) and drops the cached hosts of
-- only the customers whose version moved, not every customer's.
CREATE TABLE host_versions (
    cid     TEXT PRIMARY KEY REFERENCES customers (cid),
    version INTEGER NOT NULL
);
INSERT INTO host_versions (cid, version) SELECT DISTINCT cid, 1 FROM hosts;
CREATE TRIGGER host_versions_inserted AFTER INSERT ON hosts
BEGIN
    INSERT INTO host_versions (cid, version) VALUES (NEW.cid, 1)
    ON CONFLICT (cid) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER host_versions_updated AFTER UPDATE ON hosts
BEGIN
    INSERT INTO host_versions (cid, version) VALUES (NEW.cid, 1)
    ON CONFLICT (cid) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER host_versions_deleted AFTER DELETE ON hosts
BEGIN
    INSERT INTO host_versions (cid, version) VALUES (OLD.cid, 1)
    ON CONFLICT (cid) DO UPDATE SET version = version + 1;
END;
