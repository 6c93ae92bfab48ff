-- Signing keys can be retired (`talon keys retire`): from `retired_at` on, the tokens a key signed are
-- refused, and a key with any `retired_at` signs no more. Nodes reload their keys when the counter moves,
-- so an update counts as a change of the keys, as an insert does.
ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;
CREATE TRIGGER keys_updated AFTER UPDATE ON signing_keys
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'keys'; END;
