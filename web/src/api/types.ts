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
export type ApiToken = S['ApiToken']
export type NewApiToken = S['NewApiToken']
export type ProviderSummary = S['ProviderSummary']
export type Package = S['Package']
export type VersionDetail = S['VersionDetail']
export type ProviderDetail = S['ProviderDetail']
export type Plan = S['Plan']
export type PlanItem = Plan['items'][number]
export type Job = S['Job']
export type JobStatus = Job['status']
export type JobItem = S['JobItem']
export type JobItemStatus = JobItem['status']
export type JobDetail = S['JobDetail']
export type Stats = S['Stats']
export type AuditEntry = S['AuditEntry']
export type ValidationErrorBody = S['ValidationError']

export interface ProviderRef {
  hostname: string
  namespace: string
  type: string
}

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
