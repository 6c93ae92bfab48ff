-- The generic engine's records are cached by each node: a change counter (and its NOTIFY) tells every
-- node, and a write by another process such as `talon fixtures load`, that they moved.
INSERT INTO change_counters (name, value) VALUES ('entities', 0);
CREATE FUNCTION talon_entities_changed() RETURNS TRIGGER AS $$
BEGIN PERFORM talon_bump('entities'); RETURN NULL; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER entities_changed AFTER INSERT OR UPDATE OR DELETE ON entities
    FOR EACH STATEMENT EXECUTE FUNCTION talon_entities_changed();
