"""FalconPy interoperability check for a running Talon server.

Talon emulates the CrowdStrike Falcon API wire contract
(shared/falcon-wire.md): real clients must work against it unmodified,
with only the base URL pointed at Talon. This script drives the unmodified
FalconPy SDK (pinned to 1.6.6 by scripts/python-env.sh) against a live
Talon server and checks what FalconPy sees: token issue and failure, the
Hosts service class, scope enforcement, revocation, logout, the Uber class
and MSSP member CIDs; and, beyond Falcon, that PyJWT verifies a token
against the JWKS that the RFC 8414 metadata names, and that RFC 7662
introspection says active for a live token and inactive once revoked.

The Rust integration test starts the server, seeds the API clients and
devices, and passes them in the environment:

    TALON_BASE_URL         e.g. http://127.0.0.1:PORT
    TALON_ADMIN_ID         client with every scope (devices:read/write, ...)
    TALON_ADMIN_SECRET
    TALON_READONLY_ID      client with devices:read only
    TALON_READONLY_SECRET
    TALON_MEMBER_CID       a CID the admin client may act for
    TALON_OTHER_CID        a CID the admin client may not act for

Checks run in order and print "ok <name>" as each passes. The first
failure prints "FAIL <name>: ..." with the status and body seen, and the
script exits 1 (later checks build on earlier ones). It exits 0 only if
every check passed, and 2 if the environment is incomplete. Access tokens
are redacted from anything printed.

By hand, against a running server:

    TALON_BASE_URL=... TALON_ADMIN_ID=... (etc.) \\
        "$(scripts/python-env.sh)" tests/interop/falconpy_interop.py
"""
import base64
import json
import os
import sys
import traceback

import jwt
import requests
from falconpy import APIHarnessV2, CSPMRegistration, Hosts, OAuth2

TIMEOUT = 10
DEVICES_QUERY_ROUTE = "/devices/queries/devices/v1"
MSG_INVALID_TOKEN = "access denied, invalid bearer token"
MSG_AUTHZ_FAILED = "access denied, authorization failed"

ENV_NAMES = (
    "TALON_BASE_URL",
    "TALON_ADMIN_ID",
    "TALON_ADMIN_SECRET",
    "TALON_READONLY_ID",
    "TALON_READONLY_SECRET",
    "TALON_MEMBER_CID",
    "TALON_OTHER_CID",
)


