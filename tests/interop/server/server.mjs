// SMART-on-FHIR flavoured test authorization server built on panva/oidc-provider.
// Plain HTTP on loopback, in-memory storage, test-only shortcuts. NOT for production.
//
// Env knobs (all optional):
//   HOST=127.0.0.1 PORT=8462 (0 = ephemeral) ISSUER=http://HOST:PORT FHIR_BASE=$ISSUER/fhir
//   stdout line 1: "READY <issuer> ..." once requests are served
//   EXTRA_AUDS=comma,separated   additional accepted aud/resource values
//   AT_FORMAT=opaque|jwt         access token format (opaque => introspectable)
//   Dynamic client registration (RFC 7591) is served on TWO paths in the same process:
//     POST /reg            open (any Authorization header is ignored); advertised in discovery.
//                          REGISTRATION=protected makes it require the initial access token too.
//     POST /reg-protected  always requires `Authorization: Bearer <initial access token>`.
//   REGISTRATION_IAT=<string>    the static initial access token (default: safire-interop-iat)
//   REGISTRATION_IAT=adapter     adapter-backed IATs, mint via POST /_test/initial-access-token
//   AUTHORIZE_POST=1|0           accept POST at the authorization endpoint (default 1; advertised as
//                                the SMART `authorize-post` capability; needs SameSite=None cookies)
//   EXIT_ON_STDIN_EOF=1          exit when stdin closes (the Rust harness sets it: no orphaned servers)
//   CLIENTS_JSON='[...]'         like CLIENTS_FILE, inline
//   INTERACTIONS=auto|dev        auto = login+consent auto-approved, no HTML (default)
//                                dev  = oidc-provider's devInteractions HTML forms
//   DEFAULT_USER=practitioner-1  account used by auto interactions (login_hint overrides)
//   DEFAULT_PATIENT=pat-123 DEFAULT_ENCOUNTER=enc-456
//   PKCE=always|public           always (SMART 2.x) or only for public clients (library default)
//   ROTATE_RT=default|always|never
//   AT_TTL=3600 CC_TTL=300       access token lifetimes in seconds: user grants (AccessToken) and
//                                backend services (ClientCredentials); short ones exercise renewal
//   CLIENTS_FILE=path.json       JSON array of extra static client metadata
//   QUIET=1                      suppress per-request log lines
//   POST /_test/rotate-keys      new RSA signing key first in the JWKS (old keys stay published)
//   GET /_test/jwks-fetches      {"count": n}: how many times GET /jwks was served
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { Provider, errors } from 'oidc-provider';

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT ?? 8462); // PORT=0 => ephemeral port, read it from the READY line

