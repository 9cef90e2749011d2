// Everything the app keeps in the browser is under the "tfmirror." prefix, and all of it
// belongs to the logged-in user: it is dropped when the session ends (logout, a 401, expiry).

export const STORAGE_PREFIX = 'tfmirror.'
export const SESSION_STORAGE_KEY = `${STORAGE_PREFIX}session`
/** The Load page's unsent definitions. */
export const DRAFT_STORAGE_KEY = `${STORAGE_PREFIX}definitions-draft`

function clearIn(storage: Storage | undefined) {
  if (!storage) return
  const ours: string[] = []
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i)
    if (key?.startsWith(STORAGE_PREFIX)) ours.push(key)
  }
  for (const key of ours) storage.removeItem(key)
}

/** Removes every "tfmirror." key from localStorage and sessionStorage (other apps' stay). */
export function clearUserStorage(): void {
  for (const get of [() => window.localStorage, () => window.sessionStorage]) {
    try {
      clearIn(get())
    } catch {
      // storage unavailable (private mode, blocked): nothing is kept there anyway
    }
  }
}
