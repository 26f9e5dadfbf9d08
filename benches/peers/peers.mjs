// Times `jose` (npm) signing the SMART Backend Services assertion Safire's benches sign.
// Same keys (benches/data), same header and claims, a fresh 128-bit jti per assertion.
// Prints one JSON object per line like peers.py.
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { SignJWT, importPKCS8 } from "jose";

const data = new URL("../data/", import.meta.url);
const keys = [["ES384", "p384.pkcs8.pem"], ["RS384-2048", "rsa2048.pkcs8.pem"], ["RS384-3072", "rsa3072.pkcs8.pem"]];
const NOW = 1_700_000_000;
const REPEATS = Number(process.env.REPEATS ?? 15);
const BUDGET = Number(process.env.BUDGET_SECONDS ?? 0.2) * 1000; // ms per repeat
const version = createRequire(import.meta.url)("jose/package.json").version;

const sign = (key, alg) =>
  new SignJWT({ jti: randomBytes(16).toString("base64url") })
    .setProtectedHeader({ alg, kid: "bench-key-1", typ: "JWT" })
    .setIssuer("bench-backend-service")
    .setSubject("bench-backend-service")
    .setAudience("https://ehr.example.com/oauth2/token")
    .setIssuedAt(NOW)
    .setExpirationTime(NOW + 300)
    .sign(key);

async function timed(fn) {
  await fn();
  let n = 1, elapsed;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await fn();
    elapsed = performance.now() - start;
    if (elapsed > BUDGET / 4) break;
    n *= 2;
  }
  n = Math.max(1, Math.floor((n * BUDGET) / elapsed));
  const perOp = [];
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await fn();
    perOp.push(((performance.now() - start) / n) * 1000);
  }
  return perOp.sort((a, b) => a - b);
}

for (const [row, file] of keys) {
  const alg = row.slice(0, 5);
  const key = await importPKCS8(readFileSync(new URL(file, data), "utf8"), alg); // parsed once
  const token = await sign(key, alg);
  if (token.split(".").length !== 3) throw new Error("bad JWT");
  const s = await timed(() => sign(key, alg));
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  const round = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    peer: `jose ${version} (Node ${process.versions.node})`,
    row, median_us: round(median), min_us: round(s[0]), max_us: round(s[s.length - 1]), repeats: s.length,
  }));
}
