#!/usr/bin/env node
// Air-gap bundles through the admin UI in headless Chromium (playwright-core, no bundled
// browser), between two running tfmirror servers. Run by the Rust integration test
// `tests/it/ui_bundles.rs`, which starts A (with packages and a module stored) and B (offline,
// empty) and checks afterwards that B serves what A serves.
//
// Environment:
//   TFM_A_URL, TFM_B_URL  the two servers (plain HTTP on loopback), required
//   TFM_USER, TFM_PASSWORD  an admin on both, required
//   TFM_VIEWER, TFM_VIEWER_PASSWORD  a viewer on A, required
//   TFM_EXPECT_ITEMS  what the bundle holds, one item a line, as the import report names them
//                     ("HOST/NAMESPACE/TYPE VERSION OS_ARCH" or "HOST/NAMESPACE/NAME/SYSTEM VERSION")
//   TFM_WORK_DIR      where the downloads go: a.bundle (the export), a.asc (the key),
//                     tampered.bundle (one byte of a package flipped), required
//   TFM_CHROMIUM      the browser (default /usr/bin/chromium)
//   TFM_SCREENSHOTS   where screenshots go (default web/e2e/screenshots/, git-ignored)
//   TFM_E2E_TIMEOUT_MS  the global time limit (default 180000)
//
// Steps: on A, export everything (the download saved), copy the signing key (the clipboard must
// hold what the page shows and the API serves) and download it as .asc; on B, import the bundle
// with the pasted key (every item "added", totals right), then the tampered copy with the key
// loaded from the .asc file (refused, naming the entry, "nothing was imported"); on A as a
// viewer: the key, no Bundles link, no export or import. Screenshots at 1280 and 390 px
// (`bundles-NN-<page>-<width>px.png`); at 390 px the document must not be wider than the screen.
// Exits 0 when every step passed, 1 with the step and the reason otherwise (and failure.png).

import { chromium } from 'playwright-core'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

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

const A = required('TFM_A_URL').replace(/\/+$/, '')
const B = required('TFM_B_URL').replace(/\/+$/, '')
const USER = required('TFM_USER')
const PASSWORD = required('TFM_PASSWORD')
const VIEWER = required('TFM_VIEWER')
const VIEWER_PASSWORD = required('TFM_VIEWER_PASSWORD')
const ITEMS = required('TFM_EXPECT_ITEMS')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean)
const WORK = resolve(required('TFM_WORK_DIR'))
const CHROMIUM = env.TFM_CHROMIUM || '/usr/bin/chromium'
const SHOTS = resolve(env.TFM_SCREENSHOTS || join(here, 'screenshots'))
const GLOBAL_TIMEOUT_MS = Number(env.TFM_E2E_TIMEOUT_MS || 180_000)
const WAIT_MS = 10_000
const NAV_MS = 20_000
const TRANSFER_MS = 60_000
const FETCH_MS = 10_000
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const VIEWPORT = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 800 }
const BUNDLE = join(WORK, 'a.bundle')
const KEY_FILE = join(WORK, 'a.asc')
const TAMPERED = join(WORK, 'tampered.bundle')

// ---- helpers ---------------------------------------------------------------------------------

