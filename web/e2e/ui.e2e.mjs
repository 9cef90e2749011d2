#!/usr/bin/env node
// End-to-end test of the admin UI in headless Chromium (playwright-core, no bundled browser)
// against a running tfmirror server. Run by the Rust integration test `tests/it/ui_e2e.rs`,
// which starts the real server and a fake upstream offering registry.terraform.io/hashicorp/null
// 3.2.0 and 3.2.1 for linux_amd64 and darwin_arm64. The scenario also uploads an in-house
// module (platform/network/aws 1.0.0 and 1.1.0, a .tar.gz it builds itself), blocks 1.0.0 and
// checks the mirror's module version list no longer offers it. On the Lock file page it locks
// null "~> 3.2.0" for both platforms (3.2.1, two h1: and two zh:), downloads the file, and sees
// the server's message for a constraint no version meets.
//
//   TFM_BASE_URL=http://127.0.0.1:40123 TFM_USER=operator TFM_PASSWORD=... npm run e2e
//
// Environment:
//   TFM_BASE_URL     the server (plain HTTP on loopback, no server.public_url), required
//   TFM_USER         an admin, required: it exists already, or (with TFM_SETUP_URL) the
//                    scenario creates it through the setup link
//   TFM_PASSWORD     their password, required (at least 12 characters with TFM_SETUP_URL)
//   TFM_SETUP_URL    optional: the setup link the server printed (…/ui/setup#token=…) while no
//                    admin exists; the scenario then starts by creating TFM_USER with it
//   TFM_PUBLIC_BASE_URL  optional: a second server on the same database, with
//   TFM_PUBLIC_URL       its server.public_url (https://…); both or neither. The scenario then
//                    logs in there and checks "Use this mirror" offers that address
//   TFM_OIDC_CONTROL_URL  optional: the OpenID provider (e2e/oidc-provider.mjs) the server's
//                    single sign-on uses, e.g. http://127.0.0.1:41234 (display name "Test SSO",
//                    admin group tfm-admins, viewer group tfm-viewers). The scenario then ends
//                    with single sign-on as alice (admin), bob (viewer) and eve (refused), and
//                    with a forged and an expired ID token (set with its POST /__test/mode)
//   TFM_FAILING_PROVIDER  optional: "NAMESPACE/TYPE VERSION" (e.g. "hashicorp/random 3.6.0") that
//                    the upstream offers for linux_amd64 and darwin_arm64 with one archive
//                    tampered (it fails verification at every attempt) and the other's download
//                    hanging; the scenario then retries and cancels that job and checks its
//                    counters, its finish time and the jobs list
//   TFM_CHROMIUM     the browser (default /usr/bin/chromium)
//   TFM_SCREENSHOTS  where screenshots go (default web/e2e/screenshots/, git-ignored)
//   TFM_E2E_TIMEOUT_MS  the global time limit (default 180000, 60000 more with TFM_OIDC_CONTROL_URL)
//
// Every page is screenshot at 1280 and at 390 px wide (`NN-<page>-1280px.png`,
// `NN-<page>-390px.png`), and at 390 px the document must not be wider than the screen.
//
// Prints one line per step; exits 0 when every step passed, 1 with the step and the reason
// otherwise (and saves failure.png). Console errors and page errors (CSP violations, uncaught
// exceptions) fail the run, except the failed requests the scenario provokes on purpose.

import { chromium } from 'playwright-core'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

// ---- configuration -----------------------------------------------------------------------

const env = process.env
const here = dirname(fileURLToPath(import.meta.url))

function required(name) {
  const v = env[name]
  if (!v) {
    console.error(`FAIL setup: the environment variable ${name} is not set`)
    process.exit(1)
  }
  return v
}

function parseUrl(name, value) {
  try {
    return new URL(value)
  } catch {
    console.error(`FAIL setup: ${name} is not a URL: ${value}`)
    process.exit(1)
  }
}

const BASE = required('TFM_BASE_URL').replace(/\/+$/, '')
const USER = required('TFM_USER')
const PASSWORD = required('TFM_PASSWORD')
/** The setup link (with its #token=…), or ''. */
const SETUP_URL = env.TFM_SETUP_URL || ''
const SETUP_ORIGIN = SETUP_URL ? parseUrl('TFM_SETUP_URL', SETUP_URL).origin : ''
/** The token of the setup link's fragment: it must not stay in the address bar or the history. */
const SETUP_TOKEN = SETUP_URL ? (new URLSearchParams(new URL(SETUP_URL).hash.slice(1)).get('token') ?? '') : ''
/** The second server (same database) and the server.public_url it is configured with, or ''. */
const PUBLIC_BASE = (env.TFM_PUBLIC_BASE_URL || '').replace(/\/+$/, '')
const PUBLIC_URL = env.TFM_PUBLIC_URL ? `${env.TFM_PUBLIC_URL.replace(/\/+$/, '')}/` : ''
if (!PUBLIC_BASE !== !PUBLIC_URL) {
  console.error('FAIL setup: set both TFM_PUBLIC_BASE_URL and TFM_PUBLIC_URL, or neither')
  process.exit(1)
}
if (PUBLIC_BASE) parseUrl('TFM_PUBLIC_BASE_URL', PUBLIC_BASE)
/** The OpenID provider (e2e/oidc-provider.mjs) behind the server's single sign-on, or ''. */
const OIDC = (env.TFM_OIDC_CONTROL_URL || '').replace(/\/+$/, '')
const OIDC_ORIGIN = OIDC ? parseUrl('TFM_OIDC_CONTROL_URL', OIDC).origin : ''
if (SETUP_URL && !SETUP_TOKEN) {
  console.error(`FAIL setup: TFM_SETUP_URL has no #token=… fragment: ${SETUP_URL}`)
  process.exit(1)
}
/**
 * The provider whose job goes wrong (TFM_FAILING_PROVIDER "NAMESPACE/TYPE VERSION"), or null:
 * one of its PLATFORMS fails verification at every attempt, the other's download hangs.
 */
const FAILING = (() => {
  const v = (env.TFM_FAILING_PROVIDER || '').trim()
  if (!v) return null
  const m = /^([A-Za-z0-9_-]+\/[A-Za-z0-9_-]+)\s+(\d+\.\d+\.\d+\S*)$/.exec(v)
  if (!m) {
    console.error(`FAIL setup: TFM_FAILING_PROVIDER is not "NAMESPACE/TYPE VERSION": ${v}`)
    process.exit(1)
  }
  return { source: m[1], version: m[2], address: `registry.terraform.io/${m[1]}` }
})()
const CHROMIUM = env.TFM_CHROMIUM || '/usr/bin/chromium'
const SHOTS = resolve(env.TFM_SCREENSHOTS || join(here, 'screenshots'))
const GLOBAL_TIMEOUT_MS = Number(env.TFM_E2E_TIMEOUT_MS || 180_000 + (OIDC ? 60_000 : 0))
/** The default for every wait on the page. */
const WAIT_MS = 10_000
const NAV_MS = 20_000
const JOB_MS = 60_000
const FETCH_MS = 10_000

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
const VIEWPORT = { width: 1280, height: 800 }
/** A phone: every page is also checked and screenshot at this width. */
const PHONE = { width: 390, height: 800 }

/** A viewer the scenario creates (on the Users page) to see the "Admins only" page. */
const VIEWER = 'e2e-viewer'
const VIEWER_PASSWORD = 'viewer password for the e2e run'

const PROVIDER = 'registry.terraform.io/hashicorp/null'
const VERSION = '3.2.1'
const PLATFORMS = ['linux_amd64', 'darwin_arm64']
const INDEX_URL = `${BASE}/${PROVIDER}/index.json`

/** The in-house module the scenario uploads (two versions) and blocks a version of. */
const MODULE = { namespace: 'platform', name: 'network', system: 'aws' }
const MODULE_SOURCE = `${MODULE.namespace}/${MODULE.name}/${MODULE.system}`
const MODULE_ADDRESS = `registry.terraform.io/${MODULE_SOURCE}`
const MODULE_VERSIONS = ['1.0.0', '1.1.0']
const MODULE_BLOCKED = '1.0.0'
const MODULE_LATEST = '1.1.0'
/** The Module Registry Protocol's version list of the default origin (no token needed by default). */
const MODULE_VERSIONS_PATH = `/v1/modules/${MODULE_SOURCE}/versions`

const BAD_DEFINITIONS = `provider "hashicorp/null" {
  versions  = ["${VERSION}"]
  platforms = ["linux_amd64", "darwin_arm64"]
  colour    = "blue"
}
`
const GOOD_DEFINITIONS = BAD_DEFINITIONS.split('\n')
  .filter((l) => !l.includes('colour'))
  .join('\n')
const FAILING_DEFINITIONS = FAILING
  ? `provider "${FAILING.source}" {
  versions  = ["${FAILING.version}"]
  platforms = [${PLATFORMS.map((p) => `"${p}"`).join(', ')}]
}
`
  : ''

// ---- state and helpers ---------------------------------------------------------------------

class Failure extends Error {}

