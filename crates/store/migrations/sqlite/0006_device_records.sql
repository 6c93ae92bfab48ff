-- A host is kept as its whole device record (the hosts API's fields, as JSON): the record has some sixty
-- fields, all of them filterable in memory, and a column per field would have to follow every new one.
-- Only what is not part of the record, or what SQL selects by, stays a column.
ALTER TABLE hosts ADD COLUMN record TEXT NOT NULL DEFAULT '{}';
UPDATE hosts SET record = json_object(
    'device_id', device_id, 'cid', cid, 'hostname', hostname, 'platform_name', platform_name,
    'os_version', os_version, 'local_ip', local_ip, 'external_ip', external_ip, 'mac_address', mac_address,
    'agent_version', agent_version, 'first_seen', strftime('%Y-%m-%dT%H:%M:%SZ', first_seen, 'unixepoch'),
    'last_seen', strftime('%Y-%m-%dT%H:%M:%SZ', last_seen, 'unixepoch'),
    'modified_timestamp', strftime('%Y-%m-%dT%H:%M:%SZ', last_seen, 'unixepoch'),
    'status', status, 'tags', json(tags), 'groups', json('[]'));
DROP INDEX hosts_by_customer;
ALTER TABLE hosts DROP COLUMN hostname;
ALTER TABLE hosts DROP COLUMN platform_name;
ALTER TABLE hosts DROP COLUMN os_version;
ALTER TABLE hosts DROP COLUMN local_ip;
ALTER TABLE hosts DROP COLUMN local_ip_num;
ALTER TABLE hosts DROP COLUMN external_ip;
ALTER TABLE hosts DROP COLUMN external_ip_num;
ALTER TABLE hosts DROP COLUMN mac_address;
ALTER TABLE hosts DROP COLUMN agent_version;
ALTER TABLE hosts DROP COLUMN first_seen;
ALTER TABLE hosts DROP COLUMN last_seen;
ALTER TABLE hosts DROP COLUMN status;
ALTER TABLE hosts DROP COLUMN tags;
CREATE INDEX hosts_by_customer ON hosts (cid);
