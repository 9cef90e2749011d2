import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { eventStream, json, mockFetch, mountApp, progressEvent, settle, type Call } from './helpers'
import { jobDetail } from './fixtures'

const EVENTS = 'GET /api/v1/jobs/7/events'
const STATS = { providers: 0, versions: 0, packages: 0, bytes: 0, origins: [], top_providers: [], downloads_per_day: [], upstream: [] }

/** No request may carry the session token anywhere but in its Authorization header. */
function expectNoTokenInUrls(calls: Call[]) {
  for (const c of calls) {
    expect(c.url, c.url).not.toContain('token-')
    expect(c.url, c.url).not.toContain('access_token')
  }
}

beforeEach(() => {
  localStorage.clear()
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('job detail live progress', () => {
  it('follows progress events from a fetch stream that sends the token as a bearer header', async () => {
    const stream = eventStream()
    const { calls } = mockFetch({ 'GET /api/v1/jobs/7': jobDetail('running'), [EVENTS]: () => stream.response })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('running')
    const streamCalls = calls.filter((c) => c.path === '/api/v1/jobs/7/events')
    expect(streamCalls).toHaveLength(1)
    const call = streamCalls[0]!
    expect(call.url).toBe('/api/v1/jobs/7/events')
    expect(call.headers.authorization).toBe('Bearer token-admin')
    expect(call.headers.accept).toBe('text/event-stream')
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('live')

    // An item's bytes move on; the event arrives in three pieces: cut between the CR and LF of
    // its first line, then before the blank line that ends it.
    const next = jobDetail('running')
    next.items[1]!.bytes_done = 5_000_000
    const text = `: hello\r\n${progressEvent(next).replace(/\n/g, '\r\n')}`
    stream.push(text.slice(0, 25))
    await settle()
    stream.push(text.slice(25, text.length - 2))
    await settle()
    // Not dispatched before its blank line is complete.
    expect(wrapper.findAll('[data-testid="job-item"]')[1]!.find('[role="progressbar"]').attributes('aria-valuenow')).toBe('2800000')
    stream.push(text.slice(text.length - 2))
    await settle()
    const bar = wrapper.findAll('[data-testid="job-item"]')[1]!.find('[role="progressbar"]')
    expect(bar.attributes('aria-valuenow')).toBe('5000000')
    expect(bar.attributes('aria-valuemax')).toBe('6100000')
    expect(wrapper.findAll('[data-testid="job-item"]')[1]!.text()).toContain('5.0 MB / 6.1 MB')

    // The finishing event stops the stream: the request is aborted and the body cancelled.
    stream.push(progressEvent(jobDetail('succeeded', 'succeeded')))
    await settle()
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('succeeded')
    expect(call.signal?.aborted).toBe(true)
    expect(stream.cancelled).toBe(true)
    expect(wrapper.find('[data-testid="job-mode"]').exists()).toBe(false)
    // Nothing polls afterwards.
    expect(calls.filter((c) => c.path === '/api/v1/jobs/7')).toHaveLength(1)
    expectNoTokenInUrls(calls)
  })

  it('falls back to polling every second when the stream answers an error', async () => {
    let polls = 0
    let answerStream!: (r: Response) => void
    const { calls } = mockFetch({
      'GET /api/v1/jobs/7': () => {
        polls++
        return json(200, polls < 3 ? jobDetail('running') : jobDetail('failed', 'failed'))
      },
      [EVENTS]: () => new Promise<Response>((resolve) => (answerStream = resolve)),
    })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(polls).toBe(1)
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('live')
    vi.useFakeTimers()
    answerStream(json(503, { code: 'unavailable', message: 'try later' }))
    await settle()
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('updating every second')

    await vi.advanceTimersByTimeAsync(1000)
    expect(polls).toBe(2)
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('running')
    await vi.advanceTimersByTimeAsync(1000)
    expect(polls).toBe(3)
    await settle()
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('failed')
    expect(wrapper.find('[data-testid="job-item"][data-status="failed"]').text()).toContain('sha256 mismatch')
    // Finished: no more polling, and the stream was tried once only.
    await vi.advanceTimersByTimeAsync(5000)
    expect(polls).toBe(3)
    expect(calls.filter((c) => c.path === '/api/v1/jobs/7/events')).toHaveLength(1)
    expectNoTokenInUrls(calls)
  })

  it('falls back to polling when the stream cannot be reached', async () => {
    let polls = 0
    let failStream!: (e: Error) => void
    mockFetch({
      'GET /api/v1/jobs/7': () => {
        polls++
        return json(200, polls < 2 ? jobDetail('running') : jobDetail('succeeded', 'succeeded'))
      },
      [EVENTS]: () => new Promise<Response>((_, reject) => (failStream = reject)),
    })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    vi.useFakeTimers()
    failStream(new TypeError('Failed to fetch'))
    await settle()
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('updating every second')
    await vi.advanceTimersByTimeAsync(1000)
    expect(polls).toBe(2)
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('succeeded')
  })

  it('falls back to polling when the stream ends before the job finished', async () => {
    const stream = eventStream()
    let polls = 0
    mockFetch({
      'GET /api/v1/jobs/7': () => {
        polls++
        return json(200, polls < 2 ? jobDetail('running') : jobDetail('succeeded', 'succeeded'))
      },
      [EVENTS]: () => stream.response,
    })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    vi.useFakeTimers()
    stream.push(progressEvent(jobDetail('running')))
    // The server's own error event, then the end of the body.
    stream.push('event: error\ndata: {"message":"database is locked"}\n\n')
    stream.close()
    await settle()
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('updating every second')
    await vi.advanceTimersByTimeAsync(1000)
    expect(polls).toBe(2)
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('succeeded')
    expect(wrapper.find('[data-testid="job-mode"]').exists()).toBe(false)
  })

  it('aborts the stream when the page is left', async () => {
    const stream = eventStream()
    const { calls } = mockFetch({
      'GET /api/v1/jobs/7': jobDetail('running'),
      [EVENTS]: () => stream.response,
      'GET /api/v1/jobs': { page: 1, per_page: 25, total: 0, items: [] },
    })
    const { router } = await mountApp('/jobs/7', 'admin')
    const call = calls.find((c) => c.path === '/api/v1/jobs/7/events')!
    expect(call.signal?.aborted).toBe(false)
    await router.push('/jobs')
    await settle()
    expect(call.signal?.aborted).toBe(true)
    expect(stream.cancelled).toBe(true)
  })

  it('sends the user to the login page when the stream answers 401', async () => {
    mockFetch({
      'GET /api/v1/jobs/7': jobDetail('running'),
      [EVENTS]: json(401, { code: 'unauthenticated', message: 'session expired' }),
    })
    const { router } = await mountApp('/jobs/7', 'admin')
    await settle()
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.redirect).toBe('/jobs/7')
  })

  it('does not open a stream for a finished job', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/jobs/7': jobDetail('succeeded', 'succeeded') })
    const { wrapper } = await mountApp('/jobs/7', 'viewer')
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('succeeded')
    expect(calls.some((c) => c.path.endsWith('/events'))).toBe(false)
  })

  it('retries failed items and follows the job again', async () => {
    let retried = false
    const stream = eventStream()
    const { calls } = mockFetch({
      'GET /api/v1/jobs/7': () => json(200, retried ? jobDetail('running') : jobDetail('failed', 'failed')),
      'POST /api/v1/jobs/7/retry': () => {
        retried = true
        return json(200, jobDetail('running').job)
      },
      [EVENTS]: () => stream.response,
    })
    const streams = () => calls.filter((c) => c.path === '/api/v1/jobs/7/events').length
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(streams()).toBe(0)
    await wrapper.find('[data-testid="retry"]').trigger('click')
    await settle()
    expect(calls.some((c) => c.method === 'POST' && c.path === '/api/v1/jobs/7/retry')).toBe(true)
    expect(wrapper.find('[data-testid="job-status"]').text()).toBe('running')
    expect(streams()).toBe(1)
    expect(wrapper.find('[data-testid="job-mode"]').text()).toBe('live')
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

  it('never counts more items done than the job has, and never shows the cancelled flag as a count', async () => {
    // Counts that add up to more than the total (a server answering mid-update): capped.
    const d = jobDetail('cancelled', 'failed')
    d.job = { ...d.job, total: 2, succeeded: 1, skipped: 0, failed: 2, cancelled_items: 1, cancelled: true, pending: 0, running: 0 }
    d.items[1]!.status = 'cancelled'
    mockFetch({
      'GET /api/v1/jobs/7': d,
      'GET /api/v1/jobs': { page: 1, per_page: 25, total: 1, items: [d.job] },
      'GET /api/v1/stats': STATS,
    })
    const { wrapper, router } = await mountApp('/jobs/7', 'admin')
    const summary = wrapper.find('.job-summary')
    expect(summary.find('.progress-text').text()).toBe('2 of 2 items done')
    const bar = summary.find('[role="progressbar"]')
    expect(bar.attributes('aria-valuenow')).toBe('2')
    expect(bar.attributes('aria-valuemax')).toBe('2')
    expect(summary.text()).not.toMatch(/true|false|NaN|undefined/)
    expect(summary.findAll('dd').every((dd) => dd.text().trim() !== '')).toBe(true)

    await router.push('/jobs')
    await settle()
    expect(wrapper.find('[data-testid="job-row"] .progress-text').text()).toBe('2/2')
    await router.push('/')
    await settle()
    expect(wrapper.find('[data-testid="recent-job"] .progress-text').text()).toBe('2/2')
  })

  it('after a retry and a cancel, counts failed and cancelled items apart, with the finish time', async () => {
    vi.stubEnv('TZ', 'Europe/Berlin')
    // One item failed verification again after the retry, the other was cancelled running.
    const d = jobDetail('cancelled', 'failed')
    d.job = {
      ...d.job,
      total: 2,
      pending: 0,
      running: 0,
      succeeded: 0,
      skipped: 0,
      failed: 1,
      cancelled_items: 1,
      cancelled: true,
      // 2026-01-01 00:05 UTC
      finished_at: 1_767_225_900,
    }
    d.items[0]!.status = 'failed'
    d.items[0]!.last_error = 'checksum mismatch: zh:aaaa expected, zh:bbbb received'
    d.items[1]!.status = 'cancelled'
    mockFetch({
      'GET /api/v1/jobs/7': d,
      'GET /api/v1/jobs': { page: 1, per_page: 25, total: 1, items: [d.job] },
      'GET /api/v1/stats': STATS,
    })
    try {
      const { wrapper, router } = await mountApp('/jobs/7', 'admin')
      const summary = wrapper.find('.job-summary')
      // Both items are finished: 2 of 2 (not 1 of 2 as if the cancelled one were still to do).
      expect(summary.find('.progress-text').text()).toBe('2 of 2 items done')
      expect(wrapper.find('[data-testid="count-failed"]').text()).toBe('1')
      expect(wrapper.find('[data-testid="count-cancelled"]').text()).toBe('1')
      expect(wrapper.find('[data-testid="count-succeeded"]').text()).toBe('0')
      expect(summary.text()).not.toMatch(/true|false|NaN|undefined|incl\./)
      const finished = wrapper.find('[data-testid="job-finished"] time')
      expect(finished.text()).toBe('2026-01-01 01:05 UTC+1')
      expect(finished.attributes('datetime')).toBe('2026-01-01T01:05:00+01:00')
      expect(finished.attributes('title')).toBe('2026-01-01T01:05:00+01:00 (Europe/Berlin)')
      // The server puts failed and cancelled items back in the queue alike.
      expect(wrapper.find('[data-testid="retry"]').attributes('disabled')).toBeUndefined()
      expect(wrapper.find('[data-testid="cancel-job"]').attributes('disabled')).toBeDefined()

      // The jobs list says the same.
      await router.push('/jobs')
      await settle()
      const row = wrapper.find('[data-testid="job-row"]')
      expect(row.find('[data-testid="job-row-status"]').text()).toBe('cancelled')
      expect(row.find('.progress-text').text()).toBe('2/2')
      expect(row.find('[data-testid="job-row-failed"]').text()).toBe('1')
      expect(row.find('[data-testid="job-row-cancelled"]').text()).toBe('1')
      expect(row.text()).not.toMatch(/true|false|NaN|undefined/)
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('offers Retry for a job whose only unfinished items were cancelled', async () => {
    const d = jobDetail('cancelled', 'succeeded')
    d.job = { ...d.job, succeeded: 1, failed: 0, cancelled_items: 1, running: 0, pending: 0 }
    d.items[1]!.status = 'cancelled'
    mockFetch({ 'GET /api/v1/jobs/7': d })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(wrapper.find('[data-testid="count-failed"]').text()).toBe('0')
    expect(wrapper.find('[data-testid="count-cancelled"]').text()).toBe('1')
    expect(wrapper.find('.job-summary .progress-text').text()).toBe('2 of 2 items done')
    expect(wrapper.find('[data-testid="retry"]').attributes('disabled')).toBeUndefined()
  })

  it('shows no finish time while the job runs', async () => {
    mockFetch({ 'GET /api/v1/jobs/7': jobDetail('running'), [EVENTS]: () => eventStream().response })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(wrapper.find('[data-testid="job-finished"]').exists()).toBe(false)
    expect(wrapper.find('.job-summary').findAll('dt').map((t) => t.text())).not.toContain('Finished')
    expect(wrapper.find('.job-summary').findAll('dd').every((dd) => dd.text().trim() !== '')).toBe(true)
  })

  it('shows a job being cancelled as such and offers no second cancel', async () => {
    const d = jobDetail('running')
    d.job.cancelled = true
    mockFetch({ 'GET /api/v1/jobs/7': d, [EVENTS]: () => eventStream().response })
    const { wrapper } = await mountApp('/jobs/7', 'admin')
    expect(wrapper.find('[data-testid="job-cancelling"]').text()).toBe('cancelling…')
    expect(wrapper.find('[data-testid="cancel-job"]').attributes('disabled')).toBeDefined()
  })

  it('shows a module item with its address and "module" where a package has its platform', async () => {
    const d = jobDetail('succeeded', 'succeeded')
    d.job = { ...d.job, total: 3, succeeded: 3, running: 0 }
    d.items.push({
      id: 3,
      kind: 'module',
      provider: 'registry.terraform.io/terraform-aws-modules/vpc/aws',
      version: '5.8.1',
      platform: null,
      status: 'succeeded',
      attempts: 1,
      last_error: null,
      bytes_done: 48_000,
      bytes_total: 48_000,
    })
    mockFetch({ 'GET /api/v1/jobs/7': d })
    const { wrapper } = await mountApp('/jobs/7', 'viewer')
    expect(wrapper.find('.table-stack thead th').text()).toBe('Provider or module')
    const rows = wrapper.findAll('[data-testid="job-item"]')
    expect(rows).toHaveLength(3)
    const module = rows[2]!
    expect(module.find('[data-testid="job-item-address"]').text()).toBe('registry.terraform.io/terraform-aws-modules/vpc/aws')
    expect(module.find('[data-testid="job-item-address"]').attributes('data-label')).toBe('Module')
    const kind = module.find('[data-testid="job-item-platform"]')
    expect(kind.text()).toBe('module')
    expect(kind.attributes('data-label')).toBe('Kind')
    expect(module.text()).not.toMatch(/null|undefined/)
    expect(module.find('[role="progressbar"]').attributes('aria-label')).toBe(
      'registry.terraform.io/terraform-aws-modules/vpc/aws 5.8.1 module download',
    )
    // The packages keep their platforms.
    expect(rows[0]!.find('[data-testid="job-item-platform"]').text()).toBe('linux_amd64')
    expect(rows[0]!.find('[data-testid="job-item-address"]').attributes('data-label')).toBe('Provider')
  })

  it('names the column Provider when the job has no module', async () => {
    mockFetch({ 'GET /api/v1/jobs/7': jobDetail('succeeded', 'succeeded') })
    const { wrapper } = await mountApp('/jobs/7', 'viewer')
    expect(wrapper.find('.table-stack thead th').text()).toBe('Provider')
  })
})
