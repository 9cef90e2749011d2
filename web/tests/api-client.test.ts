import { describe, expect, it, vi } from 'vitest'
import { ApiError, buildQuery, createClient, describeError, parseRetryAfter } from '../src/api/client'
import { json } from './helpers'

function clientWith(response: Response | (() => Promise<Response>), token: string | null = 'tok-123') {
  const fetch = vi.fn(async (_url: string, _init: RequestInit) =>
    typeof response === 'function' ? response() : response,
  )
  const onUnauthorized = vi.fn()
  const c = createClient({ fetch, getToken: () => token, onUnauthorized })
  return { c, fetch, onUnauthorized }
}

async function caught(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p
  } catch (e) {
    return e as ApiError
  }
  throw new Error('expected the call to fail')
}

describe('API client requests', () => {
  it('sends the session token as a Bearer header to /api/v1', async () => {
    const { c, fetch } = clientWith(json(200, { ok: true }))
    const body = await c.request<{ ok: boolean }>('/stats')
    expect(body).toEqual({ ok: true })
    const [url, init] = fetch.mock.calls[0]!
    expect(url).toBe('/api/v1/stats')
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok-123')
    expect(init.method).toBe('GET')
  })

  it('sends no Authorization header without a session', async () => {
    const { c, fetch } = clientWith(json(200, {}), null)
    await c.request('/auth/login', { method: 'POST', json: { username: 'a', password: 'b' } })
    const init = fetch.mock.calls[0]![1]
    expect(init.headers).not.toHaveProperty('Authorization')
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json')
    expect(init.body).toBe('{"username":"a","password":"b"}')
  })

  it('sends plain-text bodies and drops empty query values', async () => {
    const { c, fetch } = clientWith(json(200, { items: [], problems: [] }))
    await c.request('/definitions', {
      method: 'POST',
      text: 'provider "hashicorp/null" {}',
      query: { dry_run: true, q: '', page: 2, x: undefined },
    })
    const [url, init] = fetch.mock.calls[0]!
    expect(url).toBe('/api/v1/definitions?dry_run=true&page=2')
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('text/plain; charset=utf-8')
    expect(init.body).toBe('provider "hashicorp/null" {}')
  })

  it('returns undefined for 204 No Content', async () => {
    const { c } = clientWith(new Response(null, { status: 204 }))
    await expect(c.request('/tokens/3', { method: 'DELETE' })).resolves.toBeUndefined()
  })
})

describe('API client errors', () => {
  it('parses {code, message} into an ApiError with the status', async () => {
    const { c } = clientWith(json(404, { code: 'not_found', message: 'no such provider' }))
    const e = await caught(c.request('/providers/a/b/c'))
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(404)
    expect(e.code).toBe('not_found')
    expect(e.message).toBe('no such provider')
    expect(e.errors).toEqual([])
    expect(e.retryAfter).toBeNull()
  })

  it('keeps the line/column errors of a 400 validation error', async () => {
    const { c } = clientWith(
      json(400, {
        code: 'invalid_definitions',
        message: '2 problems',
        errors: [
          { line: 3, column: 15, message: 'invalid constraint "~> x"' },
          { line: 7, column: 1, message: 'unknown attribute "platfroms"' },
          { bogus: true },
        ],
      }),
    )
    const e = await caught(c.request('/definitions', { method: 'POST', text: 'x' }))
    expect(e.status).toBe(400)
    expect(e.code).toBe('invalid_definitions')
    expect(e.errors).toEqual([
      { line: 3, column: 15, message: 'invalid constraint "~> x"' },
      { line: 7, column: 1, message: 'unknown attribute "platfroms"' },
    ])
  })

  it('reads Retry-After (seconds) on 429', async () => {
    const { c } = clientWith(json(429, { code: 'throttled', message: 'slow down' }, { 'Retry-After': '42' }))
    const e = await caught(c.request('/auth/login', { method: 'POST', json: {}, handleUnauthorized: false }))
    expect(e.status).toBe(429)
    expect(e.retryAfter).toBe(42)
    expect(describeError(e)).toBe('Too many requests. Try again in 42 seconds.')
  })

  it('reads Retry-After given as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30)
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeNull()
    expect(parseRetryAfter(null, now)).toBeNull()
  })

  it('copes with a non-JSON error body', async () => {
    const { c } = clientWith(new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }))
    const e = await caught(c.request('/stats'))
    expect(e.status).toBe(502)
    expect(e.code).toBe('http_502')
    expect(e.message).toBe('Bad Gateway')
  })

  it('turns a failed connection into a status-0 ApiError', async () => {
    const { c } = clientWith(() => Promise.reject(new TypeError('Failed to fetch')))
    const e = await caught(c.request('/stats'))
    expect(e.status).toBe(0)
    expect(e.code).toBe('network')
  })
})

describe('API client 401 handling', () => {
  it('calls onUnauthorized on a 401 and still rejects', async () => {
    const { c, onUnauthorized } = clientWith(json(401, { code: 'unauthenticated', message: 'session expired' }))
    const e = await caught(c.request('/stats'))
    expect(e.status).toBe(401)
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
    expect(onUnauthorized.mock.calls[0]![0]).toBe(e)
  })

  it('does not call onUnauthorized for a failed login', async () => {
    const { c, onUnauthorized } = clientWith(json(401, { code: 'bad_credentials', message: 'wrong password' }))
    const e = await caught(c.request('/auth/login', { method: 'POST', json: {}, handleUnauthorized: false }))
    expect(e.message).toBe('wrong password')
    expect(onUnauthorized).not.toHaveBeenCalled()
  })

  it('does not call onUnauthorized for a 403', async () => {
    const { c, onUnauthorized } = clientWith(json(403, { code: 'forbidden', message: 'admins only' }))
    const e = await caught(c.request('/users'))
    expect(e.status).toBe(403)
    expect(onUnauthorized).not.toHaveBeenCalled()
  })
})

describe('buildQuery', () => {
  it('encodes values', () => {
    expect(buildQuery({ actor: 'user:alice', action: 'a b' })).toBe('?actor=user%3Aalice&action=a+b')
    expect(buildQuery({})).toBe('')
  })
})
