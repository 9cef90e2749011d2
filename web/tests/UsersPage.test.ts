import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { json, mockFetch, mountApp, settle } from './helpers'

const users = [
  { id: 1, username: 'alice', role: 'admin', disabled: false, created_at: 1_700_000_000 },
  { id: 3, username: 'bob', role: 'viewer', disabled: false, created_at: 1_700_000_100 },
]
const tokens = [
  { id: 5, name: 'ci', role: 'viewer', created_by: 'alice', created_at: 1_700_000_000, expires_at: 4_000_000_000, last_used_at: null, revoked: false },
]

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

describe('users and tokens', () => {
  it('refuses passwords shorter than 12 characters before calling the server', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/users': users, 'GET /api/v1/tokens': tokens })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="new-username"]').setValue('carol')
    await wrapper.find('[data-testid="new-password"]').setValue('short-pass1')
    await wrapper.find('[data-testid="create-user"]').trigger('submit')
    await settle()
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
    expect(wrapper.find('[data-testid="new-password-error"]').text()).toBe('Too short: at least 12 characters (11 so far).')
    expect(wrapper.find('[data-testid="new-password"]').attributes('aria-invalid')).toBe('true')
  })

  it('creates a user with username, password and role', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/users': users,
      'GET /api/v1/tokens': tokens,
      'POST /api/v1/users': json(201, { id: 4, username: 'carol', role: 'admin', disabled: false, created_at: 0 }),
    })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="new-username"]').setValue('carol')
    await wrapper.find('[data-testid="new-password"]').setValue('a-long-enough-pw')
    await wrapper.find('[data-testid="new-role"]').setValue('admin')
    await wrapper.find('[data-testid="create-user"]').trigger('submit')
    await settle()
    const post = calls.find((c) => c.method === 'POST')!
    expect(post.path).toBe('/api/v1/users')
    expect(JSON.parse(post.body!)).toEqual({ username: 'carol', password: 'a-long-enough-pw', role: 'admin' })
    expect(wrapper.find('[data-testid="notice"]').text()).toBe('Created admin carol.')
  })

  it('does not offer disabling yourself, and disables others with PATCH', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/users': users,
      'GET /api/v1/tokens': tokens,
      'PATCH /api/v1/users/3': json(200, { ...users[1], disabled: true }),
    })
    const { wrapper } = await mountApp('/users', 'admin')
    expect(wrapper.find('[data-testid="toggle-alice"]').exists()).toBe(false)
    await wrapper.find('[data-testid="toggle-bob"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'Disable bob: they cannot log in any more and their sessions end now.',
    )
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(JSON.parse(calls.find((c) => c.method === 'PATCH')!.body!)).toEqual({ disabled: true })
  })

  it('resets a password only with 12 or more characters', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/users': users,
      'GET /api/v1/tokens': tokens,
      'POST /api/v1/users/3/password': () => new Response(null, { status: 204 }),
    })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="reset-bob"]').trigger('click')
    await wrapper.find('[data-testid="reset-password"]').setValue('too-short')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(calls.some((c) => c.path === '/api/v1/users/3/password')).toBe(false)
    expect(wrapper.find('[data-testid="reset-password-error"]').text()).toBe('Too short: at least 12 characters (9 so far).')
    await wrapper.find('[data-testid="reset-password"]').setValue('twelve-chars!')
    expect(wrapper.find('[data-testid="reset-password-error"]').exists()).toBe(false)
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(JSON.parse(calls.find((c) => c.path === '/api/v1/users/3/password')!.body!)).toEqual({ password: 'twelve-chars!' })
  })

  it('shows a new token once, with a copy button', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/users': users,
      'GET /api/v1/tokens': tokens,
      'POST /api/v1/tokens': json(201, {
        id: 6, name: 'deploy', role: 'admin', created_at: 0, expires_at: 1, revoked: false, token: 'tfm_secret123',
      }),
    })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="token-name"]').setValue('deploy')
    await wrapper.find('[data-testid="token-role"]').setValue('admin')
    await wrapper.find('[data-testid="token-days"]').setValue('30')
    await wrapper.find('[data-testid="create-token"]').trigger('submit')
    await settle()
    expect(JSON.parse(calls.find((c) => c.method === 'POST')!.body!)).toEqual({
      name: 'deploy',
      role: 'admin',
      expires_in_days: 30,
    })
    expect(wrapper.find('[data-testid="new-token-value"]').text()).toBe('tfm_secret123')
    expect(wrapper.find('[data-testid="new-token"] button').text()).toBe('Copy')
    await wrapper.find('[data-testid="dismiss-token"]').trigger('click')
    expect(wrapper.find('[data-testid="new-token"]').exists()).toBe(false)
    expect(wrapper.html()).not.toContain('tfm_secret123')
  })

  it('revokes a token after confirmation', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/users': users,
      'GET /api/v1/tokens': tokens,
      'DELETE /api/v1/tokens/5': () => new Response(null, { status: 204 }),
    })
    const { wrapper } = await mountApp('/users', 'admin')
    await wrapper.find('[data-testid="revoke-token-ci"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'Revoke the API token "ci" (viewer): it stops working at once.',
    )
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(calls.some((c) => c.method === 'DELETE' && c.path === '/api/v1/tokens/5')).toBe(true)
  })
})
