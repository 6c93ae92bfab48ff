-- Records of the generic engine (talon_emulator::generic): per customer and resource (`policy/prevention`),
-- each a JSON object under its ID. `seq` keeps the order of creation, the order queries answer in when
-- no sort is asked. Read by every request (nothing is cached), so no trigger moves a counter.
CREATE TABLE entities (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    cid      TEXT NOT NULL REFERENCES customers (cid),
    resource TEXT NOT NULL,
    id       TEXT NOT NULL,
    record   TEXT NOT NULL,
    UNIQUE (cid, resource, id)
);
