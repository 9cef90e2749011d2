// Single sign-on: the login page's "Log in with …" button and `sso_error`, and the page the
// server sends the browser to afterwards (`/ui/sso#token=…&expires_at=…&redirect=…`).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { About } from '../src/api'
import { SESSION_STORAGE_KEY, useSession } from '../src/stores/session'
import { addressOf, browser, routerPathOf, ssoLoginHref } from '../src/utils/sso'
import { json, mockFetch, mountApp, openAddress, settle, user, type Call } from './helpers'
import { stats } from './fixtures'

const SSO = { name: 'Test SSO', login_url: '/api/v1/auth/oidc/login' }
const about = (overrides: Partial<About> = {}): About => ({
  public_url: null,
  https: false,
  setup_required: false,
  sso: SSO,
  ...overrides,
})
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600
const emptyPage = { page: 1, per_page: 50, total: 0, items: [] }
const emptyJobs = { page: 1, per_page: 8, total: 0, items: [] }
const dashboard = { 'GET /api/v1/stats': stats, 'GET /api/v1/jobs': emptyJobs }
const meCalls = (calls: Call[]) => calls.filter((c) => c.path === '/api/v1/auth/me')

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
  window.history.replaceState(null, '', '/')
})

describe('the login page with single sign-on', () => {
  it('offers no button when the server has no single sign-on', async () => {
    mockFetch({ 'GET /api/v1/about': about({ sso: null }) })
    const { wrapper } = await mountApp('/login', null)
    expect(wrapper.find('[data-testid="page-login"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="sso-login"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="local-login-divider"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="login-submit"]').classes()).toContain('btn-primary')
  })

  it('offers no button when /about fails, and the local form still works', async () => {
    mockFetch({ 'GET /api/v1/about': () => Promise.reject(new TypeError('Failed to fetch')) })
    const { wrapper } = await mountApp('/login', null)
    expect(wrapper.find('[data-testid="sso-login"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="login-username"]').exists()).toBe(true)
  })

  it('offers "Log in with NAME" next to the local form, going to login_url with the redirect', async () => {
    const assign = vi.spyOn(browser, 'assign').mockImplementation(() => {})
    const { calls } = mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper, router } = await mountApp('/login?redirect=%2Fproviders%3Fq%3Daws', null)
    const button = wrapper.find('[data-testid="sso-login"]')
    expect(button.text()).toBe('Log in with Test SSO')
    const expected = '/api/v1/auth/oidc/login?redirect=%2Fui%2Fproviders%3Fq%3Daws'
    expect(button.attributes('href')).toBe(expected)
    // The local account stays, below "or with a local account".
    expect(wrapper.find('[data-testid="local-login-divider"]').text()).toBe('or with a local account')
    expect(wrapper.find('[data-testid="login-username"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="login-password"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="login-submit"]').classes()).not.toContain('btn-primary')

    await button.trigger('click', { button: 0 })
    expect(assign).toHaveBeenCalledTimes(1)
    expect(assign).toHaveBeenCalledWith(expected)
    expect(button.text()).toBe('Opening Test SSO…')
    // A navigation of the browser, not a request of the app.
    expect(calls.map((c) => c.path)).toEqual(['/api/v1/about'])
    expect(router.currentRoute.value.name).toBe('login')
    await button.trigger('click', { button: 0 })
    expect(assign).toHaveBeenCalledTimes(1)
  })

  it('returns to the dashboard without a redirect, and never to another site', async () => {
    const assign = vi.spyOn(browser, 'assign').mockImplementation(() => {})
    mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper } = await mountApp('/login', null)
    expect(wrapper.find('[data-testid="sso-login"]').attributes('href')).toBe('/api/v1/auth/oidc/login?redirect=%2Fui%2F')

    const other = await mountApp('/login?redirect=%2F%2Fevil.example%2F', null)
    await other.wrapper.find('[data-testid="sso-login"]').trigger('click', { button: 0 })
    expect(assign).toHaveBeenLastCalledWith('/api/v1/auth/oidc/login?redirect=%2Fui%2F')
  })

  it('leaves a ctrl-click (new tab) to the browser', async () => {
    const assign = vi.spyOn(browser, 'assign').mockImplementation(() => {})
    mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper } = await mountApp('/login', null)
    const link = wrapper.find('[data-testid="sso-login"]')
    let defaultPrevented: boolean | null = null
    // After the page's handler: record what it did, then keep jsdom from navigating.
    link.element.addEventListener('click', (e) => {
      defaultPrevented = e.defaultPrevented
      e.preventDefault()
    })
    await link.trigger('click', { button: 0, ctrlKey: true })
    expect(defaultPrevented).toBe(false)
    expect(assign).not.toHaveBeenCalled()
  })

  it('shows sso_error and takes it out of the address, adding no history entry', async () => {
    const message =
      'single sign-on refused: eve is in none of the groups allowed to use tfmirror (admin: tfm-admins; viewer: tfm-viewers)'
    mockFetch({ 'GET /api/v1/about': about() })
    const entries = window.history.length
    const { wrapper, router } = await openAddress(`/ui/login?sso_error=${encodeURIComponent(message)}`)
    expect(router.currentRoute.value.name).toBe('login')
    const banner = wrapper.find('[data-testid="sso-error"]')
    expect(banner.attributes('role')).toBe('alert')
    expect(banner.classes()).toContain('banner-error')
    expect(banner.text()).toContain('Single sign-on did not log you in.')
    expect(wrapper.find('[data-testid="sso-error-message"]').text()).toBe(message)
    expect(router.currentRoute.value.query).toEqual({})
    expect(window.location.pathname + window.location.search).toBe('/ui/login')
    expect(window.history.length).toBe(entries)
    // Still there to try again, both ways.
    expect(wrapper.find('[data-testid="sso-login"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="login-username"]').exists()).toBe(true)
    wrapper.unmount()
  })

  it('keeps the rest of the query when it drops sso_error, and shows the text as text', async () => {
    mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper, router } = await mountApp('/login?redirect=%2Fjobs&sso_error=%3Cb%3Ebad%3C%2Fb%3E', null)
    expect(router.currentRoute.value.query).toEqual({ redirect: '/jobs' })
    expect(wrapper.find('[data-testid="sso-error-message"]').text()).toBe('<b>bad</b>')
    expect(wrapper.find('[data-testid="sso-error"] b').exists()).toBe(false)
    expect(wrapper.find('[data-testid="sso-login"]').attributes('href')).toBe(
      '/api/v1/auth/oidc/login?redirect=%2Fui%2Fjobs',
    )
  })
})

