// A small fetch wrapper for the tfmirror admin API (/api/v1).
//
// * adds `Authorization: Bearer <token>` when a session exists;
// * turns `{code, message[, errors]}` error bodies into a typed `ApiError`
//   (with the HTTP status, the validation `errors[]` and `Retry-After` in seconds);
// * on 401 (for authenticated calls) runs the configured `onUnauthorized` hook, which the
//   app uses to clear the session and go to the login page with a `redirect` back.

export interface ValidationIssue {
  line: number
  column: number
  message: string
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly errors: ValidationIssue[]
  /** Seconds to wait before retrying (from `Retry-After`), or null. */
  readonly retryAfter: number | null
  /** How many problems there are in all; `errors` lists the first ones. */
  readonly totalErrors: number

  constructor(
    status: number,
    code: string,
    message: string,
    errors: ValidationIssue[] = [],
    retryAfter: number | null = null,
    totalErrors: number = errors.length,
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.errors = errors
    this.retryAfter = retryAfter
    this.totalErrors = Math.max(totalErrors, errors.length)
  }
}

export type QueryValue = string | number | boolean | null | undefined
export type Query = Record<string, QueryValue>

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  query?: Query
  /** A JSON body. */
  json?: unknown
  /** A plain-text body (sent as `text/plain; charset=utf-8`). */
  text?: string
  /** A form body (multipart). */
  form?: FormData
  signal?: AbortSignal
  /**
   * Whether a 401 means "the session is gone" (the default). The login call sets this to
   * false: a 401 there means bad credentials and must not redirect.
   */
  handleUnauthorized?: boolean
  /** The `Accept` header; `application/json` by default. */
  accept?: string
  /**
   * This prefix instead of `baseUrl`: `''` for the mirror's own routes outside the admin API
   * (`/v1/lock`), which take the same session token.
   */
  base?: string
  /**
   * This token instead of the session's (the single sign-on page checks the token it was
   * handed before keeping it).
   */
  token?: string
}

export interface ClientConfig {
  /** Prefix of every path; same-origin `/api/v1` by default. */
  baseUrl: string
  getToken: () => string | null | undefined
  onUnauthorized: (error: ApiError) => void
  fetch: (input: string, init: RequestInit) => Promise<Response>
}

/** Parses `Retry-After`: delta-seconds or an HTTP date. Returns whole seconds (>= 0) or null. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value == null) return null
  const trimmed = value.trim()
  if (trimmed === '') return null
  if (/^\d+$/.test(trimmed)) return Number.parseInt(trimmed, 10)
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return null
  return Math.max(0, Math.ceil((at - now) / 1000))
}

export function buildQuery(query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    params.append(key, String(value))
  }
  const s = params.toString()
  return s ? `?${s}` : ''
}

function isIssue(x: unknown): x is ValidationIssue {
  if (typeof x !== 'object' || x === null) return false
  const o = x as Record<string, unknown>
  return typeof o.line === 'number' && typeof o.column === 'number' && typeof o.message === 'string'
}

/** Builds an ApiError from a non-2xx response, whatever its body. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const retryAfter = parseRetryAfter(res.headers.get('Retry-After'))
  let code = `http_${res.status}`
  let message = res.statusText || `HTTP ${res.status}`
  let errors: ValidationIssue[] = []
  let totalErrors = 0
  let text = ''
  try {
    text = await res.text()
  } catch {
    text = ''
  }
  if (text) {
    try {
      const body = JSON.parse(text) as Record<string, unknown>
      if (body && typeof body === 'object') {
        if (typeof body.code === 'string') code = body.code
        if (typeof body.message === 'string') message = body.message
        if (Array.isArray(body.errors)) errors = body.errors.filter(isIssue)
        if (typeof body.total_errors === 'number') totalErrors = body.total_errors
      }
    } catch {
      // Not JSON (a proxy's error page, say): keep the status text.
    }
  }
  return new ApiError(res.status, code, message, errors, retryAfter, totalErrors)
}

export interface ApiClient {
  request<T>(path: string, options?: RequestOptions): Promise<T>
  /**
   * The successful response itself, body unread (for streams); errors as with `request`.
   * The token goes in the Authorization header only, never in the URL.
   */
  send(path: string, options?: RequestOptions): Promise<Response>
  config: ClientConfig
}

export function createClient(partial: Partial<ClientConfig> = {}): ApiClient {
  const config: ClientConfig = {
    baseUrl: '/api/v1',
    getToken: () => null,
    onUnauthorized: () => {},
    // Looked up at call time so tests can stub the global.
    fetch: (input, init) => globalThis.fetch(input, init),
    ...partial,
  }

  async function send(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' }
    const token = options.token ?? config.getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    let body: BodyInit | undefined
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(options.json)
    } else if (options.text !== undefined) {
      headers['Content-Type'] = 'text/plain; charset=utf-8'
      body = options.text
    } else if (options.form !== undefined) {
      body = options.form // the browser sets the multipart boundary
    }
    const url = `${options.base ?? config.baseUrl}${path}${buildQuery(options.query)}`
    let res: Response
    try {
      res = await config.fetch(url, {
        method: options.method ?? 'GET',
        headers,
        body,
        signal: options.signal,
        credentials: 'same-origin',
      })
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e
      throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.')
    }
    if (!res.ok) {
      const err = await errorFromResponse(res)
      if (res.status === 401 && options.handleUnauthorized !== false) config.onUnauthorized(err)
      throw err
    }
    return res
  }

  async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await send(path, options)
    if (res.status === 204) return undefined as T
    const text = await res.text()
    if (!text) return undefined as T
    const type = res.headers.get('Content-Type') ?? ''
    if (type.includes('json') || /^[[{]/.test(text.trimStart())) return JSON.parse(text) as T
    return text as T
  }

  return { request, send, config }
}

/** The app-wide client; `installAuth` wires its token and 401 handling to the session. */
export const client = createClient()

/** A human sentence for an error, used by banners. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 429) {
      return e.retryAfter != null
        ? `Too many requests. Try again in ${e.retryAfter} second${e.retryAfter === 1 ? '' : 's'}.`
        : 'Too many requests. Try again in a moment.'
    }
    if (e.status === 403) return `Not allowed: ${e.message}`
    return e.message
  }
  if (e instanceof Error) return e.message
  return String(e)
}
