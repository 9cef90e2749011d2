#!/usr/bin/env node
// A real OpenID Connect provider for tfmirror's single sign-on tests: the npm package
// `oidc-provider` (9.x, certified) on loopback, with one confidential client, three accounts
// and a test-only switch that makes its token endpoint answer with a forged or an expired ID
// token.
//
//   OIDC_PORT=41234 OIDC_CLIENT_ID=tfmirror OIDC_CLIENT_SECRET=s3cret \
//   OIDC_REDIRECT_URI=http://127.0.0.1:40123/api/v1/auth/oidc/callback node e2e/oidc-provider.mjs
//
// Environment (all required):
//   OIDC_PORT           listens on 127.0.0.1:OIDC_PORT; the issuer is http://127.0.0.1:OIDC_PORT
//   OIDC_CLIENT_ID      the one client (confidential, client_secret_basic at the token endpoint)
//   OIDC_CLIENT_SECRET  its secret
//   OIDC_REDIRECT_URI   its only redirect URI, compared exactly
//
// The client may use the authorization code flow only (response_type=code,
// grant_type=authorization_code), always with PKCE (S256). Scopes: openid, profile
// (preferred_username, name, and groups too), email (email, email_verified) and groups
// (groups); the claims are put in the ID token itself. Accounts (any password):
//   alice  groups ["tfm-admins"]     bob  groups ["tfm-viewers"]     eve  groups ["contractors"]
// and any other login (letters, digits, . _ @ -) an account in no group. Each has sub and
// preferred_username = the login, email LOGIN@example.test.
// The login is oidc-provider's development form (input[name=login], input[name=password],
// button[type=submit]); consent is granted without asking. The provider keeps its login in a
// session cookie: clear the browser's cookies to log in as someone else.
//
// Test control (loopback only, not part of OpenID):
//   POST /__test/mode  body `normal`, `tamper` or `expired` (text/plain), or {"mode": "..."}
//                      (application/json); answers {"mode": "..."}. GET answers the current mode.
//   normal   the token endpoint answers as it is
//   tamper   the ID token's payload is changed (groups ["tfm-admins"] and "tampered": true), its
//            header and signature kept: a privilege escalation whose signature does not verify
//   expired  the ID token is signed anew with the same key and kid, but with iat = now - 7200 and
//            exp = now - 3600: a valid signature on an expired token
//
// Prints exactly one line to stdout when it listens:
//   oidc-provider listening on http://127.0.0.1:PORT
// and exits 0 on SIGTERM or SIGINT. Everything else (warnings) goes to stderr.

import { randomBytes, randomUUID } from 'node:crypto'
import { CompactSign, exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'

// ---- configuration ---------------------------------------------------------------------------

function required(name) {
  const v = process.env[name]
  if (!v) {
    console.error(`oidc-provider: the environment variable ${name} is not set`)
    process.exit(2)
  }
  return v
}

const PORT = Number(required('OIDC_PORT'))
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error(`oidc-provider: OIDC_PORT is not a port: ${process.env.OIDC_PORT}`)
  process.exit(2)
}
const CLIENT_ID = required('OIDC_CLIENT_ID')
const CLIENT_SECRET = required('OIDC_CLIENT_SECRET')
const REDIRECT_URI = required('OIDC_REDIRECT_URI')
const HOST = '127.0.0.1'
const ISSUER = `http://${HOST}:${PORT}`

const MODES = new Set(['normal', 'tamper', 'expired'])
/** What the token endpoint does to the ID token (see the header). */
let mode = 'normal'

const ACCOUNTS = {
  alice: { groups: ['tfm-admins'], name: 'Alice Admin' },
  bob: { groups: ['tfm-viewers'], name: 'Bob Viewer' },
  eve: { groups: ['contractors'], name: 'Eve Contractor' },
}

