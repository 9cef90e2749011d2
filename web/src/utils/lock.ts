// What the Lock file page sends to `POST /v1/lock`, and how it reads the server's errors.
import type { LockRequest } from '../api/types'

/** The platforms offered as checkboxes; others go in the free entry. */
export const COMMON_PLATFORMS = ['linux_amd64', 'linux_arm64', 'darwin_amd64', 'darwin_arm64', 'windows_amd64'] as const

/** The name the pasted text goes by in the server's messages ("pasted text: line 3: ..."). */
export const PASTED_NAME = 'pasted text'

export interface ConfigFile {
  name: string
  text: string
}

/**
 * The checked platforms and those typed in the free entry (separated by commas or white
 * space), in that order, each once. None means the server's default (every platform).
 */
export function platformList(checked: readonly string[], free: string): string[] {
  const out: string[] = []
  for (const p of [...checked, ...free.split(/[\s,]+/)]) {
    const t = p.trim()
    if (t && !out.includes(t)) out.push(t)
  }
  return out
}

/**
 * The request body: the pasted text (when not blank) and every uploaded file as
 * `configuration`; an existing lock file only when not blank; `upgrade` only with one.
 */
export function lockRequest(input: {
  pasted: string
  files: readonly ConfigFile[]
  platforms: readonly string[]
  lockFile: string
  upgrade: boolean
}): LockRequest {
  const configuration: ConfigFile[] = []
  if (input.pasted.trim() !== '') configuration.push({ name: PASTED_NAME, text: input.pasted })
  configuration.push(...input.files.map((f) => ({ name: f.name, text: f.text })))
  const withLock = input.lockFile.trim() !== ''
  const body: LockRequest = { configuration, platforms: [...input.platforms], upgrade: withLock && input.upgrade }
  if (withLock) body.lock_file = input.lockFile
  return body
}

/** Where a server message points: `NAME: line N: ...` for a configuration file. */
export interface ErrorPlace {
  file: string
  line: number
}

export function errorPlace(message: string, files: readonly string[]): ErrorPlace | null {
  // The longest name first: "a.tf" must not win over "modules/a.tf" by prefix.
  for (const file of [...files].sort((a, b) => b.length - a.length)) {
    const m = message.startsWith(`${file}: line `) ? /^(\d+):/.exec(message.slice(file.length + 7)) : null
    if (m) return { file, line: Number.parseInt(m[1]!, 10) }
  }
  return null
}

/** `12 s`, `1 min 05 s`: how long the request has been running. */
export function elapsed(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  if (s < 60) return `${s} s`
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
}
