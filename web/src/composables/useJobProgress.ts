// Live progress of one job: server-sent events (`progress` events carrying JobDetail JSON,
// the stream ending once the job is finished) read with fetch, so the session token travels
// in the Authorization header and never in a URL (where proxies would log it). When the stream
// fails before the job finished (an error status, no connection, the body ending early), the
// job is polled with GET /jobs/{id} every second instead.
import { onBeforeUnmount, ref, shallowRef, type Ref } from 'vue'
import { api, ApiError, isJobFinished, type JobDetail } from '../api'
import { readEventStream } from '../api/sse'

export type ProgressMode = 'idle' | 'live' | 'polling' | 'done'

export const POLL_INTERVAL_MS = 1000

export function useJobProgress(jobId: Ref<number>) {
  const detail = shallowRef<JobDetail | null>(null)
  const error = ref<unknown>(null)
  const mode = ref<ProgressMode>('idle')

  let streamAbort: AbortController | null = null
  let pollTimer: ReturnType<typeof setTimeout> | undefined
  let generation = 0
  let stopped = false

  function closeSource() {
    if (streamAbort) {
      streamAbort.abort()
      streamAbort = null
    }
  }

  function stop() {
    generation++
    closeSource()
    clearTimeout(pollTimer)
    pollTimer = undefined
  }

  function accept(d: JobDetail, gen: number): boolean {
    if (gen !== generation) return false
    detail.value = d
    error.value = null
    if (isJobFinished(d.job)) {
      stop()
      mode.value = 'done'
      return true
    }
    return false
  }

  function startPolling(gen: number) {
    closeSource()
    if (gen !== generation) return
    mode.value = 'polling'
    const tick = async () => {
      if (gen !== generation) return
      try {
        const d = await api.job(jobId.value)
        if (accept(d, gen)) return
      } catch (e) {
        if (gen !== generation) return
        error.value = e
        // Gone or not allowed any more: stop (a 401 already sent the user to the login page).
        if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) {
          stop()
          mode.value = 'idle'
          return
        }
      }
      if (gen === generation) pollTimer = setTimeout(tick, POLL_INTERVAL_MS)
    }
    pollTimer = setTimeout(tick, POLL_INTERVAL_MS)
  }

  function startStream(gen: number) {
    const controller = new AbortController()
    streamAbort = controller
    mode.value = 'live'
    void (async () => {
      try {
        const res = await api.jobEvents(jobId.value, controller.signal)
        if (gen !== generation) return
        const type = res.headers.get('Content-Type') ?? ''
        // A proxy's login page or a buffered body is no event stream: poll instead.
        if (!res.body || !type.includes('text/event-stream')) throw new Error(`not an event stream: ${type}`)
        await readEventStream(
          res.body,
          (ev) => {
            if (gen !== generation || ev.event !== 'progress') return
            try {
              accept(JSON.parse(ev.data) as JobDetail, gen)
            } catch {
              // a malformed event: the next one or the poll fallback will catch up
            }
          },
          controller.signal,
        )
      } catch (e) {
        if (gen !== generation) return
        // The session is gone (the client already sent the user to the login page), or the
        // job is gone or not allowed: polling would only repeat that.
        if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) {
          if (e.status !== 401) error.value = e
          stop()
          mode.value = 'idle'
          return
        }
      }
      // The finishing event stops everything (and so changes the generation): getting here
      // means the stream failed or ended before the job finished.
      if (gen === generation) startPolling(gen)
    })()
  }

  /** Loads the job now, then follows it live until it is finished. */
  async function start() {
    if (stopped) return
    stop()
    const gen = generation
    mode.value = 'idle'
    try {
      const d = await api.job(jobId.value)
      if (accept(d, gen)) return
    } catch (e) {
      if (gen !== generation) return
      error.value = e
      if (e instanceof ApiError && e.status !== 0 && e.status !== 429 && e.status < 500) return
    }
    if (gen === generation) startStream(gen)
  }

  onBeforeUnmount(() => {
    stopped = true
    stop()
  })

  return { detail, error, mode, start, stop }
}
