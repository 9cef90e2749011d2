import type { JobDetail, ModuleDetail, Package, ProviderDetail, Stats } from '../src/api'

const pkg = (version: string, os: string, arch: string, size: number, source: 'job' | 'import' = 'job'): Package => ({
  os,
  arch,
  filename: `terraform-provider-null_${version}_${os}_${arch}.zip`,
  size,
  sha256: `${version}${os}${arch}`.padEnd(64, '0'),
  h1: `h1:${version}-${os}-${arch}=`,
  zh: `zh:${version}${os}${arch}`.padEnd(67, 'a'),
  source,
  source_detail: source === 'job' ? 'job 7' : null,
  signing_key_id: source === 'job' ? '34365D9472D7468F' : null,
  downloads: 3,
  created_at: '2026-01-02 03:04:05',
})

export const nullProvider: ProviderDetail = {
  hostname: 'registry.terraform.io',
  namespace: 'hashicorp',
  type: 'null',
  versions: [
    {
      version: '3.2.1',
      status: 'active',
      created_at: '2026-01-02 03:04:05',
      packages: [pkg('3.2.1', 'linux', 'amd64', 6_200_000), pkg('3.2.1', 'darwin', 'arm64', 6_100_000)],
    },
    {
      version: '3.1.0',
      status: 'blocked',
      created_at: '2025-12-01 10:00:00',
      packages: [pkg('3.1.0', 'linux', 'amd64', 5_000_000, 'import')],
    },
  ],
}

export const stats: Stats = {
  providers: 2,
  versions: 3,
  packages: 5,
  bytes: 40_100_000,
  origins: [
    { hostname: 'registry.terraform.io', packages: 4, bytes: 30_000_000 },
    { hostname: 'registry.opentofu.org', packages: 1, bytes: 10_100_000 },
  ],
  top_providers: [{ provider: 'registry.terraform.io/hashicorp/null', packages: 3, bytes: 17_300_000 }],
  downloads_per_day: [
    { day: '2026-01-02', downloads: 5 },
    { day: '2026-01-01', downloads: 2 },
    { day: '2026-01-03', downloads: 9 },
  ],
  upstream: [
    // Failed a lot since start, but recovered: healthy now.
    {
      hostname: 'registry.terraform.io',
      pull_through: true,
      fetches: 100,
      failures: 60,
      recent_requests: 20,
      recent_failures: 0,
      window_minutes: 15,
      last_failure_at: 1_767_225_600,
    },
    {
      hostname: 'registry.opentofu.org',
      pull_through: false,
      fetches: 10,
      failures: 4,
      recent_requests: 10,
      recent_failures: 4,
      window_minutes: 15,
      last_failure_at: 1_767_229_200,
    },
  ],
}

export function jobDetail(status: JobDetail['job']['status'], itemStatus: 'running' | 'succeeded' | 'failed' = 'running'): JobDetail {
  const finished = status !== 'running' && status !== 'pending'
  return {
    job: {
      id: 7,
      status,
      created_by: 'user:alice',
      created_at: 1_767_225_600,
      total: 2,
      pending: 0,
      running: finished ? 0 : 1,
      succeeded: 1,
      skipped: 0,
      failed: itemStatus === 'failed' ? 1 : 0,
      cancelled_items: 0,
      cancelled: status === 'cancelled',
      bytes_done: 9_000_000,
      finished_at: finished ? 1_767_225_900 : null,
    },
    items: [
      {
        id: 1,
        kind: 'provider',
        provider: 'registry.terraform.io/hashicorp/null',
        version: '3.2.1',
        platform: 'linux_amd64',
        status: 'succeeded',
        attempts: 1,
        last_error: null,
        bytes_done: 6_200_000,
        bytes_total: 6_200_000,
      },
      {
        id: 2,
        kind: 'provider',
        provider: 'registry.terraform.io/hashicorp/null',
        version: '3.2.1',
        platform: 'darwin_arm64',
        status: itemStatus,
        attempts: itemStatus === 'failed' ? 3 : 1,
        last_error: itemStatus === 'failed' ? 'sha256 mismatch: expected a, got b' : null,
        bytes_done: 2_800_000,
        bytes_total: 6_100_000,
      },
    ],
  }
}

/**
 * registry.terraform.io/platform/network/aws: 1.1.0 uploaded; 1.0.0 fetched by a job from a git
 * tag that later moved (the origin then served other content, which the mirror did not take).
 */
export const networkModule: ModuleDetail = {
  hostname: 'registry.terraform.io',
  namespace: 'platform',
  name: 'network',
  system: 'aws',
  source_address: 'platform/network/aws',
  versions: [
    {
      version: '1.0.0',
      status: 'active',
      size: 2_400,
      sha256: 'a'.repeat(64),
      h1: 'h1:storedStoredStoredStoredStoredStoredStor=',
      files: 3,
      subdir: 'modules/vpc',
      source: 'job',
      location: 'git::https://git.example.test/platform/network.git?ref=v1.0.0',
      commit_sha: '0123456789abcdef0123456789abcdef01234567',
      created_by: 'job:7',
      created_at: 1_767_225_600,
      conflicts: 1,
      changed_at_origin: [
        {
          location: 'git::https://git.example.test/platform/network.git?ref=v1.0.0',
          commit_sha: 'fedcba9876543210fedcba9876543210fedcba98',
          sha256: 'b'.repeat(64),
          h1: 'h1:movedMovedMovedMovedMovedMovedMovedMovedMo=',
          first_seen: 1_767_312_000,
          last_seen: 1_767_398_400,
        },
      ],
    },
    {
      version: '1.1.0',
      status: 'active',
      size: 1_200,
      sha256: 'c'.repeat(64),
      h1: 'h1:uploadUploadUploadUploadUploadUploadUploa=',
      files: 2,
      subdir: '',
      source: 'upload',
      location: null,
      commit_sha: null,
      created_by: 'user:alice',
      created_at: 1_767_484_800,
      conflicts: 0,
      changed_at_origin: [],
    },
  ],
}
