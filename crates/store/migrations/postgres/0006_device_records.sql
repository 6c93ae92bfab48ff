-- A host is kept as its whole device record (the hosts API's fields, as JSON): the record has some sixty
-- fields, all of them filterable in memory, and a column per field would have to follow every new one.
-- Only what is not part of the record, or what SQL selects by, stays a column.
ALTER TABLE hosts ADD COLUMN record TEXT NOT NULL DEFAULT '{}';
UPDATE hosts SET record = json_build_object(
    'device_id', device_id, 'cid', cid, 'hostname', hostname, 'platform_name', platform_name,
    'os_version', os_version, 'local_ip', local_ip, 'external_ip', external_ip, 'mac_address', mac_address,
    'agent_version', agent_version,
    'first_seen', to_char(to_timestamp(first_seen) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'last_seen', to_char(to_timestamp(last_seen) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'modified_timestamp', to_char(to_timestamp(last_seen) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'status', status, 'tags', tags::json, 'groups', '[]'::json)::text;
DROP INDEX hosts_by_customer;
ALTER TABLE hosts
    DROP COLUMN hostname, DROP COLUMN platform_name, DROP COLUMN os_version, DROP COLUMN local_ip,
    DROP COLUMN local_ip_num, DROP COLUMN external_ip, DROP COLUMN external_ip_num, DROP COLUMN mac_address,
    DROP COLUMN agent_version, DROP COLUMN first_seen, DROP COLUMN last_seen, DROP COLUMN status,
    DROP COLUMN tags;
CREATE INDEX hosts_by_customer ON hosts (cid);
