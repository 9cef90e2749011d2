// Live progress of one job: server-sent events (`progress` events carrying JobDetail JSON,
// the stream ending once the job is finished) with a fallback to polling GET /jobs/{id}
// every second when EventSource is missing or errors before the job finished.
import { onBeforeUnmount, ref, shallowRef, type Ref } from 'vue'
import { api, ApiError, isJobFinished, type JobDetail } from '../api'
import { useSession } from '../stores/session'

export type ProgressMode = 'idle' | 'live' | 'polling' | 'done'

export const POLL_INTERVAL_MS = 1000

export function useJobProgress(jobId: Ref<number>) {
  const session = useSession()
  const detail = shallowRef<JobDetail | null>(null)
  const error = ref<unknown>(null)
  const mode = ref<ProgressMode>('idle')

  let source: EventSource | null = null
  let pollTimer: ReturnType<typeof setTimeout> | undefined
  let generation = 0
  let stopped = false

  function closeSource() {
    if (source) {
      source.close()
      source = null
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
    const token = session.validToken()
    const ES = globalThis.EventSource
    if (!token || typeof ES !== 'function') {
      startPolling(gen)
      return
    }
    let es: EventSource
    try {
      es = new ES(api.jobEventsUrl(jobId.value, token))
    } catch {
      startPolling(gen)
      return
    }
    source = es
    mode.value = 'live'
    es.addEventListener('progress', (ev) => {
      if (gen !== generation) return
      try {
        accept(JSON.parse((ev as MessageEvent<string>).data) as JobDetail, gen)
      } catch {
        // a malformed event: the next one or the poll fallback will catch up
      }
    })
    es.onerror = () => {
      if (gen !== generation) return
      // The server ends the stream after the finishing event; anything else is a failure.
      if (detail.value && isJobFinished(detail.value.job)) {
        stop()
        mode.value = 'done'
        return
      }
      startPolling(gen)
    }
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
