import { mount } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import UsePage from '../src/pages/UsePage.vue'

describe('Use this mirror', () => {
  it('builds both blocks from window.location.origin', () => {
    const w = mount(UsePage)
    const origin = window.location.origin
    expect(origin).toMatch(/^http/)
    expect(w.find('[data-testid="mirror-block"]').text()).toBe(
      `provider_installation {\n  network_mirror {\n    url = "${origin}/"\n  }\n}`,
    )
    expect(w.find('[data-testid="registry-block"]').text()).toBe(
      `host "registry.terraform.io" {\n  services = {\n    "providers.v1" = "${origin}/v1/providers/"\n  }\n}`,
    )
  })

  it('uses the host and port it is served from', () => {
    const w = mount(UsePage, { props: { origin: 'https://mirror.example.com:8443' } })
    expect(w.find('[data-testid="mirror-block"]').text()).toContain('url = "https://mirror.example.com:8443/"')
    expect(w.find('[data-testid="registry-block"]').text()).toContain(
      '"providers.v1" = "https://mirror.example.com:8443/v1/providers/"',
    )
  })

  it('copies the exact block', async () => {
    const writeText = vi.fn(async () => {})
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    vi.stubGlobal('isSecureContext', true)
    const w = mount(UsePage, { props: { origin: 'https://m.example:8443' } })
    const buttons = w.findAll('button')
    expect(buttons).toHaveLength(2)
    await buttons[0]!.trigger('click')
    await vi.waitFor(() => expect(writeText).toHaveBeenCalled())
    expect(writeText).toHaveBeenCalledWith(
      'provider_installation {\n  network_mirror {\n    url = "https://m.example:8443/"\n  }\n}\n',
    )
    await vi.waitFor(() => expect(buttons[0]!.text()).toBe('Copied'))
    vi.unstubAllGlobals()
  })
})
