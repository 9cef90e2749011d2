// The first admin: the setup link (`/ui/setup#token=…`) and the login page's "no admin yet" notice.
import { flushPromises, mount, type DOMWrapper } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { About } from '../src/api'
import { SESSION_STORAGE_KEY, useSession } from '../src/stores/session'
import { dropFragment, fragmentParam } from '../src/utils/fragment'
import { json, mockFetch, mountApp, openAddress, settle, user, type Call } from './helpers'
import { stats } from './fixtures'

const TOKEN = 'Zk9_setup-TOKEN+42'
const emptyJobs = { page: 1, per_page: 8, total: 0, items: [] }
const about = (overrides: Partial<About> = {}): About => ({
  public_url: null,
  https: false,
  setup_required: true,
  sso: null,
  ...overrides,
})
const login = () => ({
  token: 'session-token',
  expires_at: Math.floor(Date.now() / 1000) + 3600,
  user: user('admin', { username: 'root-admin' }),
})
const dashboard = { 'GET /api/v1/stats': stats, 'GET /api/v1/jobs': emptyJobs }

const setupCalls = (calls: Call[]) => calls.filter((c) => c.path === '/api/v1/setup')

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
  window.history.replaceState(null, '', '/')
})

function expectFieldError(field: DOMWrapper<Element>, error: DOMWrapper<Element>, message: string) {
  expect(error.exists(), `message for ${field.attributes('id')}`).toBe(true)
  expect(error.text()).toBe(message)
  expect(field.attributes('aria-invalid')).toBe('true')
  expect(field.attributes('aria-describedby')?.split(' ')).toContain(error.attributes('id'))
}

async function fill(wrapper: ReturnType<typeof mount>, username: string, password: string, confirm = password) {
  await wrapper.find('[data-testid="setup-username"]').setValue(username)
  await wrapper.find('[data-testid="setup-password"]').setValue(password)
  await wrapper.find('[data-testid="setup-confirm"]').setValue(confirm)
}

async function submit(wrapper: ReturnType<typeof mount>) {
  await wrapper.find('[data-testid="setup-form"]').trigger('submit')
  await settle()
}