def usage_error(message):
    """Report a bad environment and exit 2 (not a check failure)."""
    print(f"falconpy_interop: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


class CheckFailed(Exception):
    """A check saw something other than what the wire contract says."""


class Env:
    """The inputs given by the Rust test, read from the environment."""

    def __init__(self):
        missing = [name for name in ENV_NAMES if not os.environ.get(name)]
        if missing:
            usage_error("missing environment: " + ", ".join(missing))
        # FalconPy strips one trailing slash from base_url: compare like
        # for like.
        self.base_url = os.environ["TALON_BASE_URL"].rstrip("/")
        if "://" not in self.base_url:
            # Without a scheme FalconPy would prepend https://.
            usage_error("TALON_BASE_URL must include the scheme "
                        "(http://...)")
        self.admin_id = os.environ["TALON_ADMIN_ID"]
        self.admin_secret = os.environ["TALON_ADMIN_SECRET"]
        self.readonly_id = os.environ["TALON_READONLY_ID"]
        self.readonly_secret = os.environ["TALON_READONLY_SECRET"]
        self.member_cid = os.environ["TALON_MEMBER_CID"]
        self.other_cid = os.environ["TALON_OTHER_CID"]


# ------------------------------------------------------------------ helpers

def redact(value):
    """Return a copy of a response body with access tokens hidden."""
    if isinstance(value, dict):
        return {
            key: ("<redacted>" if key == "access_token" and item
                  else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def describe(result):
    """Render a FalconPy result dict (or anything else) for a message."""
    if isinstance(result, dict) and "status_code" in result:
        body = json.dumps(redact(result.get("body")), default=str)
        return f"status={result['status_code']} body={body}"
    return f"result={redact(result)!r}"


def expect(condition, what, result=None):
    """Raise CheckFailed, with what was seen, unless condition holds."""
    if not condition:
        seen = f" (saw {describe(result)})" if result is not None else ""
        raise CheckFailed(f"{what}{seen}")


def expect_status(result, wanted, what):
    """Expect a FalconPy result dict whose status_code is in wanted."""
    expect(isinstance(result, dict),
           f"{what}: FalconPy returned no result dict", result)
    expect(result.get("status_code") in wanted,
           f"{what}: expected status {' or '.join(map(str, wanted))}",
           result)


def first_error_message(result):
    """Return body.errors[0].message of a result dict, or None."""
    body = result.get("body")
    errors = (body.get("errors") if isinstance(body, dict) else None) or []
    if errors and isinstance(errors[0], dict):
        return errors[0].get("message")
    return None


def oauth2(env, client_id, client_secret, **kwargs):
    """Build a FalconPy OAuth2 object pointed at Talon."""
    return OAuth2(client_id=client_id, client_secret=client_secret,
                  base_url=env.base_url, timeout=TIMEOUT, **kwargs)


def get_devices_raw(env, token):
    """Call the devices query route with a bearer token, without FalconPy."""
    response = requests.get(f"{env.base_url}{DEVICES_QUERY_ROUTE}",
                            headers={"Authorization": f"Bearer {token}"},
                            timeout=TIMEOUT)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return {"status_code": response.status_code, "body": body}


def expect_token_refused(env, token, what):
    """Expect a direct call with token to get the contract's 401."""
    seen = get_devices_raw(env, token)
    expect(seen["status_code"] == 401,
           f"{what}: expected 401 from {DEVICES_QUERY_ROUTE}", seen)
    expect(first_error_message(seen) == MSG_INVALID_TOKEN,
           f"{what}: expected errors[0].message {MSG_INVALID_TOKEN!r}",
           seen)


def expect_token_accepted(env, token, what):
    """Expect a direct call with token to succeed."""
    seen = get_devices_raw(env, token)
    expect(seen["status_code"] == 200,
           f"{what}: expected 200 from {DEVICES_QUERY_ROUTE}", seen)


# ------------------------------------------------------------------- checks

def token_keeps_base_url(env, state):
    """a. token() gives 201 with a token and keeps the custom base_url."""
    auth = oauth2(env, env.admin_id, env.admin_secret)
    result = auth.token()
    expect_status(result, (201,), "token()")
    body = result["body"]
    expect(isinstance(body.get("access_token"), str)
           and body["access_token"],
           "token(): body has no access_token", result)
    # FalconPy reads expires_in unconditionally (KeyError without it) and
    # treats a non-integer as 0, i.e. a token that is always stale.
    expect(isinstance(body.get("expires_in"), int)
           and body["expires_in"] > 0,
           "token(): body has no positive integer expires_in", result)
    expect(str(body.get("token_type", "")).lower() == "bearer",
           "token(): token_type is not bearer", result)
    # FalconPy's autodiscovery swaps base_url for a CrowdStrike cloud when
    # the 201 carries an X-Cs-Region naming a region it knows.
    region = result["headers"].get("X-Cs-Region")
    expect(auth.base_url == env.base_url,
           f"token(): auth.base_url changed to {auth.base_url!r} "
           f"(X-Cs-Region: {region!r})", result)
    expect(auth.token_status == 201
           and auth.token_value == body["access_token"],
           "token(): the OAuth2 object did not take the token", result)
    state["auth"] = auth


def hosts_query_devices(env, state):
    """b. Hosts.query_devices_by_filter() lists IDs, with pagination."""
    hosts = Hosts(auth_object=state["auth"], timeout=TIMEOUT)
    result = hosts.query_devices_by_filter()
    expect_status(result, (200,), "query_devices_by_filter()")
    body = result["body"]
    expect(isinstance(body.get("resources"), list),
           "resources is not a list", result)
    pagination = (body.get("meta") or {}).get("pagination") or {}
    for key in ("offset", "limit", "total"):
        expect(key in pagination, f"meta.pagination has no {key!r}", result)
    expect(body["resources"],
           "no devices: the server must be seeded with some", result)
    expect(all(isinstance(item, str) for item in body["resources"]),
           "resources are not all device ID strings", result)

    limited = hosts.query_devices_by_filter(limit=2, sort="hostname.asc")
    expect_status(limited, (200,),
                  "query_devices_by_filter(limit=2, sort='hostname.asc')")
    resources = limited["body"].get("resources")
    expect(isinstance(resources, list) and len(resources) <= 2,
           "limit=2 did not give a list of at most 2 resources", limited)

    state["hosts"] = hosts
    state["device_id"] = body["resources"][0]


def hosts_filter_and_details(env, state):
    """b2. An FQL filter, sorted and paged, then the details of what it found."""
    hosts = state["hosts"]
    result = hosts.query_devices_by_filter(
        filter="platform_name:'Windows'+status:'normal'",
        sort="last_seen.desc", limit=50, offset=0)
    expect_status(result, (200,), "query_devices_by_filter(filter=...)")
    ids = result["body"].get("resources") or []
    expect(ids, "the Windows filter found no host", result)
    details = hosts.get_device_details(ids=ids)
    expect_status(details, (200,), "get_device_details(ids=...)")
    devices = details["body"].get("resources") or []
    expect(len(devices) == len(ids), "details did not answer every ID",
           details)
    expect(all(d.get("platform_name") == "Windows" for d in devices),
           "the filter let a non-Windows host through", details)
    seen = [d.get("last_seen") for d in devices]
    expect(seen == sorted(seen, reverse=True),
           "last_seen.desc did not sort newest first", details)
    bad = hosts.query_devices_by_filter(filter="platform_name='Windows'")
    expect_status(bad, (400,), "a malformed filter")
    expect("position" in first_error_message(bad),
           "a filter syntax error does not say where", bad)


def cspm_policy_settings(env, state):
    """b3. CSPMRegistration reads and changes policy settings."""
    cspm = CSPMRegistration(auth_object=state["auth"], timeout=TIMEOUT)
    result = cspm.get_policy_settings(service="S3", cloud_platform="aws")
    expect_status(result, (200,), "get_policy_settings(service='S3')")
    policies = result["body"].get("resources") or []
    expect(policies and all(p.get("cloud_service") == "S3"
                            for p in policies),
           "get_policy_settings did not answer S3 policies", result)
    policy_id = policies[0]["policy_id"]
    changed = cspm.update_policy_settings(
        policy_id=policy_id, enabled=False, severity="low",
        regions=["us-east-1"], tag_excluded=True,
        account_id="123456789012")
    expect_status(changed, (200,), "update_policy_settings(...)")
    again = cspm.get_policy_settings(policy_id=str(policy_id))
    expect_status(again, (200,), "get_policy_settings(policy_id=...)")
    setting = again["body"]["resources"][0]["policy_settings"][0]
    expect(setting.get("enabled") is False
           and setting.get("severity") == "low"
           and setting.get("regions") == ["us-east-1"],
           "the policy change did not persist", again)


def readonly_cannot_contain(env, state):
    """c. A devices:read-only client gets 403 on perform_action(contain)."""
    hosts = Hosts(client_id=env.readonly_id,
                  client_secret=env.readonly_secret,
                  base_url=env.base_url, timeout=TIMEOUT)
    expect(hosts.token_status == 201,
           f"read-only login failed: token_status={hosts.token_status} "
           f"token_fail_reason={hosts.token_fail_reason!r}")
    result = hosts.perform_action(action_name="contain",
                                  ids=[state["device_id"]])
    what = "read-only perform_action(contain)"
    expect_status(result, (403,), what)
    expect(first_error_message(result) == MSG_AUTHZ_FAILED,
           f"{what}: expected errors[0].message {MSG_AUTHZ_FAILED!r}",
           result)


def admin_can_contain(env, state):
    """d. The admin client's perform_action(contain) succeeds (2xx)."""
    result = state["hosts"].perform_action(action_name="contain",
                                           ids=[state["device_id"]])
    expect(isinstance(result, dict)
           and 200 <= result.get("status_code", 0) < 300,
           "admin perform_action(contain): expected 2xx", result)


def wrong_secret_rejected(env, state):
    """e. A wrong secret: 401/403, its message kept as token_fail_reason."""
    auth = oauth2(env, env.admin_id, "x" * 40)
    result = auth.token()
    expect_status(result, (401, 403), "token() with a wrong secret")
    message = first_error_message(result)
    expect(isinstance(message, str) and message.strip(),
           "token() with a wrong secret: errors[0].message is empty",
           result)
    # FalconPy copies body.errors[0].message into token_fail_reason.
    expect(auth.token_fail_reason == message,
           f"token_fail_reason is {auth.token_fail_reason!r}, "
           "expected the error message", result)
    expect(auth.token_value is None
           and auth.token_status == result["status_code"],
           "the OAuth2 object holds a token after a failed login", result)


def revoked_token_refused(env, state):
    """f. revoke(token=...) gives 200 and the token is refused at once."""
    auth = oauth2(env, env.admin_id, env.admin_secret)
    issued = auth.token()
    expect_status(issued, (201,), "token()")
    token = issued["body"]["access_token"]
    expect_token_accepted(env, token, "token before revoke")

    result = auth.revoke(token=token)
    expect_status(result, (200,), "revoke(token=...)")

    expect_token_refused(env, token, "revoked token, direct call")
    # The same through FalconPy: a Hosts object built on the bare token is
    # not refreshable, so FalconPy cannot hide the 401 by logging in again.
    hosts = Hosts(access_token=token, base_url=env.base_url,
                  timeout=TIMEOUT)
    via_sdk = hosts.query_devices_by_filter()
    what = "revoked token, Hosts(access_token=...)"
    expect_status(via_sdk, (401,), what)
    expect(first_error_message(via_sdk) == MSG_INVALID_TOKEN,
           f"{what}: expected errors[0].message {MSG_INVALID_TOKEN!r}",
           via_sdk)


def logout_revokes(env, state):
    """g. logout() revokes the current token; FalconPy reports 200."""
    auth = oauth2(env, env.admin_id, env.admin_secret)
    expect_status(auth.token(), (201,), "token()")
    token = auth.token_value
    # OAuth2.logout() returns a dict in 1.6.6. On a 200 from /oauth2/revoke
    # FalconPy swaps the body for its own {"message": ..., "resources": []};
    # on any other status it returns an error dict carrying that status.
    result = auth.logout()
    expect_status(result, (200,), "logout()")
    expect(auth.token_value is None,
           "the OAuth2 object still holds a token after logout()")
    expect_token_refused(env, token, "logged-out token")


def uber_token_and_revoke(env, state):
    """h. APIHarnessV2: oauth2AccessToken gives 201, oauth2RevokeToken 200."""
    falcon = APIHarnessV2(client_id=env.admin_id,
                          client_secret=env.admin_secret,
                          base_url=env.base_url, timeout=TIMEOUT)
    # FalconPy ignores this data payload: the Uber class logs itself in
    # first, then sends the credentials it was built with.
    issued = falcon.command("oauth2AccessToken",
                            data={"client_id": env.admin_id,
                                  "client_secret": env.admin_secret})
    expect_status(issued, (201,), "command('oauth2AccessToken')")
    token = (issued.get("body") or {}).get("access_token")
    expect(isinstance(token, str) and token,
           "oauth2AccessToken: no access_token", issued)
    expect(falcon.base_url == env.base_url,
           f"the Uber class changed base_url to {falcon.base_url!r}",
           issued)
    harness_token = falcon.token_value
    expect(harness_token,
           "the Uber class did not log itself in before the command")
    expect(harness_token != token,
           "two logins of one client gave the same token string "
           "(each token must be unique, or revoking one revokes both)")

    revoked = falcon.command("oauth2RevokeToken", token_value=token)
    expect_status(revoked, (200,),
                  "command('oauth2RevokeToken', token_value=...)")
    expect_token_refused(env, token, "token revoked through the Uber class")
    # Revoking one token must leave the harness's own token working.
    expect_token_accepted(env, harness_token,
                          "the Uber class's own token, after revoking "
                          "another token of the same client")
    expect(falcon.logout() is True,
           "APIHarnessV2.logout() did not report success")


def member_cid_login(env, state):
    """i. member_cid: an allowed CID gives 201, any other CID 403."""
    member = oauth2(env, env.admin_id, env.admin_secret,
                    member_cid=env.member_cid)
    result = member.token()
    expect_status(result, (201,), "token() with TALON_MEMBER_CID")
    expect(member.base_url == env.base_url,
           f"a member_cid login changed base_url to {member.base_url!r}",
           result)

    other = oauth2(env, env.admin_id, env.admin_secret,
                   member_cid=env.other_cid)
    result = other.token()
    expect_status(result, (403,), "token() with TALON_OTHER_CID")
    expect(other.token_value is None,
           "a forbidden member_cid login left a token in the object")


def pyjwt_verifies_and_introspection(env, state):
    """PyJWT verifies a token with the JWKS; introspection follows revoke."""
    meta_url = f"{env.base_url}/.well-known/oauth-authorization-server"
    meta = requests.get(meta_url, timeout=TIMEOUT).json()
    auth = oauth2(env, env.admin_id, env.admin_secret)
    result = auth.token()
    expect_status(result, (201,), "token() for the JWKS check")
    token = result["body"]["access_token"]

    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(
        token)
    claims = jwt.decode(token, signing_key.key, algorithms=["EdDSA"],
                        issuer=meta["issuer"],
                        options={"require": ["exp", "iat", "sub", "jti"]})
    expect(claims["sub"] == env.admin_id,
           f"PyJWT: sub is {claims['sub']!r}, not the client ID")
    expect(claims["exp"] - claims["iat"] == 1800,
           f"PyJWT: lifetime is {claims['exp'] - claims['iat']} s, not 1800")
    # The same token with a later expiry must fail on its signature.
    header, payload, signature = token.split(".")
    altered = dict(claims, exp=claims["exp"] + 3600)
    payload = base64.urlsafe_b64encode(
        json.dumps(altered).encode()).rstrip(b"=").decode()
    try:
        jwt.decode(f"{header}.{payload}.{signature}", signing_key.key,
                   algorithms=["EdDSA"], issuer=meta["issuer"])
        raise CheckFailed("PyJWT accepted a token with altered claims")
    except jwt.InvalidSignatureError:
        pass

    def introspect():
        response = requests.post(meta["introspection_endpoint"],
                                 auth=(env.admin_id, env.admin_secret),
                                 data={"token": token}, timeout=TIMEOUT)
        expect(response.status_code == 200,
               f"introspection answered {response.status_code}")
        return response.json()

    live = introspect()
    expect(live.get("active") is True and live.get("jti") == claims["jti"],
           f"introspection of a live token: {live!r}")
    expect_status(auth.revoke(token), (200,), "revoke() before introspection")
    ended = introspect()
    expect(ended == {"active": False},
           f"introspection of a revoked token: {ended!r}")


CHECKS = (
    token_keeps_base_url,
    pyjwt_verifies_and_introspection,
    hosts_query_devices,
    hosts_filter_and_details,
    cspm_policy_settings,
    readonly_cannot_contain,
    admin_can_contain,
    wrong_secret_rejected,
    revoked_token_refused,
    logout_revokes,
    uber_token_and_revoke,
    member_cid_login,
)


def main():
    """Run every check in order; stop at the first failure."""
    env = Env()
    state = {}
    for check in CHECKS:
        name = check.__name__
        try:
            check(env, state)
        except CheckFailed as failure:
            print(f"FAIL {name}: {failure}", flush=True)
            return 1
        except Exception:  # noqa: BLE001 - a crash fails the check too
            print(f"FAIL {name}: unexpected exception", flush=True)
            traceback.print_exc(file=sys.stdout)
            return 1
        print(f"ok {name}", flush=True)
    print(f"all {len(CHECKS)} FalconPy interop checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
