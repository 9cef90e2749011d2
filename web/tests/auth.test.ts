import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { api } from '../src/api'
import { safeRedirect } from '../src/auth'
import { SESSION_STORAGE_KEY, useSession } from '../src/stores/session'
import { json, mockFetch, mountApp, settle } from './helpers'

const emptyPage = { page: 1, per_page: 50, total: 0, items: [] }
const stats = {
  providers: 0,
  versions: 0,
  packages: 0,
  bytes: 0,
  origins: [],
  downloads_per_day: [],
  upstream: [],
}

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

describe('401 handling', () => {
  it('clears the session and goes to the login page with a redirect back', async () => {
    mockFetch({ 'GET /api/v1/providers': emptyPage, 'GET /api/v1/stats': stats })
    const { router, wrapper } = await mountApp('/providers?q=aws', 'admin')
    expect(wrapper.find('[data-testid="page-providers"]').exists()).toBe(true)
    expect(localStorage.getItem(SESSION_STORAGE_KEY)).not.toBeNull()

    // The session ends server-side: the next call answers 401.
    const { calls } = mockFetch({
      'GET /api/v1/jobs': json(401, { code: 'unauthenticated', message: 'session expired' }),
    })
    await expect(api.jobs()).rejects.toMatchObject({ status: 401 })
    await settle()

    expect(calls[0]!.headers.authorization).toBe('Bearer token-admin')
    const session = useSession()
    expect(session.token).toBeNull()
    expect(session.user).toBeNull()
    expect(localStorage.getItem(SESSION_STORAGE_KEY)).toBeNull()
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.redirect).toBe('/providers?q=aws')
    expect(wrapper.find('[data-testid="page-login"]').exists()).toBe(true)
  })

  it('logs in and returns to the redirect target', async () => {
    const { calls } = mockFetch({
      'POST /api/v1/auth/login': {
        token: 'new-token',
        expires_at: Math.floor(Date.now() / 1000) + 3600,
        user: { id: 1, username: 'alice', role: 'admin', disabled: false, created_at: 0 },
      },
      'GET /api/v1/audit': emptyPage,
    })
    const { router, wrapper } = await mountApp('/login?redirect=%2Faudit%3Factor%3Dbob', null)
    await wrapper.find('[data-testid="login-username"]').setValue('alice')
    await wrapper.find('[data-testid="login-password"]').setValue('correct horse battery')
    await wrapper.find('form').trigger('submit')
    await settle()

    const loginCall = calls.find((c) => c.path === '/api/v1/auth/login')!
    expect(JSON.parse(loginCall.body!)).toEqual({ username: 'alice', password: 'correct horse battery' })
    expect(router.currentRoute.value.fullPath).toBe('/audit?actor=bob')
    expect(useSession().token).toBe('new-token')
    const auditCall = calls.find((c) => c.path === '/api/v1/audit')!
    expect(auditCall.headers.authorization).toBe('Bearer new-token')
    expect(auditCall.search.get('actor')).toBe('bob')
  })

  it('shows throttling with the Retry-After seconds and disables the button', async () => {
    mockFetch({
      'POST /api/v1/auth/login': json(429, { code: 'throttled', message: 'too many attempts' }, { 'Retry-After': '30' }),
    })
    const { wrapper, router } = await mountApp('/login', null)
    await wrapper.find('[data-testid="login-username"]').setValue('alice')
    await wrapper.find('[data-testid="login-password"]').setValue('nope')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(wrapper.find('[data-testid="login-throttled"]').text()).toBe(
      'Too many login attempts. Try again in 30 seconds.',
    )
    expect(wrapper.find('[data-testid="login-submit"]').attributes('disabled')).toBeDefined()
    expect(router.currentRoute.value.name).toBe('login')
  })

  it('shows a wrong-password message on 401 without redirecting', async () => {
    mockFetch({
      'POST /api/v1/auth/login': json(401, { code: 'bad_credentials', message: 'Wrong username or password.' }),
    })
    const { wrapper, router } = await mountApp('/login?redirect=%2Fjobs', null)
    await wrapper.find('[data-testid="login-username"]').setValue('alice')
    await wrapper.find('[data-testid="login-password"]').setValue('nope')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(wrapper.find('[data-testid="login-error"]').text()).toBe('Wrong username or password.')
    expect(router.currentRoute.value.fullPath).toBe('/login?redirect=%2Fjobs')
  })
})

describe('route guard', () => {
  it('sends visitors without a session to the login page with a redirect', async () => {
    mockFetch({})
    const { router } = await mountApp('/jobs?page=2', null)
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.redirect).toBe('/jobs?page=2')
  })

  it('treats an expired stored session as logged out', async () => {
    localStorage.setItem(
      SESSION_STORAGE_KEY,
      JSON.stringify({ token: 't', expiresAt: Math.floor(Date.now() / 1000) - 5, user: { id: 1, username: 'a', role: 'admin' } }),
    )
    mockFetch({})
    const { createPinia, setActivePinia } = await import('pinia')
    setActivePinia(createPinia())
    expect(useSession().token).toBeNull()
  })

  it('keeps viewers out of admin pages and says why, at the same address', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/stats': stats, 'GET /api/v1/jobs': emptyPage })
    const { router, wrapper } = await mountApp('/load', 'viewer')
    expect(router.currentRoute.value.name).toBe('forbidden')
    expect(router.currentRoute.value.fullPath).toBe('/load')
    const page = wrapper.find('[data-testid="page-forbidden"]')
    expect(page.find('h1').text()).toBe('Admins only')
    expect(wrapper.find('[data-testid="forbidden-reason"]').text()).toBe('Loading definitions needs the admin role.')
    expect(page.text()).toContain('You are logged in as victor (viewer).')
    expect(page.find('a[href="/"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="page-load"]').exists()).toBe(false)
    expect(document.title).toBe('Admins only · tfmirror')
    // Nothing of the admin page was loaded.
    expect(calls).toEqual([])

    await router.push('/users')
    await settle()
    expect(router.currentRoute.value.fullPath).toBe('/users')
    expect(wrapper.find('[data-testid="forbidden-reason"]').text()).toBe(
      'Managing users and API tokens needs the admin role.',
    )
    expect(wrapper.find('[data-testid="page-users"]').exists()).toBe(false)
  })

  it('shows an admin the admin page itself', async () => {
    mockFetch({})
    const { router, wrapper } = await mountApp('/load', 'admin')
    expect(router.currentRoute.value.name).toBe('load')
    expect(wrapper.find('[data-testid="page-load"]').exists()).toBe(true)
  })

  it('still answers unknown paths with the not-found page', async () => {
    mockFetch({})
    const { router } = await mountApp('/no/such/page', 'viewer')
    expect(router.currentRoute.value.name).toBe('not-found')
  })

  it('follows only same-app paths after login', () => {
    expect(safeRedirect('/providers?q=x')).toBe('/providers?q=x')
    expect(safeRedirect('//evil.example/')).toBe('/')
    expect(safeRedirect('https://evil.example/')).toBe('/')
    expect(safeRedirect('/\\evil.example')).toBe('/')
    expect(safeRedirect(undefined)).toBe('/')
    expect(safeRedirect('/login?redirect=/x')).toBe('/')
    expect(safeRedirect('/sso#token=x')).toBe('/')
    expect(safeRedirect('/ssox')).toBe('/ssox')
  })
})
