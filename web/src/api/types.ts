// Friendly names for the schemas generated from src/http/openapi.yaml (`npm run gen:api`).
import type { components } from './schema'

type S = components['schemas']

export type Role = S['Role']
export type VersionStatus = S['VersionStatus']
/** `page`, `per_page` and `total`, as every paginated answer (ProviderPage, JobPage, AuditPage) has them. */
export type Page = Omit<S['JobPage'], 'items'>
export type Paged<T> = Page & { items: T[] }
export type Login = S['Login']
/** `GET /api/v1/about`: where users reach the mirror, HTTPS, whether the first admin is missing. */
export type About = S['About']
/** Single sign-on (OpenID Connect) when the server has it: the button's name and where it starts. */
export type Sso = NonNullable<About['sso']>
export type User = S['User']
/** `POST /v1/lock`: the providers (or `.tf` files naming them), platforms, an existing lock file. */
export type LockRequest = S['LockRequest']
export type ApiToken = S['ApiToken']
export type NewApiToken = S['NewApiToken']
export type ProviderSummary = S['ProviderSummary']
export type Package = S['Package']
export type VersionDetail = S['VersionDetail']
export type ProviderDetail = S['ProviderDetail']
export type ModuleSummary = S['ModuleSummary']
export type ModuleVersion = S['ModuleVersion']
export type ModuleConflict = S['ModuleConflict']
export type ModuleVersionDetail = S['ModuleVersionDetail']
export type ModuleDetail = S['ModuleDetail']
export type UploadedModule = S['UploadedModule']
/** Where a package or module version came from: import, upload, job, pull-through. */
export type PackageSource = S['PackageSource']
export type Plan = S['Plan']
export type PlanItem = Plan['items'][number]
/** One module version a plan fetches: `module` is HOST/NAMESPACE/NAME/SYSTEM. */
export type PlanModule = Plan['modules'][number]
export type Job = S['Job']
export type JobStatus = Job['status']
export type JobItem = S['JobItem']
export type JobItemStatus = JobItem['status']
/** `provider` (a package: `platform` set) or `module` (`provider` holds HOST/NAMESPACE/NAME/SYSTEM). */
export type JobItemKind = JobItem['kind']
export type JobDetail = S['JobDetail']
export type Stats = S['Stats']
export type AuditEntry = S['AuditEntry']
export type ValidationErrorBody = S['ValidationError']

export interface ProviderRef {
  hostname: string
  namespace: string
  type: string
}

export interface ModuleRef {
  hostname: string
  namespace: string
  name: string
  system: string
}

/**
 * The origin whose modules are written without their host (`source = "NAMESPACE/NAME/SYSTEM"`):
 * Terraform's default registry, and the server's default `registry.default_origin`. The module
 * detail says the server's own answer (`source_address`); the list has only the addresses.
 */
export const DEFAULT_MODULE_HOST = 'registry.terraform.io'

export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled']

export function isJobFinished(job: Pick<Job, 'status'>): boolean {
  return FINISHED_JOB_STATUSES.includes(job.status)
}

function count(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0
}

/**
 * Items done out of the job's total: succeeded + skipped + failed + cancelled_items (`cancelled`
 * is the job's flag, not a count), never more than the total (counts read while the server
 * updates them may add up to more).
 */
export function jobItemsDone(
  job: Pick<Job, 'succeeded' | 'skipped' | 'failed' | 'cancelled_items' | 'total'>,
): number {
  return Math.min(
    count(job.total),
    count(job.succeeded) + count(job.skipped) + count(job.failed) + count(job.cancelled_items),
  )
}

export function providerAddress(p: ProviderRef): string {
  return `${p.hostname}/${p.namespace}/${p.type}`
}

/** What users write as `source`: NAMESPACE/NAME/SYSTEM for the default origin, else with the host. */
export function moduleSource(m: ModuleRef): string {
  const path = `${m.namespace}/${m.name}/${m.system}`
  return m.hostname === DEFAULT_MODULE_HOST ? path : `${m.hostname}/${path}`
}

/** A module address HOST/NAMESPACE/NAME/SYSTEM (a job item's, a plan's) split up, or null. */
export function parseModuleAddress(address: string): ModuleRef | null {
  const parts = address.split('/')
  if (parts.length !== 4 || parts.some((p) => p === '')) return null
  const [hostname, namespace, name, system] = parts as [string, string, string, string]
  return { hostname, namespace, name, system }
}
