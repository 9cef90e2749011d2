// Typed calls of the admin API. Paths, bodies and answers follow src/http/openapi.yaml.
import { client, type Query } from './client'
import type {
  About,
  ApiToken,
  AuditEntry,
  Job,
  JobDetail,
  LockRequest,
  Login,
  ModuleDetail,
  ModuleRef,
  ModuleSummary,
  ModuleVersion,
  NewApiToken,
  Paged,
  Plan,
  ProviderDetail,
  ProviderRef,
  ProviderSummary,
  Role,
  Stats,
  UploadedModule,
  User,
  VersionDetail,
  VersionStatus,
} from './types'

export * from './client'
export * from './types'

const enc = encodeURIComponent

function providerPath(p: ProviderRef): string {
  return `/providers/${enc(p.hostname)}/${enc(p.namespace)}/${enc(p.type)}`
}

function modulePath(m: ModuleRef): string {
  return `/modules/${enc(m.hostname)}/${enc(m.namespace)}/${enc(m.name)}/${enc(m.system)}`
}

export interface ModuleQuery extends Query {
  /** Substring of namespace/name/system. */
  q?: string
  page?: number
  per_page?: number
}

/** `POST /api/v1/modules`: an in-house module version and the address to store it under. */
export interface ModuleUpload {
  /** A .tar.gz, .tgz, .tar or .zip (the server recognises it by its content). */
  file: Blob
  /** The file name sent with it (a File's own name by default). */
  filename?: string
  /** Empty or left out: the server's default origin (`registry.default_origin`). */
  hostname?: string
  namespace: string
  name: string
  system: string
  version: string
}

/** The stored version, and whether this upload stored it (201) or it was there already (200). */
export interface ModuleUploadResult {
  module: UploadedModule
  created: boolean
}

export interface ProviderQuery extends Query {
  q?: string
  hostname?: string
  namespace?: string
  status?: VersionStatus | ''
  page?: number
  per_page?: number
}

export interface AuditQuery extends Query {
  actor?: string
  action?: string
  page?: number
  per_page?: number
}

