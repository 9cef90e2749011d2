import type { LocationQuery } from 'vue-router'

/**
 * Merges `patch` into a route query for filter pages: empty values and `page=1` are dropped,
 * and changing any filter goes back to page 1 (unless `page` itself is in the patch).
 */
export function mergeQuery(
  current: LocationQuery,
  patch: Record<string, string | number>,
  resetPage = true,
): Record<string, string> {
  const next: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...current, ...patch })) {
    if (typeof v === 'string' || typeof v === 'number') next[k] = String(v)
  }
  if (resetPage && !('page' in patch)) delete next.page
  for (const k of Object.keys(next)) {
    if (next[k] === '' || (k === 'page' && next[k] === '1')) delete next[k]
  }
  return next
}

export function queryString(query: LocationQuery, key: string): string {
  const v = query[key]
  return typeof v === 'string' ? v : ''
}

export function queryPage(query: LocationQuery): number {
  return Math.max(1, Number.parseInt(queryString(query, 'page') || '1', 10) || 1)
}
