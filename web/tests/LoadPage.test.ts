import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { json, mockFetch, mountApp, settle } from './helpers'

const HCL = `provider "registry.terraform.io/hashicorp/aws" {
  versions  = ["5.31.0"]
  platforms = ["linux_amd64", "darwin_arm64"]
}
`

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

describe('load providers', () => {
  it('previews with a dry run and shows the plan and problems', async () => {
    const { calls } = mockFetch({
      'POST /api/v1/definitions': json(200, {
        items: [
          { provider: 'registry.terraform.io/hashicorp/aws', version: '5.31.0', platforms: ['linux_amd64', 'darwin_arm64'] },
          { provider: 'registry.terraform.io/hashicorp/aws', version: '4.67.0', platforms: ['linux_amd64'] },
        ],
        problems: ['registry.terraform.io/hashicorp/aws 4.67.0: no darwin_arm64 build'],
        total_packages: 3,
      }),
    })
    const { wrapper } = await mountApp('/load', 'admin')
    expect(wrapper.find('[data-testid="page-load"]').exists()).toBe(true)
    await wrapper.find('[data-testid="hcl-editor"]').setValue(HCL)
    await wrapper.find('[data-testid="preview"]').trigger('click')
    await settle()

    const call = calls.find((c) => c.path === '/api/v1/definitions')!
    expect(call.method).toBe('POST')
    expect(call.search.get('dry_run')).toBe('true')
    expect(call.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(call.body).toBe(HCL)
    expect(wrapper.find('[data-testid="plan-summary"]').text()).toBe(
      '1 provider, 2 versions, 2 platforms: 3 packages to fetch.',
    )
    expect(wrapper.findAll('[data-testid="plan-item"]')).toHaveLength(2)
    expect(wrapper.find('[data-testid="plan-problem"]').text()).toBe(
      'registry.terraform.io/hashicorp/aws 4.67.0: no darwin_arm64 build',
    )
  })

  it('marks the lines of server validation errors', async () => {
    mockFetch({
      'POST /api/v1/definitions': json(400, {
        code: 'invalid_definitions',
        message: 'the definitions have 2 problems',
        errors: [
          { line: 2, column: 16, message: 'invalid version "5.31"' },
          { line: 3, column: 3, message: 'unknown platform "darwin_arm"' },
        ],
      }),
    })
    const { wrapper } = await mountApp('/load', 'admin')
    await wrapper.find('[data-testid="hcl-editor"]').setValue(HCL)
    await wrapper.find('[data-testid="preview"]').trigger('click')
    await settle()
    expect(wrapper.find('[data-testid="error-line-2"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="error-line-3"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="error-line-1"]').exists()).toBe(false)
    expect(wrapper.findAll('[data-testid="hcl-error"]').map((e) => e.text())).toEqual([
      'line 2, column 16: invalid version "5.31"',
      'line 3, column 3: unknown platform "darwin_arm"',
    ])
    expect(wrapper.find('[data-testid="plan"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="hcl-errors-title"]').text()).toBe('2 problems in the definitions:')
  })

  it('says how many problems there are when the server lists only the first', async () => {
    mockFetch({
      'POST /api/v1/definitions': json(400, {
        code: 'invalid_definitions',
        message: 'the definitions file has 5000 problem(s); the first 2 are listed',
        total_errors: 5000,
        errors: [
          { line: 1, column: 1, message: 'unexpected attribute "x0"' },
          { line: 2, column: 1, message: 'unexpected attribute "x1"' },
        ],
      }),
    })
    const { wrapper } = await mountApp('/load', 'admin')
    await wrapper.find('[data-testid="hcl-editor"]').setValue(HCL)
    await wrapper.find('[data-testid="preview"]').trigger('click')
    await settle()
    expect(wrapper.findAll('[data-testid="hcl-error"]')).toHaveLength(2)
    expect(wrapper.find('[data-testid="hcl-errors-title"]').text()).toBe(
      '5000 problems in the definitions; the first 2 are listed:',
    )
  })

  it('enqueues and goes to the new job', async () => {
    const { calls } = mockFetch({
      'POST /api/v1/definitions': json(201, {
        job: { id: 42, status: 'pending', created_by: 'user:alice', created_at: 0, total: 2, succeeded: 0, skipped: 0, failed: 0 },
        plan: { items: [], problems: [] },
      }),
      'GET /api/v1/jobs/42': json(200, {
        job: { id: 42, status: 'pending', created_by: 'user:alice', created_at: 0, total: 2, succeeded: 0, skipped: 0, failed: 0 },
        items: [],
      }),
    })
    const { wrapper, router } = await mountApp('/load', 'admin')
    await wrapper.find('[data-testid="hcl-editor"]').setValue(HCL)
    await wrapper.find('[data-testid="enqueue"]').trigger('click')
    await settle()
    const call = calls.find((c) => c.path === '/api/v1/definitions')!
    expect(call.search.has('dry_run')).toBe(false)
    expect(call.body).toBe(HCL)
    expect(router.currentRoute.value.fullPath).toBe('/jobs/42')
    expect(wrapper.find('[data-testid="page-job"]').exists()).toBe(true)
  })

  it('shows an error without line information as a banner', async () => {
    mockFetch({ 'POST /api/v1/definitions': json(413, { code: 'too_large', message: 'the file is larger than 1 MiB' }) })
    const { wrapper } = await mountApp('/load', 'admin')
    await wrapper.find('[data-testid="hcl-editor"]').setValue(HCL)
    await wrapper.find('[data-testid="preview"]').trigger('click')
    await settle()
    expect(wrapper.find('[data-testid="error"]').text()).toBe('the file is larger than 1 MiB')
    expect(wrapper.findAll('[data-testid="hcl-error"]')).toHaveLength(0)
  })

  it('inserts the example at once into an empty editor', async () => {
    mockFetch({})
    const { wrapper } = await mountApp('/load', 'admin')
    await wrapper.find('[data-testid="insert-example"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect((wrapper.find('[data-testid="hcl-editor"]').element as HTMLTextAreaElement).value).toContain('provider "hashicorp/random"')
  })

  it('asks before the example replaces a draft', async () => {
    mockFetch({})
    const { wrapper } = await mountApp('/load', 'admin')
    const editor = () => wrapper.find('[data-testid="hcl-editor"]').element as HTMLTextAreaElement
    await wrapper.find('[data-testid="hcl-editor"]').setValue(HCL)
    await wrapper.find('[data-testid="insert-example"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'The example replaces what the editor holds (4 lines), which is then lost.',
    )
    // Cancel keeps the draft.
    await wrapper.find('[data-testid="cancel"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(editor().value).toBe(HCL)
    expect(localStorage.getItem('tfmirror.definitions-draft')).toBe(HCL)

    await wrapper.find('[data-testid="insert-example"]').trigger('click')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(wrapper.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(editor().value).toContain('provider "hashicorp/random"')
    expect(editor().value.startsWith('# Each origin needs')).toBe(true)
  })

  it('lists the module versions of a plan besides the provider packages', async () => {
    mockFetch({
      'POST /api/v1/definitions': json(200, {
        items: [{ provider: 'registry.terraform.io/hashicorp/aws', version: '5.31.0', platforms: ['linux_amd64', 'darwin_arm64'] }],
        modules: [
          { module: 'registry.terraform.io/terraform-aws-modules/vpc/aws', version: '5.8.1' },
          { module: 'registry.terraform.io/terraform-aws-modules/vpc/aws', version: '5.8.0' },
        ],
        problems: ['module registry.terraform.io/terraform-aws-modules/vpc/aws: no upstream version matches ~> 4.99'],
        // Packages and module versions.
        total_packages: 4,
      }),
    })
    const { wrapper } = await mountApp('/load', 'admin')
    await wrapper.find('[data-testid="hcl-editor"]').setValue(`${HCL}\nmodule "terraform-aws-modules/vpc/aws" {\n  versions = ["~> 5.8"]\n}\n`)
    await wrapper.find('[data-testid="preview"]').trigger('click')
    await settle()
    expect(wrapper.find('[data-testid="plan-summary"]').text()).toBe('1 provider, 1 version, 2 platforms: 2 packages to fetch.')
    expect(wrapper.find('[data-testid="plan-modules-summary"]').text()).toBe('1 module: 2 module versions to fetch.')
    expect(wrapper.findAll('[data-testid="plan-item"]')).toHaveLength(1)
    const modules = wrapper.findAll('[data-testid="plan-module"]')
    expect(modules.map((m) => [m.find('[data-testid="plan-module-address"]').text(), m.find('[data-testid="plan-module-version"]').text()])).toEqual([
      ['registry.terraform.io/terraform-aws-modules/vpc/aws', '5.8.1'],
      ['registry.terraform.io/terraform-aws-modules/vpc/aws', '5.8.0'],
    ])
    expect(wrapper.find('[data-testid="plan-problem"]').text()).toContain('no upstream version matches ~> 4.99')
    expect(wrapper.find('[data-testid="plan"]').text()).not.toContain('Nothing to fetch')
  })

  it('shows a modules-only plan without an empty provider summary', async () => {
    mockFetch({
      'POST /api/v1/definitions': json(200, {
        items: [],
        modules: [{ module: 'registry.terraform.io/terraform-aws-modules/vpc/aws', version: '5.8.1' }],
        problems: [],
        total_packages: 1,
      }),
    })
    const { wrapper } = await mountApp('/load', 'admin')
    await wrapper.find('[data-testid="hcl-editor"]').setValue('module "terraform-aws-modules/vpc/aws" {\n  versions = ["5.8.1"]\n}\n')
    await wrapper.find('[data-testid="preview"]').trigger('click')
    await settle()
    expect(wrapper.find('[data-testid="plan-summary"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="plan-modules-summary"]').text()).toBe('1 module: 1 module version to fetch.')
    expect(wrapper.findAll('[data-testid="plan-item"]')).toHaveLength(0)
    expect(wrapper.findAll('[data-testid="plan-module"]')).toHaveLength(1)
  })

  it('tells how to write module blocks, in the help text, the placeholder and the example', async () => {
    mockFetch({})
    const { wrapper } = await mountApp('/load', 'admin')
    expect(wrapper.find('[data-testid="page-load"] > p.muted').text()).toContain('module "terraform-aws-modules/vpc/aws" { versions = ["~> 5.0"] }')
    const editor = () => wrapper.find('[data-testid="hcl-editor"]').element as HTMLTextAreaElement
    expect(editor().placeholder).toContain('module "terraform-aws-modules/vpc/aws" {\n  versions = ["~> 5.0"]\n}')
    await wrapper.find('[data-testid="insert-example"]').trigger('click')
    expect(editor().value).toContain('module "terraform-aws-modules/vpc/aws" {\n  versions = ["~> 5.0"]\n}')
  })
})
