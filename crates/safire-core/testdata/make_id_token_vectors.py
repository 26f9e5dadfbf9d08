#!/usr/bin/env python3
"""ID token test vectors for safire-core's `verify_id_token`, made with an
independent JOSE implementation (joserfc, on top of pyca/cryptography).

    pip install joserfc cryptography
    python3 make_id_token_vectors.py

Keys: the committed test keys next to this script (rsa2048.pkcs8.pem,
p256.pkcs8.pem, p384.pkcs8.pem) plus rotated-p256.pkcs8.pem, the key the
server "rotates to" (generated once if absent, then committed).

Every vector is judged at the fixed time NOW with the issuer, client id,
nonce, FHIR base and skew recorded in the output; `expect` is "ok" or the
exact error variant (`Jws.<VerifyError>` or `<IdTokenError>`). Vectors with
`"jwks": "rotated"` are checked against the set after rotation.

A few refused variants need bytes no JOSE library will produce on purpose
(duplicate JSON members, `crit`, `alg: none`, HMAC keyed with the RSA public
key); those are signed by hand with pyca/cryptography or hmac, never with
Safire. Output: id_token_vectors.json (deterministic apart from ECDSA and PSS
randomness).
"""
import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1767225600  # 2026-01-01T00:00:00Z
SKEW = 60
ISSUER = "https://ehr.example/auth"
CLIENT_ID = "vector-app"
FHIR_BASE = "https://ehr.example/fhir"
NONCE = "n-0S6_WzA2Mj-vectors"
ALGS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def read(name: str) -> bytes:
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()


def rotated_pem() -> bytes:
    path = os.path.join(HERE, "rotated-p256.pkcs8.pem")
    if not os.path.exists(path):
        key = ec.generate_private_key(ec.SECP256R1())
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return read("rotated-p256.pkcs8.pem")


def public_jwk(key, kid, alg=None):
    d = key.as_dict(private=False)
    d.pop("kid", None)
    d.update({"kid": kid, "use": "sig"})
    if alg:
        d["alg"] = alg
    return d


def claims(**overrides):
    c = {
        "iss": ISSUER,
        "sub": "user-8f14e45f",
        "aud": CLIENT_ID,
        "exp": NOW + 300,
        "iat": NOW - 10,
        "auth_time": NOW - 60,
        "nonce": NONCE,
        "fhirUser": "Practitioner/dr-1",
        "name": "Dr. Vector Example",
        "email": "dr.vector@ehr.example",
    }
    for k, v in overrides.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def sign(key, alg, kid, payload):
    header = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, payload, key, algorithms=ALGS)


