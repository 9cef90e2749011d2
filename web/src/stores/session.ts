import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, type User } from '../api'
import { clearUserStorage, SESSION_STORAGE_KEY } from '../storage'

export { SESSION_STORAGE_KEY }

interface Stored {
  token: string
  expiresAt: number
  user: User
}

function readStored(): Stored | null {
  try {
    const raw = window.localStorage.getItem(SESSION_STORAGE_KEY)
    if (!raw) return null
    const s = JSON.parse(raw) as Stored
    if (typeof s.token !== 'string' || typeof s.expiresAt !== 'number' || !s.user) return null
    if (s.expiresAt * 1000 <= Date.now()) return null
    return s
  } catch {
    return null
  }
}

export const useSession = defineStore('session', () => {
  const stored = readStored()
  const token = ref<string | null>(stored?.token ?? null)
  /** Unix seconds. */
  const expiresAt = ref<number | null>(stored?.expiresAt ?? null)
  const user = ref<User | null>(stored?.user ?? null)

  const expired = () => expiresAt.value != null && expiresAt.value * 1000 <= Date.now()
  const isLoggedIn = computed(() => token.value != null && user.value != null)
  const isAdmin = computed(() => user.value?.role === 'admin')

  function persist() {
    try {
      if (token.value && expiresAt.value != null && user.value) {
        const s: Stored = { token: token.value, expiresAt: expiresAt.value, user: user.value }
        window.localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify(s))
      } else {
        window.localStorage.removeItem(SESSION_STORAGE_KEY)
      }
    } catch {
      // storage unavailable (private mode): the session lives in memory only
    }
  }

  /** The token if the session has not expired; clears an expired one. */
  function validToken(): string | null {
    if (token.value && expired()) clear()
    return token.value
  }

  function set(newToken: string, newExpiresAt: number, newUser: User) {
    token.value = newToken
    expiresAt.value = newExpiresAt
    user.value = newUser
    persist()
  }

  /** Ends the session here: forgets it and everything of the user kept in the browser. */
  function clear() {
    token.value = null
    expiresAt.value = null
    user.value = null
    persist()
    clearUserStorage()
  }

  async function login(username: string, password: string) {
    const res = await api.login(username, password)
    set(res.token, res.expires_at, res.user)
    return res.user
  }

  /** Creates the first admin with the setup link's token and keeps the session, as `login` does. */
  async function setup(setupToken: string, username: string, password: string) {
    const res = await api.setup(setupToken, username, password)
    set(res.token, res.expires_at, res.user)
    return res.user
  }

  /**
   * Keeps the session single sign-on started (`/ui/sso#token=…`): asks who the token belongs
   * to and keeps it as `login` does.
   */
  async function adopt(newToken: string, newExpiresAt: number) {
    const me = await api.meWith(newToken)
    set(newToken, newExpiresAt, me)
    return me
  }

  async function logout() {
    if (token.value) {
      try {
        await api.logout()
      } catch {
        // the session may already be gone server-side; forget it here either way
      }
    }
    clear()
  }

  /** Re-reads the caller (role changes, disabled accounts). A 401 is handled by the client. */
  async function refresh() {
    if (!token.value) return
    const me = await api.me()
    user.value = me
    persist()
  }

  return { token, expiresAt, user, isLoggedIn, isAdmin, validToken, set, clear, login, setup, adopt, logout, refresh }
})