class Failure extends Error {}
const fail = (message) => {
  throw new Failure(message)
}
const check = (condition, message) => condition || fail(message)
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`

let context = null
let page = null
let userDataDir = null
let currentStep = 'setup'
let finished = false
const problems = []
/** Failed responses the current step provokes on purpose: "METHOD /path STATUS". */
let expectedFailures = []

const pathOf = (url) => {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}
const tid = (id) => page.getByTestId(id)
const squash = (t) => t.replace(/\s+/g, ' ').trim()
const text = async (locator) => squash(await locator.innerText({ timeout: WAIT_MS }))

async function visible(locator, what, timeout = WAIT_MS) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout })
  } catch {
    fail(`${what} is not visible after ${seconds(timeout)} (at ${page.url()})`)
  }
}

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

/** Clicks and waits for the API answer that the click causes. */
async function clickFor(locator, method, path, what, timeout = NAV_MS) {
  const [response] = await Promise.all([
    page
      .waitForResponse((r) => r.request().method() === method && pathOf(r.url()) === path, { timeout })
      .catch(() => fail(`${what}: no answer to ${method} ${path} within ${seconds(timeout)}`)),
    locator.click(),
  ])
  return response
}

let shotNumber = 0
async function screenshot(name) {
  shotNumber++
  const file = join(SHOTS, `bundles-${String(shotNumber).padStart(2, '0')}-${name}.png`)
  await page.evaluate(() => document.fonts?.ready ?? null).catch(() => {})
  await page.screenshot({ path: file, fullPage: true, timeout: WAIT_MS, animations: 'disabled' })
}

/** How far the document is wider than the viewport (px). */
async function overflow() {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth)
}

/** Screenshots at 1280 and at 390 px (where the document must fit the screen). */
async function screenshots(name) {
  await screenshot(`${name}-${VIEWPORT.width}px`)
  await page.setViewportSize(PHONE)
  try {
    await eventually(`at ${PHONE.width} px the ${name} page is wider than the screen`, async () => {
      const by = await overflow()
      return { ok: by <= 0, seen: `${by} px too wide` }
    }, 3_000)
    await screenshot(`${name}-${PHONE.width}px`)
  } finally {
    await page.setViewportSize(VIEWPORT)
  }
}

async function logIn(base, username, password) {
  await page.goto(`${base}/ui/login?redirect=/bundles`, { waitUntil: 'domcontentloaded', timeout: NAV_MS })
  await visible(tid('login-username'), `the login form of ${base}`)
  await tid('login-username').fill(username)
  await tid('login-password').fill(password)
  const res = await clickFor(tid('login-submit'), 'POST', '/api/v1/auth/login', `logging in as ${username} at ${base}`)
  check(res.status() === 200, `logging in as ${username} at ${base} answered ${res.status()}`)
  await eventually(`after logging in at ${base}, the Bundles page`, async () => {
    const u = new URL(page.url())
    return { ok: u.origin === new URL(base).origin && u.pathname === '/ui/bundles', seen: page.url() }
  }, NAV_MS)
  await visible(tid('page-bundles'), `the Bundles page of ${base}`)
}

async function logOut() {
  const res = await clickFor(tid('logout'), 'POST', '/api/v1/auth/logout', 'Log out')
  check(res.status() === 204, `logging out answered ${res.status()}`)
  await visible(tid('page-login'), 'the login page after logging out')
}

/** The armored key the server hands out, asked from Node with the page's session. */
async function keyFromApi(base) {
  const token = await page.evaluate(() => JSON.parse(window.localStorage.getItem('tfmirror.session') ?? 'null')?.token ?? null)
  check(token, `no session at ${base} to ask the signing key with`)
  const res = await fetch(`${base}/api/v1/bundles/signing-key`, {
    headers: { Authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(FETCH_MS),
  })
  check(res.status === 200, `GET ${base}/api/v1/bundles/signing-key answered ${res.status}`)
  return (await res.text()).trim()
}

/** The entries of a tar file: {name, offset (of the body), size}. */
function tarEntries(bytes) {
  const out = []
  let at = 0
  while (at + 512 <= bytes.length) {
    const header = bytes.subarray(at, at + 512)
    if (header.every((b) => b === 0)) break
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
    const size = Number.parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8)
    out.push({ name, offset: at + 512, size })
    at += 512 + Math.ceil(size / 512) * 512
  }
  return out
}

/** Watches the import form for its progress bar, to tell whether it was shown. */
async function watchProgress() {
  await page.evaluate(() => {
    window.__bundlePhases = []
    const seen = () => {
      const el = document.querySelector('[data-testid="bundle-import-progress"]')
      const phase = el?.getAttribute('data-phase')
      const bar = el?.querySelector('[role="progressbar"]')
      if (phase) window.__bundlePhases.push(`${phase}:${bar?.getAttribute('aria-valuenow') ?? '-'}/${bar?.getAttribute('aria-valuemax') ?? '-'}`)
    }
    window.__bundleObserver?.disconnect()
    window.__bundleObserver = new MutationObserver(seen)
    window.__bundleObserver.observe(document.body, { subtree: true, childList: true, attributes: true })
  })
}
const progressSeen = () => page.evaluate(() => window.__bundlePhases ?? [])

// ---- the steps -------------------------------------------------------------------------------

let keyShown = ''
let tamperedEntry = ''

const steps = [
  [
    'export everything from A',
    async () => {
      await logIn(A, USER, PASSWORD)
      await visible(tid('nav-bundles'), 'the Bundles link for an admin')
      await visible(tid('bundle-signing-key'), "A's signing key")
      await screenshots('export')
      await tid('bundle-export-all').check()
      const [download, response] = await Promise.all([
        page.waitForEvent('download', { timeout: TRANSFER_MS }).catch(() => fail(`no download within ${seconds(TRANSFER_MS)}`)),
        page
          .waitForResponse((r) => r.request().method() === 'POST' && pathOf(r.url()) === '/api/v1/bundles/export', { timeout: TRANSFER_MS })
          .catch(() => fail('no answer to POST /api/v1/bundles/export')),
        tid('bundle-export').click(),
      ])
      check(response.status() === 200, `the export answered ${response.status()}`)
      const name = download.suggestedFilename()
      check(/^tfmirror-\d{8}T\d{6}\.bundle$/.test(name), `the download is named ${name}`)
      await download.saveAs(BUNDLE)
      check(!(await download.failure()), `the download failed: ${await download.failure()}`)
      const saved = await text(tid('bundle-exported'))
      check(saved.includes(name), `the page says "${saved}"`)
      const entries = tarEntries(readFileSync(BUNDLE))
      check(
        entries[0]?.name === 'manifest.json' && entries[1]?.name === 'manifest.json.sig',
        `the saved file does not start with the manifest: ${entries.map((e) => e.name).join(', ')}`,
      )
      await screenshots('exported')
      return `${name}: ${entries.length} entries, ${readFileSync(BUNDLE).length} bytes`
    },
  ],
  [
    "copy and download A's signing key",
    async () => {
      keyShown = (await tid('bundle-signing-key').innerText()).trim()
      const served = await keyFromApi(A)
      check(keyShown === served, 'the key on the page is not the one the API serves')
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: A })
      await tid('bundle-key-copy').click()
      await eventually('the copy button says "Copied"', async () => {
        const t = await text(tid('bundle-key-copy'))
        return { ok: t === 'Copied', seen: t }
      })
      const copied = (await page.evaluate(() => navigator.clipboard.readText())).trim()
      check(copied === served, `the clipboard holds ${JSON.stringify(copied.slice(0, 80))}…, not the key`)
      keyShown = copied
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: WAIT_MS }).catch(() => fail('no .asc download')),
        tid('bundle-key-download').click(),
      ])
      check(download.suggestedFilename().endsWith('.asc'), `the key downloads as ${download.suggestedFilename()}`)
      await download.saveAs(KEY_FILE)
      check(readFileSync(KEY_FILE, 'utf8').trim() === served, 'the .asc file is not the key')
      await logOut()
      return `${served.split('\n').length} lines, copied and saved as ${download.suggestedFilename()}`
    },
  ],
  [
    'import the bundle on B',
    async () => {
      await logIn(B, USER, PASSWORD)
      check((await tid('bundle-signing-key').innerText()).trim() !== keyShown, "B shows A's key as its own")
      await tid('bundle-file').setInputFiles(BUNDLE)
      await tid('bundle-key').fill(keyShown)
      await watchProgress()
      const res = await clickFor(tid('bundle-import'), 'POST', '/api/v1/bundles/import', 'the import', TRANSFER_MS)
      check(res.status() === 200, `the import answered ${res.status()}: ${await res.text().catch(() => '')}`)
      await visible(tid('bundle-report'), 'the import report')
      const phases = await progressSeen()
      check(phases.some((p) => p.startsWith('uploading') || p.startsWith('verifying')), `the progress bar was never shown (${phases})`)
      const rows = tid('bundle-entry')
      const n = await rows.count()
      const table = []
      for (let i = 0; i < n; i++) {
        table.push({
          outcome: await text(rows.nth(i).getByTestId('bundle-entry-outcome')),
          items: (await rows.nth(i).getByTestId('bundle-entry-items').innerText()).split('\n').map(squash).filter(Boolean),
          checks: await text(rows.nth(i).getByTestId('bundle-entry-checks')),
        })
      }
      const listed = table.flatMap((r) => r.items)
      for (const item of ITEMS) check(listed.includes(item), `the table does not list ${item}: ${JSON.stringify(table)}`)
      check(listed.length === ITEMS.length, `the table lists ${listed.length} items, expected ${ITEMS.length}: ${listed}`)
      check(table.every((r) => r.outcome === 'added'), `not every entry says "added": ${JSON.stringify(table)}`)
      check(table.every((r) => r.checks.includes('sha256')), `an entry lists no sha256 check: ${JSON.stringify(table)}`)
      const packages = ITEMS.filter((i) => i.split(' ').length === 3).length
      const modules = ITEMS.length - packages
      const totals = `${await text(tid('bundle-packages'))} / ${await text(tid('bundle-modules'))}`
      check(
        totals === `${packages} added, 0 already stored / ${modules} added, 0 already stored`,
        `the totals say "${totals}"`,
      )
      await screenshots('imported')
      return `${n} entries added: ${listed.join(', ')} (progress: ${phases.slice(0, 3).join(' ')})`
    },
  ],
  [
    'a tampered copy is refused on B',
    async () => {
      const bytes = readFileSync(BUNDLE)
      const blobs = tarEntries(bytes).filter((e) => !e.name.startsWith('manifest.json'))
      check(blobs.length > 0, 'the bundle has no package or module entry')
      const victim = blobs.filter((e) => e.name.startsWith('packages/')).sort((x, y) => y.size - x.size)[0] ?? blobs[0]
      const at = victim.offset + Math.floor(victim.size / 2)
      bytes[at] ^= 0x55
      writeFileSync(TAMPERED, bytes)
      tamperedEntry = victim.name
      await tid('bundle-file').setInputFiles(TAMPERED)
      await tid('bundle-key').fill('')
      await tid('bundle-key-file').setInputFiles(KEY_FILE)
      await eventually('the key loaded from the .asc file', async () => {
        const v = (await tid('bundle-key').inputValue()).trim()
        return { ok: v === keyShown, seen: v.slice(0, 60) }
      })
      expectedFailures = ['POST /api/v1/bundles/import 422']
      const res = await clickFor(tid('bundle-import'), 'POST', '/api/v1/bundles/import', 'the tampered import', TRANSFER_MS)
      check(res.status() === 422, `the tampered import answered ${res.status()}`)
      await visible(tid('bundle-refused'), 'the refusal')
      const entry = await text(tid('bundle-refused-entry'))
      const said = await text(tid('bundle-refused'))
      check(entry === tamperedEntry, `the refusal names ${entry}, the flipped byte is in ${tamperedEntry}`)
      check(said.includes('nothing was imported'), `the refusal says "${said}"`)
      check((await tid('bundle-report').count()) === 0, 'the report of the earlier import is still shown with the refusal')
      await screenshots('refused')
      await logOut()
      return `byte ${at} flipped; refused: ${said.slice(0, 160)}`
    },
  ],
  [
    'a viewer on A sees the key only',
    async () => {
      await logIn(A, VIEWER, VIEWER_PASSWORD)
      check((await tid('nav-bundles').count()) === 0, 'a viewer is offered the Bundles link')
      await visible(tid('bundle-signing-key'), 'the signing key for a viewer')
      check((await tid('bundle-signing-key').innerText()).trim() === keyShown, 'the viewer sees another key')
      await visible(tid('bundle-admin-only'), 'the "needs the admin role" note')
      check((await tid('bundle-export-form').count()) === 0 && (await tid('bundle-import-form').count()) === 0, 'a viewer sees the export or import form')
      await screenshots('viewer')
      await logOut()
      return 'the key, no Bundles link, no export, no import'
    },
  ],
]

// ---- running ---------------------------------------------------------------------------------

async function finish(code) {
  finished = true
  if (context) {
    const c = context
    context = null
    await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))])
  }
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true })
  process.exit(code)
}

async function saveFailure() {
  if (!page) return
  try {
    for (const t of await page.locator('[role="alert"]').allInnerTexts()) console.error(`  the page shows: ${squash(t)}`)
    await page.screenshot({ path: join(SHOTS, 'bundles-failure.png'), fullPage: true, timeout: 5_000 })
    console.error(`  screenshot: ${join(SHOTS, 'bundles-failure.png')}`)
  } catch {
    // the page may be gone
  }
}

const globalTimer = setTimeout(async () => {
  if (finished) return
  console.error(`FAIL ${currentStep}: the whole scenario took longer than ${seconds(GLOBAL_TIMEOUT_MS)}`)
  await Promise.race([saveFailure(), new Promise((r) => setTimeout(r, 6_000))])
  await finish(1)
}, GLOBAL_TIMEOUT_MS)

async function main() {
  mkdirSync(SHOTS, { recursive: true })
  mkdirSync(WORK, { recursive: true })
  userDataDir = mkdtempSync(join(tmpdir(), 'tfm-bundles-profile-'))
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: VIEWPORT,
      timeout: 30_000,
      acceptDownloads: true,
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
    if (status && expectedFailures.some((f) => f.endsWith(` ${pathOf(url)} ${status}`))) return
    problems.push(`[${currentStep}] console error: ${msg.text()}${url ? ` (${url})` : ''}`)
  })
  page.on('pageerror', (err) => problems.push(`[${currentStep}] page error: ${err.message}`))

  console.log(`tfmirror bundles end to end: A ${A}, B ${B}, Chromium ${context.browser()?.version() ?? ''}`.trim())
  let n = 0
  for (const [name, run] of steps) {
    n++
    currentStep = `step ${n} (${name})`
    expectedFailures = []
    const t0 = Date.now()
    try {
      const summary = await run()
      console.log(`ok ${n} - ${name}: ${summary} (${seconds(Date.now() - t0)})`)
    } catch (e) {
      console.error(`FAIL ${currentStep}: ${e instanceof Failure ? e.message : e instanceof Error ? e.stack ?? e.message : e}`)
      for (const p of problems) console.error(`  also: ${p}`)
      await saveFailure()
      await finish(1)
      return
    }
  }
  currentStep = 'end'
  if (problems.length > 0) {
    console.error(`FAIL browser errors: ${problems.length} console or page error(s):`)
    for (const p of problems) console.error(`  ${p}`)
    await finish(1)
    return
  }
  console.log(`${steps.length} passed, 0 failed; no console or page errors`)
  clearTimeout(globalTimer)
  await finish(0)
}

main().catch(async (e) => {
  console.error(`FAIL ${currentStep}: ${e instanceof Error ? e.stack ?? e.message : e}`)
  await saveFailure()
  await finish(1)
})