let context = null
let page = null
let userDataDir = null
let currentStep = 'setup'
let finished = false
const started = Date.now()
/** Console errors and page errors, with the step they happened in. */
const problems = []
/** Console errors for the failures provoked on purpose (reported, not fatal). */
const ignored = []
/** Console errors of the OpenID provider's own pages (another origin: reported, not fatal). */
const providerNotes = []
/** Requests that failed without an HTTP answer (reported, not fatal: navigation aborts them). */
const failedRequests = []
/** Failed responses the current step provokes on purpose: {method, path, status}. */
let expectedFailures = []

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`

function fail(message) {
  throw new Failure(message)
}

function check(condition, message) {
  if (!condition) fail(message)
}

function pathOf(url) {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

function isExpectedFailure(url, status, method) {
  const path = pathOf(url)
  return expectedFailures.some(
    (e) => path === e.path && e.status === status && (method === undefined || e.method === method),
  )
}

/** A locator by data-testid. */
const tid = (id) => page.getByTestId(id)

/** Waits until the element is visible. */
async function visible(locator, what, timeout = WAIT_MS) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout })
  } catch {
    fail(`${what} is not visible after ${seconds(timeout)} (at ${page.url()})`)
  }
}

async function hidden(locator, what, timeout = WAIT_MS) {
  try {
    await locator.first().waitFor({ state: 'hidden', timeout })
  } catch {
    fail(`${what} is still visible after ${seconds(timeout)}`)
  }
}

/**
 * Polls `probe` (returning `{ok, seen}`) until ok; fails with `what` and the last thing seen.
 */
async function eventually(what, probe, timeout = WAIT_MS, interval = 100) {
  const until = Date.now() + timeout
  let seen
  for (;;) {
    try {
      const r = await probe()
      if (r.ok) return r
      seen = r.seen
    } catch (e) {
      if (e instanceof Failure) throw e
      seen = `error: ${e instanceof Error ? e.message.split('\n')[0] : e}`
    }
    if (Date.now() >= until) break
    await new Promise((r) => setTimeout(r, interval))
  }
  fail(`${what} (waited ${seconds(timeout)}; last seen: ${JSON.stringify(seen)})`)
}

async function text(locator) {
  return (await locator.innerText({ timeout: WAIT_MS })).replace(/\s+/g, ' ').trim()
}

async function texts(locator) {
  return (await locator.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim())
}

/**
 * Waits until the address bar shows `path` on the server `base` (BASE unless given) and, if
 * given, passes the query test.
 */
async function atPath(path, what, queryTest, base = BASE) {
  const origin = new URL(base).origin
  await eventually(
    `${what}: expected the address ${origin}${path}${queryTest ? ' (with its query)' : ''}`,
    async () => {
      const u = new URL(page.url())
      const ok = u.origin === origin && u.pathname === path && (!queryTest || queryTest(u.searchParams))
      return { ok, seen: page.url() }
    },
    NAV_MS,
  )
}

let shotNumber = 0
async function screenshot(name) {
  shotNumber++
  const file = join(SHOTS, `${String(shotNumber).padStart(2, '0')}-${name}.png`)
  // Let fonts and pending frames settle; bounded like everything else.
  await page.evaluate(() => document.fonts?.ready ?? null).catch(() => {})
  await page.screenshot({ path: file, fullPage: true, timeout: WAIT_MS, animations: 'disabled' })
  return file
}

/** How far the document is wider than the viewport (px), and the elements sticking out. */
async function overflow() {
  return page.evaluate(() => {
    const width = window.innerWidth
    const by = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - width
    const culprits = []
    // Inside a box that scrolls or clips sideways (a ScrollX table), sticking out is fine.
    const clipped = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return true
      }
      return false
    }
    if (by > 0) {
      for (const el of document.body.querySelectorAll('*')) {
        const r = el.getBoundingClientRect()
        if (r.width > 0 && r.right > width + 1 && !clipped(el)) {
          const id = el.getAttribute('data-testid')
          const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : ''
          culprits.push(`${el.tagName.toLowerCase()}${id ? `[data-testid=${id}]` : ''}${cls} (right edge ${Math.round(r.right)} px)`)
          if (culprits.length >= 5) break
        }
      }
    }
    return { by, culprits }
  })
}

/** At the phone width the document must not scroll sideways (wide tables scroll in their box). */
async function fitsPhone(what) {
  await eventually(
    `at ${PHONE.width} px ${what} is wider than the screen`,
    async () => {
      const o = await overflow()
      return { ok: o.by <= 0, seen: o.by > 0 ? `${o.by} px too wide; sticking out: ${o.culprits.join(', ')}` : 'fits' }
    },
    3_000,
  )
}

/**
 * The page as it is, screenshot at 1280 px (`<name>-1280px`) and at 390 px (`<name>-390px`,
 * after checking the document fits); `ready` (optional) waits for what the narrow layout shows.
 * Back at 1280 px afterwards, whatever happens.
 */
async function screenshots(name, ready) {
  await screenshot(`${name}-${VIEWPORT.width}px`)
  await page.setViewportSize(PHONE)
  try {
    if (ready) await ready()
    await fitsPhone(`the ${name} page`)
    await screenshot(`${name}-${PHONE.width}px`)
  } finally {
    await page.setViewportSize(VIEWPORT)
  }
}

/**
 * Runs `action` (a navigation or click) and returns the JSON of the GET /api/v1/about it makes
 * the page send (the login, setup and "Use this mirror" pages ask it).
 */
async function aboutDuring(action, what) {
  const answer = page
    .waitForResponse((r) => r.request().method() === 'GET' && pathOf(r.url()) === '/api/v1/about', { timeout: NAV_MS })
    .catch(() => null)
  await action()
  const res = await answer
  check(res, `${what}: the page did not ask GET /api/v1/about within ${seconds(NAV_MS)}`)
  check(res.status() === 200, `${what}: GET /api/v1/about answered ${res.status()}: ${await res.text().catch(() => '')}`)
  const body = await res.json().catch(() => null)
  check(
    body && typeof body.setup_required === 'boolean' && typeof body.https === 'boolean' && 'public_url' in body,
    `${what}: GET /api/v1/about answered ${JSON.stringify(body)}, expected {public_url, https, setup_required}`,
  )
  return body
}

/** Every request the page sent: "METHOD /path" (to check a refused form sent nothing). */
const requestLog = []
const sent = (method, path) => requestLog.filter((r) => r === `${method} ${path}`).length
/** The same for every path matching `re` (e.g. /^\/api\/v1\/users\/\d+\/password$/). */
const sentMatching = (method, re) =>
  requestLog.filter((r) => r.startsWith(`${method} `) && re.test(r.slice(method.length + 1))).length

/** Clicks and waits for the API answer that the click causes. */
async function clickFor(locator, method, path, what) {
  const [response] = await Promise.all([
    page
      .waitForResponse((r) => r.request().method() === method && pathOf(r.url()) === path, { timeout: NAV_MS })
      .catch(() => fail(`${what}: no answer to ${method} ${path} within ${seconds(NAV_MS)}`)),
    locator.click(),
  ])
  return response
}

async function fetchWithTimeout(url, init = {}) {
  try {
    return await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(FETCH_MS) })
  } catch (e) {
    fail(`fetch ${url} failed: ${e instanceof Error ? e.message : e}`)
  }
}

/** Reads the mirror's index.json from Node (not the browser): {status, versions|null, body}. */
async function mirrorIndex() {
  const res = await fetchWithTimeout(INDEX_URL)
  const body = await res.text()
  let versions = null
  if (res.status === 200) {
    try {
      const doc = JSON.parse(body)
      versions = Object.keys(doc.versions ?? {})
    } catch {
      fail(`${INDEX_URL} answered 200 but not JSON: ${body.slice(0, 200)}`)
    }
  }
  return { status: res.status, versions, body: body.slice(0, 300) }
}

/** GET `path` of the admin API from Node with the browser's session: {status, json, body}. */
async function apiAnswer(path) {
  const token = (await readSession())?.token
  check(token, `no session to ask GET ${path} with`)
  const res = await fetchWithTimeout(`${BASE}${path}`, { headers: { Authorization: `Bearer ${token}` } })
  const body = await res.text()
  let json = null
  try {
    json = JSON.parse(body)
  } catch {
    // not JSON: reported as text
  }
  return { status: res.status, json, body: body.slice(0, 2000) }
}

async function readSession() {
  return page.evaluate(() => {
    const raw = window.localStorage.getItem('tfmirror.session')
    return raw ? JSON.parse(raw) : null
  })
}

/**
 * One regular file of a tar archive: a ustar header (written by hand, no dependency) and the
 * content padded to 512-byte blocks.
 */
function tarEntry(name, content) {
  const data = Buffer.from(content, 'utf8')
  const header = Buffer.alloc(512, 0)
  const put = (value, offset, length) => header.write(value, offset, length, 'ascii')
  const octal = (n, length) => `${n.toString(8).padStart(length - 1, '0')}\0`
  put(name, 0, 100)
  put(octal(0o644, 8), 100, 8) // mode
  put(octal(0, 8), 108, 8) // uid
  put(octal(0, 8), 116, 8) // gid
  put(octal(data.length, 12), 124, 12) // size
  put(octal(1_767_225_600, 12), 136, 12) // mtime: fixed, so the same version packs the same
  put(' '.repeat(8), 148, 8) // the checksum counts its own field as spaces
  put('0', 156, 1) // a regular file
  put('ustar\0', 257, 6)
  put('00', 263, 2)
  put('root', 265, 32)
  put('root', 297, 32)
  let sum = 0
  for (const byte of header) sum += byte
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8)
  return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512)])
}

/** The module package of `version`: a .tar.gz holding one main.tf. */
function moduleTarGz(version) {
  const main = `# ${MODULE_SOURCE} ${version}, uploaded by the UI end-to-end test\nvariable "cidr" {\n  type    = string\n  default = "10.0.0.0/16"\n}\n\noutput "cidr" {\n  value = var.cidr\n}\n`
  return gzipSync(Buffer.concat([tarEntry('main.tf', main), Buffer.alloc(1024, 0)]))
}

/**
 * The mirror's module version list, fetched by the page itself (same origin, no token):
 * {status, versions|null, body}.
 */
async function moduleVersionsFromPage() {
  const r = await page.evaluate(
    async ([path, ms]) => {
      try {
        const res = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store', signal: AbortSignal.timeout(ms) })
        return { status: res.status, body: await res.text() }
      } catch (e) {
        return { status: 0, body: `fetch failed: ${e instanceof Error ? e.message : e}` }
      }
    },
    [MODULE_VERSIONS_PATH, FETCH_MS],
  )
  let versions = null
  if (r.status === 200) {
    try {
      const doc = JSON.parse(r.body)
      versions = (doc.modules ?? []).flatMap((m) => (m.versions ?? []).map((v) => v.version))
    } catch {
      fail(`${MODULE_VERSIONS_PATH} answered 200 but not JSON: ${r.body.slice(0, 200)}`)
    }
  }
  return { status: r.status, versions, body: r.body.slice(0, 300) }
}

// ---- the steps -------------------------------------------------------------------------------

let jobId = null

/** Logs in on the login page that is shown (`base`: which server) as `username`. */
async function logIn(username, password, base = BASE) {
  await visible(tid('login-username'), 'the username field')
  await tid('login-username').fill(username)
  await tid('login-password').fill(password)
  const res = await clickFor(tid('login-submit'), 'POST', '/api/v1/auth/login', `logging in as ${username} at ${base}`)
  check(res.status() === 200, `logging in as ${username} at ${base} answered ${res.status()}: ${await res.text().catch(() => '')}`)
}

/** Clicks "Log out" in the header and waits for the login page. */
async function logOut(base = BASE) {
  const res = await clickFor(tid('logout'), 'POST', '/api/v1/auth/logout', 'Log out')
  check(res.status() === 204, `logging out answered ${res.status()}`)
  await atPath('/ui/login', 'Log out should show the login page', undefined, base)
  await visible(tid('page-login'), 'the login page after logging out')
}

