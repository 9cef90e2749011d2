// Wires the API client and the router to the session:
// every call carries the session token; a 401 clears the session and sends the user to the
// login page with `redirect` back to where they were; routes need a session (and admin
// routes the admin role: a viewer gets the "Admins only" page saying which role it needs).
import type { Router } from 'vue-router'
import { client } from './api/client'
import { useSession } from './stores/session'

/**
 * Only same-app absolute paths are followed after login (never `//host` or a URL, nor the login
 * or single sign-on pages themselves).
 */
export function safeRedirect(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) {
    return '/'
  }
  if (/^\/(login|sso)(?:[?#]|$)/.test(value)) return '/'
  return value
}

export function installAuth(router: Router): void {
  const session = useSession()

  client.config.getToken = () => session.validToken()
  client.config.onUnauthorized = () => {
    session.clear()
    const current = router.currentRoute.value
    if (current.name === 'login') return
    void router.push({ name: 'login', query: { redirect: current.fullPath } })
  }

  router.beforeEach((to) => {
    const token = session.validToken()
    if (to.meta.public) {
      // A logged-in user has no business on the login page.
      if (to.name === 'login' && token && session.user) return safeRedirect(to.query.redirect)
      return true
    }
    if (!token || !session.user) {
      return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
    }
    if (to.meta.admin && session.user.role !== 'admin') {
      // Say why, at the address that was asked for (so reloading or sharing it still works).
      return {
        name: 'forbidden',
        params: { pathMatch: to.path.replace(/^\//, '').split('/') },
        query: to.query,
        hash: to.hash,
        replace: true,
      }
    }
    return true
  })

  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · tfmirror` : 'tfmirror'
  })
}
