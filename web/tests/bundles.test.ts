import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ApiError } from '../src/api'
import { attachmentName, exportBundle } from '../src/api/bundles'
import { mockFetch, mountApp, settle } from './helpers'

const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n'

/** A body that sends `chunks`, then ends (or fails, as a server aborting the stream does). */
function chunked(chunks: string[], fails = false): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(encoder.encode(chunk))
      if (fails) c.error(new TypeError('network error'))
      else c.close()
    },
  })
}

/** A Blob's text (jsdom's Blob has no text()). */
function readBlob(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(String(reader.result))
    reader.onerror = () => reject(reader.error)
    reader.readAsText(blob)
  })
}

beforeEach(() => localStorage.clear())
afterEach(() => {
  document.body.innerHTML = ''
})

describe('bundle export', () => {
  it('keeps every chunk, counts them and takes the name the server gave', async () => {
    const { calls } = mockFetch({
      'POST /api/v1/bundles/export': () =>
        new Response(chunked(['manifest', '.json', 'blob']), {
          status: 200,
          headers: { 'Content-Type': 'application/x-tar', 'Content-Disposition': 'attachment; filename="tfmirror-20261207T101500.bundle"' },
        }),
    })
    const seen: number[] = []
    const bundle = await exportBundle({ all: true }, (n) => seen.push(n))
    expect(bundle.filename).toBe('tfmirror-20261207T101500.bundle')
    expect(await readBlob(bundle.blob)).toBe('manifest.jsonblob')
    expect(bundle.blob.size).toBe(17)
    expect(seen.at(-1)).toBe(17)
    expect(JSON.parse(calls[0]!.body!)).toEqual({ all: true })
  })

  it('says the bundle is incomplete when the stream breaks off', async () => {
    mockFetch({
      'POST /api/v1/bundles/export': () => new Response(chunked(['manifest'], true), { status: 200 }),
    })
    const failed = await exportBundle({ definitions: 'provider "x/y" {}' }).catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(ApiError)
    expect((failed as ApiError).message).toContain('incomplete')
  })

  it('never takes a path from Content-Disposition', () => {
    expect(attachmentName('attachment; filename="../../etc/passwd"')).toBeNull()
    expect(attachmentName(null)).toBeNull()
  })
})

describe('Bundles page', () => {
  it('shows a viewer the key, with no export, import or nav link', async () => {
    mockFetch({ 'GET /api/v1/bundles/signing-key': () => new Response(KEY, { status: 200, headers: { 'Content-Type': 'application/pgp-keys' } }) })
    const { wrapper } = await mountApp('/bundles', 'viewer')
    await settle()
    expect(wrapper.find('[data-testid="bundle-signing-key"]').text()).toContain('BEGIN PGP PUBLIC KEY BLOCK')
    expect(wrapper.find('[data-testid="bundle-export-form"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="bundle-import-form"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="nav-bundles"]').exists()).toBe(false)
    expect(wrapper.find('[data-testid="bundle-admin-only"]').text()).toContain('admin role')
  })

  it('refuses to send an import without a bundle or with something that is not a key', async () => {
    const { calls } = mockFetch({
      'GET /api/v1/bundles/signing-key': () => new Response(KEY, { status: 200 }),
    })
    const { wrapper } = await mountApp('/bundles', 'admin')
    await settle()
    expect(wrapper.find('[data-testid="nav-bundles"]').exists()).toBe(true)
    await wrapper.find('[data-testid="bundle-key"]').setValue('not a key')
    await wrapper.find('[data-testid="bundle-import-form"]').trigger('submit')
    const form = wrapper.find('[data-testid="bundle-import-form"]').text()
    expect(form).toContain('Choose the bundle file to import.')
    expect(form).toContain('not an ASCII-armored public key')
    expect(calls.filter((c) => c.path === '/api/v1/bundles/import')).toHaveLength(0)
  })
})
