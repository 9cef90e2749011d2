import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ModuleDetail, UploadedModule } from '../src/api'
import { json, mockFetch, mountApp, settle, type Call } from './helpers'
import { networkModule } from './fixtures'

const DETAIL = '/api/v1/modules/registry.terraform.io/platform/network/aws'
const PAGE = '/modules/registry.terraform.io/platform/network/aws'

const modulesPage = {
  page: 2,
  per_page: 50,
  total: 52,
  items: [
    { hostname: 'registry.terraform.io', namespace: 'platform', name: 'network', system: 'aws', versions: 2, blocked_versions: 1, bytes: 3_600, latest_version: '1.1.0' },
    { hostname: 'git.example.test', namespace: 'team', name: 'dns', system: 'google', versions: 1, blocked_versions: 0, bytes: 900, latest_version: null },
  ],
}

const uploaded: UploadedModule = {
  module: 'registry.terraform.io/platform/network/aws',
  source_address: 'platform/network/aws',
  version: '1.0.0',
  status: 'active',
  size: 512,
  sha256: 'd'.repeat(64),
  h1: 'h1:newNewNewNewNewNewNewNewNewNewNewNewNewNewN=',
  files: 1,
  subdir: '',
  source: 'upload',
  location: null,
  commit_sha: null,
  created_by: 'user:alice',
  created_at: 1_767_225_600,
  conflicts: 0,
}

/** Every button that changes something (as the viewer tests define them). */
function mutatingButtons(root: Element): string[] {
  return Array.from(root.querySelectorAll('button'))
    .map((b) => b.textContent?.trim() ?? '')
    .filter((t) => /^(Delete|Block|Unblock|Deprecate|Activate|Upload)/.test(t))
}

/** Picks `file` in the upload form's file input. */
async function pickFile(wrapper: Awaited<ReturnType<typeof mountApp>>['wrapper'], file: File) {
  const input = wrapper.find('[data-testid="upload-file"]')
  Object.defineProperty(input.element, 'files', { configurable: true, value: [file] })
  await input.trigger('change')
}

async function fillUpload(wrapper: Awaited<ReturnType<typeof mountApp>>['wrapper'], version = '1.0.0') {
  await pickFile(wrapper, new File([new Uint8Array([0x1f, 0x8b, 8, 0])], 'network-1.0.0.tar.gz', { type: 'application/gzip' }))
  await wrapper.find('[data-testid="upload-namespace"]').setValue('platform')
  await wrapper.find('[data-testid="upload-name"]').setValue('network')
  await wrapper.find('[data-testid="upload-system"]').setValue('aws')
  await wrapper.find('[data-testid="upload-version"]').setValue(version)
}

beforeEach(() => localStorage.clear())
afterEach(() => {
  vi.useRealTimers()
  document.body.innerHTML = ''
})

describe('modules list', () => {
  it('passes the search and page to the API, shows source addresses and links to the detail', async () => {
    const { calls } = mockFetch({ 'GET /api/v1/modules': modulesPage })
    const { wrapper, router } = await mountApp('/modules?q=net&page=2', 'viewer')
    expect(wrapper.find('[data-testid="nav-modules"]').classes()).toContain('active')
    const call = calls.find((c) => c.path === '/api/v1/modules')!
    expect(call.search.get('q')).toBe('net')
    expect(call.search.get('page')).toBe('2')
    expect(call.search.get('per_page')).toBe('50')
    expect((wrapper.find('[data-testid="filter-q"]').element as HTMLInputElement).value).toBe('net')

    const rows = wrapper.findAll('[data-testid="module-row"]')
    expect(rows).toHaveLength(2)
    // The default origin's modules are written without their host; others with it.
    expect(rows[0]!.find('a').text()).toBe('platform/network/aws')
    expect(rows[0]!.find('a').attributes('href')).toBe('/modules/registry.terraform.io/platform/network/aws')
    expect(rows[1]!.find('a').text()).toBe('git.example.test/team/dns/google')
    const cells = rows[0]!.findAll('td').map((c) => c.text())
    expect(cells).toEqual(['platform/network/aws', '2', '1', '1.1.0', '3.6 kB'])
    expect(rows[1]!.findAll('td')[3]!.text()).toBe('—')
    expect(wrapper.find('[data-testid="page-range"]').text()).toBe('51–52 of 52')

    // Back one page: page 1 is dropped from the URL, and asked for.
    const previous = wrapper.findAll('.pagination button').find((b) => b.text().includes('Previous'))!
    await previous.trigger('click')
    await settle()
    expect(router.currentRoute.value.query).toEqual({ q: 'net' })
    expect(calls.filter((c) => c.path === '/api/v1/modules').at(-1)!.search.get('page')).toBe('1')

    // Following the link opens the module page.
    mockFetch({ [`GET ${DETAIL}`]: networkModule })
    await rows[0]!.find('a').trigger('click')
    await settle()
    expect(router.currentRoute.value.name).toBe('module')
    expect(wrapper.find('[data-testid="page-module"]').exists()).toBe(true)
    // A viewer is offered no upload.
    expect(wrapper.find('[data-testid="upload-module"]').exists()).toBe(false)
  })

  it('debounces the search box into the URL and says when nothing matches', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/modules': (c: Call) =>
        json(200, c.search.get('q') === 'nothing' ? { page: 1, per_page: 50, total: 0, items: [] } : modulesPage),
    })
    const { wrapper, router } = await mountApp('/modules', 'admin')
    expect(wrapper.find('[data-testid="upload-module"]').attributes('href')).toBe('/modules/upload')
    vi.useFakeTimers()
    await wrapper.find('[data-testid="filter-q"]').setValue('nothing')
    expect(router.currentRoute.value.query.q).toBeUndefined()
    await vi.advanceTimersByTimeAsync(350)
    vi.useRealTimers()
    await settle()
    expect(router.currentRoute.value.query.q).toBe('nothing')
    expect(calls.filter((c) => c.path === '/api/v1/modules').at(-1)!.search.get('q')).toBe('nothing')
    expect(wrapper.find('[data-testid="empty"]').text()).toBe('No module matches “nothing”.')
  })
})

