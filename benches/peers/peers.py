"""Times pyjwt and joserfc signing the SMART Backend Services assertion Safire's benches sign.

Same keys (benches/data), same header and claims, a fresh 128-bit jti per assertion. Prints
one JSON object per line: {"peer", "row", "median_us", "min_us", "max_us", "repeats"}.
"""

import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
KEYS = [("ES384", "p384.pkcs8.pem"), ("RS384-2048", "rsa2048.pkcs8.pem"), ("RS384-3072", "rsa3072.pkcs8.pem")]
TOKEN_URL = "https://ehr.example.com/oauth2/token"
CLIENT_ID = "bench-backend-service"
KID = "bench-key-1"
NOW = 1_700_000_000
REPEATS = int(os.environ.get("REPEATS", "15"))
BUDGET = float(os.environ.get("BUDGET_SECONDS", "0.2"))  # per repeat


def claims():
    jti = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    return {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": TOKEN_URL, "exp": NOW + 300, "iat": NOW, "jti": jti}


def timed(fn):
    fn()
    n = 1
    while True:  # calibrate: enough iterations for BUDGET seconds
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > BUDGET / 4:
            break
        n *= 2
    n = max(1, int(n * BUDGET / elapsed))
    per_op = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        per_op.append((time.perf_counter() - start) / n * 1e6)
    return per_op


def pyjwt_signers():
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    for row, file in KEYS:
        key = load_pem_private_key((DATA / file).read_bytes(), password=None)  # parsed once
        alg = row[:5]
        yield row, (lambda key=key, alg=alg: jwt.encode(claims(), key, algorithm=alg, headers={"kid": KID, "typ": "JWT"})), jwt.__version__


def joserfc_signers():
    import joserfc
    from joserfc import jwt
    from joserfc.jwk import ECKey, RSAKey

    for row, file in KEYS:
        pem = (DATA / file).read_bytes()
        key = ECKey.import_key(pem) if row == "ES384" else RSAKey.import_key(pem)  # parsed once
        alg = row[:5]
        yield row, (lambda key=key, alg=alg: jwt.encode({"alg": alg, "kid": KID, "typ": "JWT"}, claims(), key, algorithms=[alg])), getattr(joserfc, "__version__", "?")


def main():
    import cryptography

    for peer, signers in [("pyjwt", pyjwt_signers), ("joserfc", joserfc_signers)]:
        try:
            rows = list(signers())
        except ImportError as e:
            print(f"# {peer}: not installed ({e})", file=sys.stderr)
            continue
        for row, fn, version in rows:
            token = fn()
            assert token.count(".") == 2
            samples = timed(fn)
            print(json.dumps({
                "peer": f"{peer} {version} (cryptography {cryptography.__version__}, Python {sys.version.split()[0]})",
                "row": row,
                "median_us": round(statistics.median(samples), 2),
                "min_us": round(min(samples), 2),
                "max_us": round(max(samples), 2),
                "repeats": len(samples),
            }), flush=True)


if __name__ == "__main__":
    main()
