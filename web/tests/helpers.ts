import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { vi } from 'vitest'
import { createMemoryHistory, createWebHistory, type Router } from 'vue-router'
import App from '../src/App.vue'
import type { Role, User } from '../src/api'
import { installAuth } from '../src/auth'
import { createAppRouter } from '../src/router'
import { useSession } from '../src/stores/session'

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  })
}

export interface Call {
  method: string
  url: string
  path: string
  search: URLSearchParams
  headers: Record<string, string>
  body: string | null
  /** A multipart body (an upload), as sent. */
  form: FormData | null
  signal: AbortSignal | null
}

type Handler = (call: Call) => Response | Promise<Response>

/**
 * Stubs global fetch. Handlers are keyed "METHOD /api/v1/path" (no query string); a missing
 * handler answers 404 so a test never hangs. Returns the list of calls made.
 */
export function mockFetch(handlers: Record<string, Handler | unknown>) {
  const calls: Call[] = []
  const fn = vi.fn(async (input: string, init: RequestInit = {}) => {
    const u = new URL(input, 'http://localhost')
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v
    const call: Call = {
      method: init.method ?? 'GET',
      url: input,
      path: u.pathname,
      search: u.searchParams,
      headers,
      body: typeof init.body === 'string' ? init.body : null,
      form: init.body instanceof FormData ? init.body : null,
      signal: init.signal ?? null,
    }
    calls.push(call)
    const h = handlers[`${call.method} ${call.path}`]
    if (h === undefined) return json(404, { code: 'not_found', message: `no mock for ${call.method} ${call.path}` })
    if (typeof h === 'function') return (h as Handler)(call)
    if (h instanceof Response) return h.clone()
    return json(200, h)
  })
  vi.stubGlobal('fetch', fn)
  return { calls, fn }
}

/**
 * A `text/event-stream` response whose body the test writes to: `push` sends text (as UTF-8
 * bytes, split wherever the test likes), `close` ends the body, `cancelled` tells whether the
 * reader gave up on it.
 */
export function eventStream(status = 200) {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let cancelled = false
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
    cancel() {
      cancelled = true
    },
  })
  const encoder = new TextEncoder()
  return {
    response: new Response(body, { status, headers: { 'Content-Type': 'text/event-stream' } }),
    push(text: string) {
      controller.enqueue(encoder.encode(text))
    },
    close() {
      controller.close()
    },
    get cancelled() {
      return cancelled
    },
  }
}

/** One SSE `progress` event carrying `detail` as JSON. */
export function progressEvent(detail: unknown): string {
  return `event: progress\ndata: ${JSON.stringify(detail)}\n\n`
}

export function user(role: Role, overrides: Partial<User> = {}): User {
  return {
    id: role === 'admin' ? 1 : 2,
    username: role === 'admin' ? 'alice' : 'victor',
    role,
    disabled: false,
    created_at: 1_700_000_000,
    kind: 'user',
    ...overrides,
  }
}

export interface Mounted {
  wrapper: ReturnType<typeof mount>
  router: Router
  pinia: Pinia
}

/** Mounts the whole app (router, pinia, auth wiring) at `path`, logged in as `role` (or not). */
export async function mountApp(path: string, role: Role | null): Promise<Mounted> {
  const pinia = createPinia()
  setActivePinia(pinia)
  const session = useSession()
  if (role) session.set(`token-${role}`, Math.floor(Date.now() / 1000) + 3600, user(role))
  else session.clear()
  const router = createAppRouter(createMemoryHistory())
  installAuth(router)
  await router.push(path)
  await router.isReady()
  const wrapper = mount(App, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flushPromises()
  return { wrapper, router, pinia }
}

export async function settle() {
  await flushPromises()
  await flushPromises()
}

/** Mounts the app on the real (web) history at `address`, as the browser opens a link. */
export async function openAddress(address: string) {
  window.history.replaceState(null, '', address)
  const pinia = createPinia()
  setActivePinia(pinia)
  const router = createAppRouter(createWebHistory('/ui/'))
  installAuth(router)
  const wrapper = mount(App, { global: { plugins: [pinia, router] }, attachTo: document.body })
  await router.isReady()
  await settle()
  return { wrapper, router }
}