describe('module upload', () => {
  it('refuses an empty form without a request, naming every missing field', async () => {
    const { calls } = mockFetch({})
    const { wrapper } = await mountApp('/modules/upload', 'admin')
    await wrapper.find('[data-testid="upload-form"]').trigger('submit')
    await settle()
    for (const [field, says] of [
      ['file', 'Choose the module archive'],
      ['namespace', 'Enter the namespace'],
      ['name', 'Enter the module name'],
      ['system', 'Enter the target system'],
      ['version', 'Enter the version'],
    ] as const) {
      const error = wrapper.find(`[data-testid="upload-${field}-error"]`)
      expect(error.text(), field).toContain(says)
      const input = wrapper.find(`[data-testid="upload-${field}"]`)
      expect(input.attributes('aria-invalid'), field).toBe('true')
      expect(input.attributes('aria-describedby'), field).toContain(error.attributes('id'))
    }
    expect(document.activeElement).toBe(wrapper.find('[data-testid="upload-file"]').element)
    expect(calls.some((c) => c.method === 'POST')).toBe(false)
  })

  it('uploads the archive with its address as a multipart form and shows the stored version', async () => {
    const { calls } = mockFetch({ 'POST /api/v1/modules': json(201, uploaded) })
    const { wrapper } = await mountApp('/modules/upload', 'admin')
    await fillUpload(wrapper)
    expect(wrapper.find('[data-testid="upload-preview"]').text()).toBe('Users will write source = "platform/network/aws".')
    await wrapper.find('[data-testid="upload-form"]').trigger('submit')
    await settle()

    const post = calls.find((c) => c.method === 'POST')!
    expect(post.path).toBe('/api/v1/modules')
    // The browser sets the multipart boundary: no Content-Type of our own.
    expect(post.headers['content-type']).toBeUndefined()
    expect(post.headers.authorization).toBe('Bearer token-admin')
    const form = post.form!
    expect(form.get('namespace')).toBe('platform')
    expect(form.get('name')).toBe('network')
    expect(form.get('system')).toBe('aws')
    expect(form.get('version')).toBe('1.0.0')
    // No host given: left out, so the server uses its default origin.
    expect(form.has('hostname')).toBe(false)
    expect((form.get('file') as File).name).toBe('network-1.0.0.tar.gz')

    const result = wrapper.find('[data-testid="upload-result"]')
    expect(result.attributes('role')).toBe('status')
    expect(result.find('h2').text()).toBe('Stored platform/network/aws 1.0.0')
    expect(wrapper.find('[data-testid="upload-h1"]').text()).toBe(uploaded.h1)
    expect(wrapper.find('[data-testid="upload-sha256"]').text()).toBe(uploaded.sha256)
    expect(wrapper.find('[data-testid="upload-files"]').text()).toBe('1')
    expect(wrapper.find('[data-testid="upload-module-link"]').attributes('href')).toBe(PAGE)
    expect(wrapper.find('[data-testid="upload-error"]').exists()).toBe(false)
    // Ready for the next version of the same module.
    expect((wrapper.find('[data-testid="upload-namespace"]').element as HTMLInputElement).value).toBe('platform')
    expect((wrapper.find('[data-testid="upload-version"]').element as HTMLInputElement).value).toBe('')
  })

  it('sends the origin host when one is given and says when the content was stored already', async () => {
    const { calls } = mockFetch({
      'POST /api/v1/modules': json(200, { ...uploaded, module: 'git.example.test/platform/network/aws', source_address: 'git.example.test/platform/network/aws' }),
    })
    const { wrapper } = await mountApp('/modules/upload', 'admin')
    await fillUpload(wrapper)
    await wrapper.find('[data-testid="upload-hostname"]').setValue('git.example.test')
    await wrapper.find('[data-testid="upload-form"]').trigger('submit')
    await settle()
    expect(calls.find((c) => c.method === 'POST')!.form!.get('hostname')).toBe('git.example.test')
    expect(wrapper.find('[data-testid="upload-result"] h2').text()).toBe('Already stored git.example.test/platform/network/aws 1.0.0')
    expect(wrapper.find('[data-testid="upload-module-link"]').attributes('href')).toBe('/modules/git.example.test/platform/network/aws')
  })

  it('shows a refused archive with the entry the server names, as an alert', async () => {
    const message = `the archive was refused: module registry.terraform.io/platform/network/aws 1.0.0: archive entry "../x.tf" is refused: its path contains '..'`
    mockFetch({ 'POST /api/v1/modules': json(400, { code: 'bad_request', message }) })
    const { wrapper } = await mountApp('/modules/upload', 'admin')
    await fillUpload(wrapper)
    await wrapper.find('[data-testid="upload-form"]').trigger('submit')
    await settle()
    const alert = wrapper.find('[data-testid="upload-error"]')
    expect(alert.attributes('role')).toBe('alert')
    expect(alert.text()).toContain('The server refused the upload.')
    expect(wrapper.find('[data-testid="upload-error-message"]').text()).toBe(message)
    expect(wrapper.find('[data-testid="upload-result"]').exists()).toBe(false)
    // The form keeps what was typed, to fix and send again.
    expect((wrapper.find('[data-testid="upload-version"]').element as HTMLInputElement).value).toBe('1.0.0')
  })

  it('explains a changed version (409) and a too large archive (413)', async () => {
    for (const [status, code, message, title] of [
      [409, 'conflict', 'module registry.terraform.io/platform/network/aws 1.0.0 is already stored with other content (h1:x=); a stored version never changes: upload a new version', 'This version is already stored with other content.'],
      [413, 'too_large', 'the archive is larger than 536870912 bytes', 'The archive is too large.'],
    ] as const) {
      mockFetch({ 'POST /api/v1/modules': json(status, { code, message }) })
      const { wrapper } = await mountApp('/modules/upload', 'admin')
      await fillUpload(wrapper)
      await wrapper.find('[data-testid="upload-form"]').trigger('submit')
      await settle()
      const alert = wrapper.find('[role="alert"][data-testid="upload-error"]')
      expect(alert.find('strong').text(), String(status)).toBe(title)
      expect(wrapper.find('[data-testid="upload-error-message"]').text()).toBe(message)
      wrapper.unmount()
      document.body.innerHTML = ''
    }
  })

  it('is for admins only', async () => {
    mockFetch({})
    const { wrapper } = await mountApp('/modules/upload', 'viewer')
    expect(wrapper.find('[data-testid="page-forbidden"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="upload-form"]').exists()).toBe(false)
    expect(wrapper.text()).toContain('Uploading modules needs the admin role.')
  })
})

