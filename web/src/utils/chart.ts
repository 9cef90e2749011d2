// Geometry of the column chart (downloads per day), kept apart from the component so it can be
// checked: every number is finite and inside the view box, an empty day is a zero-height
// column on the axis, and nothing is drawn between the columns.

export interface Point {
  label: string
  value: number
}

export interface Column extends Point {
  x: number
  y: number
  w: number
  h: number
}

/** A count as a number >= 0 (missing, negative or non-finite values count as 0). */
export function cleanValue(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0
}

/** The columns of `points` in a `width` × `height` box, scaled to the largest value. */
export function columnGeometry(points: Point[], width: number, height: number, headroom = 4): Column[] {
  const n = points.length
  if (n === 0) return []
  const values = points.map((p) => cleanValue(p.value))
  const max = Math.max(0, ...values)
  const slot = width / n
  const gap = Math.min(4, slot * 0.2)
  return points.map((p, i) => {
    const value = values[i]!
    const h = max > 0 ? (value / max) * (height - headroom) : 0
    return { label: p.label, value, x: i * slot + gap / 2, w: slot - gap, y: height - h, h }
  })
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

/**
 * Days ("YYYY-MM-DD") sorted, duplicates summed, and the days missing between the first and
 * the last added with 0, so the columns stay one per day.
 */
export function fillDays(days: { day?: string | null; downloads?: number | null }[]): Point[] {
  const sums = new Map<string, number>()
  for (const d of days) {
    const day = d.day ?? ''
    if (!DAY.test(day)) continue
    sums.set(day, (sums.get(day) ?? 0) + cleanValue(d.downloads))
  }
  const keys = [...sums.keys()].sort()
  if (keys.length === 0) return []
  const toUtc = (k: string) => {
    const [, y, m, dd] = DAY.exec(k)!
    return Date.UTC(Number(y), Number(m) - 1, Number(dd))
  }
  const out: Point[] = []
  const last = toUtc(keys[keys.length - 1]!)
  // Bounded: at most a year of columns even if the server sent a stray far-away date.
  for (let t = toUtc(keys[0]!), i = 0; t <= last && i < 366; t += 86_400_000, i++) {
    const label = new Date(t).toISOString().slice(0, 10)
    out.push({ label, value: sums.get(label) ?? 0 })
  }
  return out
}