describe('the page after single sign-on', () => {
  it('keeps the session as the login does, opens the redirect and drops the token from the address and history', async () => {
    const expiresAt = inAnHour()
    const me = user('admin', { username: 'alice' })
    const { calls } = mockFetch({ 'GET /api/v1/auth/me': me, 'GET /api/v1/providers': emptyPage })
    const entries = window.history.length
    const { wrapper, router } = await openAddress(
      `/ui/sso#token=${TOKEN}&expires_at=${expiresAt}&redirect=${encodeURIComponent('/ui/providers?q=aws')}`,
    )

    expect(meCalls(calls)).toHaveLength(1)
    expect(meCalls(calls)[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(JSON.parse(localStorage.getItem(SESSION_STORAGE_KEY)!)).toEqual({ token: TOKEN, expiresAt, user: me })
    const session = useSession()
    expect(session.token).toBe(TOKEN)
    expect(session.user?.username).toBe('alice')

    expect(router.currentRoute.value.fullPath).toBe('/providers?q=aws')
    expect(window.location.pathname + window.location.search + window.location.hash).toBe('/ui/providers?q=aws')
    expect(window.history.length).toBe(entries)
    expect(JSON.stringify(window.history.state)).not.toContain(TOKEN)
    expect(wrapper.find('[data-testid="page-providers"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="current-user"]').text()).toContain('alice')
    // The next calls carry the new session; the token never went into a URL.
    const providers = calls.find((c) => c.path === '/api/v1/providers')!
    expect(providers.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(calls.some((c) => c.url.includes(TOKEN))).toBe(false)
    wrapper.unmount()
  })

  it('takes the fragment out of the address before asking who the token is', async () => {
    let seen = ''
    mockFetch({
      'GET /api/v1/auth/me': () => {
        seen = window.location.href
        return json(200, user('viewer'))
      },
      ...dashboard,
    })
    const { wrapper, router } = await openAddress(`/ui/sso#token=${TOKEN}&expires_at=${inAnHour()}&redirect=/ui/`)
    expect(seen).not.toContain(TOKEN)
    expect(seen).not.toContain('#')
    expect(router.currentRoute.value.name).toBe('dashboard')
    expect(window.location.pathname).toBe('/ui/')
    wrapper.unmount()
  })

  it('sets the title, and a viewer sent to an admin page gets "Admins only" there', async () => {
    mockFetch({ 'GET /api/v1/auth/me': user('viewer', { username: 'bob' }) })
    const { wrapper, router } = await mountApp(`/sso#token=${TOKEN}&expires_at=${inAnHour()}&redirect=%2Fui%2Fload`, null)
    expect(router.currentRoute.value.name).toBe('forbidden')
    expect(router.currentRoute.value.path).toBe('/load')
    expect(wrapper.find('[data-testid="page-forbidden"]').exists()).toBe(true)
    expect(useSession().user?.role).toBe('viewer')
  })

  it('goes to the dashboard for a missing or foreign redirect', async () => {
    for (const redirect of ['', '&redirect=%2F%2Fevil.example%2F', '&redirect=https%3A%2F%2Fevil.example%2F', '&redirect=%2Fui%2Flogin', '&redirect=%2Fui%2Fsso']) {
      mockFetch({ 'GET /api/v1/auth/me': user('admin'), ...dashboard })
      const { router } = await mountApp(`/sso#token=${TOKEN}&expires_at=${inAnHour()}${redirect}`, null)
      expect(router.currentRoute.value.fullPath, redirect).toBe('/')
    }
  })

  it('says the link is incomplete without a token or expiry, asking nothing', async () => {
    for (const fragment of ['', '#expires_at=1', `#token=${TOKEN}`, `#token=${TOKEN}&expires_at=soon`, '#token=&expires_at=99999999999']) {
      const { calls } = mockFetch({})
      const { wrapper, router } = await mountApp(`/sso${fragment}`, null)
      expect(router.currentRoute.value.name, fragment).toBe('sso')
      expect(document.title).toBe('Signing in · tfmirror')
      const failed = wrapper.find('[data-testid="sso-failed"]')
      expect(failed.attributes('data-reason'), fragment).toBe('incomplete')
      expect(failed.attributes('role')).toBe('alert')
      expect(failed.text()).toContain('This sign-in link is incomplete.')
      expect(meCalls(calls)).toEqual([])
      expect(wrapper.find('[data-testid="sso-login-link"]').attributes('href')).toBe('/login')
      expect(useSession().token).toBeNull()
      wrapper.unmount()
    }
  })

  it('says an expired sign-in has expired', async () => {
    const { calls } = mockFetch({})
    const past = Math.floor(Date.now() / 1000) - 10
    const { wrapper } = await mountApp(`/sso#token=${TOKEN}&expires_at=${past}`, null)
    expect(wrapper.find('[data-testid="sso-failed"]').attributes('data-reason')).toBe('expired')
    expect(wrapper.find('[data-testid="sso-failed"]').text()).toContain('This sign-in has expired.')
    expect(meCalls(calls)).toEqual([])
  })

  it('says the server refused the token (401), keeps nothing, and links back to the login page', async () => {
    mockFetch({ 'GET /api/v1/auth/me': json(401, { code: 'unauthenticated', message: 'invalid or expired session' }) })
    const { wrapper, router } = await mountApp(`/sso#token=${TOKEN}&expires_at=${inAnHour()}&redirect=%2Fui%2Fjobs`, null)
    // The page says so itself rather than the 401 handler sending the visitor away.
    expect(router.currentRoute.value.name).toBe('sso')
    const failed = wrapper.find('[data-testid="sso-failed"]')
    expect(failed.attributes('data-reason')).toBe('refused')
    expect(failed.text()).toContain('The server did not accept this sign-in.')
    expect(useSession().token).toBeNull()
    expect(localStorage.getItem(SESSION_STORAGE_KEY)).toBeNull()
    const link = wrapper.find('[data-testid="sso-login-link"]')
    expect(link.attributes('href')).toBe('/login?redirect=/jobs')
    mockFetch({ 'GET /api/v1/about': about() })
    await link.trigger('click')
    await settle()
    expect(router.currentRoute.value.fullPath).toBe('/login?redirect=/jobs')
    expect(wrapper.find('[data-testid="sso-login"]').attributes('href')).toBe('/api/v1/auth/oidc/login?redirect=%2Fui%2Fjobs')
  })

  it('says why when the server cannot answer', async () => {
    mockFetch({ 'GET /api/v1/auth/me': () => Promise.reject(new TypeError('Failed to fetch')) })
    const { wrapper } = await mountApp(`/sso#token=${TOKEN}&expires_at=${inAnHour()}`, null)
    expect(wrapper.find('[data-testid="sso-failed"]').attributes('data-reason')).toBe('error')
    expect(wrapper.find('[data-testid="sso-failed-detail"]').text()).toBe(
      'The server could not be reached. Check your connection and try again.',
    )
    expect(useSession().token).toBeNull()
  })
})

describe('addresses and router paths', () => {
  it('maps router paths to addresses under /ui/ and back', () => {
    expect(addressOf('/')).toBe('/ui/')
    expect(addressOf('/providers?q=x')).toBe('/ui/providers?q=x')
    expect(addressOf('//evil.example')).toBe('/ui/')
    expect(routerPathOf('/ui/providers?q=x')).toBe('/providers?q=x')
    expect(routerPathOf('/ui/')).toBe('/')
    expect(routerPathOf('/ui')).toBe('/')
    expect(routerPathOf('/ui?x=1')).toBe('/?x=1')
    expect(routerPathOf('/jobs')).toBe('/jobs')
    expect(routerPathOf('/ui/login?redirect=/x')).toBe('/')
    expect(routerPathOf('//evil.example/ui/')).toBe('/')
    expect(routerPathOf('')).toBe('/')
  })

  it('adds the redirect to login_url', () => {
    expect(ssoLoginHref('/api/v1/auth/oidc/login', '/')).toBe('/api/v1/auth/oidc/login?redirect=%2Fui%2F')
    expect(ssoLoginHref('/sso/start?idp=x', '/jobs')).toBe('/sso/start?idp=x&redirect=%2Fui%2Fjobs')
    expect(ssoLoginHref('https://mirror.example.test/login', '/')).toBe('https://mirror.example.test/login?redirect=%2Fui%2F')
    expect(ssoLoginHref('javascript:alert(1)', '/')).toBeNull()
    expect(ssoLoginHref('//evil.example/login', '/')).toBeNull()
  })
})