describe('module detail', () => {
  it('shows the source address, a ready-to-paste block and every version with its origin and hashes', async () => {
    mockFetch({ [`GET ${DETAIL}`]: networkModule })
    const { wrapper } = await mountApp(PAGE, 'viewer')
    expect(wrapper.find('[data-testid="module-source"]').text()).toBe('platform/network/aws')
    expect(wrapper.find('[data-testid="module-snippet"]').text()).toBe(
      'module "network" {\n  source  = "platform/network/aws"\n  version = "1.1.0"\n}',
    )
    expect(wrapper.find('[data-testid="module-totals"]').text()).toContain('2 versions')

    // Newest first.
    const shown = wrapper.findAll('[data-testid^="module-version-"]').map((v) => v.attributes('data-testid'))
    expect(shown).toEqual(['module-version-1.1.0', 'module-version-1.0.0'])

    const old = wrapper.find('[data-testid="module-version-1.0.0"]')
    expect(old.find('[data-testid="status-1.0.0"]').text()).toBe('active')
    expect(old.find('[data-testid="source-1.0.0"]').text()).toBe('job')
    expect(old.find('[data-testid="files-1.0.0"]').text()).toBe('3')
    expect(old.text()).toContain('2.4 kB')
    expect(old.text()).toContain('by job:7')
    const commit = old.find('[data-testid="commit-1.0.0"]')
    expect(commit.text()).toBe('0123456')
    expect(commit.attributes('title')).toBe('0123456789abcdef0123456789abcdef01234567')
    expect(old.find('[data-testid="subdir-1.0.0"]').text()).toBe('modules/vpc')
    expect(old.find('[data-testid="location-1.0.0"]').text()).toBe('git::https://git.example.test/platform/network.git?ref=v1.0.0')
    expect(old.find('[data-testid="sha256-1.0.0"]').text()).toBe('a'.repeat(64))
    expect(old.find('[data-testid="h1-1.0.0"]').text()).toBe('h1:storedStoredStoredStoredStoredStoredStor=')
    expect(old.findAll('button').map((b) => b.attributes('title'))).toEqual(
      expect.arrayContaining([`Copy ${'a'.repeat(64)}`, 'Copy h1:storedStoredStoredStoredStoredStoredStor=']),
    )

    const upload = wrapper.find('[data-testid="module-version-1.1.0"]')
    expect(upload.find('[data-testid="source-1.1.0"]').text()).toBe('upload')
    expect(upload.find('[data-testid="location-1.1.0"]').text()).toBe('none (uploaded)')
    expect(upload.find('[data-testid="commit-1.1.0"]').exists()).toBe(false)
    expect(upload.find('[data-testid="subdir-1.1.0"]').exists()).toBe(false)
  })

  it('warns when the origin later served other content, and says the stored content stays', async () => {
    mockFetch({ [`GET ${DETAIL}`]: networkModule })
    const { wrapper } = await mountApp(PAGE, 'viewer')
    const warning = wrapper.find('[data-testid="changed-at-origin-1.0.0"]')
    expect(warning.exists()).toBe(true)
    expect(warning.classes()).toContain('banner-warn')
    const text = warning.text()
    expect(text).toContain('The origin later served other content for 1.0.0')
    expect(text).toContain('The stored content stays')
    expect(text).toContain('h1:storedStoredStoredStoredStoredStoredStor=')
    const entry = warning.find('[data-testid="changed-entry"]')
    expect(entry.text()).toContain('git::https://git.example.test/platform/network.git?ref=v1.0.0')
    expect(entry.text()).toContain('commit fedcba9')
    expect(entry.find('code[title="fedcba9876543210fedcba9876543210fedcba98"]').exists()).toBe(true)
    expect(entry.text()).toContain('h1:movedMovedMovedMovedMovedMovedMovedMovedMo=')
    const times = entry.findAll('time').map((t) => t.attributes('datetime'))
    expect(times.map((t) => Date.parse(t!) / 1000)).toEqual([1_767_312_000, 1_767_398_400])
    // The version whose content never changed has no warning.
    expect(wrapper.find('[data-testid="changed-at-origin-1.1.0"]').exists()).toBe(false)
  })

  it('offers a viewer no block, unblock or delete', async () => {
    const blocked = structuredClone(networkModule)
    blocked.versions[0]!.status = 'blocked'
    mockFetch({ [`GET ${DETAIL}`]: blocked })
    const { wrapper } = await mountApp(PAGE, 'viewer')
    expect(wrapper.find('[data-testid="module-version-1.0.0"]').exists()).toBe(true)
    for (const id of ['delete-module', 'block-1.1.0', 'unblock-1.0.0', 'delete-1.0.0', 'delete-1.1.0']) {
      expect(wrapper.find(`[data-testid="${id}"]`).exists(), id).toBe(false)
    }
    expect(mutatingButtons(wrapper.element as Element)).toEqual([])
    // Copying stays.
    expect(wrapper.findAll('button').some((b) => b.text() === 'Copy address')).toBe(true)
  })

  it('blocks a version after confirmation through PUT …/status and shows it blocked', async () => {
    let current: ModuleDetail = structuredClone(networkModule)
    const { calls } = mockFetch({
      [`GET ${DETAIL}`]: () => json(200, current),
      [`PUT ${DETAIL}/versions/1.0.0/status`]: (c: Call) => {
        current = structuredClone(current)
        current.versions[0]!.status = JSON.parse(c.body!).status
        const { changed_at_origin: _, ...version } = current.versions[0]!
        return json(200, version)
      },
    })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="block-1.0.0"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe(
      'Block platform/network/aws 1.0.0: the mirror leaves it out of the versions it lists and never serves or fetches it again.',
    )
    // 1.1.0 stays served: nothing to warn about.
    expect(wrapper.find('[data-testid="confirm-warning"]').exists()).toBe(false)
    expect(calls.some((c) => c.method === 'PUT')).toBe(false)
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    const put = calls.find((c) => c.method === 'PUT')!
    expect(put.path).toBe(`${DETAIL}/versions/1.0.0/status`)
    expect(JSON.parse(put.body!)).toEqual({ status: 'blocked' })
    expect(calls.filter((c) => c.method === 'GET' && c.path === DETAIL)).toHaveLength(2)
    expect(wrapper.find('[data-testid="status-1.0.0"]').text()).toBe('blocked')
    expect(wrapper.find('[data-testid="unblock-1.0.0"]').exists()).toBe(true)
    expect(wrapper.find('[data-testid="notice"]').text()).toBe('platform/network/aws 1.0.0 is now blocked.')

    // Unblock sets it active again.
    await wrapper.find('[data-testid="unblock-1.0.0"]').trigger('click')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(JSON.parse(calls.filter((c) => c.method === 'PUT').at(-1)!.body!)).toEqual({ status: 'active' })
    expect(wrapper.find('[data-testid="status-1.0.0"]').text()).toBe('active')
  })

  it('warns before blocking the last version served, and the snippet then names none', async () => {
    const one = structuredClone(networkModule)
    one.versions[1]!.status = 'blocked'
    mockFetch({ [`GET ${DETAIL}`]: one })
    const { wrapper } = await mountApp(PAGE, 'admin')
    expect(wrapper.find('[data-testid="module-snippet"]').text()).toContain('version = "1.0.0"')
    await wrapper.find('[data-testid="block-1.0.0"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-warning"]').text()).toContain(
      'It is the last version of platform/network/aws this mirror serves',
    )
  })

  it('deletes one version, then the whole module, each after confirmation', async () => {
    const { calls } = mockFetch({
      [`GET ${DETAIL}`]: networkModule,
      [`DELETE ${DETAIL}/versions/1.1.0`]: () => new Response(null, { status: 204 }),
      [`DELETE ${DETAIL}`]: () => new Response(null, { status: 204 }),
      'GET /api/v1/modules': { page: 1, per_page: 50, total: 0, items: [] },
    })
    const { wrapper, router } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="delete-1.1.0"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe('Delete platform/network/aws 1.1.0: 2 files, 1.2 kB')
    expect(wrapper.find('[data-testid="confirm-warning"]').text()).toBe('It was uploaded: only uploading it again brings it back.')
    await wrapper.find('[data-testid="cancel"]').trigger('click')
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)

    await wrapper.find('[data-testid="delete-1.1.0"]').trigger('click')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([`${DETAIL}/versions/1.1.0`])
    expect(wrapper.find('[data-testid="notice"]').text()).toBe('Deleted platform/network/aws 1.1.0.')

    await wrapper.find('[data-testid="delete-module"]').trigger('click')
    expect(wrapper.find('[data-testid="confirm-message"]').text()).toBe('Delete platform/network/aws: 2 versions, 3.6 kB')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path).at(-1)).toBe(DETAIL)
    expect(router.currentRoute.value.name).toBe('modules')
  })

  it('keeps the dialog open with the server error when an action fails', async () => {
    mockFetch({
      [`GET ${DETAIL}`]: networkModule,
      [`PUT ${DETAIL}/versions/1.1.0/status`]: json(404, { code: 'not_found', message: 'module registry.terraform.io/platform/network/aws 1.1.0 is not in this mirror' }),
    })
    const { wrapper } = await mountApp(PAGE, 'admin')
    await wrapper.find('[data-testid="block-1.1.0"]').trigger('click')
    await wrapper.find('[data-testid="confirm"]').trigger('submit')
    await settle()
    expect(wrapper.find('[data-testid="confirm-dialog"] [role="alert"]').text()).toBe(
      'module registry.terraform.io/platform/network/aws 1.1.0 is not in this mirror',
    )
  })
})