// Bind first so PORT=0 works (the issuer must contain the real port); answer 503 until configured.
const server = http.createServer();
let handler = (req, res) => { res.statusCode = 503; res.end(); };
server.on('request', (req, res) => handler(req, res));
await new Promise((resolve, reject) => { server.once('error', reject); server.listen(PORT, HOST, resolve); });
const ISSUER = process.env.ISSUER || `http://${HOST}:${server.address().port}`;
const FHIR_BASE = process.env.FHIR_BASE || `${ISSUER}/fhir`;
const ALLOWED_AUDS = new Set([FHIR_BASE, ...(process.env.EXTRA_AUDS || '').split(',').filter(Boolean)]);
const AT_FORMAT = process.env.AT_FORMAT || 'opaque';
const IAT = process.env.REGISTRATION_IAT || 'safire-interop-iat';
const REGISTRATION = process.env.REGISTRATION || 'open';
if (!['open', 'protected'].includes(REGISTRATION)) throw new Error('REGISTRATION must be open|protected');
const AUTHORIZE_POST = (process.env.AUTHORIZE_POST ?? '1') !== '0';
const INTERACTIONS = process.env.INTERACTIONS || 'auto';
const DEFAULT_USER = process.env.DEFAULT_USER || 'practitioner-1';
const DEFAULT_PATIENT = process.env.DEFAULT_PATIENT || 'pat-123';
const DEFAULT_ENCOUNTER = process.env.DEFAULT_ENCOUNTER || 'enc-456';
const PKCE = process.env.PKCE || 'always';
const ROTATE_RT = process.env.ROTATE_RT || 'default';
const ttlSeconds = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer (seconds)`);
  return value;
};
const AT_TTL = ttlSeconds('AT_TTL', 3600);
const CC_TTL = ttlSeconds('CC_TTL', 300);

// ---------- storage ----------
// The built-in MemoryAdapter is a single LRU capped at 1000 entries: under load (or just a long test
// run) dynamically registered clients, grants and tokens get EVICTED. This adapter keeps everything
// until its TTL, and only caps the high-volume models (FIFO) at ADAPTER_MAX_TOKENS entries each.
const MAX_TOKENS = Number(process.env.ADAPTER_MAX_TOKENS || 500000);
const CAPPED = new Set(['AccessToken', 'ClientCredentials', 'ReplayDetection']);
const stores = new Map(); // model -> Map(id -> { payload, exp })
const grantIndex = new Map(); // grantId -> Set([model, id])
const uidIndex = new Map(); // session uid -> id
const userCodeIndex = new Map();
class TestAdapter {
  constructor(model) {
    this.model = model;
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }
  async upsert(id, payload, expiresIn) {
    const exp = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.store.delete(id); // keep Map insertion order == age
    this.store.set(id, { payload, exp });
    if (CAPPED.has(this.model) && this.store.size > MAX_TOKENS) {
      this.store.delete(this.store.keys().next().value);
    }
    if (payload.grantId) {
      if (!grantIndex.has(payload.grantId)) grantIndex.set(payload.grantId, new Set());
      grantIndex.get(payload.grantId).add(`${this.model}\u0000${id}`);
    }
    if (this.model === 'Session' && payload.uid) uidIndex.set(payload.uid, id);
    if (payload.userCode) userCodeIndex.set(payload.userCode, id);
  }
  async find(id) {
    const e = this.store.get(id);
    if (!e) return undefined;
    if (e.exp <= Date.now()) { this.store.delete(id); return undefined; }
    return e.payload;
  }
  async findByUid(uid) { return this.find(uidIndex.get(uid)); }
  async findByUserCode(code) { return this.find(userCodeIndex.get(code)); }
  async consume(id) { const e = this.store.get(id); if (e) e.payload.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { this.store.delete(id); }
  async revokeByGrantId(grantId) {
    for (const k of grantIndex.get(grantId) || []) {
      const [model, id] = k.split('\u0000');
      stores.get(model)?.delete(id);
    }
    grantIndex.delete(grantId);
  }
}
setInterval(() => { // sweep expired entries
  const now = Date.now();
  for (const m of stores.values()) for (const [id, e] of m) if (e.exp <= now) m.delete(id);
}, 30000).unref();

// ---------- server signing keys (fresh per start; RS256 for id_token / JWT AT) ----------
// POST /_test/rotate-keys puts a new RSA key FIRST (oidc-provider signs with the first key that
// fits) and keeps the old ones published, then swaps in a provider built with that set: the
// "rolling restart" oidc-provider documents for key rotation, in-process (storage is module-level).
const jwk = (kp, kid) => ({ ...kp.privateKey.export({ format: 'jwk' }), kid, use: 'sig' });
let rotations = 0;
let jwksFetches = 0; // GET /jwks served, for GET /_test/jwks-fetches
let jwks = {
  keys: [
    jwk(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), 'srv-rsa-1'),
    jwk(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'srv-ec-1'),
  ],
};

// ---------- static clients (DCR works too) ----------
const clients = [
  {
    client_id: 'public-app',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1:9999/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
  {
    client_id: 'confidential-app',
    client_secret: 'confidential-app-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: ['http://127.0.0.1:9999/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
  {
    client_id: 'backend-secret',
    client_secret: 'backend-secret-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
  },
];
if (process.env.CLIENTS_FILE) clients.push(...JSON.parse(fs.readFileSync(process.env.CLIENTS_FILE, 'utf8')));
if (process.env.CLIENTS_JSON) clients.push(...JSON.parse(process.env.CLIENTS_JSON));

// ---------- SMART bits ----------
const OIDC_SCOPES = ['openid', 'fhirUser', 'profile', 'offline_access', 'online_access', 'launch', 'launch/patient', 'launch/encounter'];
const SMART_SCOPES_ADVERTISED = [
  ...OIDC_SCOPES,
  'patient/*.rs', 'patient/*.cruds', 'user/*.rs', 'user/*.cruds', 'system/*.rs', 'system/*.cruds',
  'patient/*.read', 'user/*.read', 'system/*.read', 'patient/*.*', 'user/*.*', 'system/*.*',
];
const launches = new Map(); // launch id -> context (POST /_test/launch)
// SMART launch context parameters that may be merged into token responses
const LAUNCH_CONTEXT_KEYS = ['patient', 'encounter', 'fhirContext', 'need_patient_banner', 'smart_style_url', 'intent', 'tenant'];
const grantContext = new Map(); // grantId -> { patient, encounter, fhirContext, ... }

function scopeSet(s) { return new Set((s || '').split(' ').filter(Boolean)); }

// Accept ANY syntactically valid scope for the FHIR resource server: the resource server "scope"
// is computed from what this request / code / refresh token carries. If the client registered a
// `scope` metadata value, requests are down-scoped to it (lets tests see "granted < requested").
function permissiveScopes(ctx, client) {
  const e = ctx.oidc.entities || {};
  const s = new Set([
    ...scopeSet(ctx.oidc.params?.scope),
    ...scopeSet(e.AuthorizationCode?.scope),
    ...scopeSet(e.RefreshToken?.scope),
    ...scopeSet(e.RotatedRefreshToken?.scope),
  ]);
  const registered = client?.smart_scope || client?.scope;
  if (registered) {
    const allowed = scopeSet(registered);
    for (const x of s) if (!allowed.has(x)) s.delete(x);
  }
  return [...s].join(' ');
}

function launchContextFor(params, scopes) {
  let fromLaunch;
  if (params.launch) {
    fromLaunch = launches.get(params.launch);
    if (!fromLaunch) {
      try { fromLaunch = JSON.parse(Buffer.from(params.launch, 'base64url').toString('utf8')); } catch { fromLaunch = {}; }
      if (typeof fromLaunch !== 'object' || fromLaunch === null) fromLaunch = {};
    }
  }
  const out = {};
  for (const k of LAUNCH_CONTEXT_KEYS) if (fromLaunch?.[k] !== undefined) out[k] = fromLaunch[k];
  if (scopes.has('launch/patient') && !out.patient) out.patient = DEFAULT_PATIENT;
  if (scopes.has('launch/encounter') && !out.encounter) out.encounter = DEFAULT_ENCOUNTER;
  if (scopes.has('launch') && params.launch) {
    out.patient ??= DEFAULT_PATIENT;
    out.need_patient_banner ??= false;
    out.smart_style_url ??= `${ISSUER}/smart-style.json`;
  }
  return out;
}

// SMART-friendly client metadata normalisation, applied to static clients and to DCR bodies
// (works on oidc-provider 8.x and 9.x alike):
//  (1) oidc-provider only accepts *static* scopes in the client `scope` metadata ("scope must only contain
//      Authorization Server supported scope values"). Park the full SMART scope string in `smart_scope`
//      (echoed back as `scope` in registration responses) and keep only the static subset in `scope`.
//  (2) a client_credentials-only registration that omits response_types would get the default ['code']
//      and then fail with "redirect_uris is mandatory"; default response_types to [] in that case.
function normalizeClientMetadata(m) {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return m;
  const out = { ...m };
  if (typeof out.scope === 'string') {
    const all = out.scope.split(' ').filter(Boolean);
    if (all.some((x) => !OIDC_SCOPES.includes(x))) {
      out.smart_scope = all.join(' ');
      const statics = all.filter((x) => OIDC_SCOPES.includes(x));
      if (statics.length) out.scope = statics.join(' '); else delete out.scope;
    }
  }
  const gts = Array.isArray(out.grant_types) ? out.grant_types : ['authorization_code'];
  if (out.response_types === undefined && !out.redirect_uris
    && !gts.includes('authorization_code') && !gts.includes('implicit')) {
    out.response_types = [];
  }
  return out;
}

// context stored by the auto interaction, else (devInteractions) derived from the granted scopes
function contextFor(grantId, scope) {
  return grantContext.get(grantId) ?? launchContextFor({}, scopeSet(scope));
}

// ---------- provider configuration ----------
const configuration = {
  adapter: TestAdapter,
  clients: clients.map(normalizeClientMetadata),
  jwks,
  cookies: {
    keys: ['test-only-cookie-signing-key'],
    // oidc-provider only enables POST at the authorization endpoint with SameSite=None session cookies
    ...(AUTHORIZE_POST ? { long: { sameSite: 'none' } } : {}),
  },
  enableHttpPostMethods: AUTHORIZE_POST,
  claims: { openid: ['sub'], fhirUser: ['fhirUser'], profile: ['name'] },
  scopes: OIDC_SCOPES,
  extraParams: ['aud', 'launch'],
  responseTypes: ['code'],
  conformIdTokenClaims: false, // put fhirUser into the id_token directly
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, fhirUser: `${FHIR_BASE}/Practitioner/${id}`, name: `Test ${id}` };
      },
    };
  },
  enabledJWA: {
    clientAuthSigningAlgValues: [
      'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512',
      'EdDSA', 'HS256', 'HS384', 'HS512', // ('Ed25519' id exists only in >= 9)
    ],
  },
  pkce: { required: (ctx, client) => PKCE === 'always' || client.clientAuthMethod === 'none' },
  ...(ROTATE_RT === 'always' ? { rotateRefreshToken: true } : {}),
  ...(ROTATE_RT === 'never' ? { rotateRefreshToken: false } : {}),
  async issueRefreshToken(ctx, client, code) {
    return client.grantTypeAllowed('refresh_token')
      && (code.scopes.has('offline_access') || code.scopes.has('online_access'));
  },
  async extraTokenClaims(ctx, token) {
    if (!token.grantId) return undefined; // client_credentials
    const c = contextFor(token.grantId, token.scope);
    const out = {};
    if (c.patient) out.patient = c.patient;
    if (c.encounter) out.encounter = c.encounter;
    return out;
  },
  ttl: {
    AccessToken: AT_TTL, ClientCredentials: CC_TTL, AuthorizationCode: 60, IdToken: 3600, Interaction: 600,
    Grant: 14 * 86400, Session: 14 * 86400, RefreshToken: 14 * 86400,
  },
  // JSON errors instead of HTML for anything that cannot be redirected back to the client
  renderError(ctx, out) { ctx.type = 'json'; ctx.body = out; },
  extraClientMetadata: { properties: ['software_id', 'software_version', 'smart_scope'] },
  features: {
    devInteractions: { enabled: INTERACTIONS === 'dev' },
    // access tokens are audience-restricted to the FHIR base, so /me would reject them anyway;
    // SMART clients get fhirUser from the id_token instead.
    userinfo: { enabled: false },
    clientCredentials: { enabled: true },
    // any authenticated client (e.g. a mock FHIR server registered as a client) may introspect any token
    introspection: { enabled: true, async allowedPolicy() { return true; } },
    revocation: {
      enabled: true,
      async allowedPolicy(ctx, client, token) { // same as the library default
        if (token.clientId !== client.clientId) {
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        }
        return true;
      },
    },
    registration: {
      enabled: true,
      initialAccessToken: IAT === 'adapter' ? true : IAT,
    },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
    resourceIndicators: {
      enabled: true,
      // SMART apps send aud=<FHIR base>; RFC 8707 `resource` also works. Default: FHIR_BASE.
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf[0];
        return ctx.oidc.params?.aud || FHIR_BASE;
      },
      async useGrantedResource() { return true; },
      async getResourceServerInfo(ctx, resource, client) {
        if (!ALLOWED_AUDS.has(resource)) throw new errors.InvalidTarget(`unknown aud/resource ${resource}`);
        return {
          scope: permissiveScopes(ctx, client),
          audience: resource,
          accessTokenFormat: AT_FORMAT,
          ...(AT_FORMAT === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
        };
      },
    },
  },
  ...(INTERACTIONS === 'auto' ? { interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` } } : {}),
};