describe('the setup link', () => {
  it('reads the token from the fragment and takes it out of the address bar and the history', async () => {
    // As the browser opens the link: the real (web) history, the token only in the fragment.
    const entries = window.history.length
    const { calls } = mockFetch({ 'GET /api/v1/about': about(), 'POST /api/v1/setup': json(201, login()), ...dashboard })
    const { wrapper, router } = await openAddress(`/ui/setup#token=${encodeURIComponent(TOKEN)}`)

    expect(router.currentRoute.value.name).toBe('setup')
    expect(document.title).toBe('Create the first admin · tfmirror')
    expect(window.location.pathname).toBe('/ui/setup')
    expect(window.location.hash).toBe('')
    expect(router.currentRoute.value.hash).toBe('')
    expect(JSON.stringify(window.history.state)).not.toContain(TOKEN)
    expect(window.history.length).toBe(entries)
    // No request carried the token before the form was sent.
    expect(calls.some((c) => c.url.includes(TOKEN) || (c.body ?? '').includes(TOKEN))).toBe(false)

    await fill(wrapper, 'root-admin', 'a long enough password')
    await submit(wrapper)
    expect(JSON.parse(setupCalls(calls)[0]!.body!)).toEqual({
      token: TOKEN,
      username: 'root-admin',
      password: 'a long enough password',
    })
    expect(router.currentRoute.value.name).toBe('dashboard')
    expect(window.location.pathname).toBe('/ui/')
    expect(window.history.length).toBe(entries)
    wrapper.unmount()
  })

  it('says how to get a link when the address has no token', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper, router } = await mountApp('/setup', null)
    expect(router.currentRoute.value.name).toBe('setup')
    // A public page: no header, nobody asked to log in.
    expect(wrapper.find('[data-testid="page-setup"] h1').text()).toBe('Create the first admin')
    const help = wrapper.find('[data-testid="setup-no-token"]')
    expect(help.text()).toContain('tfmirror serve prints that link when it starts')
    expect(help.text()).toContain('tfmirror create-admin --username NAME')
    expect(help.find('a').attributes('href')).toBe('/login')
    expect(wrapper.find('[data-testid="setup-form"]').exists()).toBe(false)
    expect(setupCalls(calls)).toEqual([])
  })

  it('names what is missing on an empty submit, without a request', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper } = await mountApp(`/setup#token=${TOKEN}`, null)
    expect(wrapper.find('[data-testid="setup-password-hint"]').text()).toBe('At least 12 characters.')
    await submit(wrapper)
    expect(setupCalls(calls)).toEqual([])
    expectFieldError(
      wrapper.find('[data-testid="setup-username"]'),
      wrapper.find('[data-testid="setup-username-error"]'),
      'Enter a username.',
    )
    expectFieldError(
      wrapper.find('[data-testid="setup-password"]'),
      wrapper.find('[data-testid="setup-password-error"]'),
      'Enter a password (at least 12 characters).',
    )
    expectFieldError(
      wrapper.find('[data-testid="setup-confirm"]'),
      wrapper.find('[data-testid="setup-confirm-error"]'),
      'Enter the password again.',
    )
    expect(document.activeElement).toBe(wrapper.find('[data-testid="setup-username"]').element)
    expect(wrapper.find('[data-testid="setup-submit"]').attributes('disabled')).toBeUndefined()
  })

  it('refuses a short password and two different ones, without a request', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper } = await mountApp(`/setup#token=${TOKEN}`, null)
    await fill(wrapper, 'root-admin', 'short', 'shirt')
    await submit(wrapper)
    expect(wrapper.find('[data-testid="setup-username-error"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="setup-password-error"]').text()).toBe(
      'Too short: at least 12 characters (5 so far).',
    )
    expect(wrapper.find('[data-testid="setup-confirm-error"]').text()).toBe('The two passwords differ.')
    expect(document.activeElement).toBe(wrapper.find('[data-testid="setup-password"]').element)

    await fill(wrapper, 'root-admin', 'a long enough password', 'a long enough passwort')
    await submit(wrapper)
    expect(wrapper.find('[data-testid="setup-password-error"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="setup-confirm-error"]').text()).toBe('The two passwords differ.')
    expect(document.activeElement).toBe(wrapper.find('[data-testid="setup-confirm"]').element)
    expect(setupCalls(calls)).toEqual([])
  })

  it('stores the session as the login page does and opens the dashboard', async () => {
    const answer = login()
    const { calls } = mockFetch({ 'GET /api/v1/about': about(), 'POST /api/v1/setup': json(201, answer), ...dashboard })
    const { wrapper, router } = await mountApp(`/setup#token=${TOKEN}`, null)
    expect(router.currentRoute.value.hash).toBe('')
    await fill(wrapper, '  root-admin ', 'a long enough password')
    await submit(wrapper)

    const call = setupCalls(calls)[0]!
    expect(call.method).toBe('POST')
    expect(call.headers.authorization).toBeUndefined()
    expect(JSON.parse(call.body!)).toEqual({ token: TOKEN, username: 'root-admin', password: 'a long enough password' })
    const session = useSession()
    expect(session.token).toBe('session-token')
    expect(session.user?.username).toBe('root-admin')
    expect(JSON.parse(localStorage.getItem(SESSION_STORAGE_KEY)!)).toEqual({
      token: answer.token,
      expiresAt: answer.expires_at,
      user: answer.user,
    })
    expect(router.currentRoute.value.name).toBe('dashboard')
    expect(wrapper.find('[data-testid="page-dashboard"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="current-user"]').text()).toContain('root-admin')
    // The next calls carry the new session.
    expect(calls.find((c) => c.path === '/api/v1/stats')!.headers.authorization).toBe('Bearer session-token')
  })

  it('says the link is invalid or expired and what to do, on 403', async () => {
    mockFetch({
      'GET /api/v1/about': about(),
      'POST /api/v1/setup': json(403, { code: 'forbidden', message: 'this setup link is invalid, expired or already used' }),
    })
    const { wrapper, router } = await mountApp(`/setup#token=${TOKEN}`, null)
    await fill(wrapper, 'root-admin', 'a long enough password')
    await submit(wrapper)
    const message = wrapper.find('[data-testid="setup-link-invalid"]')
    expect(message.attributes('role')).toBe('alert')
    expect(message.text()).toContain('This setup link is invalid or has expired')
    expect(message.text()).toContain('Restart the server: tfmirror serve prints a new link')
    expect(message.text()).toContain('tfmirror create-admin --username NAME')
    expect(wrapper.find('[data-testid="setup-form"]').exists()).toBe(false)
    expect(router.currentRoute.value.name).toBe('setup')
    expect(useSession().token).toBeNull()
    expect(localStorage.getItem(SESSION_STORAGE_KEY)).toBeNull()
  })

  it('says an admin exists already, with a link to the login page, on 409', async () => {
    let setupRequired = true
    mockFetch({
      'GET /api/v1/about': () => json(200, about({ setup_required: setupRequired })),
      'POST /api/v1/setup': () => {
        setupRequired = false // someone else was faster
        return json(409, { code: 'conflict', message: 'an admin exists already: log in, or ask an admin for an account' })
      },
    })
    const { wrapper, router } = await mountApp(`/setup#token=${TOKEN}`, null)
    await fill(wrapper, 'root-admin', 'a long enough password')
    await submit(wrapper)
    const message = wrapper.find('[data-testid="setup-admin-exists"]')
    expect(message.text()).toContain('An admin exists already')
    expect(wrapper.find('[data-testid="setup-form"]').exists()).toBe(false)
    const link = wrapper.find('[data-testid="setup-login-link"]')
    expect(link.attributes('href')).toBe('/login')
    await link.trigger('click')
    await settle()
    expect(router.currentRoute.value.name).toBe('login')
  })

  it('shows the server\'s reason for a 409 about the name, and keeps the form', async () => {
    mockFetch({
      'GET /api/v1/about': about(),
      'POST /api/v1/setup': json(409, { code: 'conflict', message: 'an account named bob exists already: choose another name' }),
    })
    const { wrapper } = await mountApp(`/setup#token=${TOKEN}`, null)
    await fill(wrapper, 'bob', 'a long enough password')
    await submit(wrapper)
    expect(wrapper.find('[data-testid="setup-error"]').text()).toBe(
      'an account named bob exists already: choose another name',
    )
    expect(wrapper.find('[data-testid="setup-form"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="setup-admin-exists"]').exists()).toBe(false)
  })

  it('shows why the server refused the username (400) and throttling (429)', async () => {
    let status = 400
    mockFetch({
      'GET /api/v1/about': about(),
      'POST /api/v1/setup': () =>
        status === 400
          ? json(400, { code: 'bad_request', message: "username must be 1 to 64 letters, digits, '.', '_', '-' or '@'" })
          : json(429, { code: 'throttled', message: 'too many invalid setup links' }, { 'Retry-After': '30' }),
    })
    const { wrapper } = await mountApp(`/setup#token=${TOKEN}`, null)
    await fill(wrapper, 'root admin', 'a long enough password')
    await submit(wrapper)
    expect(wrapper.find('[data-testid="setup-error"]').text()).toBe(
      "username must be 1 to 64 letters, digits, '.', '_', '-' or '@'",
    )
    status = 429
    await submit(wrapper)
    expect(wrapper.find('[data-testid="setup-error"]').text()).toBe('Too many requests. Try again in 30 seconds.')
    expect(wrapper.find('[data-testid="setup-form"]').exists()).toBe(true)
  })

  it('says at once that an admin exists when an old link is opened', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/about': about({ setup_required: false }) })
    const { wrapper } = await mountApp(`/setup#token=${TOKEN}`, null)
    expect(wrapper.find('[data-testid="setup-admin-exists"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="setup-form"]').exists()).toBe(false)
    expect(setupCalls(calls)).toEqual([])
  })
})