// The signing key, made at start (RS256), private part exported for oidc-provider's keystore.
const { privateKey } = await generateKeyPair('RS256', { extractable: true })
const KID = `test-${randomUUID()}`
const privateJwk = { ...(await exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' }

// ---- the provider ----------------------------------------------------------------------------

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [privateJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    // groups is in profile too, so a client asking only for the usual scopes still gets it.
    profile: ['preferred_username', 'name', 'groups'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // The claims of the granted scopes go in the ID token, not only to the userinfo endpoint.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    // Only what the test needs.
    introspection: { enabled: false },
    revocation: { enabled: false },
  },
  async findAccount(_ctx, id) {
    // Any other login is an account in no group (the dev form takes any name).
    if (typeof id !== 'string' || !/^[A-Za-z0-9._@-]{1,64}$/.test(id)) return undefined
    const account = Object.hasOwn(ACCOUNTS, id) ? ACCOUNTS[id] : { groups: [], name: id }
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: account.name,
          email: `${id}@example.test`,
          email_verified: true,
          groups: [...account.groups],
        }
      },
    }
  },
  // No consent screen: the grant covers whatever OpenID scopes and claims are asked for.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId)
    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined
    if (!grant) grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId })
    const scopes = [...oidc.requestParamOIDCScopes]
    if (scopes.length) grant.addOIDCScope(scopes.join(' '))
    const claims = [...oidc.requestParamClaims]
    if (claims.length) grant.addOIDCClaims(claims)
    await grant.save()
    return grant
  },
  renderError(ctx, out) {
    ctx.type = 'html'
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
    ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>oidc-provider error</title></head><body><h1>oidc-provider error</h1><pre>${Object.entries(out)
      .map(([k, v]) => `${esc(k)}: ${esc(v)}`)
      .join('\n')}</pre></body></html>`
  },
})
provider.proxy = false

// ---- the ID token rewriting of the test modes ------------------------------------------------

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
const jsonb64 = (value) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')

/** The payload changed, the original header and signature kept. */
function tamper(idToken) {
  const [header, payload, signature] = idToken.split('.')
  const claims = b64json(payload)
  claims.groups = ['tfm-admins']
  claims.tampered = true // the payload differs even for someone already in tfm-admins
  return `${header}.${jsonb64(claims)}.${signature}`
}

/** Signed anew with the same key and kid, but expired an hour ago. */
async function expire(idToken) {
  const [header, payload] = idToken.split('.')
  const now = Math.floor(Date.now() / 1000)
  const claims = { ...b64json(payload), iat: now - 7200, exp: now - 3600 }
  if (typeof claims.auth_time === 'number') claims.auth_time = now - 7200
  const protectedHeader = { ...b64json(header), alg: 'RS256', kid: KID }
  return new CompactSign(Buffer.from(JSON.stringify(claims), 'utf8')).setProtectedHeader(protectedHeader).sign(privateKey)
}

/** Reads a small request body (at most 1 KiB) as text. */
async function readBody(req) {
  const chunks = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.length
    if (size > 1024) throw new Error('body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function isLoopback(ip) {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1'
}

/** oidc-provider's default route of the token endpoint (routes are not configured here). */
const TOKEN_PATH = '/token'

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/mode') {
    if (!isLoopback(ctx.req.socket.remoteAddress ?? '')) {
      ctx.status = 403
      ctx.body = { error: 'loopback only' }
      return
    }
    if (ctx.method === 'GET') {
      ctx.body = { mode }
      return
    }
    if (ctx.method !== 'POST') {
      ctx.status = 405
      ctx.set('Allow', 'GET, POST')
      ctx.body = { error: 'GET or POST' }
      return
    }
    let wanted
    try {
      const raw = (await readBody(ctx.req)).trim()
      wanted = raw.startsWith('{') ? JSON.parse(raw).mode : raw
    } catch (e) {
      ctx.status = 400
      ctx.body = { error: `unreadable body: ${e instanceof Error ? e.message : e}` }
      return
    }
    if (!MODES.has(wanted)) {
      ctx.status = 400
      ctx.body = { error: `mode must be one of ${[...MODES].join(', ')}`, got: String(wanted).slice(0, 100) }
      return
    }
    mode = wanted
    console.error(`oidc-provider: mode ${mode}`)
    ctx.body = { mode }
    return
  }
  if (ctx.path === '/favicon.ico') {
    ctx.status = 204
    return
  }

  await next()

  if (ctx.method === 'POST' && ctx.path === TOKEN_PATH && mode !== 'normal') {
    const body = ctx.body
    if (body && typeof body === 'object' && typeof body.id_token === 'string') {
      ctx.body = { ...body, id_token: mode === 'tamper' ? tamper(body.id_token) : await expire(body.id_token) }
      console.error(`oidc-provider: token endpoint answered a${mode === 'tamper' ? ' tampered' : 'n expired'} ID token`)
    }
  }
  // Its pages load a web font from the internet; nothing here may reach out (and it cannot).
  if (typeof ctx.body === 'string' && ctx.body.includes('fonts.googleapis.com')) {
    ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);?/g, '')
  }
})

// ---- running ---------------------------------------------------------------------------------

const server = provider.listen(PORT, HOST)
server.on('error', (e) => {
  console.error(`oidc-provider: cannot listen on ${HOST}:${PORT}: ${e instanceof Error ? e.message : e}`)
  process.exit(1)
})
server.on('listening', () => {
  process.stdout.write(`oidc-provider listening on ${ISSUER}\n`)
})

let stopping = false
function stop(signal) {
  if (stopping) return
  stopping = true
  console.error(`oidc-provider: ${signal}, stopping`)
  server.close(() => process.exit(0))
  server.closeAllConnections?.()
  // Bounded: whatever is still open after 2 s does not keep it alive.
  setTimeout(() => process.exit(0), 2_000).unref()
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
