"""Writes fuzz/seeds/jwt_verify/: tokens of the jwt_verify target's fixed fuzzing key (Ed25519 seed
bytes 0..32, kid f022f022f022f022, issuer "talon"), spelled exactly as talon-auth's Keyring::issue
spells them (compact JSON, fields in order), so that libFuzzer starts from tokens that verify or fail
late (issuer, expiry) rather than at the first base64 character. Each file is the target's mode byte
(0: token text; 1 and 2: edits of the target's own genuine tokens; 3: of its retired key's token) and its
input.

Run once by hand (python3 with `cryptography`), from this folder; the files are committed. No token is
written that Keyring::issue would not write (a legacy scope name, say): the target treats a verified
token in any other spelling as a forgery.
"""
import base64
import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


def token(member=None, iss="talon", exp=1_800_001_800):
    header = b64(compact({"alg": "EdDSA", "typ": "JWT", "kid": "f022f022f022f022"}))
    claims = {"iss": iss, "sub": "0123456789abcdef0123456789abcdef", "cid": "fedcba9876543210fedcba9876543210"}
    if member:
        claims["member_cid"] = member
    claims.update(
        {"scp": ["devices:read", "devices:write"], "iat": 1_800_000_000, "exp": exp, "jti": "00112233445566778899aabbccddeeff"}
    )
    signing_input = f"{header}.{b64(compact(claims))}"
    return f"{signing_input}.{b64(KEY.sign(signing_input.encode()))}"


def main():
    os.makedirs("jwt_verify", exist_ok=True)
    texts = {
        "token": token(),
        "token-member": token(member="00112233445566778899aabbccddeeff"),
        "token-other-issuer": token(iss="elsewhere"),
        "token-expired": token(exp=1_800_000_001),
        "alg-none": b64(b'{"alg":"none","typ":"JWT"}') + "." + token().split(".")[1] + ".",
    }
    for name, text in texts.items():
        with open(os.path.join("jwt_verify", name), "wb") as f:
            f.write(b"\x00" + text.encode())
    # Edits (kind, position little-endian, operand): flip the last byte, insert '=' padding, truncate.
    edits = {"edit-flip": b"\x01" + bytes([0, 0xFF, 0xFF, 1]), "edit-insert": b"\x02" + bytes([1, 10, 0, ord("=")]),
             "edit-truncate": b"\x01" + bytes([3, 0xFE, 0xFF, 0]),
             # The retired key's token: unchanged (a flip with mask 0), then with its first byte flipped.
             "retired-unchanged": b"\x03" + bytes([0, 0, 0, 0]), "retired-flip": b"\x03" + bytes([0, 0, 1, 1])}
    for name, raw in edits.items():
        with open(os.path.join("jwt_verify", name), "wb") as f:
            f.write(raw)


if __name__ == "__main__":
    main()