describe('the login page before the first admin exists', () => {
  it('explains how to create the first admin', async () => {
    mockFetch({ 'GET /api/v1/about': about() })
    const { wrapper } = await mountApp('/login', null)
    const notice = wrapper.find('[data-testid="setup-required"]')
    expect(notice.exists()).toBe(true)
    expect(notice.text()).toContain('No admin exists yet.')
    expect(notice.text()).toContain('Open the setup link the server printed when it started')
    expect(notice.text()).toContain('tfmirror create-admin --username NAME')
    // The form is still there (for an admin created meanwhile with create-admin).
    expect(wrapper.find('[data-testid="login-submit"]').exists()).toBe(true)
  })

  it('says nothing once an admin exists', async () => {
    mockFetch({ 'GET /api/v1/about': about({ setup_required: false }) })
    const { wrapper } = await mountApp('/login', null)
    expect(wrapper.find('[data-testid="page-login"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="setup-required"]').exists()).toBe(false)
  })

  it('still logs in when /about fails', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/about': () => Promise.reject(new TypeError('Failed to fetch')),
      'POST /api/v1/auth/login': login(),
      ...dashboard,
    })
    const { wrapper, router } = await mountApp('/login', null)
    await flushPromises()
    expect(wrapper.find('[data-testid="setup-required"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="error"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="login-error"]').exists()).toBe(false)
    await wrapper.find('[data-testid="login-username"]').setValue('root-admin')
    await wrapper.find('[data-testid="login-password"]').setValue('a long enough password')
    await wrapper.find('form').trigger('submit')
    await settle()
    expect(calls.some((c) => c.path === '/api/v1/auth/login')).toBe(true)
    expect(router.currentRoute.value.name).toBe('dashboard')
  })
})

describe('fragmentParam', () => {
  it('reads one parameter of the fragment, keeping "+" and decoding escapes', () => {
    expect(fragmentParam('#token=a+b%2Fc', 'token')).toBe('a+b/c')
    expect(fragmentParam('#x=1&token=t', 'token')).toBe('t')
    expect(fragmentParam('token=t', 'token')).toBe('t')
    expect(fragmentParam('#tokens=t', 'token')).toBeNull()
    expect(fragmentParam('#token', 'token')).toBe('')
    expect(fragmentParam('#token=%E0%A4', 'token')).toBe('%E0%A4')
    expect(fragmentParam('', 'token')).toBeNull()
  })
})

describe('dropFragment', () => {
  it('replaces the address without its fragment, in the router\'s saved state too, adding no entry', () => {
    window.history.replaceState({ back: null, current: '/setup#token=abc', position: 0 }, '', '/ui/setup?x=1#token=abc')
    const entries = window.history.length
    dropFragment()
    expect(window.location.pathname + window.location.search + window.location.hash).toBe('/ui/setup?x=1')
    expect(window.history.state).toEqual({ back: null, current: '/setup', position: 0 })
    expect(window.history.length).toBe(entries)
    dropFragment() // nothing to do
    expect(window.location.pathname).toBe('/ui/setup')
  })
})
