-- The generic engine's records are cached by each node: a change counter tells every node (and a write by
-- another process, such as `talon fixtures load`) that they moved.
INSERT INTO change_counters (name, value) VALUES ('entities', 0);
CREATE TRIGGER entities_inserted AFTER INSERT ON entities
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'entities'; END;
CREATE TRIGGER entities_updated AFTER UPDATE ON entities
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'entities'; END;
CREATE TRIGGER entities_deleted AFTER DELETE ON entities
BEGIN UPDATE change_counters SET value = value + 1 WHERE name = 'entities'; END;
