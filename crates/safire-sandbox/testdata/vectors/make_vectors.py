#!/usr/bin/env python3
"""Client-assertion test vectors for safire-sandbox, made with an independent
JOSE implementation (joserfc, on top of pyca/cryptography).

    pip install joserfc cryptography
    python3 make_vectors.py

Keys are fixed and committed next to this script (generated once if absent):
  es384.pem / es384.jwk.json  (P-384)
  rs384.pem / rs384.jwk.json  (RSA-2048)
All vectors are valid at the fixed time NOW for the token endpoint TOKEN_URL.
The sandbox tests freeze its clock at NOW and advertise the matching base URL.
Output: vectors.json (deterministic apart from ECDSA/PSS randomness; RS384 is
PKCS#1 v1.5 so deterministic).
"""
import base64
import json
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1767225600  # 2026-01-01T00:00:00Z
BASE_URL = "https://sandbox.example/fhir"
TOKEN_URL = BASE_URL + "/token"
ES_CLIENT = "vector-es384-client"
RS_CLIENT = "vector-rs384-client"
ES_KID = "vector-es384-key"
RS_KID = "vector-rs384-key"
ALGS = ["ES384", "RS384", "RS256", "HS384"]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_or_create(name, kid, generate):
    pem_path = os.path.join(HERE, name + ".pem")
    if not os.path.exists(pem_path):
        private = generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with open(pem_path, "wb") as f:
            f.write(pem)
    with open(pem_path, "rb") as f:
        pem = f.read()
    return pem


def public_jwk(key, kid, alg):
    d = key.as_dict(private=False)
    d.update({"kid": kid, "alg": alg, "use": "sig"})
    return d


def claims(client_id, jti, iat=NOW - 10, exp=NOW + 240, aud=TOKEN_URL):
    return {"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": iat, "exp": exp}


def sign(key, alg, kid, payload):
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    return jwt.encode(header, payload, key, algorithms=ALGS)


def tamper(token):
    h, p, s = token.split(".")
    sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    sig[len(sig) // 2] ^= 0x01
    return ".".join([h, p, b64u(bytes(sig))])


def main():
    es_pem = load_or_create("es384", ES_KID, lambda: ec.generate_private_key(ec.SECP384R1()))
    rs_pem = load_or_create("rs384", RS_KID, lambda: rsa.generate_private_key(65537, 2048))
    es_key = ECKey.import_key(es_pem)
    rs_key = RSAKey.import_key(rs_pem)
    es_jwk = public_jwk(es_key, ES_KID, "ES384")
    rs_jwk = public_jwk(rs_key, RS_KID, "RS384")
    for name, jwk in (("es384", es_jwk), ("rs384", rs_jwk)):
        with open(os.path.join(HERE, name + ".jwk.json"), "w") as f:
            json.dump(jwk, f, indent=2, sort_keys=True)
            f.write("\n")

    vectors = []

    def add(name, client_id, assertion, expect, note):
        vectors.append({"name": name, "client_id": client_id, "assertion": assertion,
                        "expect": expect, "note": note})

    add("es384_valid", ES_CLIENT, sign(es_key, "ES384", ES_KID, claims(ES_CLIENT, "jti-es-valid")),
        "accept", "valid ES384 assertion")
    add("rs384_valid", RS_CLIENT, sign(rs_key, "RS384", RS_KID, claims(RS_CLIENT, "jti-rs-valid")),
        "accept", "valid RS384 assertion")
    add("es384_tampered_signature", ES_CLIENT,
        tamper(sign(es_key, "ES384", ES_KID, claims(ES_CLIENT, "jti-es-tampered"))),
        "invalid_client", "one signature bit flipped")
    add("rs384_tampered_signature", RS_CLIENT,
        tamper(sign(rs_key, "RS384", RS_KID, claims(RS_CLIENT, "jti-rs-tampered"))),
        "invalid_client", "one signature bit flipped")
    add("es384_expired", ES_CLIENT,
        sign(es_key, "ES384", ES_KID, claims(ES_CLIENT, "jti-es-expired", iat=NOW - 400, exp=NOW - 100)),
        "invalid_client", "exp in the past")
    add("es384_exp_too_far", ES_CLIENT,
        sign(es_key, "ES384", ES_KID, claims(ES_CLIENT, "jti-es-far", exp=NOW + 3600)),
        "invalid_client", "exp more than 5 minutes ahead")
    add("es384_wrong_audience", ES_CLIENT,
        sign(es_key, "ES384", ES_KID, claims(ES_CLIENT, "jti-es-aud", aud=BASE_URL + "/authorize")),
        "invalid_client", "aud is not the token endpoint")
    add("rs384_wrong_audience", RS_CLIENT,
        sign(rs_key, "RS384", RS_KID, claims(RS_CLIENT, "jti-rs-aud", aud="https://other.example/token")),
        "invalid_client", "aud is another server")
    none_header = {"alg": "none", "kid": ES_KID, "typ": "JWT"}
    none_token = ".".join([b64u(json.dumps(none_header).encode()),
                           b64u(json.dumps(claims(ES_CLIENT, "jti-none")).encode()), ""])
    add("alg_none", ES_CLIENT, none_token, "invalid_client", "unsigned JWS (alg none)")
    add("rs256_not_allowed", RS_CLIENT,
        sign(rs_key, "RS256", RS_KID, claims(RS_CLIENT, "jti-rs256")),
        "invalid_client", "RS256 is not an accepted algorithm")
    # HS384 keyed with the RSA public JWK's modulus: classic algorithm confusion.
    hs_key = OctKey.import_key(rs_jwk["n"].encode())
    add("hs384_confusion", RS_CLIENT,
        sign(hs_key, "HS384", RS_KID, claims(RS_CLIENT, "jti-hs384")),
        "invalid_client", "HMAC with public key material as secret")
    add("es384_sub_mismatch", ES_CLIENT,
        sign(es_key, "ES384", ES_KID, {**claims(ES_CLIENT, "jti-es-sub"), "sub": "someone-else"}),
        "invalid_client", "sub != iss")
    add("es384_replay_first", ES_CLIENT,
        sign(es_key, "ES384", ES_KID, claims(ES_CLIENT, "jti-es-replay")),
        "accept", "first use of jti-es-replay")
    add("es384_replay_second", ES_CLIENT,
        sign(es_key, "ES384", ES_KID, claims(ES_CLIENT, "jti-es-replay", iat=NOW - 5, exp=NOW + 200)),
        "invalid_client", "same jti again (a fresh signature): replay")

    out = {
        "generator": "joserfc (make_vectors.py)",
        "now": NOW,
        "base_url": BASE_URL,
        "token_url": TOKEN_URL,
        "clients": {
            ES_CLIENT: {"jwks": {"keys": [es_jwk]}},
            RS_CLIENT: {"jwks": {"keys": [rs_jwk]}},
        },
        "vectors": vectors,
    }
    with open(os.path.join(HERE, "vectors.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"wrote {len(vectors)} vectors")


if __name__ == "__main__":
    main()