let provider;

// the initial access token the open /reg path supplies on behalf of the client
let mintedIat;
async function openIat() {
  if (IAT !== 'adapter') return IAT;
  mintedIat ??= await new provider.InitialAccessToken({}).save();
  return mintedIat;
}

// ---------- auto-approving interaction (login + consent in one hop, no HTML) ----------
async function autoInteraction(ctx) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  // the browserless "user" answers through the interaction URL query: ?login=<account>&decision=deny
  const accountId = session?.accountId || ctx.query.login || params.login_hint || DEFAULT_USER;
  if (params.login_hint === 'deny' || ctx.query.decision === 'deny') {
    return provider.interactionFinished(ctx.req, ctx.res,
      { error: 'access_denied', error_description: 'test user denied the request' },
      { mergeWithLastSubmission: false });
  }
  let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  grant ||= new provider.Grant({ accountId, clientId: params.client_id });
  const requested = [...scopeSet(params.scope)];
  if (requested.length) grant.addOIDCScope(requested.join(' '));
  const resources = params.resource === undefined ? [] : [].concat(params.resource);
  for (const r of resources) if (requested.length) grant.addResourceScope(r, requested.join(' '));
  const d = prompt.details || {};
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [ind, sc] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(ind, sc.join(' '));
  }
  const grantId = await grant.save();
  grantContext.set(grantId, launchContextFor(params, scopeSet(params.scope)));
  const result = { consent: { grantId } };
  if (prompt.name === 'login') result.login = { accountId };
  return provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
}

