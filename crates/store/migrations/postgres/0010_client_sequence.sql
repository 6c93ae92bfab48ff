-- Incremental sync of API clients: every insert and every change of a client stamps its row with the next
-- value of the `clients` counter (`change_seq`), and a deletion leaves a tombstone stamped the same way, so
-- a node that has read up to some sequence asks for the rows and tombstones past it (an indexed range)
-- instead of reading every client again.
--
-- Why a sequence read past its highest value seen skips nothing although transactions run concurrently:
-- the counter's row is updated (so locked) by a transaction's first stamping, and the lock is held until
-- commit, so the transaction stamping s + 1 stamps only after the one stamping s has committed: a
-- snapshot that sees s + 1 sees s.
ALTER TABLE api_clients ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX api_clients_by_change ON api_clients (change_seq);
CREATE TABLE client_tombstones (
    client_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL
);
CREATE INDEX client_tombstones_by_seq ON client_tombstones (seq);

-- The statement triggers of 0001 are replaced by row triggers that move the counter once per change, stamp
-- it and announce it (NOTIFY collapses the announcements of one transaction into one).
DROP TRIGGER clients_inserted ON api_clients;
DROP TRIGGER clients_updated ON api_clients;
-- One sequence per transaction, not per row: the rows a transaction writes commit together, so they may
-- share it, and the counter's row is then updated once per transaction. (Updated per row, an import of
-- 100,000 clients left 100,000 dead versions of that one row, which every later read of the counters
-- walked until a vacuum: admin changes went from 5 to 36 ms.) The transaction's sequence is kept in a
-- setting local to it (`set_config(..., true)`), gone at its end.
CREATE FUNCTION talon_next_client_seq() RETURNS BIGINT AS $$
DECLARE
    seq BIGINT;
    taken TEXT := current_setting('talon.client_seq', true);
BEGIN
    IF taken IS NOT NULL AND taken <> '' THEN
        RETURN taken::BIGINT;
    END IF;
    UPDATE change_counters SET value = value + 1 WHERE name = 'clients' RETURNING value INTO seq;
    PERFORM set_config('talon.client_seq', seq::TEXT, true);
    PERFORM pg_notify('talon_changes', 'clients');
    RETURN seq;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION talon_client_stamped() RETURNS TRIGGER AS $$
BEGIN
    NEW.change_seq := talon_next_client_seq();
    IF TG_OP = 'INSERT' THEN
        DELETE FROM client_tombstones WHERE client_id = NEW.client_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION talon_client_buried() RETURNS TRIGGER AS $$
BEGIN
    INSERT INTO client_tombstones (client_id, seq) VALUES (OLD.client_id, talon_next_client_seq())
    ON CONFLICT (client_id) DO UPDATE SET seq = EXCLUDED.seq;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER clients_inserted BEFORE INSERT ON api_clients
    FOR EACH ROW EXECUTE FUNCTION talon_client_stamped();
-- last_used_at is left out on purpose: recording use is not a change of the client.
CREATE TRIGGER clients_updated BEFORE UPDATE OF name, description, scopes, cid, member_cids, allowed_ips, enabled,
    secret_digest, tokens_not_before ON api_clients FOR EACH ROW EXECUTE FUNCTION talon_client_stamped();
CREATE TRIGGER clients_deleted AFTER DELETE ON api_clients
    FOR EACH ROW EXECUTE FUNCTION talon_client_buried();

-- How many clients each customer has: the total of a listing without filters (every client, or one
-- customer's) is read here instead of counted row by row. A client's customer never changes, so inserts
-- and deletes are all that move it; statement triggers over the transition tables make one update per
-- customer a statement touched (an import inserts hundreds of clients per statement).
CREATE TABLE client_counts (
    cid     TEXT PRIMARY KEY,
    clients BIGINT NOT NULL
);
INSERT INTO client_counts (cid, clients) SELECT cid, COUNT(*) FROM api_clients GROUP BY cid;
CREATE FUNCTION talon_client_counts_added() RETURNS TRIGGER AS $$
BEGIN
    INSERT INTO client_counts (cid, clients) SELECT cid, COUNT(*) FROM added_clients GROUP BY cid
    ON CONFLICT (cid) DO UPDATE SET clients = client_counts.clients + EXCLUDED.clients;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION talon_client_counts_removed() RETURNS TRIGGER AS $$
BEGIN
    UPDATE client_counts SET clients = client_counts.clients - gone.n
    FROM (SELECT cid, COUNT(*) AS n FROM removed_clients GROUP BY cid) AS gone WHERE client_counts.cid = gone.cid;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER client_counts_inserted AFTER INSERT ON api_clients REFERENCING NEW TABLE AS added_clients
    FOR EACH STATEMENT EXECUTE FUNCTION talon_client_counts_added();
CREATE TRIGGER client_counts_deleted AFTER DELETE ON api_clients REFERENCING OLD TABLE AS removed_clients
    FOR EACH STATEMENT EXECUTE FUNCTION talon_client_counts_removed();

-- The admin listing pages by seek in creation order or by name (all clients, or one customer's) in SQL.
CREATE INDEX api_clients_by_creation ON api_clients (created_at, client_id);
CREATE INDEX api_clients_by_customer ON api_clients (cid, created_at, client_id);
CREATE INDEX api_clients_by_name ON api_clients (name, client_id);
CREATE INDEX api_clients_by_customer_name ON api_clients (cid, name, client_id);
