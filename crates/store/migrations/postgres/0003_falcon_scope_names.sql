-- Scope resources take Falcon's own wire names (the operation catalogue): clients stored under Talon's
-- earlier names get the Falcon name for the same scope. The old names still parse (talon_wire::scope::
-- LEGACY_RESOURCES), so tokens issued before this migration keep working; this only makes stored clients
-- read as they are shown. Each name is matched with its opening quote, so `self-service-ioa-exclusions`
-- is not touched by the `ioa-exclusions` rename.
UPDATE api_clients SET scopes =
    replace(replace(replace(replace(scopes,
        '"event-streams:', '"streaming:'),
        '"ioa-exclusions:', '"self-service-ioa-exclusions:'),
        '"sample-uploads:', '"samplestore:'),
        '"user-management:', '"usermgmt:')
WHERE scopes LIKE '%"event-streams:%' OR scopes LIKE '%"ioa-exclusions:%'
   OR scopes LIKE '%"sample-uploads:%' OR scopes LIKE '%"user-management:%';
