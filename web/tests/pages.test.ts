import { mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import ConfirmDialog from '../src/components/ConfirmDialog.vue'
import { mockFetch, mountApp, settle } from './helpers'
import { jobDetail, stats } from './fixtures'

beforeEach(() => localStorage.clear())
afterEach(() => {
  vi.useRealTimers()
  document.body.innerHTML = ''
})

const providers = {
  page: 2,
  per_page: 50,
  total: 120,
  items: [
    { hostname: 'registry.terraform.io', namespace: 'hashicorp', type: 'null', versions: 2, packages: 3, bytes: 17_300_000, latest_version: '3.2.1', blocked_versions: 1, downloads: 9 },
    { hostname: 'registry.opentofu.org', namespace: 'opentofu', type: 'random', versions: 1, packages: 1, bytes: 5_000_000, latest_version: '3.6.0', blocked_versions: 0, downloads: 0 },
  ],
}

describe('dashboard', () => {
  it('shows counts, storage per origin, downloads per day, jobs and upstream health', async () => {
    mockFetch({
      'GET /api/v1/stats': stats,
      'GET /api/v1/jobs': { page: 1, per_page: 8, total: 1, items: [jobDetail('running').job] },
    })
    const { wrapper } = await mountApp('/', 'viewer')
    expect(wrapper.find('[data-testid="count-providers"]').text()).toContain('2')
    expect(wrapper.find('[data-testid="count-packages"]').text()).toContain('5')
    expect(wrapper.find('[data-testid="count-bytes"]').text()).toContain('40.1 MB')
    const bars = wrapper.findAll('[data-testid="bar"]')
    expect(bars[0]!.text()).toContain('registry.terraform.io')
    expect(bars[0]!.text()).toContain('30.0 MB')
    expect(bars[1]!.text()).toContain('registry.opentofu.org')
    // Columns sorted by day, scaled to the busiest day (9).
    const cols = wrapper.findAll('[data-testid="column"]')
    expect(cols.map((c) => c.find('title').text())).toEqual(['2026-01-01: 2', '2026-01-02: 5', '2026-01-03: 9'])
    expect(Number(cols[2]!.attributes('height'))).toBeGreaterThan(Number(cols[0]!.attributes('height')))
    expect(wrapper.find('[data-testid="recent-job"]').text()).toContain('Job #7')
    const ups = wrapper.findAll('[data-testid="upstream-row"]')
    // 60 of 100 failed since start, none lately: recovered, so healthy (the walk's defect was
    // "failing" for ever).
    expect(ups[0]!.find('[data-testid="upstream-health"]').text()).toBe('healthy · 0.0% failed')
    expect(ups[1]!.text()).toContain('failing · 40.0% failed')
    expect(wrapper.find('[data-testid="upstream-window"]').text()).toContain('last 15 minutes')
  })
})

describe('providers list', () => {
  it('passes search, filters and page to the API and links to the detail', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/providers': providers, 'GET /api/v1/stats': stats })
    const { wrapper, router } = await mountApp('/providers?q=null&status=blocked&page=2', 'viewer')
    const call = calls.find((c) => c.path === '/api/v1/providers')!
    expect(call.search.get('q')).toBe('null')
    expect(call.search.get('status')).toBe('blocked')
    expect(call.search.get('page')).toBe('2')
    expect(call.search.get('per_page')).toBe('50')
    const rows = wrapper.findAll('[data-testid="provider-row"]')
    expect(rows).toHaveLength(2)
    expect(rows[0]!.text()).toContain('hashicorp/null')
    expect(rows[0]!.find('a').attributes('href')).toBe('/providers/registry.terraform.io/hashicorp/null')
    expect(wrapper.find('[data-testid="page-range"]').text()).toBe('51–100 of 120')
    // The origin filter lists the stored origins and resets the page.
    const select = wrapper.find('[data-testid="filter-hostname"]')
    expect(select.findAll('option').map((o) => o.text())).toEqual([
      'All origins',
      'registry.terraform.io',
      'registry.opentofu.org',
    ])
    await select.setValue('registry.opentofu.org')
    await settle()
    expect(router.currentRoute.value.query).toEqual({ q: 'null', status: 'blocked', hostname: 'registry.opentofu.org' })
    const last = calls.filter((c) => c.path === '/api/v1/providers').at(-1)!
    expect(last.search.get('hostname')).toBe('registry.opentofu.org')
    expect(last.search.get('page')).toBe('1')
  })

  it('debounces the search box into the URL', async () => {
    mockFetch({ 'GET /api/v1/providers': providers, 'GET /api/v1/stats': stats })
    const { wrapper, router } = await mountApp('/providers', 'viewer')
    vi.useFakeTimers()
    await wrapper.find('[data-testid="filter-q"]').setValue('aws')
    expect(router.currentRoute.value.query.q).toBeUndefined()
    await vi.advanceTimersByTimeAsync(350)
    vi.useRealTimers()
    await settle()
    expect(router.currentRoute.value.query.q).toBe('aws')
  })
})

describe('audit log', () => {
  it('filters by actor and action', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/audit': {
        page: 1,
        per_page: 50,
        total: 1,
        items: [{ id: 1, at: 1_767_225_600, actor: 'user:alice', action: 'version.status', target: 'registry.terraform.io/hashicorp/null 3.2.1', client_addr: '10.0.0.1', details: { status: 'blocked' } }],
      },
    })
    const { wrapper, router } = await mountApp('/audit', 'viewer')
    expect(wrapper.findAll('[data-testid="audit-row"]')).toHaveLength(1)
    await wrapper.find('[data-testid="filter-actor"]').setValue('user:alice')
    await wrapper.find('[data-testid="filter-action"]').setValue('version.status')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(router.currentRoute.value.query).toEqual({ actor: 'user:alice', action: 'version.status' })
    const last = calls.filter((c) => c.path === '/api/v1/audit').at(-1)!
    expect(last.search.get('actor')).toBe('user:alice')
    expect(last.search.get('action')).toBe('version.status')
  })
})

describe('settings', () => {
  it('pretty-prints the masked configuration', async () => {
    mockFetch({ 'GET /api/v1/config': { server: { listen: '0.0.0.0:8443' }, storage: { s3: { secret_access_key: '********' } } } })
    const { wrapper } = await mountApp('/settings', 'viewer')
    expect(wrapper.find('[data-testid="config-json"]').text()).toBe(
      JSON.stringify({ server: { listen: '0.0.0.0:8443' }, storage: { s3: { secret_access_key: '********' } } }, null, 2),
    )
  })
})

describe('confirmation dialog', () => {
  it('shows its message, focuses Cancel, and cancels with Escape', async () => {
    const w = mount(ConfirmDialog, {
      props: { title: 'Delete?', message: 'Delete x 1.0.0: 1 package, 1.0 kB', danger: true, confirmLabel: 'Delete version' },
      attachTo: document.body,
    })
    await settle()
    expect(w.find('[role="dialog"]').attributes('aria-modal')).toBe('true')
    expect(w.find('[data-testid="confirm-message"]').text()).toBe('Delete x 1.0.0: 1 package, 1.0 kB')
    expect(w.find('[data-testid="confirm"]').text()).toBe('Delete version')
    expect(document.activeElement).toBe(w.find('[data-testid="cancel"]').element)
    await w.find('[role="dialog"]').trigger('keydown', { key: 'Escape' })
    expect(w.emitted('cancel')).toHaveLength(1)
    expect(w.emitted('confirm')).toBeUndefined()
    await w.find('form').trigger('submit')
    expect(w.emitted('confirm')).toHaveLength(1)
    w.unmount()
  })
})