function smartConfiguration(d) {
  return {
    issuer: d.issuer,
    jwks_uri: d.jwks_uri,
    authorization_endpoint: d.authorization_endpoint,
    token_endpoint: d.token_endpoint,
    registration_endpoint: d.registration_endpoint,
    introspection_endpoint: d.introspection_endpoint,
    revocation_endpoint: d.revocation_endpoint,
    grant_types_supported: d.grant_types_supported,
    response_types_supported: ['code'],
    token_endpoint_auth_methods_supported: d.token_endpoint_auth_methods_supported,
    token_endpoint_auth_signing_alg_values_supported: d.token_endpoint_auth_signing_alg_values_supported,
    code_challenge_methods_supported: d.code_challenge_methods_supported,
    scopes_supported: SMART_SCOPES_ADVERTISED,
    capabilities: [
      ...(AUTHORIZE_POST ? ['authorize-post'] : []),
      'launch-ehr', 'launch-standalone', 'client-public', 'client-confidential-symmetric',
      'client-confidential-asymmetric', 'context-ehr-patient', 'context-ehr-encounter',
      'context-standalone-patient', 'context-standalone-encounter', 'context-passthrough-banner',
      'context-passthrough-style', 'permission-offline', 'permission-online', 'permission-patient',
      'permission-user', 'permission-v1', 'permission-v2', 'sso-openid-connect',
    ],
  };
}

