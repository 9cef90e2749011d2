// Every time shown says its zone, with the full ISO time (and zone) as a tooltip; the server's
// SQLite texts ("2026-11-25 10:00:00", UTC without a zone) are read as UTC.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { formatIsoTime, formatRelative, formatTime, parseServerTime, zoneLabel } from '../src/utils/format'
import { mockFetch, mountApp } from './helpers'
import { jobDetail, nullProvider } from './fixtures'

// 2026-11-25 10:00:00 UTC
const NOV = Date.UTC(2026, 10, 25, 10) / 1000
// 2026-07-01 10:00:00 UTC
const JUL = Date.UTC(2026, 6, 1, 10) / 1000

beforeEach(() => {
  localStorage.clear()
  vi.stubEnv('TZ', 'Europe/Berlin')
})
afterEach(() => {
  vi.unstubAllEnvs()
  document.body.innerHTML = ''
})

describe('time formatting', () => {
  it('reads Unix seconds and zone-less SQLite text as UTC', () => {
    expect(parseServerTime(NOV)?.toISOString()).toBe('2026-11-25T10:00:00.000Z')
    expect(parseServerTime('2026-11-25 10:00:00')?.toISOString()).toBe('2026-11-25T10:00:00.000Z')
    expect(parseServerTime('2026-11-25T10:00:00')?.toISOString()).toBe('2026-11-25T10:00:00.000Z')
    expect(parseServerTime('2026-11-25 10:00:00.250')?.toISOString()).toBe('2026-11-25T10:00:00.250Z')
    // A text with its own zone keeps it.
    expect(parseServerTime('2026-11-25T10:00:00+02:00')?.toISOString()).toBe('2026-11-25T08:00:00.000Z')
    expect(parseServerTime(null)).toBeNull()
    expect(parseServerTime('')).toBeNull()
    expect(parseServerTime('yesterday')).toBeNull()
  })

  it('shows local time with the UTC offset, summer and winter', () => {
    expect(formatTime(NOV)).toBe('2026-11-25 11:00 UTC+1')
    expect(formatTime('2026-11-25 10:00:00')).toBe('2026-11-25 11:00 UTC+1')
    expect(formatTime(JUL)).toBe('2026-07-01 12:00 UTC+2')
    expect(formatIsoTime(NOV)).toBe('2026-11-25T11:00:00+01:00')
    expect(formatIsoTime('2026-07-01 10:00:00')).toBe('2026-07-01T12:00:00+02:00')
    expect(formatTime(undefined)).toBe('—')
    expect(formatTime('garbage')).toBe('garbage')
  })

  it('names half-hour offsets and UTC itself', () => {
    vi.stubEnv('TZ', 'Asia/Kolkata')
    expect(formatTime(NOV)).toBe('2026-11-25 15:30 UTC+5:30')
    expect(formatIsoTime(NOV)).toBe('2026-11-25T15:30:00+05:30')
    vi.stubEnv('TZ', 'America/St_Johns')
    expect(zoneLabel(new Date(NOV * 1000))).toBe('UTC-3:30')
    vi.stubEnv('TZ', 'UTC')
    expect(formatTime(NOV)).toBe('2026-11-25 10:00 UTC')
    expect(formatIsoTime(NOV)).toBe('2026-11-25T10:00:00Z')
  })

  it('gives relative times for SQLite text too', () => {
    expect(formatRelative('2026-11-25 10:00:00', (NOV + 120) * 1000)).toBe('2 min ago')
  })
})

describe('times on the pages', () => {
  it('the provider page reads "stored" times as UTC and shows their zone', async () => {
    mockFetch({ 'GET /api/v1/providers/registry.terraform.io/hashicorp/null': nullProvider })
    const { wrapper } = await mountApp('/providers/registry.terraform.io/hashicorp/null', 'viewer')
    await wrapper.find('[data-testid="details-3.2.1"]').trigger('click')
    const details = wrapper.find('[data-testid="packages-3.2.1"]')
    // The fixture says "2026-01-02 03:04:05" (UTC): 04:04 in Berlin.
    const times = details.findAll('time')
    expect(times.length).toBeGreaterThanOrEqual(3)
    for (const t of times) {
      expect(t.text()).toBe('2026-01-02 04:04 UTC+1')
      expect(t.attributes('datetime')).toBe('2026-01-02T04:04:05+01:00')
      expect(t.attributes('title')).toBe('2026-01-02T04:04:05+01:00 (Europe/Berlin)')
    }
  })

  it('the job page and the jobs list show the zone, or the full time on hover', async () => {
    mockFetch({
      'GET /api/v1/jobs/7': jobDetail('succeeded', 'succeeded'),
      'GET /api/v1/jobs': { page: 1, per_page: 25, total: 1, items: [jobDetail('succeeded', 'succeeded').job] },
    })
    const { wrapper, router } = await mountApp('/jobs/7', 'viewer')
    // created_at 1_767_225_600 = 2026-01-01 00:00 UTC.
    const created = wrapper.find('[data-testid="job-created"] time')
    expect(created.text()).toBe('2026-01-01 01:00 UTC+1')
    expect(created.attributes('title')).toBe('2026-01-01T01:00:00+01:00 (Europe/Berlin)')
    await router.push('/jobs')
    await new Promise((r) => setTimeout(r, 0))
    const rel = wrapper.find('[data-testid="job-row"] time')
    expect(rel.text()).toMatch(/ago$/)
    expect(rel.attributes('title')).toBe('2026-01-01 01:00 UTC+1 (2026-01-01T01:00:00+01:00, Europe/Berlin)')
  })

  it('the audit log shows the zone', async () => {
    mockFetch({
      'GET /api/v1/audit': {
        page: 1,
        per_page: 50,
        total: 1,
        items: [{ id: 1, at: NOV, actor: 'user:alice', action: 'version.status', target: null, client_addr: null, details: {} }],
      },
    })
    const { wrapper } = await mountApp('/audit', 'viewer')
    expect(wrapper.find('[data-testid="audit-row"] time').text()).toBe('2026-11-25 11:00 UTC+1')
  })
})