/** The first admin, through the setup link (only with TFM_SETUP_URL). */
const setupSteps = [
  [
    'login page before the first admin',
    async () => {
      const about = await aboutDuring(
        () => page.goto(`${BASE}/ui/login`, { waitUntil: 'domcontentloaded', timeout: NAV_MS }),
        'the login page',
      )
      check(about.setup_required === true, `with a setup link, GET /api/v1/about should say setup_required: ${JSON.stringify(about)}`)
      await visible(tid('page-login'), 'the login page')
      const notice = tid('setup-required')
      await visible(notice, 'the "No admin exists yet" notice')
      const said = await text(notice)
      check(
        said.includes('No admin exists yet') && said.includes('setup link') && said.includes('tfmirror create-admin'),
        `the notice says "${said}"`,
      )
      await screenshots('login-setup-required')
      return `the login page says "${said.slice(0, 60)}…"`
    },
  ],
  [
    'setup link',
    async () => {
      await page.goto(SETUP_URL, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      await atPath('/ui/setup', 'the setup link', undefined, SETUP_ORIGIN)
      await visible(tid('page-setup'), 'the setup page')
      await visible(tid('setup-form'), 'the setup form')
      // The token is taken out of the address bar at once, and out of the history entry.
      await eventually('the token should be gone from the address bar', async () => {
        const u = new URL(page.url())
        return { ok: u.hash === '' && !page.url().includes(SETUP_TOKEN), seen: page.url() }
      })
      const kept = await page.evaluate(() => ({
        hash: window.location.hash,
        state: JSON.stringify(window.history.state),
        entries: window.history.length,
      }))
      check(kept.hash === '' && !kept.state.includes(SETUP_TOKEN), `the token is still kept: ${JSON.stringify(kept)}`)

      // An empty form says what is missing and sends nothing.
      const before = sent('POST', '/api/v1/setup')
      await tid('setup-submit').click()
      await visible(tid('setup-username-error'), 'the message for the empty username')
      const messages = {
        username: await text(tid('setup-username-error')),
        password: await text(tid('setup-password-error')),
        confirm: await text(tid('setup-confirm-error')),
      }
      check(
        messages.username === 'Enter a username.' &&
          messages.password.startsWith('Enter a password (at least') &&
          messages.confirm === 'Enter the password again.',
        `the empty form says ${JSON.stringify(messages)}`,
      )
      await screenshots('setup')

      // Two different passwords: refused here too.
      await tid('setup-username').fill(USER)
      await tid('setup-password').fill(PASSWORD)
      await tid('setup-confirm').fill(`${PASSWORD}x`)
      await tid('setup-submit').click()
      await eventually('the message for two different passwords', async () => {
        const t = (await tid('setup-confirm-error').count()) ? await text(tid('setup-confirm-error')) : ''
        return { ok: t === 'The two passwords differ.', seen: t }
      })
      check((await tid('setup-username-error').count()) === 0, 'the username is still said to be missing')
      check(sent('POST', '/api/v1/setup') === before, 'a refused form was sent to the server')

      await tid('setup-confirm').fill(PASSWORD)
      const res = await clickFor(tid('setup-submit'), 'POST', '/api/v1/setup', 'creating the first admin')
      check(res.status() === 201, `creating the first admin answered ${res.status()}: ${await res.text().catch(() => '')}`)
      await atPath('/ui/', 'after the setup the dashboard should be shown', undefined, SETUP_ORIGIN)
      await visible(tid('page-dashboard'), 'the dashboard after the setup')
      const who = await text(tid('current-user'))
      check(who.includes(USER) && who.includes('admin'), `the header shows "${who}", expected ${USER} (admin)`)
      const session = await readSession()
      check(session?.token && session.user?.username === USER, `the session stored after the setup is ${JSON.stringify(session)}`)
      await screenshot('setup-dashboard')

      // The rest of the scenario starts from the login page, as without a setup link.
      const about = await aboutDuring(() => logOut(SETUP_ORIGIN), 'the login page after the setup')
      check(about.setup_required === false, `after the setup GET /api/v1/about still says ${JSON.stringify(about)}`)
      check((await tid('setup-required').count()) === 0, 'the login page still says no admin exists')

      // The link worked once: opened again, it says an admin exists.
      await page.goto(SETUP_URL, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      await visible(tid('setup-admin-exists'), 'the "An admin exists already" message for the used link')
      check((await tid('setup-form').count()) === 0, 'the used setup link still shows the form')
      return `token removed from the address; empty form refused (${messages.username}); ${USER} created and logged in; the link is used up`
    },
  ],
]

/** The job page's items as shown: [{status, platform, attempts, error}]. */
async function jobItemsShown() {
  return tid('job-item').evaluateAll((rows) =>
    rows.map((r) => {
      const cell = (id) => (r.querySelector(`[data-testid="${id}"]`)?.textContent ?? '').replace(/\s+/g, ' ').trim()
      return {
        status: r.getAttribute('data-status'),
        platform: cell('job-item-platform'),
        attempts: cell('job-item-attempts'),
        error: cell('job-item-error'),
      }
    }),
  )
}

/** The job page's summary: {progress: "N of M items done", facts: {Succeeded: "0", …}}. */
async function jobSummaryShown() {
  return tid('job-summary').evaluate((card) => {
    const squash = (t) => (t ?? '').replace(/\s+/g, ' ').trim()
    const facts = {}
    for (const d of card.querySelectorAll('dl > div')) facts[squash(d.querySelector('dt')?.textContent)] = squash(d.querySelector('dd')?.textContent)
    return { progress: squash(card.querySelector('.progress-text')?.textContent), facts }
  })
}

const CHECKSUM_ERROR = /checksum|sha-?256|mismatch|verif|signature|hash/i

/** A job that goes wrong: retried and cancelled (only with TFM_FAILING_PROVIDER). */
const failingJobSteps = [
  [
    'job counters after retry and cancel',
    async () => {
      const what = `${FAILING.source} ${FAILING.version}`
      await tid('nav-load').click()
      await atPath('/ui/load', 'the Load providers link')
      const editor = tid('hcl-editor')
      await visible(editor, 'the definitions editor')
      await editor.fill(FAILING_DEFINITIONS)
      const created = await clickFor(tid('enqueue'), 'POST', '/api/v1/definitions', `Enqueue of ${what}`)
      check(created.status() === 201, `Enqueue of ${what} answered ${created.status()}: ${await created.text().catch(() => '')}`)
      const id = (await created.json().catch(() => null))?.job?.id
      check(Number.isInteger(id), `Enqueue of ${what} did not return a job id`)
      await atPath(`/ui/jobs/${id}`, `Enqueue of ${what} should open the job page`)
      await visible(tid('page-job'), `the page of job #${id}`)

      // 1. The tampered package fails (permanently), the other one hangs in its download.
      const failing = async (expectation) =>
        eventually(
          expectation,
          async () => {
            const items = await jobItemsShown()
            const failed = items.filter((i) => i.status === 'failed')
            const running = items.filter((i) => i.status === 'running')
            return { ok: items.length === 2 && failed.length === 1 && running.length === 1, seen: items, failed: failed[0], running: running[0] }
          },
          JOB_MS,
          250,
        )
      const first = await failing(`job #${id} should show one item failed and the other running`)
      check(
        JSON.stringify([first.failed.platform, first.running.platform].sort()) === JSON.stringify([...PLATFORMS].sort()),
        `job #${id} has items for ${first.failed.platform} and ${first.running.platform}, expected ${PLATFORMS.join(' and ')}`,
      )
      const failedRow = page.locator('[data-testid="job-item"][data-status="failed"]')
      await visible(failedRow.getByTestId('job-item-error'), `the error of the failed ${first.failed.platform} item`)
      check(
        CHECKSUM_ERROR.test(first.failed.error),
        `the failed ${first.failed.platform} item says "${first.failed.error}", expected the checksum or verification failure`,
      )
      await screenshot('job-failing-1280px')

      // 2. Retry: the failed item is queued again and fails again; the other one keeps running.
      await visible(tid('retry'), 'the Retry button')
      check(await tid('retry').isEnabled(), 'Retry is disabled for a job with a failed item')
      const retried = await clickFor(tid('retry'), 'POST', `/api/v1/jobs/${id}/retry`, 'Retry failed')
      check(retried.status() === 200, `Retry answered ${retried.status()}: ${await retried.text().catch(() => '')}`)
      const retryAnswer = await retried.json().catch(() => null)
      // Once the button is back, what the page shows was read after the retry.
      await eventually('the Retry button should settle', async () => {
        const t = await text(tid('retry'))
        return { ok: t !== 'Retrying…', seen: t }
      })
      const second = await failing(`after Retry, the ${first.failed.platform} item should fail again while the other runs`)
      check(second.failed.platform === first.failed.platform, `after Retry ${second.failed.platform} failed, expected ${first.failed.platform} again`)
      check(CHECKSUM_ERROR.test(second.failed.error), `after Retry the failed item says "${second.failed.error}"`)

      // 3. Cancel: the running item is cancelled.
      await visible(tid('cancel-job'), 'the Cancel button')
      await tid('cancel-job').click()
      const dialog = tid('confirm-dialog')
      await visible(dialog, 'the confirmation dialog for the cancel')
      const cancelled = await clickFor(dialog.getByTestId('confirm'), 'POST', `/api/v1/jobs/${id}/cancel`, 'confirming the cancel')
      check(cancelled.status() === 200, `Cancel answered ${cancelled.status()}: ${await cancelled.text().catch(() => '')}`)
      const cancelAnswer = await cancelled.json().catch(() => null)
      await hidden(dialog, 'the confirmation dialog for the cancel')
      await eventually(
        `job #${id} should show cancelled, with one item failed and one cancelled`,
        async () => {
          const status = await text(tid('job-status'))
          const items = (await jobItemsShown()).map((i) => i.status).sort()
          return { ok: status === 'cancelled' && JSON.stringify(items) === '["cancelled","failed"]', seen: { status, items } }
        },
        NAV_MS,
        250,
      )

      // 4. What a user would notice on the job page, and what the server answered for it.
      const detail = await apiAnswer(`/api/v1/jobs/${id}`)
      const apiJob = detail.json?.job ?? null
      const answered = () =>
        `GET /api/v1/jobs/${id} answered ${detail.status} job ${JSON.stringify(apiJob)}; POST …/retry answered ${JSON.stringify(retryAnswer)}; POST …/cancel answered ${JSON.stringify(cancelAnswer)}`
      const wrong = []
      const shown = await jobSummaryShown()
      const m = /^(\d+) of (\d+) items? done$/.exec(shown.progress)
      if (!m) wrong.push(`the progress says "${shown.progress}"`)
      else {
        const [done, total] = [Number(m[1]), Number(m[2])]
        if (total !== 2) wrong.push(`the progress counts ${total} items, expected 2 ("${shown.progress}")`)
        if (done > total) wrong.push(`more items done than the job has: "${shown.progress}"`)
        else if (done !== 2) wrong.push(`both items are finished (failed, cancelled) but the page says "${shown.progress}"`)
      }
      const expected = { Succeeded: '0', Skipped: '0', Failed: '1', Cancelled: '1', Pending: '0', Running: '0' }
      for (const [k, v] of Object.entries(expected)) {
        if (shown.facts[k] !== v) wrong.push(`${k} shows ${JSON.stringify(shown.facts[k] ?? null)}, expected ${v}`)
      }
      for (const [k, v] of Object.entries(shown.facts)) {
        if (/\b(true|false|NaN|undefined|null)\b/.test(v)) wrong.push(`${k} shows "${v}"`)
      }
      const finishedTime = tid('job-finished').locator('time')
      let finishedText = ''
      if ((await finishedTime.count()) === 0) {
        wrong.push(`no Finished time is shown (the summary shows ${JSON.stringify(shown.facts)})`)
      } else {
        const t = await text(finishedTime)
        finishedText = t
        const datetime = (await finishedTime.getAttribute('datetime')) ?? ''
        if (!/^\d{4}-\d\d-\d\d \d\d:\d\d UTC([+-]\d{1,2}(:\d\d)?)?$/.test(t)) wrong.push(`the Finished time "${t}" does not say its zone`)
        const at = Date.parse(datetime) / 1000
        if (typeof apiJob?.finished_at !== 'number' || Math.abs(at - apiJob.finished_at) > 1) {
          wrong.push(`the Finished time is ${datetime}, the server says finished_at ${apiJob?.finished_at}`)
        }
      }
      const apiWrong = []
      if (!apiJob || typeof apiJob.finished_at !== 'number') apiWrong.push('no finished_at for a finished job')
      if (!apiJob || apiJob.failed !== 1 || apiJob.cancelled_items !== 1) apiWrong.push('not failed 1 and cancelled_items 1')
      if (apiJob && apiJob.succeeded + apiJob.skipped + apiJob.failed + (apiJob.cancelled_items ?? 0) + apiJob.pending + apiJob.running !== apiJob.total) {
        apiWrong.push('counts that do not add up to total')
      }
      await screenshots('job-retried-cancelled')

      // 5. The jobs list says the same of this job.
      await tid('nav-jobs').click()
      await atPath('/ui/jobs', 'the Jobs link')
      await visible(tid('page-jobs'), 'the Jobs page')
      const row = await eventually(`the jobs list should show job #${id}`, async () => {
        const rows = await tid('job-row').evaluateAll((trs) =>
          trs.map((tr) => {
            const cell = (sel) => (tr.querySelector(sel)?.textContent ?? '').replace(/\s+/g, ' ').trim()
            return {
              job: cell('td'),
              status: cell('[data-testid="job-row-status"]'),
              progress: cell('.progress-text'),
              succeeded: cell('[data-testid="job-row-succeeded"]'),
              failed: cell('[data-testid="job-row-failed"]'),
              cancelled: cell('[data-testid="job-row-cancelled"]'),
              text: (tr.textContent ?? '').replace(/\s+/g, ' ').trim(),
            }
          }),
        )
        const r = rows.find((x) => x.job === `#${id}`)
        return { ok: !!r, seen: rows.map((x) => x.text), row: r }
      })
      const listed = row.row
      const jobs = await apiAnswer('/api/v1/jobs?page=1&per_page=25')
      const listedApi = jobs.json?.items?.find((j) => j.id === id) ?? null
      const pageProgress = m ? `${m[1]}/${m[2]}` : shown.progress
      if (listed.status !== 'cancelled') wrong.push(`the jobs list shows the status "${listed.status}", the job page "cancelled"`)
      if (listed.progress !== pageProgress) wrong.push(`the jobs list shows progress "${listed.progress}", the job page "${shown.progress}"`)
      if (listed.failed !== shown.facts.Failed) wrong.push(`the jobs list shows failed "${listed.failed}", the job page "${shown.facts.Failed}"`)
      if (listed.cancelled !== shown.facts.Cancelled) wrong.push(`the jobs list shows cancelled "${listed.cancelled}", the job page "${shown.facts.Cancelled}"`)
      if (/\b(true|false|NaN|undefined)\b/.test(listed.text)) wrong.push(`the jobs list row says "${listed.text}"`)
      if (!listedApi || typeof listedApi.finished_at !== 'number' || listedApi.cancelled_items !== 1) {
        apiWrong.push(`GET /api/v1/jobs lists it as ${JSON.stringify(listedApi)}`)
      }
      await screenshots('jobs-retried-cancelled')

      if (apiWrong.length > 0) wrong.push(`the server's answer has ${apiWrong.join('; ')}: ${answered()}`)
      check(wrong.length === 0, `job #${id} after Retry and Cancel:\n  - ${wrong.join('\n  - ')}`)
      return `job #${id} (${what}): ${first.failed.platform} failed ("${first.failed.error.slice(0, 50)}…"), retried, failed again; ${first.running.platform} cancelled running; the page and the list say "${shown.progress}", failed ${shown.facts.Failed}, cancelled ${shown.facts.Cancelled}, finished ${finishedText}`
    },
  ],
]

/**
 * Submits a form left empty (`submit`) and checks every field of `fields` ({input, error, says,
 * name}, by data-testid) gets its message: shown, next to the field (just under it), named by
 * its aria-describedby, the field marked aria-invalid; the first of them has the focus; and no
 * request `method` to a path matching `path` left the page. Returns the messages.
 */
async function refusedEmpty(what, submit, method, path, fields) {
  const before = sentMatching(method, path)
  await submit()
  const said = []
  for (const f of fields) {
    await visible(tid(f.error), `${what}: the message for the empty ${f.name}`)
    const message = await text(tid(f.error))
    check(f.says.test(message), `${what}: the empty ${f.name} is refused with "${message}"`)
    const placed = await page.evaluate(
      ([inputId, errorId]) => {
        const input = document.querySelector(`[data-testid="${inputId}"]`)
        const error = document.querySelector(`[data-testid="${errorId}"]`)
        if (!input || !error) return { ok: false, why: 'the field or its message is missing' }
        const described = (input.getAttribute('aria-describedby') ?? '').split(/\s+/)
        if (!error.id || !described.includes(error.id)) return { ok: false, why: `aria-describedby="${input.getAttribute('aria-describedby')}" does not name the message (#${error.id})` }
        if (input.getAttribute('aria-invalid') !== 'true') return { ok: false, why: 'the field is not marked aria-invalid' }
        const a = input.getBoundingClientRect()
        const b = error.getBoundingClientRect()
        const below = b.top - a.bottom
        const overlaps = b.left < a.right && b.right > a.left
        if (below < -2 || below > 48 || !overlaps) return { ok: false, why: `the message is not next to the field (field ${Math.round(a.left)},${Math.round(a.bottom)}; message ${Math.round(b.left)},${Math.round(b.top)})` }
        return { ok: true }
      },
      [f.input, f.error],
    )
    check(placed.ok, `${what}: the message "${message}" for the ${f.name}: ${placed.why}`)
    said.push(message)
  }
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName)
  check(focused === fields[0].input, `${what}: the focus is on ${focused}, expected the first refused field (${fields[0].input})`)
  // A request would have started at once; give it a moment to show up.
  await new Promise((r) => setTimeout(r, 300))
  const after = sentMatching(method, path)
  check(after === before, `${what}: the empty form was sent (${after - before} × ${method} ${path})`)
  return said
}

/** Every form of the app submitted empty: refused in the page, nothing sent. */
const emptyFormSteps = [
  [
    "every form's empty submit",
    async () => {
      const checked = []

      // Load providers: Preview and Enqueue of an empty editor.
      await tid('nav-load').click()
      await atPath('/ui/load', 'the Load providers link')
      const editor = tid('hcl-editor')
      await visible(editor, 'the definitions editor')
      await editor.fill('')
      const editorField = [{ name: 'definitions', input: 'hcl-editor', error: 'hcl-message', says: /^Write or load the definitions first/ }]
      const definitions = /^\/api\/v1\/definitions$/
      const [loadSays] = await refusedEmpty('Preview of an empty editor', () => tid('preview').click(), 'POST', definitions, editorField)
      await refusedEmpty('Enqueue of an empty editor', () => tid('enqueue').click(), 'POST', definitions, editorField)
      check((await tid('plan').count()) === 0, 'an empty editor shows a plan')
      await screenshots('load-empty')
      checked.push(`load (Preview, Enqueue: "${loadSays}")`)

      // Users: a new user, a new API token, a password reset.
      await tid('nav-users').click()
      await atPath('/ui/users', 'the Users link')
      await visible(tid('page-users'), 'the Users page')
      await tid('new-username').fill('')
      await tid('new-password').fill('')
      const userSays = await refusedEmpty('the empty "New user" form', () => tid('create-user-submit').click(), 'POST', /^\/api\/v1\/users$/, [
        { name: 'username', input: 'new-username', error: 'new-username-error', says: /^Enter a username\.$/ },
        { name: 'password', input: 'new-password', error: 'new-password-error', says: /^Enter a password \(at least 12 characters\)\.$/ },
      ])
      checked.push(`new user ("${userSays.join('", "')}")`)

      await tid('token-name').fill('')
      await tid('token-days').fill('')
      const tokenSays = await refusedEmpty('the empty "New API token" form', () => tid('create-token-submit').click(), 'POST', /^\/api\/v1\/tokens$/, [
        { name: 'token name', input: 'token-name', error: 'token-name-error', says: /^Enter a name for the token\.$/ },
        { name: 'expiry in days', input: 'token-days', error: 'token-days-error', says: /^Enter a whole number of days between 1 and 3650\.$/ },
      ])
      check((await tid('new-token').count()) === 0, 'an empty token form shows a new token')
      await screenshots('users-empty')
      checked.push(`new API token ("${tokenSays.join('", "')}")`)

      await tid(`reset-${VIEWER}`).click()
      const dialog = tid('confirm-dialog')
      await visible(dialog, `the password reset dialog for ${VIEWER}`)
      await visible(tid('reset-password'), 'the new password field')
      const resetSays = await refusedEmpty(
        `the empty password reset for ${VIEWER}`,
        () => dialog.getByTestId('confirm').click(),
        'POST',
        /^\/api\/v1\/users\/\d+\/password$/,
        [{ name: 'new password', input: 'reset-password', error: 'reset-password-error', says: /^Enter a new password \(at least 12 characters\)\.$/ }],
      )
      await visible(dialog, 'the password reset dialog after the refused submit')
      await screenshots('reset-password-empty', () => visible(dialog, 'the password reset dialog at 390 px'))
      await dialog.getByTestId('cancel').click()
      await hidden(dialog, 'the password reset dialog')
      checked.push(`password reset ("${resetSays[0]}")`)

      // The search forms: empty means everything, so they are sent and show no error.
      for (const [nav, path, pageId, field, rows] of [
        ['nav-providers', '/ui/providers', 'page-providers', 'filter-q', 'provider-row'],
        ['nav-audit', '/ui/audit', 'page-audit', 'filter-actor', 'audit-row'],
      ]) {
        await tid(nav).click()
        await atPath(path, `the ${pageId} link`)
        await visible(tid(pageId), `the ${pageId} page`)
        await tid(field).fill('')
        await tid(field).press('Enter')
        await visible(tid(rows), `the ${pageId} page's rows after an empty search`)
        const alerts = (await texts(page.locator('[role="alert"]'))).filter((t) => t)
        check(alerts.length === 0, `an empty search on ${path} shows ${JSON.stringify(alerts)}`)
      }
      checked.push('providers and audit search (empty = everything: accepted, no error)')

      // The login form, between logging out and logging in again.
      await logOut()
      await tid('login-username').fill('')
      await tid('login-password').fill('')
      const loginSays = await refusedEmpty('the empty login form', () => tid('login-submit').click(), 'POST', /^\/api\/v1\/auth\/login$/, [
        { name: 'username', input: 'login-username', error: 'login-username-error', says: /^Enter your username\.$/ },
        { name: 'password', input: 'login-password', error: 'login-password-error', says: /^Enter your password\.$/ },
      ])
      const loginError = (await tid('login-error').count()) ? await text(tid('login-error')) : ''
      check(!loginError, `the empty login form also says "${loginError}"`)
      await screenshots('login-empty')
      checked.push(`login ("${loginSays.join('", "')}")`)
      await logIn(USER, PASSWORD)
      await atPath('/ui/', 'after logging in again the dashboard should be shown')
      await visible(tid('page-dashboard'), 'the dashboard after logging in again')
      return `refused without a request: ${checked.join('; ')}; setup is checked in its own step, the confirmation dialogs have no fields`
    },
  ],
]

const mainSteps = [
  [
    'login',
    async () => {
      let response
      const about = await aboutDuring(async () => {
        response = await page.goto(`${BASE}/`, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      }, 'the login page')
      check(response, `${BASE}/ gave no response`)
      // The server answers / with a redirect to /ui/ (then the app sends the visitor to its login page).
      const chain = []
      for (let r = response.request(); r; r = r.redirectedFrom()) chain.unshift(pathOf(r.url()))
      check(
        chain[0] === '/' && chain.includes('/ui/'),
        `GET / did not redirect to /ui/ (requests: ${chain.join(' → ')}, final status ${response.status()})`,
      )
      check(response.status() === 200, `GET /ui/ answered ${response.status()}`)
      await atPath('/ui/login', 'the app did not send a visitor without a session to the login page')
      await visible(tid('page-login'), 'the login page')
      await visible(tid('login-username'), 'the username field')
      check(about.setup_required === false, `an admin exists, yet GET /api/v1/about says ${JSON.stringify(about)}`)
      check((await tid('setup-required').count()) === 0, 'the login page says no admin exists')
      await screenshots('login')

      await logIn(USER, PASSWORD)
      return `/ redirected to /ui/login; logged in as ${USER}`
    },
  ],
  [
    'dashboard',
    async () => {
      await atPath('/ui/', 'after logging in the dashboard should be shown')
      await visible(tid('page-dashboard'), 'the dashboard')
      const who = await text(tid('current-user'))
      check(who.includes(USER) && who.includes('admin'), `the header shows "${who}", expected ${USER} (admin)`)
      await eventually('the dashboard counts load', async () => {
        const v = await text(tid('count-providers').locator('.stat-value'))
        return { ok: /^\d+$/.test(v), seen: v }
      })
      await visible(tid('nav-load'), 'the "Load providers" link (admins only)')
      await screenshots('dashboard')
      return `dashboard shown for ${who}`
    },
  ],
  [
    'load providers',
    async () => {
      await tid('nav-load').click()
      await atPath('/ui/load', 'the Load providers link')
      await visible(tid('page-load'), 'the Load providers page')
      const editor = tid('hcl-editor')
      await visible(editor, 'the definitions editor')

      // 1. A file with an unknown attribute on line 4: the server refuses it with the position.
      await editor.fill(BAD_DEFINITIONS)
      expectedFailures = [{ method: 'POST', path: '/api/v1/definitions', status: 400 }]
      const bad = await clickFor(tid('preview'), 'POST', '/api/v1/definitions', 'Preview of the invalid file')
      check(bad.status() === 400, `Preview of the invalid file answered ${bad.status()}, expected 400`)
      const body = await bad.json().catch(() => null)
      check(
        body && body.code === 'invalid_definitions' && Array.isArray(body.errors),
        `the 400 body is not {code: "invalid_definitions", errors: [...]}: ${JSON.stringify(body)}`,
      )
      await visible(tid('error-line-4'), 'the gutter mark on line 4')
      const marked = await page.locator('[data-testid^="error-line-"]').evaluateAll((els) =>
        els.map((e) => e.getAttribute('data-testid')),
      )
      check(
        marked.length === 1 && marked[0] === 'error-line-4',
        `the gutter should mark only line 4, it marks ${JSON.stringify(marked)}`,
      )
      const listed = await texts(tid('hcl-error'))
      check(
        listed.length === 1 && listed[0].startsWith('line 4,') && listed[0].includes('colour'),
        `the error list should name line 4 and "colour", it shows ${JSON.stringify(listed)}`,
      )
      check(
        (await editor.getAttribute('aria-invalid')) === 'true',
        'the editor is not marked aria-invalid while it has errors',
      )
      check((await tid('plan').count()) === 0, 'a plan is shown for an invalid file')
      await screenshots('load-error')

      // 2. Without that line the plan is one version on two platforms.
      await editor.fill(GOOD_DEFINITIONS)
      await visible(tid('stale'), 'the "text changed since the last check" hint')
      const good = await clickFor(tid('preview'), 'POST', '/api/v1/definitions', 'Preview of the fixed file')
      check(good.status() === 200, `Preview of the fixed file answered ${good.status()}: ${await good.text().catch(() => '')}`)
      expectedFailures = []
      await visible(tid('plan'), 'the plan')
      check((await tid('hcl-error').count()) === 0, 'the old error is still listed after a good preview')
      check(
        (await page.locator('[data-testid^="error-line-"]').count()) === 0,
        'a gutter line is still marked after a good preview',
      )
      const versions = await texts(tid('plan-item-version'))
      check(
        versions.length === 1 && versions[0] === VERSION,
        `the plan should list exactly version ${VERSION}, it lists ${JSON.stringify(versions)}`,
      )
      const provider = await text(tid('plan-item-provider'))
      check(provider.includes('hashicorp/null'), `the plan item is for "${provider}", expected hashicorp/null`)
      const packages = await text(tid('plan-packages'))
      check(packages === '2 packages', `the plan counts "${packages}", expected "2 packages"`)
      check((await tid('plan-problems').count()) === 0, `the plan has problems: ${await texts(tid('plan-problem'))}`)
      await screenshots('load-plan')

      // 3. Enqueue: a job is created and its page opens.
      const created = await clickFor(tid('enqueue'), 'POST', '/api/v1/definitions', 'Enqueue')
      check(created.status() === 201, `Enqueue answered ${created.status()}: ${await created.text().catch(() => '')}`)
      const res = await created.json()
      jobId = res?.job?.id
      check(Number.isInteger(jobId), `Enqueue did not return a job id: ${JSON.stringify(res)}`)
      return `invalid file flagged at line 4 ("${listed[0]}"); fixed plan: ${VERSION}, ${packages}; job #${jobId} enqueued`
    },
  ],
  [
    'job',
    async () => {
      await atPath(`/ui/jobs/${jobId}`, 'Enqueue should open the job page')
      await visible(tid('page-job'), 'the job page')
      const status = tid('job-status')
      await visible(status, 'the job status')
      const t0 = Date.now()
      await eventually(
        `job #${jobId} should succeed`,
        async () => {
          const s = await text(status)
          if (s === 'failed' || s === 'cancelled') {
            const items = await texts(tid('job-item'))
            fail(`job #${jobId} ended ${s}: ${JSON.stringify(items)}`)
          }
          return { ok: s === 'succeeded', seen: s }
        },
        JOB_MS,
        250,
      )
      const items = tid('job-item')
      await eventually('the job should list 2 succeeded items', async () => {
        const st = await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))
        return { ok: st.length === 2 && st.every((s) => s === 'succeeded'), seen: st }
      })
      const platforms = (await texts(tid('job-item-platform'))).sort()
      check(
        JSON.stringify(platforms) === JSON.stringify([...PLATFORMS].sort()),
        `the job items are for ${JSON.stringify(platforms)}, expected ${JSON.stringify(PLATFORMS)}`,
      )
      const succeeded = await text(tid('count-succeeded'))
      check(succeeded === '2', `the job summary counts ${succeeded} succeeded, expected 2`)
      await screenshots('job')
      return `job #${jobId} succeeded with 2 of 2 items in ${seconds(Date.now() - t0)}`
    },
  ],
  [
    'lock file',
    async () => {
      await tid('nav-lock').click()
      await atPath('/ui/lock', 'the Lock file link')
      await visible(tid('page-lock'), 'the Lock file page')
      await screenshots('lock-empty')
      const tf = (constraint) =>
        `terraform {\n  required_providers {\n    null = {\n      source  = "hashicorp/null"\n      version = "${constraint}"\n    }\n  }\n}\n`
      await tid('hcl-editor').fill(tf('~> 3.2.0'))
      for (const p of PLATFORMS) await tid(`platform-${p}`).check()
      const res = await clickFor(tid('lock-generate'), 'POST', '/v1/lock', 'Generate lock file')
      check(res.status() === 200, `POST /v1/lock answered ${res.status()}: ${await res.text().catch(() => '')}`)
      const shown = tid('lock-result')
      await visible(shown, 'the lock file')
      const file = await shown.innerText()
      for (const line of [`provider "${PROVIDER}" {`, `version     = "${VERSION}"`, 'constraints = "~> 3.2.0"']) {
        check(file.includes(line), `the lock file lacks ${JSON.stringify(line)}:\n${file}`)
      }
      const h1 = file.match(/"h1:[A-Za-z0-9+/]{43}=",/g) ?? []
      const zh = file.match(/"zh:[0-9a-f]{64}",/g) ?? []
      check(h1.length === 2, `the lock file has ${h1.length} h1: lines, expected 2 (one per platform):\n${file}`)
      check(zh.length === 2, `the lock file has ${zh.length} zh: lines, expected 2 (the signed SHA256SUMS):\n${file}`)
      await screenshots('lock-file')

      // Download: the same text, asked for as .terraform.lock.hcl; Chromium drops the leading
      // dot of a download's name, which the page tells the user.
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), tid('lock-download').click()])
      const name = download.suggestedFilename()
      check(['.terraform.lock.hcl', 'terraform.lock.hcl'].includes(name), `the download is named "${name}"`)
      const hint = await text(tid('lock-rename-hint'))
      check(hint.includes('rename it to .terraform.lock.hcl'), `the page says "${hint}" about the file name`)
      const saved = readFileSync(await download.path(), 'utf8')
      check(saved === `${file.replace(/\n$/, '')}\n`, `the downloaded file differs from the one shown:\n${saved}`)

      // A constraint no version meets: the server's message, no file.
      expectedFailures = [{ method: 'POST', path: '/v1/lock', status: 409 }]
      await tid('hcl-editor').fill(tf('>= 9.0.0'))
      const refused = await clickFor(tid('lock-generate'), 'POST', '/v1/lock', 'Generate lock file (unsatisfiable)')
      check(refused.status() === 409, `an unsatisfiable constraint answered ${refused.status()}`)
      await visible(tid('error'), 'the error message')
      const message = await text(tid('error'))
      check(
        message.includes(`${PROVIDER}: no version meets ">= 9.0.0"`) && message.includes(VERSION),
        `the error says "${message}"`,
      )
      check((await tid('lock-result').count()) === 0, 'a lock file is still shown after the error')
      await screenshots('lock-error')
      expectedFailures = []
      return `${VERSION} locked for ${PLATFORMS.join(' and ')} (${h1.length} h1:, ${zh.length} zh:), downloaded as ${name}; ">= 9.0.0" refused: "${message}"`
    },
  ],
  [
    'provider detail',
    async () => {
      await tid('nav-providers').click()
      await atPath('/ui/providers', 'the Providers link')
      await visible(tid('page-providers'), 'the Providers page')
      await tid('filter-q').fill('hashicorp/null')
      await atPath('/ui/providers', 'the search should be kept in the address', (q) => q.get('q') === 'hashicorp/null')
      const rows = tid('provider-row')
      await eventually('the search should find exactly hashicorp/null', async () => {
        const t = await texts(rows)
        return { ok: t.length === 1 && t[0].includes(PROVIDER), seen: t }
      })
      await screenshots('providers')

      await rows.first().getByRole('link').click()
      await atPath(`/ui/providers/${PROVIDER}`, 'the provider link')
      await visible(tid('page-provider'), 'the provider page')
      await visible(tid(`version-row-${VERSION}`), `the row of version ${VERSION}`)
      const st = await text(tid(`status-${VERSION}`))
      check(st === 'active', `version ${VERSION} is "${st}", expected active`)
      for (const p of PLATFORMS) await visible(tid(`platform-${p}`), `the ${p} column`)

      await tid(`details-${VERSION}`).click()
      const details = tid(`packages-${VERSION}`)
      await visible(details, `the packages of ${VERSION}`)
      const pkgs = details.getByTestId('package-row')
      check((await pkgs.count()) === 2, `version ${VERSION} lists ${await pkgs.count()} packages, expected 2`)
      const seen = []
      for (let i = 0; i < 2; i++) {
        const row = pkgs.nth(i)
        const platform = await text(row.getByTestId('package-platform'))
        const h1 = await text(row.getByTestId('package-h1'))
        const zh = await text(row.getByTestId('package-zh'))
        check(/^h1:[A-Za-z0-9+/]{43}=$/.test(h1), `${platform}: "${h1}" is not an h1: hash`)
        check(/^zh:[0-9a-f]{64}$/.test(zh), `${platform}: "${zh}" is not a zh: hash`)
        seen.push(platform)
      }
      check(
        JSON.stringify(seen.sort()) === JSON.stringify([...PLATFORMS].sort()),
        `the packages are for ${JSON.stringify(seen)}, expected ${JSON.stringify(PLATFORMS)}`,
      )
      await screenshots('provider')
      return `found ${PROVIDER}; ${VERSION} has ${seen.join(' and ')} with h1: and zh: hashes`
    },
  ],
  [
    'block version',
    async () => {
      // Before: the mirror serves the version.
      const before = await mirrorIndex()
      check(
        before.status === 200 && before.versions?.includes(VERSION),
        `before blocking, ${INDEX_URL} should list ${VERSION}; it answered ${before.status}: ${before.body}`,
      )

      await tid(`block-${VERSION}`).click()
      const dialog = tid('confirm-dialog')
      await visible(dialog, 'the confirmation dialog')
      const message = await text(tid('confirm-message'))
      check(
        message.includes(`Block ${PROVIDER} ${VERSION}`),
        `the dialog says "${message}", expected it to name ${PROVIDER} ${VERSION}`,
      )
      await screenshots('block-confirm', () => visible(dialog, 'the confirmation dialog at 390 px'))
      const res = await clickFor(
        dialog.getByTestId('confirm'),
        'PUT',
        `/api/v1/providers/${PROVIDER}/versions/${VERSION}/status`,
        'confirming the block',
      )
      check(res.status() === 200, `blocking answered ${res.status()}: ${await res.text().catch(() => '')}`)
      await hidden(dialog, 'the confirmation dialog')
      await eventually(`version ${VERSION} should show as blocked`, async () => {
        const s = await text(tid(`status-${VERSION}`))
        return { ok: s === 'blocked', seen: s }
      })
      await visible(tid(`unblock-${VERSION}`), 'the Unblock button')
      const notice = await text(tid('notice'))
      check(notice.includes('blocked'), `the notice says "${notice}"`)

      // After: the mirror (read by Node, not the browser) no longer offers it.
      const after = await mirrorIndex()
      check(
        after.status === 404 || (after.status === 200 && !after.versions.includes(VERSION)),
        `after blocking, ${INDEX_URL} should answer 404 or omit ${VERSION}; it answered ${after.status}: ${after.body}`,
      )
      await screenshot('provider-blocked')
      return `blocked ${VERSION}; index.json now answers ${after.status}${after.versions ? ` listing ${JSON.stringify(after.versions)}` : ''}`
    },
  ],
  [
    'upload modules',
    async () => {
      await tid('nav-modules').click()
      await atPath('/ui/modules', 'the Modules link')
      await visible(tid('page-modules'), 'the Modules page')
      await visible(tid('upload-module'), 'the "Upload a module" link (admins only)')
      await tid('upload-module').click()
      await atPath('/ui/modules/upload', 'the "Upload a module" link')
      await visible(tid('page-module-upload'), 'the module upload page')
      await visible(tid('upload-form'), 'the module upload form')

      // Submitted empty: every required field says what is missing, nothing is sent.
      const emptySays = await refusedEmpty(
        'the empty module upload form',
        () => tid('upload-submit').click(),
        'POST',
        /^\/api\/v1\/modules$/,
        [
          { name: 'archive', input: 'upload-file', error: 'upload-file-error', says: /^Choose the module archive/ },
          { name: 'namespace', input: 'upload-namespace', error: 'upload-namespace-error', says: /^Enter the namespace/ },
          { name: 'name', input: 'upload-name', error: 'upload-name-error', says: /^Enter the module name/ },
          { name: 'system', input: 'upload-system', error: 'upload-system-error', says: /^Enter the target system/ },
          { name: 'version', input: 'upload-version', error: 'upload-version-error', says: /^Enter the version/ },
        ],
      )
      await screenshots('module-upload-empty')

      const stored = []
      for (const version of MODULE_VERSIONS) {
        const what = `uploading ${MODULE_SOURCE} ${version}`
        await tid('upload-file').setInputFiles({
          name: `${MODULE.name}-${version}.tar.gz`,
          mimeType: 'application/gzip',
          buffer: moduleTarGz(version),
        })
        await tid('upload-namespace').fill(MODULE.namespace)
        await tid('upload-name').fill(MODULE.name)
        await tid('upload-system').fill(MODULE.system)
        await tid('upload-version').fill(version)
        const res = await clickFor(tid('upload-submit'), 'POST', '/api/v1/modules', what)
        // 201 stored; 200 when a run before this one stored the same package already.
        check(res.status() === 201 || res.status() === 200, `${what} answered ${res.status()}: ${await res.text().catch(() => '')}`)
        const body = await res.json().catch(() => null)
        check(
          body && body.module === MODULE_ADDRESS && body.source_address === MODULE_SOURCE && body.version === version && body.files === 1 && /^h1:/.test(body.h1 ?? ''),
          `${what}: the server answered ${JSON.stringify(body)}, expected ${MODULE_ADDRESS} ${version} with 1 file and an h1: hash`,
        )
        const heading = `${res.status() === 201 ? 'Stored' : 'Already stored'} ${MODULE_SOURCE} ${version}`
        await eventually(`the page should say "${heading}"`, async () => {
          const t = (await tid('upload-result').count()) ? await text(tid('upload-result').locator('h2')) : ''
          return { ok: t === heading, seen: t }
        })
        const shown = { h1: await text(tid('upload-h1')), sha256: await text(tid('upload-sha256')), files: await text(tid('upload-files')) }
        check(
          shown.h1 === body.h1 && shown.sha256 === body.sha256 && shown.files === '1',
          `${what}: the page shows ${JSON.stringify(shown)}, the server answered h1 ${body.h1}, sha256 ${body.sha256}, 1 file`,
        )
        if ((await tid('upload-error').count()) > 0) fail(`${what}: the page shows an error: ${await text(tid('upload-error'))}`)
        stored.push(`${version} (${res.status()}, ${body.h1})`)
        if (version === MODULE_VERSIONS[0]) await screenshots('module-uploaded')
      }
      const link = await tid('upload-module-link').getAttribute('href')
      check(link === `/ui/modules/${MODULE_ADDRESS}`, `the link to the stored module is ${link}, expected /ui/modules/${MODULE_ADDRESS}`)
      return `empty form refused ("${emptySays[0]}", …); uploaded ${MODULE_SOURCE} ${stored.join(' and ')}`
    },
  ],
  [
    'module detail',
    async () => {
      await tid('nav-modules').click()
      await atPath('/ui/modules', 'the Modules link')
      await visible(tid('page-modules'), 'the Modules page')
      const rows = tid('module-row')
      await eventually(`the Modules page should list ${MODULE_SOURCE}`, async () => {
        const t = await texts(rows.getByTestId('module-link'))
        return { ok: t.includes(MODULE_SOURCE), seen: t }
      })
      await tid('filter-q').fill(MODULE.name)
      await atPath('/ui/modules', 'the module search should be kept in the address', (q) => q.get('q') === MODULE.name)
      const found = await eventually(`the search "${MODULE.name}" should find exactly ${MODULE_SOURCE}`, async () => {
        const cells = await rows.evaluateAll((trs) =>
          trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => (td.textContent ?? '').replace(/\s+/g, ' ').trim())),
        )
        return { ok: cells.length === 1 && cells[0][0] === MODULE_SOURCE, seen: cells, cells: cells[0] }
      })
      // Module, versions, blocked, latest, size.
      check(
        found.cells[1] === String(MODULE_VERSIONS.length) && found.cells[2] === '0' && found.cells[3] === MODULE_LATEST,
        `the row of ${MODULE_SOURCE} says ${JSON.stringify(found.cells)}, expected ${MODULE_VERSIONS.length} versions, 0 blocked, latest ${MODULE_LATEST}`,
      )
      await screenshots('modules')

      await rows.first().getByTestId('module-link').click()
      await atPath(`/ui/modules/${MODULE_ADDRESS}`, 'the module link')
      await visible(tid('page-module'), 'the module page')
      for (const v of MODULE_VERSIONS) await visible(tid(`module-version-${v}`), `the version ${v}`)
      const source = await text(tid('module-source'))
      check(source === MODULE_SOURCE, `the module page is titled "${source}", expected ${MODULE_SOURCE}`)
      const snippet = await tid('module-snippet').innerText({ timeout: WAIT_MS })
      check(
        snippet.includes(`module "${MODULE.name}" {`) && snippet.includes(`source  = "${MODULE_SOURCE}"`) && snippet.includes(`version = "${MODULE_LATEST}"`),
        `the module block should use source "${MODULE_SOURCE}" and version "${MODULE_LATEST}"; it is:\n${snippet}`,
      )
      const seen = []
      for (const v of MODULE_VERSIONS) {
        const facts = {
          status: await text(tid(`status-${v}`)),
          source: await text(tid(`source-${v}`)),
          files: await text(tid(`files-${v}`)),
          h1: await text(tid(`h1-${v}`)),
          sha256: await text(tid(`sha256-${v}`)),
        }
        check(
          facts.status === 'active' && facts.source === 'upload' && facts.files === '1' && /^h1:[A-Za-z0-9+/]{43}=$/.test(facts.h1) && /^[0-9a-f]{64}$/.test(facts.sha256),
          `version ${v} shows ${JSON.stringify(facts)}, expected active, upload, 1 file, an h1: and a sha256`,
        )
        check((await tid(`changed-at-origin-${v}`).count()) === 0, `version ${v} (uploaded) says the origin changed it`)
        seen.push(`${v} ${facts.h1}`)
      }
      await screenshots('module')
      return `found ${MODULE_SOURCE} by search; its page offers source "${MODULE_SOURCE}" version "${MODULE_LATEST}" and shows ${seen.join(', ')}`
    },
  ],
  [
    'block module version',
    async () => {
      // Before: the mirror lists both versions to Terraform.
      const before = await moduleVersionsFromPage()
      check(
        before.status === 200 && MODULE_VERSIONS.every((v) => before.versions.includes(v)),
        `before blocking, ${MODULE_VERSIONS_PATH} should list ${MODULE_VERSIONS.join(' and ')}; it answered ${before.status}: ${before.body}`,
      )

      await tid(`block-${MODULE_BLOCKED}`).click()
      const dialog = tid('confirm-dialog')
      await visible(dialog, 'the confirmation dialog for the module block')
      const message = await text(tid('confirm-message'))
      check(
        message.includes(`Block ${MODULE_SOURCE} ${MODULE_BLOCKED}`),
        `the dialog says "${message}", expected it to name ${MODULE_SOURCE} ${MODULE_BLOCKED}`,
      )
      await screenshots('module-block-confirm', () => visible(dialog, 'the confirmation dialog at 390 px'))
      const res = await clickFor(
        dialog.getByTestId('confirm'),
        'PUT',
        `/api/v1/modules/${MODULE_ADDRESS}/versions/${MODULE_BLOCKED}/status`,
        'confirming the module block',
      )
      check(res.status() === 200, `blocking the module version answered ${res.status()}: ${await res.text().catch(() => '')}`)
      await hidden(dialog, 'the confirmation dialog for the module block')
      await eventually(`module version ${MODULE_BLOCKED} should show as blocked`, async () => {
        const st = await text(tid(`status-${MODULE_BLOCKED}`))
        return { ok: st === 'blocked', seen: st }
      })
      await visible(tid(`unblock-${MODULE_BLOCKED}`), 'the Unblock button of the module version')
      const notice = await text(tid('notice'))
      check(notice.includes('blocked'), `the notice says "${notice}"`)
      const latest = await text(tid(`status-${MODULE_LATEST}`))
      check(latest === 'active', `module version ${MODULE_LATEST} is "${latest}" after blocking ${MODULE_BLOCKED}`)

      // After: the page's own request to the mirror lists only the other version.
      const after = await moduleVersionsFromPage()
      check(
        after.status === 200 && after.versions.includes(MODULE_LATEST) && !after.versions.includes(MODULE_BLOCKED),
        `after blocking, ${MODULE_VERSIONS_PATH} should list ${MODULE_LATEST} and not ${MODULE_BLOCKED}; it answered ${after.status}: ${after.body}`,
      )
      await screenshots('module-blocked')
      return `blocked ${MODULE_SOURCE} ${MODULE_BLOCKED}; ${MODULE_VERSIONS_PATH} now lists ${JSON.stringify(after.versions)}`
    },
  ],
  [
    'other pages',
    async () => {
      // Jobs
      await tid('nav-jobs').click()
      await atPath('/ui/jobs', 'the Jobs link')
      await visible(tid('page-jobs'), 'the Jobs page')
      await eventually(`the jobs list should show job #${jobId} succeeded`, async () => {
        const t = await texts(tid('job-row'))
        return { ok: t.some((r) => r.startsWith(`#${jobId} `) && r.includes('succeeded')), seen: t }
      })
      await screenshots('jobs')

      // Audit log: the block is recorded.
      await tid('nav-audit').click()
      await atPath('/ui/audit', 'the Audit log link')
      await visible(tid('page-audit'), 'the Audit log page')
      await eventually('the audit log should show a version.status entry', async () => {
        const actions = await texts(tid('audit-action'))
        return { ok: actions.includes('version.status'), seen: actions }
      })
      await screenshots('audit')

      // Settings
      await tid('nav-settings').click()
      await atPath('/ui/settings', 'the Settings link')
      await visible(tid('page-settings'), 'the Settings page')
      await visible(tid('config-json'), 'the configuration')
      const config = await text(tid('config-json'))
      check(config.startsWith('{') && config.length > 2, `the configuration shown is "${config.slice(0, 80)}"`)
      await screenshots('settings')

      // Users: a viewer is created for the "Admins only" page later on.
      await tid('nav-users').click()
      await atPath('/ui/users', 'the Users link')
      await visible(tid('page-users'), 'the Users page')
      await visible(tid(`user-row-${USER}`), `the row of ${USER}`)
      const me = await text(tid(`user-row-${USER}`))
      check(me.includes('(you)') && me.includes('admin'), `the row of ${USER} says "${me}"`)
      await tid('new-username').fill(VIEWER)
      await tid('new-password').fill(VIEWER_PASSWORD)
      await tid('new-role').selectOption('viewer')
      const created = await clickFor(tid('create-user-submit'), 'POST', '/api/v1/users', `creating the viewer ${VIEWER}`)
      check(created.status() === 201, `creating the viewer ${VIEWER} answered ${created.status()}: ${await created.text().catch(() => '')}`)
      await visible(tid(`user-row-${VIEWER}`), `the row of the new viewer ${VIEWER}`)
      await screenshots('users')

      // Use this mirror: this server is plain HTTP without server.public_url, which Terraform
      // refuses, so the page says how to fix that instead of offering blocks.
      await tid('nav-use').click()
      await atPath('/ui/use', 'the "Use this mirror" link')
      await visible(tid('page-use'), 'the "Use this mirror" page')
      const warning = tid('plain-http-warning')
      await visible(warning, 'the plain-HTTP warning')
      const said = await text(warning)
      check(
        said.includes('plain HTTP') && said.includes('server.public_url') && said.includes('--self-signed-tls'),
        `the plain-HTTP warning says "${said}"`,
      )
      check((await tid('mirror-block').count()) === 0, 'a network mirror block is offered for a plain-HTTP address')
      check((await tid('registry-block').count()) === 0, 'a registry block is offered for a plain-HTTP address')
      await screenshots('use')

      // An unknown address.
      await page.goto(`${BASE}/ui/no/such/page`, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      await visible(tid('page-not-found'), 'the "Not found" page')
      await screenshots('not-found')

      // The providers page on a phone: the menu is behind the toggle, the page does not overflow.
      await page.setViewportSize(PHONE)
      try {
        await visible(tid('nav-toggle'), 'the menu button at 390 px')
        await tid('nav-toggle').click()
        await visible(tid('nav-providers'), 'the Providers link in the opened menu')
        await screenshot('menu-390px')
        await tid('nav-providers').click()
        await atPath('/ui/providers', 'the Providers link at 390 px')
        await visible(tid('page-providers'), 'the Providers page at 390 px')
        await visible(tid('provider-row'), 'a provider row at 390 px')
        await hidden(tid('nav-providers'), 'the menu after following one of its links')
        await fitsPhone('the Providers page reached through the menu')
      } finally {
        await page.setViewportSize(VIEWPORT)
      }
      return `Jobs, Audit log (version.status), Settings, Users (+ viewer ${VIEWER}), Use this mirror (plain-HTTP warning), Not found; the menu at 390 px`
    },
  ],
  ...(FAILING ? failingJobSteps : []),
  ...emptyFormSteps,
  [
    'logout',
    async () => {
      const session = await readSession()
      check(session?.token, 'no session is stored before logging out')
      await logOut()
      check((await readSession()) === null, 'the session is still stored in the browser after logging out')
      // The server ended the session too.
      const me = await fetchWithTimeout(`${BASE}/api/v1/auth/me`, {
        headers: { Authorization: `Bearer ${session.token}` },
      })
      check(me.status === 401, `the old session token still works after logging out (GET /auth/me: ${me.status})`)
      await screenshot('logged-out')

      await page.goto(`${BASE}/ui/providers`, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      await atPath('/ui/login', 'visiting /ui/providers after logging out should show the login page', (q) =>
        q.get('redirect') === '/providers',
      )
      await visible(tid('page-login'), 'the login page for /ui/providers')
      await visible(tid('login-reason'), 'the "Log in to continue" hint')
      check((await tid('page-providers').count()) === 0, 'the providers page is shown without a session')
      return 'logged out; /ui/providers now asks to log in'
    },
  ],
  [
    'viewer',
    async () => {
      // The login page of the previous step (redirect to /providers).
      await logIn(VIEWER, VIEWER_PASSWORD)
      await atPath('/ui/providers', 'after logging in, the viewer should be back on /providers')
      await visible(tid('page-providers'), 'the Providers page for the viewer')
      check((await tid('nav-load').count()) === 0, 'a viewer is offered the "Load providers" link')
      await page.goto(`${BASE}/ui/load`, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      await atPath('/ui/load', 'the "Admins only" page keeps the address asked for')
      await visible(tid('page-forbidden'), 'the "Admins only" page')
      const reason = await text(tid('forbidden-reason'))
      check(reason.includes('admin role'), `the "Admins only" page says "${reason}"`)
      check((await tid('page-load').count()) === 0, 'a viewer sees the Load providers page')
      await screenshots('forbidden')
      await logOut()
      return `${VIEWER} gets "${reason}" at /ui/load`
    },
  ],
]

/**
 * "Use this mirror" on the second server, served over HTTPS and with an https
 * server.public_url (only with TFM_PUBLIC_BASE_URL).
 */
const publicUrlSteps = [
  [
    'public_url',
    async () => {
      await page.goto(`${PUBLIC_BASE}/ui/login`, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      await atPath('/ui/login', 'the login page of the second server', undefined, PUBLIC_BASE)
      await visible(tid('page-login'), 'the login page of the second server')
      await logIn(USER, PASSWORD, PUBLIC_BASE)
      await atPath('/ui/', 'after logging in on the second server the dashboard should be shown', undefined, PUBLIC_BASE)
      await visible(tid('page-dashboard'), 'the dashboard of the second server')
      const about = await aboutDuring(() => tid('nav-use').click(), 'the "Use this mirror" page of the second server')
      check(about.public_url === PUBLIC_URL, `the second server's GET /api/v1/about says ${JSON.stringify(about)}, expected public_url ${PUBLIC_URL}`)
      await atPath('/ui/use', 'the "Use this mirror" link', undefined, PUBLIC_BASE)
      const block = tid('mirror-block')
      await visible(block, 'the network mirror block')
      const mirror = await block.innerText({ timeout: WAIT_MS })
      check(
        mirror.includes('network_mirror') && mirror.includes(`url = "${PUBLIC_URL}"`),
        `the mirror block should hold network_mirror with url = "${PUBLIC_URL}"; it is:\n${mirror}`,
      )
      const registry = await tid('registry-block').innerText({ timeout: WAIT_MS })
      check(
        registry.includes(`"providers.v1" = "${PUBLIC_URL}v1/providers/"`),
        `the registry block should point at ${PUBLIC_URL}v1/providers/; it is:\n${registry}`,
      )
      check(!mirror.includes(new URL(PUBLIC_BASE).host), `the mirror block uses the browser's address: ${mirror}`)
      check((await tid('plain-http-warning').count()) === 0, 'the plain-HTTP warning is shown for an https public_url')
      await screenshots('use-public-url')
      return `${PUBLIC_BASE}/ui/use offers url = "${PUBLIC_URL}"`
    },
  ],
]

/** The name the server's single sign-on is configured with (`auth.oidc.display_name`). */
const SSO_NAME = 'Test SSO'

/** Sets what the provider's token endpoint does to the ID token (normal, tamper, expired). */
async function providerMode(mode) {
  const res = await fetchWithTimeout(`${OIDC}/__test/mode`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain' },
    body: mode,
  })
  const body = await res.text()
  check(res.status === 200 && body.includes(`"${mode}"`), `POST ${OIDC}/__test/mode ${mode} answered ${res.status}: ${body}`)
}

/**
 * Single sign-on from the login page at `from` (a tfmirror address): forgets the provider's
 * login first (its session is a cookie; tfmirror's is in localStorage), clicks "Log in with …",
 * logs in on the provider's development form as `username` (any password does) and returns
 * when the browser has left the provider again. `shot`: a screenshot of the provider's form.
 */
async function ssoLogIn(username, from, shot) {
  await context.clearCookies()
  await page.goto(from, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
  await atPath('/ui/login', `${from} should show the login page`)
  const button = tid('sso-login')
  await visible(button, `the "Log in with ${SSO_NAME}" button`)
  const started = page
    .waitForRequest((r) => r.isNavigationRequest() && pathOf(r.url()) === '/api/v1/auth/oidc/login', { timeout: NAV_MS })
    .catch(() => null)
  await button.click()
  const request = await started
  check(request, `clicking "Log in with ${SSO_NAME}" did not open /api/v1/auth/oidc/login within ${seconds(NAV_MS)}`)
  const redirect = new URL(request.url()).searchParams.get('redirect')
  await eventually(
    `the server should send the browser to the provider's login form at ${OIDC_ORIGIN}/interaction/…`,
    async () => {
      const u = new URL(page.url())
      return { ok: u.origin === OIDC_ORIGIN && u.pathname.startsWith('/interaction/'), seen: page.url() }
    },
    NAV_MS,
  )
  const login = page.locator('input[name="login"]')
  await visible(login, "the provider's login field")
  if (shot) await screenshot(shot)
  await login.fill(username)
  await page.locator('input[name="password"]').fill('any password will do')
  await page.locator('button[type="submit"]').click()
  await eventually(
    `after logging in as ${username} at the provider the browser should come back to ${BASE}`,
    async () => ({ ok: new URL(page.url()).origin === new URL(BASE).origin, seen: page.url() }),
    NAV_MS,
  )
  return redirect
}

/** The tfmirror session must not be in the address bar or the history entry. */
async function tokenNotKept(token, what) {
  const kept = await page.evaluate(() => ({ href: window.location.href, state: JSON.stringify(window.history.state) }))
  check(!kept.href.includes('#') && !kept.href.includes(token), `${what}: the address still holds the fragment: ${kept.href}`)
  check(!kept.state.includes(token), `${what}: the history entry still holds the session token: ${kept.state}`)
}

/** Waits for the login page with the single sign-on refusal; returns its text. */
async function ssoRefused(what) {
  await atPath('/ui/login', `${what}: the browser should be back on the login page`)
  const banner = tid('sso-error')
  await visible(banner, `${what}: the single sign-on error`)
  const said = await text(banner)
  // Taken out of the address, so a reload does not say it again.
  await atPath('/ui/login', `${what}: sso_error should be taken out of the address`, (q) => !q.has('sso_error'))
  check((await readSession()) === null, `${what}: a session is stored: ${JSON.stringify(await readSession())}`)
  await visible(tid('login-username'), `${what}: the local login form`)
  return said
}

/** Single sign-on through the OpenID provider (only with TFM_OIDC_CONTROL_URL). */
const ssoSteps = [
  [
    'single sign-on: admin',
    async () => {
      await providerMode('normal')
      await context.clearCookies()
      const about = await aboutDuring(
        () => page.goto(`${BASE}/ui/login`, { waitUntil: 'domcontentloaded', timeout: NAV_MS }),
        'the login page with single sign-on',
      )
      check(
        about.sso && about.sso.name === SSO_NAME && typeof about.sso.login_url === 'string',
        `GET /api/v1/about should offer single sign-on named ${SSO_NAME}: ${JSON.stringify(about)}`,
      )
      const button = tid('sso-login')
      await visible(button, `the "Log in with ${SSO_NAME}" button`)
      const label = await text(button)
      check(label === `Log in with ${SSO_NAME}`, `the single sign-on button says "${label}"`)
      // The local accounts stay (break-glass).
      await visible(tid('login-username'), 'the local username field next to single sign-on')
      await visible(tid('login-submit'), 'the local "Log in" button next to single sign-on')
      await screenshots('login-sso')

      // From an admin page, so the way back is checked too.
      const redirect = await ssoLogIn('alice', `${BASE}/ui/load`, 'sso-provider-login')
      check(redirect === '/ui/load', `the single sign-on started with redirect=${redirect}, expected /ui/load`)
      await atPath('/ui/load', 'after single sign-on alice should be back on /ui/load')
      await visible(tid('page-load'), 'the Load providers page for alice (admin)')
      const who = await text(tid('current-user'))
      check(who.includes('alice') && who.includes('admin'), `the header shows "${who}", expected alice (admin)`)
      const session = await readSession()
      check(
        session?.token && session.user?.username === 'alice' && session.user.role === 'admin' && session.expiresAt * 1000 > Date.now(),
        `the session stored after single sign-on is ${JSON.stringify(session)}`,
      )
      await tokenNotKept(session.token, 'after single sign-on')
      const me = await fetchWithTimeout(`${BASE}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${session.token}` } })
      check(me.status === 200, `GET /api/v1/auth/me with the single sign-on session answered ${me.status}`)
      await screenshots('sso-admin')
      await logOut()
      const after = await fetchWithTimeout(`${BASE}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${session.token}` } })
      check(after.status === 401, `the single sign-on session still works after logging out (GET /auth/me: ${after.status})`)
      return `alice logged in through ${SSO_NAME} as admin, back on /ui/load; logged out`
    },
  ],
  [
    'single sign-on: viewer',
    async () => {
      await ssoLogIn('bob', `${BASE}/ui/login`)
      await atPath('/ui/', 'after single sign-on bob should see the dashboard')
      await visible(tid('page-dashboard'), 'the dashboard for bob')
      const who = await text(tid('current-user'))
      check(who.includes('bob') && who.includes('viewer'), `the header shows "${who}", expected bob (viewer)`)
      check((await tid('nav-load').count()) === 0, 'bob (viewer) is offered the "Load providers" link')
      await tokenNotKept((await readSession())?.token ?? '\u0000', 'after single sign-on as bob')
      await page.goto(`${BASE}/ui/load`, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
      await atPath('/ui/load', 'the "Admins only" page keeps the address asked for')
      await visible(tid('page-forbidden'), 'the "Admins only" page for bob')
      check((await tid('page-load').count()) === 0, 'bob (viewer) sees the Load providers page')
      await screenshots('sso-viewer-forbidden')
      await logOut()
      return 'bob logged in as viewer and gets "Admins only" at /ui/load; logged out'
    },
  ],
  [
    'single sign-on: refused',
    async () => {
      await ssoLogIn('eve', `${BASE}/ui/login`)
      const said = await ssoRefused('eve (in no allowed group)')
      const lower = said.toLowerCase()
      check(
        lower.includes('none of the groups') || (lower.includes('group') && said.includes('tfm-admins')),
        `for eve the login page says "${said}", expected that she is in none of the allowed groups`,
      )
      await screenshots('sso-refused')
      return `eve refused: "${said}"`
    },
  ],
  [
    'single sign-on: a made-up sign-in link',
    async () => {
      // What the server's redirect after single sign-on looks like, with a token it never made.
      const forged = 'not-a-session-token'
      const until = Math.floor(Date.now() / 1000) + 3600
      expectedFailures = [{ method: 'GET', path: '/api/v1/auth/me', status: 401 }]
      try {
        await page.goto(`${BASE}/ui/sso#token=${forged}&expires_at=${until}&redirect=%2Fui%2Fjobs`, {
          waitUntil: 'domcontentloaded',
          timeout: NAV_MS,
        })
        await atPath('/ui/sso', 'the sign-in page')
        const failed = tid('sso-failed')
        await visible(failed, 'the message for a sign-in the server does not accept')
        const reason = await failed.getAttribute('data-reason')
        check(reason === 'refused', `the sign-in page says ${reason}: ${await text(failed)}`)
        await tokenNotKept(forged, 'on the sign-in page')
        check((await readSession()) === null, 'a refused sign-in is kept as a session')
        await screenshots('sso-invalid-link')
      } finally {
        expectedFailures = []
      }
      await tid('sso-login-link').click()
      await atPath('/ui/login', 'the link back to the login page', (q) => q.get('redirect') === '/jobs')
      await visible(tid('sso-login'), `the "Log in with ${SSO_NAME}" button after a refused sign-in`)
      return 'a made-up token on /ui/sso is refused (401), its fragment gone; the link leads back to the login page'
    },
  ],
  [
    'single sign-on: forged and expired ID tokens',
    async () => {
      const said = {}
      try {
        await providerMode('tamper')
        await ssoLogIn('alice', `${BASE}/ui/login`)
        said.tamper = await ssoRefused('an ID token changed after signing (groups: tfm-admins)')
        check(said.tamper.toLowerCase().includes('signature'), `for a forged ID token the login page says "${said.tamper}", expected the signature`)
        await screenshot('sso-forged-1280px')

        await providerMode('expired')
        await ssoLogIn('alice', `${BASE}/ui/login`)
        said.expired = await ssoRefused('a validly signed but expired ID token')
        check(said.expired.toLowerCase().includes('expired'), `for an expired ID token the login page says "${said.expired}", expected "expired"`)
        await screenshot('sso-expired-1280px')
      } finally {
        await providerMode('normal')
      }
      return `forged: "${said.tamper}"; expired: "${said.expired}"`
    },
  ],
]

