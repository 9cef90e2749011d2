const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']

/** Decimal (SI) sizes: 12_300_000 → "12.3 MB". */
export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—'
  if (n < 1000) return `${n} B`
  let v = n
  let i = 0
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000
    i++
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[i]}`
}

export function formatCount(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—'
  return n.toLocaleString('en-US')
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

/** A time as the server sends it: Unix seconds, or text. */
export type ServerTime = number | string | null | undefined

// SQLite's CURRENT_TIMESTAMP text ("2026-11-25 10:00:00"): UTC, without a zone.
const NAIVE_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/

/**
 * Unix seconds, or text: zone-less text (the SQLite `created_at` of versions and packages) is
 * UTC; text with a zone keeps it. Null for nothing or something unreadable.
 */
export function parseServerTime(v: ServerTime): Date | null {
  if (v == null || v === '') return null
  let d: Date
  if (typeof v === 'number') d = new Date(v * 1000)
  else {
    const t = v.trim()
    d = new Date(NAIVE_TIME.test(t) ? `${t.replace(' ', 'T')}Z` : t)
  }
  return Number.isNaN(d.getTime()) ? null : d
}

/** The local offset from UTC at that moment, in hours and minutes. */
function offsetOf(d: Date): { sign: string; h: number; m: number } {
  const off = -d.getTimezoneOffset() // minutes east of UTC
  return { sign: off < 0 ? '-' : '+', h: Math.floor(Math.abs(off) / 60), m: Math.abs(off) % 60 }
}

/** The local zone's offset at that moment: "UTC", "UTC+1", "UTC-3:30". */
export function zoneLabel(d: Date): string {
  if (d.getTimezoneOffset() === 0) return 'UTC'
  const { sign, h, m } = offsetOf(d)
  return `UTC${sign}${h}${m ? `:${pad(m)}` : ''}`
}

/** The local zone's name ("Europe/Berlin"), when the browser says. */
export function zoneName(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone ?? ''
  } catch {
    return ''
  }
}

/** → "2026-11-25 14:03 UTC+1" (local time and its offset); unreadable text is shown as is. */
export function formatTime(v: ServerTime): string {
  if (v == null || v === '') return '—'
  const d = parseServerTime(v)
  if (!d) return String(v)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())} ${zoneLabel(d)}`
}

/** → "2026-11-25T14:03:00+01:00" (local time, ISO 8601 with the offset), or '' . */
export function formatIsoTime(v: ServerTime): string {
  const d = parseServerTime(v)
  if (!d) return ''
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  if (d.getTimezoneOffset() === 0) return `${date}T${time}Z`
  const { sign, h, m } = offsetOf(d)
  return `${date}T${time}${sign}${pad(h)}:${pad(m)}`
}

/** A server time → "3 min ago" / "in 2 days". */
export function formatRelative(v: ServerTime, now = Date.now()): string {
  const d = parseServerTime(v)
  if (!d) return '—'
  const diff = Math.round((d.getTime() - now) / 1000)
  const abs = Math.abs(diff)
  let text: string
  if (abs < 60) text = `${abs} s`
  else if (abs < 3600) text = `${Math.round(abs / 60)} min`
  else if (abs < 86400) text = `${Math.round(abs / 3600)} h`
  else text = `${Math.round(abs / 86400)} d`
  return diff <= 0 ? `${text} ago` : `in ${text}`
}

export function percent(done: number, total: number): number {
  if (!total || total <= 0) return 0
  return Math.max(0, Math.min(100, (done / total) * 100))
}
