// Every form says what is missing when it is submitted empty: a message next to the field,
// the field marked invalid (and focused), the button still usable, and no request sent.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DOMWrapper } from '@vue/test-utils'
import { json, mockFetch, mountApp, settle, type Call } from './helpers'

const users = [{ id: 1, username: 'alice', role: 'admin', disabled: false, created_at: 1_700_000_000 }]
const tokens: unknown[] = []

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

const mutations = (calls: Call[]) => calls.filter((c) => c.method !== 'GET')

/** The field is invalid and points at its message, which says `message`. */
function expectFieldError(field: DOMWrapper<Element>, error: DOMWrapper<Element>, message: string) {
  expect(error.exists(), `message for ${field.attributes('id')}`).toBe(true)
  expect(error.text()).toBe(message)
  expect(field.attributes('aria-invalid')).toBe('true')
  expect(field.attributes('aria-describedby')?.split(' ')).toContain(error.attributes('id'))
}

describe('new user form', () => {
  it('names the missing username and password instead of doing nothing', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/users': users, 'GET /api/v1/tokens': tokens })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="create-user"]').trigger('submit')
    await settle()
    expect(mutations(calls)).toEqual([])
    expectFieldError(
      wrapper.find('[data-testid="new-username"]'),
      wrapper.find('[data-testid="new-username-error"]'),
      'Enter a username.',
    )
    expectFieldError(
      wrapper.find('[data-testid="new-password"]'),
      wrapper.find('[data-testid="new-password-error"]'),
      'Enter a password (at least 12 characters).',
    )
    expect(document.activeElement).toBe(wrapper.find('[data-testid="new-username"]').element)
    expect(wrapper.find('[data-testid="create-user-submit"]').attributes('disabled')).toBeUndefined()

    // Typing a username clears its message; the password one stays.
    await wrapper.find('[data-testid="new-username"]').setValue('carol')
    expect(wrapper.find('[data-testid="new-username-error"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="new-username"]').attributes('aria-invalid')).toBeUndefined()
    await wrapper.find('[data-testid="new-password"]').setValue('short')
    expect(wrapper.find('[data-testid="new-password-error"]').text()).toBe(
      'Too short: at least 12 characters (5 so far).',
    )
  })

  it('treats a username of spaces as empty', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/users': users, 'GET /api/v1/tokens': tokens })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="new-username"]').setValue('   ')
    await wrapper.find('[data-testid="new-password"]').setValue('a-long-enough-pw')
    await wrapper.find('[data-testid="create-user"]').trigger('submit')
    await settle()
    expect(mutations(calls)).toEqual([])
    expect(wrapper.find('[data-testid="new-username-error"]').text()).toBe('Enter a username.')
    expect(wrapper.find('[data-testid="new-password-error"]').exists()).toBe(false)
  })
})

describe('new API token form', () => {
  it('names the missing name and keeps the button usable with bad days', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/users': users, 'GET /api/v1/tokens': tokens })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="token-days"]').setValue('')
    expect(wrapper.find('[data-testid="create-token-submit"]').attributes('disabled')).toBeUndefined()
    await wrapper.find('[data-testid="create-token"]').trigger('submit')
    await settle()
    expect(mutations(calls)).toEqual([])
    expectFieldError(
      wrapper.find('[data-testid="token-name"]'),
      wrapper.find('[data-testid="token-name-error"]'),
      'Enter a name for the token.',
    )
    expectFieldError(
      wrapper.find('[data-testid="token-days"]'),
      wrapper.find('[data-testid="token-days-error"]'),
      'Enter a whole number of days between 1 and 3650.',
    )
    expect(document.activeElement).toBe(wrapper.find('[data-testid="token-name"]').element)
  })
})

describe('reset password dialog', () => {
  it('says what is wrong with an empty or short password and stays open', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/users': users, 'GET /api/v1/tokens': tokens })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="reset-alice"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm"]').attributes('disabled')).toBeUndefined()
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(mutations(calls)).toEqual([])
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(true)
    expectFieldError(
      wrapper.find('[data-testid="reset-password"]'),
      wrapper.find('[data-testid="reset-password-error"]'),
      'Enter a new password (at least 12 characters).',
    )
    await wrapper.find('[data-testid="reset-password"]').setValue('too-short')
    expect(wrapper.find('[data-testid="reset-password-error"]').text()).toBe(
      'Too short: at least 12 characters (9 so far).',
    )
  })
})

describe('login form', () => {
  it('names the missing username and password without asking the server', async () => {
    const { calls } = mockFetch({})
    const { wrapper } = await mountApp('/login', null)
    await wrapper.find('form').trigger('submit')
    await settle()
    // Only the page's own GET /about (whether setup is needed), no login attempt.
    expect(calls.filter((c) => c.path !== '/api/v1/about')).toEqual([])
    expectFieldError(
      wrapper.find('[data-testid="login-username"]'),
      wrapper.find('[data-testid="login-username-error"]'),
      'Enter your username.',
    )
    expectFieldError(
      wrapper.find('[data-testid="login-password"]'),
      wrapper.find('[data-testid="login-password-error"]'),
      'Enter your password.',
    )
    expect(wrapper.find('[data-testid="login-submit"]').attributes('disabled')).toBeUndefined()
    expect(document.activeElement).toBe(wrapper.find('[data-testid="login-username"]').element)
  })
})

describe('load providers', () => {
  it('says the editor is empty when Preview or Enqueue is pressed', async () => {
    const { calls } = mockFetch({})
    const { wrapper } = await mountApp('/load', 'admin')
    for (const button of ['preview', 'enqueue']) {
      expect(wrapper.find(`[data-testid="${button}"]`).attributes('disabled')).toBeUndefined()
      await wrapper.find(`[data-testid="${button}"]`).trigger('click')
      await settle()
      expect(wrapper.find('[data-testid="hcl-message"]').text()).toBe(
        'Write or load the definitions first (or insert the example).',
      )
    }
    expect(calls).toEqual([])
    await wrapper.find('[data-testid="hcl-editor"]').setValue('provider "hashicorp/null" {}')
    expect(wrapper.find('[data-testid="hcl-message"]').exists()).toBe(false)
  })
})

describe('forms that need nothing filled in', () => {
  it('filters the audit log with empty fields (shows everything)', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/audit': json(200, { page: 1, per_page: 50, total: 0, items: [] }) })
    const { wrapper } = await mountApp('/audit', 'viewer')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(calls.filter((c) => c.path === '/api/v1/audit').length).toBeGreaterThanOrEqual(1)
    expect(wrapper.find('[data-testid="error"]').exists()).toBe(false)
  })
})
