import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { json, mockFetch, mountApp, settle, type Call } from './helpers'
import { nullProvider, stats } from './fixtures'

const PATH = '/api/v1/providers/registry.terraform.io/hashicorp/null'
const PAGE = '/providers/registry.terraform.io/hashicorp/null'

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

describe('provider detail', () => {
  it('shows a versions × platforms matrix with sizes, sources and hashes', async () => {
    mockFetch({ [`GET ${PATH}`]: nullProvider })
    const { wrapper } = await mountApp(PAGE, 'admin')
    expect(wrapper.find('[data-testid="page-provider"]').exists()).toBe(true)
    const headers = wrapper.findAll('.matrix thead th').map((h) => h.text())
    expect(headers).toEqual(['Version', 'Status', 'darwin_arm64', 'linux_amd64', 'Total', 'Details and actions'])
    const row = wrapper.find('[data-testid="version-row-3.2.1"]')
    expect(row.text()).toContain('6.2 MB')
    expect(row.text()).toContain('12.3 MB')
    // Blocked 3.1.0 has no darwin package.
    const old = wrapper.find('[data-testid="version-row-3.1.0"]')
    expect(old.findAll('td')[1]!.text()).toBe('—')
    expect(wrapper.find('[data-testid="status-3.1.0"]').text()).toBe('blocked')

    await wrapper.find('[data-testid="details-3.2.1"]').trigger('click')
    const details = wrapper.find('[data-testid="packages-3.2.1"]')
    expect(details.text()).toContain('h1:3.2.1-linux-amd64=')
    expect(details.text()).toContain('34365D9472D7468F')
    expect(details.text()).toContain('job 7')
    expect(details.find('a').attributes('href')).toBe(
      '/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip',
    )
  })

  it('names exactly what a version deletion removes, and deletes only on confirm', async () => {
    const { calls } = mockFetch({
      [`GET ${PATH}`]: nullProvider,
      [`DELETE ${PATH}/versions/3.2.1`]: () => new Response(null, { status: 204 }),
    })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="delete-3.2.1"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'Delete registry.terraform.io/hashicorp/null 3.2.1: 2 packages, 12.3 MB',
    )
    expect(wrapper.find('[data-testid="confirm-files"]').text()).toContain('terraform-provider-null_3.2.1_darwin_arm64.zip')
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)

    // Cancel closes without a request.
    await wrapper.find('[data-testid="cancel"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)

    await wrapper.find('[data-testid="delete-3.2.1"]').trigger('click')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    const del = calls.filter((c) => c.method === 'DELETE')
    expect(del.map((c) => c.path)).toEqual([`${PATH}/versions/3.2.1`])
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="notice"]').text()).toBe('Deleted registry.terraform.io/hashicorp/null 3.2.1.')
  })

  it('names the whole provider when deleting it', async () => {
    mockFetch({ [`GET ${PATH}`]: nullProvider })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="delete-provider"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'Delete registry.terraform.io/hashicorp/null: 2 versions, 3 packages, 17.3 MB',
    )
  })

  it('blocks a version through PUT …/status after confirmation', async () => {
    const { calls } = mockFetch({
      [`GET ${PATH}`]: nullProvider,
      [`PUT ${PATH}/versions/3.2.1/status`]: (c: Call) => json(200, { version: '3.2.1', status: JSON.parse(c.body!).status, packages: [] }),
    })
    const { wrapper } = await mountApp(PAGE, 'admin')
    // 3.2.1 is active: block and deprecate are offered; 3.1.0 is blocked: unblock is.
    expect(wrapper.find('[data-testid="block-3.1.0"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="unblock-3.1.0"]').exists()).toBe(true)
    await wrapper.find('[data-testid="block-3.2.1"]').trigger('click')
    // 3.1.0 is blocked already: 3.2.1 is the last version served.
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'Block registry.terraform.io/hashicorp/null 3.2.1: the mirror hides it from clients and never fetches it again.',
    )
    expect(wrapper.find('[data-testid="confirm-warning"]').text()).toBe(
      'It is the last version of registry.terraform.io/hashicorp/null this mirror serves: Terraform then gets 404 Not Found for the provider and terraform init fails, until a version is unblocked or loaded again.',
    )
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    const put = calls.find((c) => c.method === 'PUT')!
    expect(put.path).toBe(`${PATH}/versions/3.2.1/status`)
    expect(JSON.parse(put.body!)).toEqual({ status: 'blocked' })
    expect(put.headers['content-type']).toBe('application/json')
  })

  it('unblock sets the status to active', async () => {
    const { calls } = mockFetch({
      [`GET ${PATH}`]: nullProvider,
      [`PUT ${PATH}/versions/3.1.0/status`]: json(200, { version: '3.1.0', status: 'active', packages: [] }),
    })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="unblock-3.1.0"]').trigger('click')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(JSON.parse(calls.find((c) => c.method === 'PUT')!.body!)).toEqual({ status: 'active' })
  })

  it('keeps the dialog open with the error when the action fails', async () => {
    mockFetch({
      [`GET ${PATH}`]: nullProvider,
      [`DELETE ${PATH}`]: json(403, { code: 'forbidden', message: 'admins only' }),
    })
    const { wrapper, router } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="delete-provider"]').trigger('click')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(wrapper.find('[data-testid="confirm-dialog"] [data-testid="error"]').text()).toBe('Not allowed: admins only')
    expect(router.currentRoute.value.name).toBe('provider')
  })

  it('does not warn when other versions stay served', async () => {
    const provider = structuredClone(nullProvider)
    provider.versions[1]!.status = 'active'
    mockFetch({ [`GET ${PATH}`]: provider })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="block-3.2.1"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-warning"]').exists()).toBe(false)
  })

  it('says when only deprecated versions would be left', async () => {
    const provider = structuredClone(nullProvider)
    provider.versions[1]!.status = 'deprecated'
    mockFetch({ [`GET ${PATH}`]: provider })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="block-3.2.1"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-warning"]').text()).toBe(
      'It is the last active version of registry.terraform.io/hashicorp/null: clients are then offered only the deprecated 3.1.0.',
    )
  })

  it('warns the same way before deleting the last served version', async () => {
    mockFetch({ [`GET ${PATH}`]: nullProvider })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="delete-3.2.1"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-warning"]').text()).toContain('Terraform then gets 404 Not Found for the provider')
    // Deleting the blocked one changes nothing for clients.
    await wrapper.find('[data-testid="cancel"]').trigger('click')
    await wrapper.find('[data-testid="delete-3.1.0"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-warning"]').exists()).toBe(false)
  })

  it('knows that pull-through caching keeps the provider answering', async () => {
    mockFetch({
      [`GET ${PATH}`]: nullProvider,
      'GET /api/v1/stats': {
        ...stats,
        upstream: [
          {
            hostname: 'registry.terraform.io',
            pull_through: true,
            fetches: 1,
            failures: 0,
            recent_requests: 1,
            recent_failures: 0,
            window_minutes: 15,
            last_failure_at: null,
          },
        ],
      },
    })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await settle()
    await wrapper.find('[data-testid="block-3.2.1"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-warning"]').text()).toBe(
      'It is the last stored version of registry.terraform.io/hashicorp/null this mirror serves; pull-through caching for registry.terraform.io still offers the origin’s other versions.',
    )
  })
})
