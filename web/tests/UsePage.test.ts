import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { About } from '../src/api'
import UsePage from '../src/pages/UsePage.vue'
import { json, mockFetch } from './helpers'

const about = (overrides: Partial<About> = {}): About => ({
  public_url: null,
  https: false,
  setup_required: false,
  sso: null,
  ...overrides,
})

async function mountUse(answer: About | Response, origin?: string) {
  const { calls } = mockFetch({ 'GET /api/v1/about': answer })
  const w = mount(UsePage, { props: origin ? { origin } : {} })
  await flushPromises()
  return { w, calls }
}

afterEach(() => vi.unstubAllGlobals())

describe('Use this mirror', () => {
  it('builds both blocks from an https origin when no public_url is set', async () => {
    const { w, calls } = await mountUse(about({ https: true }), 'https://mirror.example.com:8443')
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /api/v1/about'])
    expect(w.find('[data-testid="plain-http-warning"]').exists()).toBe(false)
    expect(w.find('[data-testid="mirror-block"]').text()).toBe(
      'provider_installation {\n  network_mirror {\n    url = "https://mirror.example.com:8443/"\n  }\n}',
    )
    expect(w.find('[data-testid="registry-block"]').text()).toBe(
      'host "registry.terraform.io" {\n  services = {\n    "modules.v1"   = "https://mirror.example.com:8443/v1/modules/"\n    "providers.v1" = "https://mirror.example.com:8443/v1/providers/"\n  }\n}',
    )
    expect(w.find('[data-testid="base-source"]').text()).toContain('server.public_url')
  })

  it('over plain HTTP without public_url warns instead of offering blocks that would fail', async () => {
    // jsdom serves the page from http://localhost:3000.
    expect(window.location.origin).toMatch(/^http:\/\//)
    const { w } = await mountUse(about())
    const warning = w.find('[data-testid="plain-http-warning"]')
    expect(warning.exists()).toBe(true)
    const text = warning.text()
    expect(text).toContain(`plain HTTP (${window.location.origin}/)`)
    expect(text).toContain('Terraform and OpenTofu refuse network mirrors and registries over plain HTTP')
    expect(text).toContain('server.tls')
    expect(text).toContain('tfmirror serve --self-signed-tls')
    expect(text).toContain('server.public_url')
    expect(text).toContain('--public-url')
    expect(text).toContain('TFM_PUBLIC_URL')
    expect(w.find('[data-testid="mirror-block"]').exists()).toBe(false)
    expect(w.find('[data-testid="registry-block"]').exists()).toBe(false)
    expect(w.find('[data-testid="opentofu-block"]').exists()).toBe(false)
    expect(w.findAll('button')).toHaveLength(0)
  })

  it('uses an https public_url, not the http address the browser used', async () => {
    const { w } = await mountUse(about({ public_url: 'https://mirror.example.com/' }), 'http://127.0.0.1:8080')
    expect(w.find('[data-testid="plain-http-warning"]').exists()).toBe(false)
    expect(w.find('[data-testid="mirror-block"]').text()).toContain('url = "https://mirror.example.com/"')
    expect(w.find('[data-testid="mirror-block"]').text()).not.toContain('127.0.0.1')
    expect(w.find('[data-testid="registry-block"]').text()).toContain(
      '"providers.v1" = "https://mirror.example.com/v1/providers/"',
    )
    expect(w.find('[data-testid="base-source"]').text()).toContain('https://mirror.example.com/')
  })

  it('uses an https public_url over the window origin too, keeping its path and one slash', async () => {
    const { w } = await mountUse(about({ public_url: 'https://proxy.example/tf-mirror' }))
    expect(w.find('[data-testid="plain-http-warning"]').exists()).toBe(false)
    expect(w.find('[data-testid="mirror-block"]').text()).toContain('url = "https://proxy.example/tf-mirror/"')
    expect(w.find('[data-testid="registry-block"]').text()).toContain(
      '"providers.v1" = "https://proxy.example/tf-mirror/v1/providers/"',
    )
  })

  it('warns about a public_url that is itself plain HTTP, even on an https page', async () => {
    const { w } = await mountUse(about({ public_url: 'http://mirror.internal/', https: true }), 'https://m.example')
    const warning = w.find('[data-testid="plain-http-warning"]')
    expect(warning.text()).toContain('The configured server.public_url (http://mirror.internal/) is plain HTTP.')
    expect(w.find('[data-testid="mirror-block"]').exists()).toBe(false)
  })

  it('shows neither the warning nor the blocks while /about loads', async () => {
    let answer!: (r: Response) => void
    mockFetch({ 'GET /api/v1/about': () => new Promise<Response>((r) => (answer = r)) })
    const w = mount(UsePage)
    await flushPromises()
    expect(w.find('[data-testid="use-loading"]').exists()).toBe(true)
    expect(w.find('[data-testid="plain-http-warning"]').exists()).toBe(false)
    expect(w.find('[data-testid="mirror-block"]').exists()).toBe(false)
    answer(json(200, about({ public_url: 'https://mirror.example.com/' })))
    await flushPromises()
    expect(w.find('[data-testid="use-loading"]').exists()).toBe(false)
    expect(w.find('[data-testid="mirror-block"]').text()).toContain('url = "https://mirror.example.com/"')
  })

  it('falls back to the page address when /about fails, and says so', async () => {
    const { w } = await mountUse(json(500, { code: 'internal', message: 'database is locked' }), 'https://m.example:8443')
    expect(w.find('[data-testid="error"]').text()).toBe('database is locked')
    expect(w.find('[data-testid="about-failed"]').exists()).toBe(true)
    expect(w.find('[data-testid="mirror-block"]').text()).toContain('url = "https://m.example:8443/"')

    const http = await mountUse(json(500, { code: 'internal', message: 'database is locked' }))
    expect(http.w.find('[data-testid="plain-http-warning"]').exists()).toBe(true)
    expect(http.w.find('[data-testid="mirror-block"]').exists()).toBe(false)
  })

  it('copies the exact block', async () => {
    const writeText = vi.fn(async () => {})
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    vi.stubGlobal('isSecureContext', true)
    const { w } = await mountUse(about({ public_url: 'https://m.example:8443/' }))
    const buttons = w.findAll('button')
    expect(buttons).toHaveLength(3)
    await buttons[0]!.trigger('click')
    await vi.waitFor(() => expect(writeText).toHaveBeenCalled())
    expect(writeText).toHaveBeenCalledWith(
      'provider_installation {\n  network_mirror {\n    url = "https://m.example:8443/"\n  }\n}\n',
    )
    await vi.waitFor(() => expect(buttons[0]!.text()).toBe('Copied'))
  })

  it('serves modules through host blocks that list both services, for registry.terraform.io and registry.opentofu.org', async () => {
    const { w } = await mountUse(about({ public_url: 'https://mirror.example.com/' }))
    expect(w.find('[data-testid="registry-block"]').text()).toBe(
      [
        'host "registry.terraform.io" {',
        '  services = {',
        '    "modules.v1"   = "https://mirror.example.com/v1/modules/"',
        '    "providers.v1" = "https://mirror.example.com/v1/providers/"',
        '  }',
        '}',
      ].join('\n'),
    )
    expect(w.find('[data-testid="opentofu-block"]').text()).toBe(
      [
        'host "registry.opentofu.org" {',
        '  services = {',
        '    "modules.v1"   = "https://mirror.example.com/registry/registry.opentofu.org/v1/modules/"',
        '    "providers.v1" = "https://mirror.example.com/registry/registry.opentofu.org/v1/providers/"',
        '  }',
        '}',
      ].join('\n'),
    )
    const text = w.text()
    expect(text).toContain("replaces the host's whole service map, so it lists both services")
    expect(text).toContain('Source addresses stay unchanged')
    expect(text).toContain('(nested modules)')
  })

  it('copies the OpenTofu host block exactly', async () => {
    const writeText = vi.fn(async () => {})
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    vi.stubGlobal('isSecureContext', true)
    const { w } = await mountUse(about({ public_url: 'https://m.example/' }))
    const button = w.findAll('button').find((b) => b.attributes('title') === 'Copy the registry.opentofu.org host block')!
    await button.trigger('click')
    await vi.waitFor(() => expect(writeText).toHaveBeenCalled())
    expect(writeText).toHaveBeenCalledWith(
      'host "registry.opentofu.org" {\n  services = {\n    "modules.v1"   = "https://m.example/registry/registry.opentofu.org/v1/modules/"\n    "providers.v1" = "https://m.example/registry/registry.opentofu.org/v1/providers/"\n  }\n}\n',
    )
  })
})
