// Air-gap bundles in the admin API (/api/v1/bundles): the export as a download, the import
// with upload progress and its report, the mirror's signing key.
import { ApiError, client, errorFromResponse } from './client'
import type { components } from './schema'

type S = components['schemas']

/** What an import did, entry by entry (200). */
export type BundleReport = S['BundleReport']
export type BundleEntry = S['BundleEntry']
/** Why a bundle was refused (422): the entry that failed a check; nothing was imported. */
export type BundleRefusal = S['BundleRefusal']

/** Everything stored (not blocked), or what a definitions file lists. */
export type BundleSelection = { all: true } | { definitions: string }

export type BundleImportResult = { kind: 'imported'; report: BundleReport } | { kind: 'refused'; refusal: BundleRefusal }

export interface ExportedBundle {
  blob: Blob
  /** The name the server gave it (`Content-Disposition`), or a fallback. */
  filename: string
}

/** The file name of a `Content-Disposition: attachment; filename="…"` header, if it names a safe one. */
export function attachmentName(header: string | null): string | null {
  const m = /filename="([^"/\\]+)"/.exec(header ?? '')
  return m ? m[1]! : null
}

/** The mirror's ASCII-armored public key (any signed-in user). */
export async function signingKey(): Promise<string> {
  return client.request<string>('/bundles/signing-key', { accept: 'application/pgp-keys' })
}

/**
 * `POST /bundles/export`. The API takes the session token in the `Authorization` header
 * only, so a plain link cannot download it: the body is read here chunk by chunk (reporting
 * the bytes received) and kept in the browser's memory as a Blob until it is saved, so a
 * bundle costs its size in browser memory while it downloads.
 */
export async function exportBundle(
  selection: BundleSelection,
  onBytes: (received: number) => void = () => {},
  signal?: AbortSignal,
): Promise<ExportedBundle> {
  const res = await client.send('/bundles/export', {
    method: 'POST',
    json: selection,
    accept: 'application/x-tar',
    signal,
  })
  const filename = attachmentName(res.headers.get('Content-Disposition')) ?? 'tfmirror.bundle'
  const parts: BlobPart[] = []
  let received = 0
  if (res.body) {
    const reader = res.body.getReader()
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>
      try {
        chunk = await reader.read()
      } catch (e) {
        if (e instanceof DOMException && e.name === 'AbortError') throw e
        // The server aborts the stream when the export fails part-way.
        throw new ApiError(0, 'network', `The export stopped after ${received} bytes: the bundle is incomplete and was not saved.`)
      }
      if (chunk.done) break
      parts.push(chunk.value as Uint8Array<ArrayBuffer>)
      received += chunk.value.byteLength
      onBytes(received)
    }
  }
  return { blob: new Blob(parts, { type: 'application/x-tar' }), filename }
}

export interface ImportProgress {
  loaded: number
  total: number
}

export interface ImportHandle {
  result: Promise<BundleImportResult>
  abort: () => void
}

/**
 * `POST /bundles/import` (multipart: `file`, `trusted_key`) with XMLHttpRequest, for its
 * upload progress. Resolves with the report (200) or the refusal (422); other failures are
 * ApiErrors as with the rest of the client (a 401 ends the session).
 */
export function importBundle(file: Blob, trustedKey: string, onProgress: (p: ImportProgress) => void): ImportHandle {
  const xhr = new XMLHttpRequest()
  const result = new Promise<BundleImportResult>((resolve, reject) => {
    const form = new FormData()
    form.append('trusted_key', trustedKey)
    form.append('file', file, file instanceof File ? file.name : 'mirror.bundle')
    xhr.open('POST', `${client.config.baseUrl}/bundles/import`)
    xhr.setRequestHeader('Accept', 'application/json')
    const token = client.config.getToken()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size })
    xhr.onerror = () =>
      reject(
        new ApiError(
          0,
          'network',
          'The upload did not complete: the server closed the connection (the bundle may be larger than it accepts) or could not be reached.',
        ),
      )
    xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'))
    xhr.onload = async () => {
      const body = xhr.responseText
      if (xhr.status === 200) {
        resolve({ kind: 'imported', report: JSON.parse(body) as BundleReport })
        return
      }
      if (xhr.status === 422) {
        try {
          const refusal = JSON.parse(body) as BundleRefusal
          if (typeof refusal.entry === 'string' && typeof refusal.why === 'string') {
            resolve({ kind: 'refused', refusal })
            return
          }
        } catch {
          // not the refusal: an error like any other
        }
      }
      const headers = new Headers()
      const retry = xhr.getResponseHeader('Retry-After')
      if (retry) headers.set('Retry-After', retry)
      const err = await errorFromResponse(
        new Response(body, { status: xhr.status >= 400 && xhr.status <= 599 ? xhr.status : 500, statusText: xhr.statusText, headers }),
      )
      if (xhr.status === 401) client.config.onUnauthorized(err)
      reject(err)
    }
    xhr.send(form)
  })
  return { result, abort: () => xhr.abort() }
}
