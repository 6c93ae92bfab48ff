-- Incremental sync of API clients: every insert and every change of a client stamps its row with the next
-- value of the `clients` counter (`change_seq`), and a deletion leaves a tombstone stamped the same way, so
-- a node that has read up to some sequence asks for the rows and tombstones past it (an indexed range)
-- instead of reading every client again. SQLite serialises writers, so sequences commit in order.
ALTER TABLE api_clients ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX api_clients_by_change ON api_clients (change_seq);
CREATE TABLE client_tombstones (
    client_id TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL
);
CREATE INDEX client_tombstones_by_seq ON client_tombstones (seq);

-- How many clients each customer has, kept by the triggers below: the total of a listing without filters
-- (every client, or one customer's) is read here instead of counted row by row. A client's customer never
-- changes, so inserts and deletes are all that move it.
CREATE TABLE client_counts (
    cid     TEXT PRIMARY KEY,
    clients INTEGER NOT NULL
);
INSERT INTO client_counts (cid, clients) SELECT cid, COUNT(*) FROM api_clients GROUP BY cid;

-- The counter triggers of 0001 are replaced by these, which move the counter once per change and stamp it.
DROP TRIGGER clients_inserted;
DROP TRIGGER clients_updated;
DROP TRIGGER clients_deleted;
CREATE TRIGGER clients_inserted AFTER INSERT ON api_clients
BEGIN
    UPDATE change_counters SET value = value + 1 WHERE name = 'clients';
    UPDATE api_clients SET change_seq = (SELECT value FROM change_counters WHERE name = 'clients')
        WHERE client_id = NEW.client_id;
    DELETE FROM client_tombstones WHERE client_id = NEW.client_id;
    INSERT INTO client_counts (cid, clients) VALUES (NEW.cid, 1)
        ON CONFLICT (cid) DO UPDATE SET clients = clients + 1;
END;
-- last_used_at is left out on purpose: recording use is not a change of the client (and change_seq is left
-- out so that stamping a row does not count as another change).
CREATE TRIGGER clients_updated AFTER UPDATE OF name, description, scopes, cid, member_cids, allowed_ips, enabled,
    secret_digest, tokens_not_before ON api_clients
BEGIN
    UPDATE change_counters SET value = value + 1 WHERE name = 'clients';
    UPDATE api_clients SET change_seq = (SELECT value FROM change_counters WHERE name = 'clients')
        WHERE client_id = NEW.client_id;
END;
CREATE TRIGGER clients_deleted AFTER DELETE ON api_clients
BEGIN
    UPDATE change_counters SET value = value + 1 WHERE name = 'clients';
    INSERT INTO client_tombstones (client_id, seq)
        VALUES (OLD.client_id, (SELECT value FROM change_counters WHERE name = 'clients'))
        ON CONFLICT (client_id) DO UPDATE SET seq = excluded.seq;
    UPDATE client_counts SET clients = clients - 1 WHERE cid = OLD.cid;
END;

-- The admin listing pages by seek in creation order or by name (all clients, or one customer's) in SQL.
CREATE INDEX api_clients_by_creation ON api_clients (created_at, client_id);
CREATE INDEX api_clients_by_customer ON api_clients (cid, created_at, client_id);
CREATE INDEX api_clients_by_name ON api_clients (name, client_id);
CREATE INDEX api_clients_by_customer_name ON api_clients (cid, name, client_id);