const steps = [...(SETUP_URL ? setupSteps : []), ...mainSteps, ...(PUBLIC_BASE ? publicUrlSteps : []), ...(OIDC ? ssoSteps : [])]

// ---- running ---------------------------------------------------------------------------------

/** What the page shows in error banners, to explain a failure. */
async function reportBanners() {
  if (!page) return
  try {
    const shown = await Promise.race([
      page.locator('[role="alert"]').allInnerTexts(),
      new Promise((r) => setTimeout(() => r([]), 3_000)),
    ])
    for (const t of shown) if (t.trim()) console.error(`  the page shows: ${t.replace(/\s+/g, ' ').trim()}`)
  } catch {
    // the page may be gone
  }
}

async function saveFailureScreenshot() {
  if (!page) return
  await reportBanners()
  try {
    await page.screenshot({ path: join(SHOTS, 'failure.png'), fullPage: true, timeout: 5_000 })
    console.error(`  screenshot: ${join(SHOTS, 'failure.png')}`)
  } catch (e) {
    console.error(`  (no failure screenshot: ${e instanceof Error ? e.message.split('\n')[0] : e})`)
  }
}

async function closeBrowser() {
  if (!context) return
  const c = context
  context = null
  await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))])
}

function cleanup() {
  if (userDataDir) {
    try {
      rmSync(userDataDir, { recursive: true, force: true })
    } catch {
      // a leftover temporary profile is harmless
    }
  }
}

