import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { json, mockFetch, mountApp, settle } from './helpers'
import { jobDetail } from './fixtures'

class FakeEventSource {
  static instances: FakeEventSource[] = []
  url: string
  closed = false
  onerror: ((e: Event) => void) | null = null
  private listeners = new Map<string, ((e: MessageEvent) => void)[]>()
  constructor(url: string) {
    this.url = url
    FakeEventSource.instances.push(this)
  }
  addEventListener(name: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn])
  }
  close() {
    this.closed = true
  }
  emit(name: string, data: unknown) {
    for (const fn of this.listeners.get(name) ?? []) fn(new MessageEvent(name, { data: JSON.stringify(data) }))
  }
  fail() {
    this.onerror?.(new Event('error'))
  }
}

beforeEach(() => {
  localStorage.clear()
  FakeEventSource.instances = []
  vi.stubGlobal('EventSource', FakeEventSource)
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('job detail live progress', () => {
  it('follows progress events from the stream with the token in the URL', async () => {
    mockFetch({ 'GET /api/v1/jobs/7': jobDetail('running') })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('running')
    expect(FakeEventSource.instances).toHaveLength(1)
    const es = FakeEventSource.instances[0]!
    expect(es.url).toBe('/api/v1/jobs/7/events?access_token=token-admin')
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('live')

    // An item's bytes move on.
    const next = jobDetail('running')
    next.items[1]!.bytes_done = 5_000_000
    es.emit('progress', next)
    await settle()
    const bar = wrapper.findAll('[data-testid="job-item"]')[1]!.find('[role="progressbar"]')
    expect(bar.attributes('aria-valuenow')).toBe('5000000')
    expect(bar.attributes('aria-valuemax')).toBe('6100000')
    expect(wrapper.findAll('[data-testid="job-item"]')[1]!.text()).toContain('5.0 MB / 6.1 MB')

    // The finishing event closes the stream.
    es.emit('progress', jobDetail('succeeded', 'succeeded'))
    await settle()
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('succeeded')
    expect(es.closed).toBe(true)
    expect(wrapper.find('[data-testid="job-mode"]').exists()).toBe(false)
  })

  it('falls back to polling every second when the stream errors', async () => {
    let polls = 0
    mockFetch({
      'GET /api/v1/jobs/7': () => {
        polls++
        return json(200, polls < 3 ? jobDetail('running') : jobDetail('failed', 'failed'))
      },
    })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(polls).toBe(1)
    vi.useFakeTimers()
    FakeEventSource.instances[0]!.fail()
    await settle()
    expect(FakeEventSource.instances[0]!.closed).toBe(true)
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('updating every second')

    await vi.advanceTimersByTimeAsync(1000)
    expect(polls).toBe(2)
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('running')
    await vi.advanceTimersByTimeAsync(1000)
    expect(polls).toBe(3)
    await settle()
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('failed')
    expect(wrapper.find('[data-testid="job-item"][data-status="failed"]').text()).toContain('sha256 mismatch')
    // Finished: no more polling.
    await vi.advanceTimersByTimeAsync(5000)
    expect(polls).toBe(3)
  })

  it('does not open a stream for a finished job', async () => {
    mockFetch({ 'GET /api/v1/jobs/7': jobDetail('succeeded', 'succeeded') })
    const { wrapper } = await mountApp('/jobs/7', 'viewer')
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('succeeded')
    expect(FakeEventSource.instances).toHaveLength(0)
  })

  it('retries failed items and follows the job again', async () => {
    let retried = false
    const { calls } = mockFetch({
      'GET /api/v1/jobs/7': () => json(200, retried ? jobDetail('running') : jobDetail('failed', 'failed')),
      'POST /api/v1/jobs/7/retry': () => {
        retried = true
        return json(200, jobDetail('running').job)
      },
    })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(FakeEventSource.instances).toHaveLength(0)
    await wrapper.find('[data-testid="retry"]').trigger('click')
    await settle()
    expect(calls.some((c) => c.method === 'POST' && c.path === '/api/v1/jobs/7/retry')).toBe(true)
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('running')
    expect(FakeEventSource.instances).toHaveLength(1)
  })

  it('cancels a running job after confirmation', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/jobs/7': jobDetail('running'),
      'POST /api/v1/jobs/7/cancel': json(200, jobDetail('cancelled').job),
    })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    await wrapper.find('[data-testid="cancel-job"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'Cancel job #7: 0 pending items and 1 running item stop; finished packages stay stored.',
    )
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.path)).toEqual(['/api/v1/jobs/7/cancel'])
  })
})