def tamper(token):
    h, p, s = token.split(".")
    sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    sig[len(sig) // 2] ^= 0x01
    return ".".join([h, p, b64u(bytes(sig))])


def raw_rs256(private, header_json: bytes, payload_json: bytes) -> str:
    """RS256 over hand-written header and payload bytes (pyca/cryptography)."""
    signing_input = b64u(header_json) + "." + b64u(payload_json)
    sig = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64u(sig)


def main():
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    rsa_pem, p256_pem, p384_pem = (read("rsa2048.pkcs8.pem"), read("p256.pkcs8.pem"),
                                   read("p384.pkcs8.pem"))
    rot_pem = rotated_pem()
    rsa_key, p256_key, p384_key, rot_key = (RSAKey.import_key(rsa_pem), ECKey.import_key(p256_pem),
                                            ECKey.import_key(p384_pem), ECKey.import_key(rot_pem))
    rsa_private = load_pem_private_key(rsa_pem, None)

    keys = [
        public_jwk(rsa_key, "rsa-1"),                 # any RSA algorithm
        public_jwk(p256_key, "ec256-1", "ES256"),
        public_jwk(p384_key, "ec384-1", "ES384"),
        # One kid for an RSA and an EC key (RFC 7517 §4.5 allows it across key types).
        public_jwk(rsa_key, "shared", "RS256"),
        public_jwk(p256_key, "shared", "ES256"),
        # An encryption key: never used to verify.
        {**public_jwk(rsa_key, "enc-1", "RSA-OAEP"), "use": "enc"},
    ]
    jwks = {"keys": keys}
    jwks_rotated = {"keys": keys + [public_jwk(rot_key, "rotated-2026", "ES256")]}

    vectors = []

    def add(name, token, expect, note, jwks_name=None, **validation):
        v = {"name": name, "token": token, "expect": expect, "note": note}
        if jwks_name:
            v["jwks"] = jwks_name
        if validation:
            v["validation"] = validation
        vectors.append(v)

    # Valid: every algorithm.
    for alg, key, kid in [("RS256", rsa_key, "rsa-1"), ("RS384", rsa_key, "rsa-1"),
                          ("RS512", rsa_key, "rsa-1"), ("PS256", rsa_key, "rsa-1"),
                          ("ES256", p256_key, "ec256-1"), ("ES384", p384_key, "ec384-1")]:
        add(f"{alg.lower()}_valid", sign(key, alg, kid, claims()), "ok", f"valid {alg} id_token")
    add("es384_valid_without_kid", sign(p384_key, "ES384", None, claims()), "ok",
        "no kid, and exactly one key in the set fits ES384")
    add("rs256_valid_absolute_fhir_user_multi_aud",
        sign(rsa_key, "RS256", "rsa-1", claims(fhirUser="https://ehr.example/fhir/Patient/p-42",
                                               aud=[CLIENT_ID, "https://ehr.example/fhir"],
                                               azp=CLIENT_ID)),
        "ok", "absolute fhirUser, several audiences with azp = client id")
    add("rs256_valid_no_nonce_expected",
        sign(rsa_key, "RS256", "rsa-1", claims(nonce=None)), "ok",
        "no nonce sent, none in the token", nonce=None)
    add("rs256_valid_exp_within_skew",
        sign(rsa_key, "RS256", "rsa-1", claims(exp=NOW - 30, iat=NOW - 400)), "ok",
        "exp 30 s past: within the 60 s skew")

    # Signatures and keys.
    add("rs256_tampered_signature", tamper(sign(rsa_key, "RS256", "rsa-1", claims())),
        "Jws.BadSignature", "one signature bit flipped")
    add("es256_tampered_signature", tamper(sign(p256_key, "ES256", "ec256-1", claims())),
        "Jws.BadSignature", "one signature bit flipped")
    add("ps256_tampered_signature", tamper(sign(rsa_key, "PS256", "rsa-1", claims())),
        "Jws.BadSignature", "one signature bit flipped")
    good = sign(rsa_key, "RS256", "rsa-1", claims())
    h, _, s = good.split(".")
    add("rs256_payload_swapped", ".".join([h, b64u(json.dumps(claims(sub="admin")).encode()), s]),
        "Jws.BadSignature", "payload replaced, signature kept")
    none_header = b64u(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
    add("alg_none", none_header + "." + b64u(json.dumps(claims()).encode()) + ".",
        "Jws.AlgNone", "unsigned JWS (alg none)")
    # HS256 keyed with the RSA public key (PEM bytes): the classic algorithm confusion.
    public_pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_input = (b64u(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode()) + "."
                + b64u(json.dumps(claims()).encode()))
    hs_sig = hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()
    add("hs256_confusion_rsa_public_key", hs_input + "." + b64u(hs_sig), "Jws.HmacAlgorithm",
        "HMAC keyed with the RSA public key PEM")
    add("unknown_kid_rotation", sign(rot_key, "ES256", "rotated-2026", claims()),
        "Jws.UnknownKid", "signed with the key the server rotated to; not in the cached set")
    add("unknown_kid_after_refetch", sign(rot_key, "ES256", "rotated-2026", claims()),
        "ok", "the same kind of token against the re-fetched set", jwks_name="rotated")
    add("kid_collision_rs256", sign(rsa_key, "RS256", "shared", claims()), "ok",
        "kid shared by an RSA and an EC key: RS256 selects the RSA one")
    add("kid_collision_es256", sign(p256_key, "ES256", "shared", claims()), "ok",
        "kid shared by an RSA and an EC key: ES256 selects the EC one")
    add("kid_collision_es384_no_fit", sign(p384_key, "ES384", "shared", claims()),
        "Jws.KeyMismatch", "kid known, but neither key with it is P-384")
    es = sign(p256_key, "ES256", "shared", claims())
    _, p, s = es.split(".")
    rs_header = b64u(json.dumps({"alg": "RS256", "kid": "shared", "typ": "JWT"}).encode())
    add("kid_collision_es256_bytes_as_rs256", ".".join([rs_header, p, s]), "Jws.BadSignature",
        "an ES256 signature relabelled RS256: checked with the RSA key and refused")
    add("rs256_no_kid_ambiguous", sign(rsa_key, "RS256", None, claims()), "Jws.AmbiguousKey",
        "no kid and several RSA keys fit (OIDC Core 10.1 requires a kid then)")
    add("rs256_enc_key", sign(rsa_key, "RS256", "enc-1", claims()), "Jws.KeyMismatch",
        "the kid names an encryption key (use enc)")
    add("es256_with_kid_of_rsa_key", sign(p256_key, "ES256", "rsa-1", claims()),
        "Jws.KeyMismatch", "kid of an RSA key on an ES256 token")
    add("crit_header", raw_rs256(rsa_private,
                                 json.dumps({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"],
                                             "exp": NOW}).encode(),
                                 json.dumps(claims()).encode()),
        "Jws.CriticalHeader", "crit header (no extension is understood)")
    add("duplicate_header_member",
        raw_rs256(rsa_private, b'{"alg":"RS256","kid":"rsa-1","kid":"rsa-1"}',
                  json.dumps(claims()).encode()),
        "Jws.DuplicateMember", "kid twice in the header")
    add("duplicate_payload_member",
        raw_rs256(rsa_private, b'{"alg":"RS256","kid":"rsa-1"}',
                  json.dumps(claims())[:-1].encode() + b', "sub": "admin"}'),
        "DuplicateClaim", "sub twice in the payload (validly signed)")

    # Claims.
    add("wrong_iss", sign(rsa_key, "RS256", "rsa-1", claims(iss="https://evil.example/auth")),
        "IssuerMismatch", "iss is another server")
    add("iss_trailing_slash", sign(rsa_key, "RS256", "rsa-1", claims(iss=ISSUER + "/")),
        "IssuerMismatch", "iss compared exactly")
    add("wrong_aud", sign(rsa_key, "RS256", "rsa-1", claims(aud="another-app")),
        "AudienceMismatch", "aud is another client")
    add("multi_aud_without_azp",
        sign(rsa_key, "RS256", "rsa-1", claims(aud=[CLIENT_ID, "another-app"])),
        "AuthorizedPartyMismatch", "several audiences and no azp")
    add("wrong_azp", sign(rsa_key, "RS256", "rsa-1", claims(azp="another-app")),
        "AuthorizedPartyMismatch", "azp is another client")
    add("expired", sign(rsa_key, "RS256", "rsa-1", claims(exp=NOW - 61, iat=NOW - 400)),
        "Expired", "exp 61 s past: beyond the 60 s skew")
    add("iat_in_future", sign(rsa_key, "RS256", "rsa-1", claims(iat=NOW + 120, exp=NOW + 600)),
        "IssuedInFuture", "iat 2 minutes ahead")
    add("nbf_in_future", sign(rsa_key, "RS256", "rsa-1", claims(nbf=NOW + 120)),
        "NotYetValid", "nbf 2 minutes ahead")
    add("wrong_nonce", sign(rsa_key, "RS256", "rsa-1", claims(nonce="another-nonce")),
        "NonceMismatch", "nonce differs from the one sent")
    add("missing_nonce", sign(rsa_key, "RS256", "rsa-1", claims(nonce=None)),
        "NonceMissing", "a nonce was sent, the token has none")
    add("missing_sub", sign(rsa_key, "RS256", "rsa-1", claims(sub=None)),
        "MissingClaim", "no sub")
    add("exp_as_string", sign(rsa_key, "RS256", "rsa-1", claims(exp=str(NOW + 300))),
        "InvalidClaim", "exp is a string, not a NumericDate")

    out = {
        "generator": "joserfc (make_id_token_vectors.py)",
        "now": NOW,
        "skew": SKEW,
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "fhir_base": FHIR_BASE,
        "nonce": NONCE,
        "jwks": jwks,
        "jwks_rotated": jwks_rotated,
        "vectors": vectors,
    }
    with open(os.path.join(HERE, "id_token_vectors.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"wrote {len(vectors)} vectors")


if __name__ == "__main__":
    main()