async function finish(code) {
  finished = true
  await closeBrowser()
  cleanup()
  process.exit(code)
}

const globalTimer = setTimeout(async () => {
  if (finished) return
  console.error(`FAIL ${currentStep}: the whole scenario took longer than ${seconds(GLOBAL_TIMEOUT_MS)}`)
  await Promise.race([saveFailureScreenshot(), new Promise((r) => setTimeout(r, 6_000))])
  await finish(1)
}, GLOBAL_TIMEOUT_MS)

async function main() {
  mkdirSync(SHOTS, { recursive: true })
  userDataDir = mkdtempSync(join(tmpdir(), 'tfm-e2e-profile-'))
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: VIEWPORT,
      timeout: 30_000,
      // The second server (TFM_PUBLIC_BASE_URL) speaks HTTPS with the test's self-signed
      // certificate on loopback.
      ignoreHTTPSErrors: true,
    })
  } catch (e) {
    console.error(`FAIL setup: Chromium (${CHROMIUM}) did not start: ${e instanceof Error ? e.message : e}`)
    await finish(1)
  }
  context.setDefaultTimeout(WAIT_MS)
  context.setDefaultNavigationTimeout(NAV_MS)
  page = context.pages()[0] ?? (await context.newPage())

  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    const url = msg.location()?.url ?? ''
    const status = /status of (\d{3})/.exec(msg.text())?.[1]
    if (status && isExpectedFailure(url, Number(status))) {
      ignored.push(`[${currentStep}] ${msg.text()} (${url})`)
      return
    }
    // The provider's login form is not the app under test.
    if (OIDC_ORIGIN && (url.startsWith(`${OIDC_ORIGIN}/`) || page.url().startsWith(`${OIDC_ORIGIN}/`))) {
      providerNotes.push(`[${currentStep}] ${msg.text()}${url ? ` (${url})` : ''}`)
      return
    }
    problems.push(`[${currentStep}] console error: ${msg.text()}${url ? ` (${url})` : ''}`)
  })
  page.on('pageerror', (err) => {
    problems.push(`[${currentStep}] page error: ${err.message}`)
  })
  page.on('request', (req) => requestLog.push(`${req.method()} ${pathOf(req.url())}`))
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? 'failed'
    if (why === 'net::ERR_ABORTED') return // navigation or the app closed it (the job's event stream)
    failedRequests.push(`[${currentStep}] ${req.method()} ${req.url()}: ${why}`)
  })

  console.log(`tfmirror UI end to end: ${BASE}, Chromium ${context.browser()?.version() ?? ''}`.trim())
  if (SETUP_URL) console.log(`first admin through the setup link (${SETUP_ORIGIN}/ui/setup#token=…)`)
  if (PUBLIC_BASE) console.log(`second server: ${PUBLIC_BASE} with server.public_url ${PUBLIC_URL}`)
  if (OIDC) console.log(`single sign-on through the OpenID provider at ${OIDC}`)
  console.log(`screenshots: ${SHOTS}`)
  let n = 0
  for (const [name, run] of steps) {
    n++
    currentStep = `step ${n} (${name})`
    const t0 = Date.now()
    try {
      const summary = await run()
      console.log(`ok ${n} - ${name}: ${summary} (${seconds(Date.now() - t0)})`)
    } catch (e) {
      const reason = e instanceof Failure ? e.message : `unexpected error: ${e instanceof Error ? e.stack ?? e.message : e}`
      console.error(`FAIL ${currentStep}: ${reason}`)
      for (const p of problems) console.error(`  also: ${p}`)
      await saveFailureScreenshot()
      await finish(1)
      return
    }
  }

  currentStep = 'end'
  for (const i of ignored) console.log(`note: expected console error ${i}`)
  for (const f of failedRequests) console.log(`note: request failed ${f}`)
  for (const n of providerNotes) console.log(`note: console error on the OpenID provider's page ${n}`)
  if (problems.length > 0) {
    console.error(`FAIL browser errors: ${problems.length} console or page error(s):`)
    for (const p of problems) console.error(`  ${p}`)
    await finish(1)
    return
  }
  console.log(`ok - no console or page errors (${seconds(Date.now() - started)} in all)`)
  console.log(`${steps.length} passed, 0 failed`)
  clearTimeout(globalTimer)
  await finish(0)
}

main().catch(async (e) => {
  console.error(`FAIL ${currentStep}: ${e instanceof Error ? e.stack ?? e.message : e}`)
  await saveFailureScreenshot()
  await finish(1)
})