export const api = {
  // before logging in (no session needed)
  about: () => client.request<About>('/about', { handleUnauthorized: false }),
  /** Creates the first admin with the setup link's one-time token; answers like `login`. */
  setup: (token: string, username: string, password: string) =>
    client.request<Login>('/setup', {
      method: 'POST',
      json: { token, username, password },
      handleUnauthorized: false,
    }),

  // auth
  login: (username: string, password: string) =>
    client.request<Login>('/auth/login', {
      method: 'POST',
      json: { username, password },
      handleUnauthorized: false,
    }),
  logout: () => client.request<void>('/auth/logout', { method: 'POST', handleUnauthorized: false }),
  me: () => client.request<User>('/auth/me'),
  /** Who `token` belongs to (a 401 is answered to the caller, not handled as a lost session). */
  meWith: (token: string) => client.request<User>('/auth/me', { token, handleUnauthorized: false }),

  // providers
  providers: (query: ProviderQuery = {}) =>
    client.request<Paged<ProviderSummary>>('/providers', { query }),
  provider: (p: ProviderRef) => client.request<ProviderDetail>(providerPath(p)),
  deleteProvider: (p: ProviderRef) => client.request<void>(providerPath(p), { method: 'DELETE' }),
  deleteVersion: (p: ProviderRef, version: string) =>
    client.request<void>(`${providerPath(p)}/versions/${enc(version)}`, { method: 'DELETE' }),
  setVersionStatus: (p: ProviderRef, version: string, status: VersionStatus) =>
    client.request<VersionDetail>(`${providerPath(p)}/versions/${enc(version)}/status`, {
      method: 'PUT',
      json: { status },
    }),

  // modules
  modules: (query: ModuleQuery = {}) => client.request<Paged<ModuleSummary>>('/modules', { query }),
  module: (m: ModuleRef) => client.request<ModuleDetail>(modulePath(m)),
  deleteModule: (m: ModuleRef) => client.request<void>(modulePath(m), { method: 'DELETE' }),
  deleteModuleVersion: (m: ModuleRef, version: string) =>
    client.request<void>(`${modulePath(m)}/versions/${enc(version)}`, { method: 'DELETE' }),
  setModuleVersionStatus: (m: ModuleRef, version: string, status: VersionStatus) =>
    client.request<ModuleVersion>(`${modulePath(m)}/versions/${enc(version)}/status`, {
      method: 'PUT',
      json: { status },
    }),
  /** A multipart upload (fields `file`, `hostname` when given, `namespace`, `name`, `system`, `version`). */
  uploadModule: async (u: ModuleUpload): Promise<ModuleUploadResult> => {
    const form = new FormData()
    const hostname = u.hostname?.trim()
    if (hostname) form.append('hostname', hostname)
    form.append('namespace', u.namespace)
    form.append('name', u.name)
    form.append('system', u.system)
    form.append('version', u.version)
    const filename = u.filename ?? (u.file instanceof File ? u.file.name : 'module.tar.gz')
    form.append('file', u.file, filename)
    const res = await client.send('/modules', { method: 'POST', form })
    return { module: (await res.json()) as UploadedModule, created: res.status === 201 }
  },

  // definitions
  /**
   * `POST /v1/lock` (outside the admin API; any signed-in user may call it): the complete
   * `.terraform.lock.hcl` as text. Pulling platforms through can take minutes.
   */
  lockFile: async (body: LockRequest, signal?: AbortSignal): Promise<string> => {
    const res = await client.send('/v1/lock', {
      method: 'POST',
      json: body,
      accept: 'text/plain, application/json',
      base: '',
      signal,
    })
    return res.text()
  },

  previewDefinitions: (hcl: string) =>
    client.request<Plan>('/definitions', { method: 'POST', text: hcl, query: { dry_run: true } }),
  enqueueDefinitions: (hcl: string) =>
    client.request<{ job: Job; plan: Plan }>('/definitions', { method: 'POST', text: hcl }),

  // jobs
  jobs: (query: { page?: number; per_page?: number } = {}) =>
    client.request<Paged<Job>>('/jobs', { query }),
  job: (id: number, signal?: AbortSignal) => client.request<JobDetail>(`/jobs/${id}`, { signal }),
  retryJob: (id: number) => client.request<Job>(`/jobs/${id}/retry`, { method: 'POST' }),
  cancelJob: (id: number) => client.request<Job>(`/jobs/${id}/cancel`, { method: 'POST' }),
  /** The job's `text/event-stream` (see `readEventStream`); the token goes in the header. */
  jobEvents: (id: number, signal?: AbortSignal) =>
    client.send(`/jobs/${id}/events`, { accept: 'text/event-stream', signal }),

  // stats, audit, config
  stats: () => client.request<Stats>('/stats'),
  audit: (query: AuditQuery = {}) => client.request<Paged<AuditEntry>>('/audit', { query }),
  config: () => client.request<Record<string, unknown>>('/config'),

  // users
  users: () => client.request<User[]>('/users'),
  createUser: (username: string, password: string, role: Role) =>
    client.request<User>('/users', { method: 'POST', json: { username, password, role } }),
  updateUser: (id: number, patch: { disabled?: boolean; role?: Role }) =>
    client.request<User>(`/users/${id}`, { method: 'PATCH', json: patch }),
  resetPassword: (id: number, password: string) =>
    client.request<void>(`/users/${id}/password`, { method: 'POST', json: { password } }),
  revokeSessions: (id: number) =>
    client.request<void>(`/users/${id}/revoke-sessions`, { method: 'POST' }),

  // API tokens
  tokens: () => client.request<ApiToken[]>('/tokens'),
  createToken: (name: string, role: Role, expiresInDays: number) =>
    client.request<NewApiToken>('/tokens', {
      method: 'POST',
      json: { name, role, expires_in_days: expiresInDays },
    }),
  revokeToken: (id: number) => client.request<void>(`/tokens/${id}`, { method: 'DELETE' }),
}
