import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Role } from '../src/api'
import { mockFetch, mountApp } from './helpers'
import { jobDetail, nullProvider, stats } from './fixtures'

const PROVIDER = '/api/v1/providers/registry.terraform.io/hashicorp/null'

/** Every control that changes something, by test id or accessible text. */
const MUTATING_TESTIDS = [
  'delete-provider',
  'block-3.2.1',
  'deprecate-3.2.1',
  'delete-3.2.1',
  'unblock-3.1.0',
  'delete-3.1.0',
  'retry',
  'cancel-job',
  'nav-load',
  'nav-users',
]

function mutatingButtons(html: HTMLElement): string[] {
  return Array.from(html.querySelectorAll('button'))
    .map((b) => b.textContent?.trim() ?? '')
    .filter((t) => /^(Delete|Block|Unblock|Deprecate|Activate|Retry failed|Cancel|Create|Revoke|Disable|Enable|Reset)/.test(t))
}

function routes() {
  return {
    'GET /api/v1/stats': stats,
    'GET /api/v1/jobs': { page: 1, per_page: 8, total: 1, items: [jobDetail('failed', 'failed').job] },
    [`GET ${PROVIDER}`]: nullProvider,
    'GET /api/v1/jobs/7': jobDetail('failed', 'failed'),
  }
}

async function visit(role: Role, path: string) {
  mockFetch(routes())
  const m = await mountApp(path, role)
  return m.wrapper
}

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

describe('viewer role', () => {
  it('sees no mutating controls on a provider', async () => {
    const w = await visit('viewer', '/providers/registry.terraform.io/hashicorp/null')
    expect(w.find('[data-testid="version-row-3.2.1"]').exists()).toBe(true)
    for (const id of MUTATING_TESTIDS) expect(w.find(`[data-testid="${id}"]`).exists(), id).toBe(false)
    expect(mutatingButtons(w.element as HTMLElement)).toEqual([])
    // Read-only helpers stay.
    expect(w.find('[data-testid="details-3.2.1"]').exists()).toBe(true)
  })

  it('sees no retry or cancel on a job', async () => {
    const w = await visit('viewer', '/jobs/7')
    expect(w.find('[data-testid="job-status"]').text()).toBe('failed')
    expect(w.find('[data-testid="retry"]').exists()).toBe(false)
    expect(w.find('[data-testid="cancel-job"]').exists()).toBe(false)
    expect(mutatingButtons(w.element as HTMLElement)).toEqual([])
  })

  it('has no Load or Users entries in the navigation', async () => {
    const w = await visit('viewer', '/')
    expect(w.find('[data-testid="page-dashboard"]').exists()).toBe(true)
    expect(w.find('[data-testid="nav-load"]').exists()).toBe(false)
    expect(w.find('[data-testid="nav-users"]').exists()).toBe(false)
    expect(w.find('[data-testid="nav-providers"]').exists()).toBe(true)
    expect(w.find('[data-testid="nav-modules"]').exists()).toBe(true)
    expect(w.find('[data-testid="nav-use"]').exists()).toBe(true)
  })
})

describe('admin role (the same pages)', () => {
  it('sees the provider actions', async () => {
    const w = await visit('admin', '/providers/registry.terraform.io/hashicorp/null')
    for (const id of ['delete-provider', 'block-3.2.1', 'deprecate-3.2.1', 'delete-3.2.1', 'unblock-3.1.0']) {
      expect(w.find(`[data-testid="${id}"]`).exists(), id).toBe(true)
    }
  })

  it('sees retry and cancel on a job, enabled as the job allows', async () => {
    const w = await visit('admin', '/jobs/7')
    expect(w.find('[data-testid="retry"]').attributes('disabled')).toBeUndefined()
    // A finished job cannot be cancelled.
    expect(w.find('[data-testid="cancel-job"]').attributes('disabled')).toBeDefined()
  })

  it('has Load and Users entries in the navigation', async () => {
    const w = await visit('admin', '/')
    expect(w.find('[data-testid="nav-load"]').exists()).toBe(true)
    expect(w.find('[data-testid="nav-users"]').exists()).toBe(true)
  })
})