const SMART_PATHS = new Set(['/.well-known/smart-configuration', new URL(`${FHIR_BASE}/.well-known/smart-configuration`).pathname]);
const FHIR_METADATA = new URL(`${FHIR_BASE}/metadata`).pathname;

async function readRaw(ctx) {
  const chunks = [];
  for await (const c of ctx.req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}
async function readJson(ctx) {
  const s = await readRaw(ctx);
  return s ? JSON.parse(s) : {};
}

const middleware = async (ctx, next) => {
  if (!process.env.QUIET) console.log(ctx.method, ctx.url);
  if (ctx.method === 'GET' && ctx.path === '/jwks') jwksFetches += 1;
  if (ctx.method === 'GET' && ctx.path === '/_test/jwks-fetches') {
    ctx.body = { count: jwksFetches };
    return undefined;
  }

  // 0. OIDC Core rule enforced by oidc-provider: offline_access is silently DROPPED unless the request
  //    also carries prompt=consent. SMART apps don't send it, so add it for them (GET and POST).
  const wantsOffline = (p) => p.prompt === undefined && typeof p.scope === 'string' && p.scope.split(' ').includes('offline_access');
  if (ctx.method === 'GET' && ctx.path === '/auth' && wantsOffline(ctx.query)) {
    ctx.query = { ...ctx.query, prompt: 'consent' };
  }
  if (ctx.method === 'POST' && ctx.path === '/auth' && AUTHORIZE_POST && ctx.is('application/x-www-form-urlencoded')) {
    const form = Object.fromEntries(new URLSearchParams(await readRaw(ctx)));
    if (wantsOffline(form)) form.prompt = 'consent';
    ctx.req.body = new URLSearchParams(form).toString(); // provider parses the pre-read body
  }

  // 1. auto interactions
  if (INTERACTIONS === 'auto' && ctx.method === 'GET' && /^\/interaction\/[^/]+$/.test(ctx.path)) {
    return autoInteraction(ctx);
  }

  // 2. SMART discovery: reuse the provider's own discovery handler, then reshape its body
  if (ctx.method === 'GET' && SMART_PATHS.has(ctx.path)) {
    ctx.path = '/.well-known/openid-configuration';
    await next();
    if (ctx.status === 200 && ctx.body) ctx.body = smartConfiguration(ctx.body);
    return undefined;
  }

  // 3. minimal FHIR CapabilityStatement advertising the OAuth endpoints
  if (ctx.method === 'GET' && ctx.path === FHIR_METADATA) {
    const u = (r) => `${ISSUER}${r}`;
    ctx.type = 'application/fhir+json';
    ctx.body = {
      resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1',
      format: ['json'], date: '2024-01-01',
      rest: [{
        mode: 'server',
        security: {
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          extension: [{
            url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
            extension: [
              { url: 'authorize', valueUri: u('/auth') }, { url: 'token', valueUri: u('/token') },
              { url: 'register', valueUri: u('/reg') }, { url: 'introspect', valueUri: u('/token/introspection') },
              { url: 'revoke', valueUri: u('/token/revocation') },
            ],
          }],
        },
      }],
    };
    return undefined;
  }

  // 4a. two registration paths: /reg-protected always needs the IAT (the provider checks it);
  //     /reg is open unless REGISTRATION=protected (the server supplies the IAT itself).
  if (ctx.method === 'POST' && ctx.path === '/reg-protected') {
    ctx.path = '/reg';
  } else if (ctx.method === 'POST' && ctx.path === '/reg' && REGISTRATION === 'open') {
    ctx.req.headers.authorization = `Bearer ${await openIat()}`;
  }

  // 4b. DCR body normalisation (see normalizeClientMetadata); provider then uses the pre-parsed body
  if ((ctx.method === 'POST' && ctx.path === '/reg') || (ctx.method === 'PUT' && ctx.path.startsWith('/reg/'))) {
    if (ctx.is('application/json')) {
      const raw = await readRaw(ctx);
      try { ctx.req.body = normalizeClientMetadata(JSON.parse(raw)); } catch { ctx.req.body = raw; }
    }
  }

  // 5. test helpers
  if (ctx.method === 'GET' && ctx.path === '/smart-style.json') {
    ctx.body = { color_background: '#edeae3', color_highlight: '#69b40f', font_family: 'sans-serif' };
    return undefined;
  }
  if (ctx.method === 'POST' && ctx.path === '/_test/launch') {
    let body;
    try { body = await readJson(ctx); } catch { body = undefined; }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'launch context must be a JSON object' };
      return undefined;
    }
    const id = crypto.randomUUID();
    launches.set(id, body);
    ctx.body = { launch: id };
    return undefined;
  }
  if (ctx.method === 'POST' && ctx.path === '/_test/rotate-keys') {
    rotations += 1;
    const kid = `srv-rsa-${rotations + 1}`;
    jwks = { keys: [jwk(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), kid), ...jwks.keys] };
    provider = makeProvider(jwks);
    handler = provider.callback();
    ctx.body = { kid };
    return undefined;
  }
  if (ctx.method === 'POST' && ctx.path === '/_test/initial-access-token' && IAT === 'adapter') {
    ctx.body = { initial_access_token: await new provider.InitialAccessToken({}).save() };
    return undefined;
  }

  await next();

  // echo the parked SMART scope string as `scope` in registration responses
  if (['registration', 'client', 'client_update'].includes(ctx.oidc?.route) && ctx.body?.smart_scope) {
    const { smart_scope: sc, ...rest } = ctx.body;
    ctx.body = { ...rest, scope: sc };
  }

  // 6. SMART launch context in token responses (authorization_code & refresh_token grants)
  if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.access_token) {
    const grantId = ctx.oidc.entities?.Grant?.jti;
    if (grantId) ctx.body = { ...ctx.body, ...contextFor(grantId, ctx.body.scope) };
  }
  return undefined;
};

function makeProvider(keys) {
  const p = new Provider(ISSUER, { ...configuration, jwks: keys });
  p.proxy = false;
  p.use(middleware);
  // surface the real reason behind generic token/authorization errors (tests love this)
  for (const ev of ['grant.error', 'authorization.error', 'registration_create.error', 'introspection.error', 'revocation.error']) {
    p.on(ev, (ctx, err) => { if (!process.env.QUIET) console.log(`  ${ev}: ${err.error} ${err.error_detail || err.error_description || ''}`); });
  }
  return p;
}

provider = makeProvider(jwks);
handler = provider.callback();
// First stdout line is the contract for test harnesses: "READY <issuer>"
console.log(`READY ${ISSUER} fhir_base=${FHIR_BASE} interactions=${INTERACTIONS} registration=${REGISTRATION} authorize_post=${AUTHORIZE_POST ? 1 : 0} at_format=${AT_FORMAT}`);
const shutdown = () => { server.closeAllConnections(); server.close(() => process.exit(0)); };
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (process.env.EXIT_ON_STDIN_EOF === '1') { // parent (test process) gone => exit, even if it never ran Drop
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
