// Nothing of a user stays in the browser once their session ends (logout, or a 401).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { api } from '../src/api'
import { json, mockFetch, mountApp, settle } from './helpers'

const HCL = 'provider "hashicorp/null" {\n  versions = ["3.2.1"]\n}\n'

beforeEach(() => {
  localStorage.clear()
  sessionStorage.clear()
})
afterEach(() => {
  document.body.innerHTML = ''
})

async function draftOnLoadPage() {
  const m = await mountApp('/load', 'admin')
  await m.wrapper.find('[data-testid="hcl-editor"]').setValue(HCL)
  expect(localStorage.getItem('tfmirror.definitions-draft')).toBe(HCL)
  sessionStorage.setItem('tfmirror.something', 'user data')
  localStorage.setItem('another-app', 'not ours')
  return m
}

function expectNothingOfTheUser() {
  const keys = [...Object.keys(localStorage), ...Object.keys(sessionStorage)]
  expect(keys.filter((k) => k.startsWith('tfmirror.'))).toEqual([])
  expect(localStorage.getItem('another-app')).toBe('not ours')
}

describe('browser storage after the session ends', () => {
  it('logging out clears the definitions draft and everything else of the user', async () => {
    mockFetch({ 'POST /api/v1/auth/logout': () => new Response(null, { status: 204 }) })
    const { wrapper, router } = await draftOnLoadPage()
    await wrapper.find('[data-testid="logout"]').trigger('click')
    await settle()
    expect(router.currentRoute.value.name).toBe('login')
    expectNothingOfTheUser()
  })

  it('a 401 that ends the session clears them too', async () => {
    mockFetch({ 'GET /api/v1/jobs': json(401, { code: 'unauthenticated', message: 'session expired' }) })
    const { router } = await draftOnLoadPage()
    await expect(api.jobs()).rejects.toMatchObject({ status: 401 })
    await settle()
    expect(router.currentRoute.value.name).toBe('login')
    expectNothingOfTheUser()
  })

  it('the next user starts with an empty editor', async () => {
    mockFetch({ 'POST /api/v1/auth/logout': () => new Response(null, { status: 204 }) })
    const { wrapper } = await draftOnLoadPage()
    await wrapper.find('[data-testid="logout"]').trigger('click')
    await settle()
    wrapper.unmount()
    const next = await mountApp('/load', 'admin')
    expect((next.wrapper.find('[data-testid="hcl-editor"]').element as HTMLTextAreaElement).value).toBe('')
  })
})
