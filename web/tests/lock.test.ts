import { flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PASTED_NAME, elapsed, errorPlace, lockRequest, platformList } from '../src/utils/lock'
import { json, mockFetch, mountApp } from './helpers'

const LOCK = `# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/null" {
  version     = "3.2.1"
  constraints = "~> 3.2.0"
  hashes = [
    "h1:one=",
  ]
}
`

describe('lock file request', () => {
  it('lists checked and typed platforms once, in order', () => {
    expect(platformList(['linux_amd64', 'darwin_arm64'], ' freebsd_amd64,linux_amd64  windows_386 ,')).toEqual([
      'linux_amd64',
      'darwin_arm64',
      'freebsd_amd64',
      'windows_386',
    ])
    expect(platformList([], '  ')).toEqual([])
  })

  it('sends the pasted text and the files as configuration, a lock file only when given', () => {
    const files = [{ name: 'versions.tf', text: 'terraform {}' }]
    expect(lockRequest({ pasted: ' \n', files, platforms: [], lockFile: '  ', upgrade: true })).toEqual({
      configuration: files,
      platforms: [],
      upgrade: false,
    })
    expect(lockRequest({ pasted: 'x', files, platforms: ['linux_amd64'], lockFile: 'L', upgrade: true })).toEqual({
      configuration: [{ name: PASTED_NAME, text: 'x' }, ...files],
      platforms: ['linux_amd64'],
      lock_file: 'L',
      upgrade: true,
    })
  })

  it('finds the file and line a server message names, the longest name first', () => {
    const names = [PASTED_NAME, 'a.tf', 'modules/a.tf']
    expect(errorPlace('pasted text: line 3: aws: expected { source = ... }', names)).toEqual({ file: PASTED_NAME, line: 3 })
    expect(errorPlace('modules/a.tf: line 12: not valid HCL', names)).toEqual({ file: 'modules/a.tf', line: 12 })
    expect(errorPlace('registry.terraform.io/hashicorp/null: no version meets', names)).toBeNull()
    expect(errorPlace('lock_file: line 1: expected', names)).toBeNull()
  })

  it('shows elapsed time in seconds, then minutes', () => {
    expect(elapsed(0)).toBe('0 s')
    expect(elapsed(59.9)).toBe('59 s')
    expect(elapsed(65)).toBe('1 min 05 s')
  })
})

describe('Lock file page', () => {
  beforeEach(() => localStorage.clear())
  afterEach(() => {
    document.body.innerHTML = ''
  })

  it('is in a viewer\'s menu, sends the session token to /v1/lock and shows the file', async () => {
    const { calls } = mockFetch({
      'POST /v1/lock': () => new Response(LOCK, { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
    })
    const { wrapper: w } = await mountApp('/lock', 'viewer')
    expect(w.find('[data-testid="nav-lock"]').exists()).toBe(true)
    await w.find('[data-testid="hcl-editor"]').setValue('terraform {}')
    await w.find('[data-testid="platform-linux_amd64"]').setValue(true)
    await w.find('[data-testid="lock-generate"]').trigger('click')
    await flushPromises()
    const call = calls.find((c) => c.path === '/v1/lock')!
    expect(call.method).toBe('POST')
    expect(call.headers.authorization).toMatch(/^Bearer /)
    expect(JSON.parse(call.body!)).toEqual({
      configuration: [{ name: PASTED_NAME, text: 'terraform {}' }],
      platforms: ['linux_amd64'],
      upgrade: false,
    })
    expect(w.find('[data-testid="lock-result"]').text()).toContain('version     = "3.2.1"')
    expect(w.find('[data-testid="lock-download"]').exists()).toBe(true)
  })

  it('shows the server\'s message and offers to go to the line of the pasted text', async () => {
    mockFetch({
      'POST /v1/lock': json(400, { code: 'bad_request', message: 'pasted text: line 2: null: expected { source = "...", version = "..." }' }),
    })
    const { wrapper: w } = await mountApp('/lock', 'viewer')
    await w.find('[data-testid="hcl-editor"]').setValue('terraform {\n  required_providers { null = 5 }\n}')
    await w.find('[data-testid="lock-generate"]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="error"]').text()).toContain('pasted text: line 2: null: expected')
    expect(w.find('[data-testid="lock-goto-error"]').text()).toBe('Go to line 2')
    expect(w.find('[data-testid="lock-result"]').exists()).toBe(false)
  })

  it('asks for a configuration instead of sending nothing', async () => {
    const { calls } = mockFetch({})
    const { wrapper: w } = await mountApp('/lock', 'admin')
    await w.find('[data-testid="lock-generate"]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="lock-notice"]').text()).toContain('Paste a configuration')
    expect(calls.some((c) => c.path === '/v1/lock')).toBe(false)
  })
})
