// Single sign-on (OpenID Connect). The login page sends the browser (a navigation, not a fetch)
// to the server's `login_url` with `?redirect=/ui/PATH`; after the provider the server sends
// it to `/ui/sso#token=…&expires_at=…&redirect=/ui/PATH`, or back to
// `/ui/login?sso_error=MESSAGE`. The server speaks in addresses (under `/ui/`), the router in
// its own paths (relative to `/ui/`).
import { safeRedirect } from '../auth'

/** `/ui` (the app's base without its trailing slash). */
function basePrefix(): string {
  return (import.meta.env.BASE_URL || '/').replace(/\/+$/, '')
}

/** The address of a router path: `/providers?q=x` → `/ui/providers?q=x`, `/` → `/ui/`. */
export function addressOf(routerPath: string): string {
  return `${basePrefix()}${safeRedirect(routerPath)}`
}

/**
 * The router path of an address under `/ui/`: `/ui/providers?q=x` → `/providers?q=x`, `/ui`
 * and `/ui/` → `/`. A path without that prefix is taken as a router path already. Always
 * through `safeRedirect` (never another origin, never the login or sign-in page).
 */
export function routerPathOf(address: string): string {
  const base = basePrefix()
  let path = address
  if (base && (path === base || path.startsWith(`${base}/`) || path.startsWith(`${base}?`))) {
    path = path.slice(base.length)
    if (!path.startsWith('/')) path = `/${path}`
  }
  return safeRedirect(path)
}

/**
 * Where the "Log in with …" button goes: the server's `login_url` with the redirect (an
 * address under `/ui/`) added to its query. Null for anything but a same-origin path or an
 * http(s) URL.
 */
export function ssoLoginHref(loginUrl: string, routerPath: string): string | null {
  const url = loginUrl.trim()
  const sameOrigin = url.startsWith('/') && !url.startsWith('//') && !url.startsWith('/\\')
  if (!sameOrigin && !/^https?:\/\//i.test(url)) return null
  const [beforeHash] = url.split('#', 1)
  const sep = beforeHash!.includes('?') ? (/[?&]$/.test(beforeHash!) ? '' : '&') : '?'
  return `${beforeHash}${sep}redirect=${encodeURIComponent(addressOf(routerPath))}`
}

/** Leaving the app for another page; an object so tests can stub it (jsdom does not navigate). */
export const browser = {
  assign(url: string): void {
    window.location.assign(url)
  },
}
