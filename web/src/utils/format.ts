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

/** Unix seconds, an ISO string or a date → "2026-11-25 14:03" (local time). */
export function formatTime(v: number | string | null | undefined): string {
  if (v == null || v === '') return '—'
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v)
  if (Number.isNaN(d.getTime())) return String(v)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** Unix seconds → "3 min ago" / "in 2 days". */
export function formatRelative(unixSeconds: number | null | undefined, now = Date.now()): string {
  if (unixSeconds == null) return '—'
  const diff = Math.round(unixSeconds - now / 1000)
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
