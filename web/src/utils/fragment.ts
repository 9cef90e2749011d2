// The setup link carries its one-time token in the URL fragment (`/ui/setup#token=…`): a
// fragment is never sent to the server, so the token stays out of access logs. The page reads
// it once and takes it out of the address bar.

/** The value of `name` in a fragment like `#token=abc&x=1` (a `+` stays a `+`), or null. */
export function fragmentParam(hash: string, name: string): string | null {
  const body = hash.replace(/^#/, '')
  if (!body) return null
  for (const part of body.split('&')) {
    const eq = part.indexOf('=')
    const key = eq === -1 ? part : part.slice(0, eq)
    if (key !== name) continue
    const raw = eq === -1 ? '' : part.slice(eq + 1)
    try {
      return decodeURIComponent(raw)
    } catch {
      return raw
    }
  }
  return null
}

/**
 * Removes the fragment from the address bar with `history.replaceState` (no new entry, so the
 * fragment is not kept in the history either), also from the router's saved `current` path.
 */
export function dropFragment(): void {
  const { pathname, search, hash } = window.location
  if (!hash) return
  let state: unknown = window.history.state
  if (state && typeof state === 'object') {
    const copy = { ...(state as Record<string, unknown>) }
    if (typeof copy.current === 'string') copy.current = copy.current.replace(/#.*$/, '')
    state = copy
  }
  window.history.replaceState(state, '', `${pathname}${search}`)
}
