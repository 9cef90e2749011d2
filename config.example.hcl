# tfmirror configuration. Every key is optional; the values shown are the defaults unless
# noted. Layering: defaults -> this file (--config FILE or TFM_CONFIG) -> TFM_* environment
# variables (named beside each key) -> command-line flags.
# Validate a file with: tfmirror --config FILE check-config

# Where the SQLite database, local blobs and generated TLS material live.   [TFM_DATA_DIR, --data-dir]
data_dir = "./data"

server {
  # HOST:PORT to listen on. Use 0.0.0.0:8443 to accept connections from other hosts.   [TFM_LISTEN, --listen]
  listen = "127.0.0.1:8443"

  # The address users reach the mirror at (e.g. behind a TLS-terminating proxy): used by the
  # UI's "Use this mirror" page, the first-admin setup link and the start-up instructions.
  # Unset: the address the browser used (the listen address at start-up).
  # [TFM_PUBLIC_URL, --public-url]
  # public_url = "https://mirror.example.com/"

  # Extra host names for the certificate made by `serve --self-signed-tls`
  # (localhost, 127.0.0.1 and ::1 are always included).
  hostnames = []

  # HTTP worker threads; 0 = one per CPU core.
  workers = 0

  # Seconds that in-flight requests get to finish after SIGTERM/SIGINT.
  shutdown_grace_seconds = 30

  # Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For / Forwarded headers
  # name the real client, for login throttling, the audit log and request logs. Empty: the
  # headers are ignored (nobody can pick their own address).
  # trusted_proxies = ["10.0.0.0/8"]

  # A request body may take this many seconds to get going and must then average this rate;
  # slower bodies (a trickle that holds a connection) are answered 408.
  body_grace_seconds = 10
  min_body_bytes_per_second = 16384

  # Serve HTTPS with your own certificate. Terraform and OpenTofu only talk to https://
  # mirrors; leave this out when a proxy or ingress terminates TLS in front of tfmirror.
  # tls {
  #   cert_file = "/etc/tfmirror/tls.crt"   [TFM_TLS_CERT_FILE]
  #   key_file  = "/etc/tfmirror/tls.key"   [TFM_TLS_KEY_FILE]
  # }
}

database {
  # PostgreSQL, for several replicas (they share the job queue, sessions, login throttling
  # and one upstream download per package). Unset: SQLite at `path`, one node. Move an
  # existing node with `tfmirror copy-db --to URL`.   [TFM_DATABASE_URL]
  # url = "postgres://tfmirror:PASSWORD@db.example.com:5432/tfmirror?sslmode=require"

  # SQLite file. Default: DATA_DIR/tfmirror.db.   [TFM_DATABASE_PATH]
  # path = "./data/tfmirror.db"

  # Connection pool size.
  max_connections = 8

  # SQLite: how long a writer waits for the database lock, in milliseconds.
  busy_timeout_ms = 5000

  # PostgreSQL: how long a request waits for a connection before it is answered 503 with
  # Retry-After (clients give up after 10 s), and the longest any statement may run.
  acquire_timeout_ms = 3000
  statement_timeout_ms = 5000
}

# Where provider archives live: exactly one of the two blocks below. The variable
# TFM_STORAGE_BACKEND ("local" or "s3") picks one without editing this file.
storage {
  # A directory (the default).
  local {
    # Default: DATA_DIR/blobs.   [TFM_STORAGE_PATH]
    # path = "./data/blobs"
  }

  # Or any S3-compatible object store (AWS S3, MinIO, SeaweedFS, ...): replace the local
  # block with this one.
  # s3 {
  #   # Bucket name (required).   [TFM_S3_BUCKET]
  #   bucket = "tf-providers"
  #   # Region.   [TFM_S3_REGION]
  #   region = "us-east-1"
  #   # Endpoint for S3-compatible servers, e.g. "http://minio:9000"; leave unset for AWS.   [TFM_S3_ENDPOINT]
  #   endpoint = "http://127.0.0.1:9000"
  #   # Path-style addressing (endpoint/bucket/key); MinIO and SeaweedFS need it.   [TFM_S3_PATH_STYLE]
  #   path_style = false
  #   # Key prefix inside the bucket, to share a bucket.   [TFM_S3_PREFIX]
  #   prefix = ""
  #   # Static credentials. Leave both unset to use the standard AWS chain
  #   # (AWS_* variables, profiles, EC2/ECS/EKS roles).   [TFM_S3_ACCESS_KEY_ID, TFM_S3_SECRET_ACCESS_KEY]
  #   access_key_id     = "AKIA..."
  #   secret_access_key = "..."
  #   # Answer archive downloads with a 302 to a short-lived presigned URL, so the bytes
  #   # flow from the object store straight to the client.   [TFM_S3_REDIRECT_DOWNLOADS]
  #   redirect_downloads = false
  #   # Lifetime of presigned URLs, in seconds (1 to 604800).
  #   presign_ttl_seconds = 300
  #   # Objects above this many MiB are uploaded in parts of this size (minimum 5).
  #   multipart_part_mib = 16
  #   # How long one request to the store, or the wait for the next bytes of an archive,
  #   # may take before clients get a 503 with Retry-After (1 to 3600; a part upload gets
  #   # one more second per MiB).
  #   timeout_seconds = 30
  # }
}

limits {
  # Largest provider archive accepted, in bytes (2 GiB).
  max_archive_bytes = 2147483648
  # Largest total unpacked size of an archive, in bytes (4 GiB): the zip-bomb guard.
  max_unpacked_bytes = 4294967296
  # Most entries an archive may have.
  max_zip_entries = 10000
  # Largest definitions file, and largest JSON body, the admin API accepts, in bytes.
  max_definitions_bytes = 1048576
  max_json_bytes = 65536
  # Several replicas: how long an archive request waits for a package another replica is
  # pulling through (it is then served from storage) before it is answered 503.
  follower_wait_seconds = 60
  # Module packages (fetched, cloned or uploaded): most bytes of files (512 MiB), most
  # files, directories and links (20000), and the longest one fetch may take (300 s).
  max_module_bytes = 536870912
  max_module_files = 20000
  module_fetch_seconds = 300
  # Largest air-gap bundle `POST /api/v1/bundles/import` accepts, in bytes (64 GiB); the
  # CLI's `tfmirror import-bundle` reads a file of any size.
  max_bundle_bytes = 68719476736
  # The most packages one `POST /v1/lock` (or `tfmirror lock`) request may pull through from
  # the origins while it waits; beyond it the request is a 409 (what it fetched stays stored).
  max_lock_pulls = 64
}

# Admin API authentication. There is no default user and no default password: create the
# first admin with `tfmirror create-admin --username NAME` (password from stdin or
# TFM_ADMIN_PASSWORD).
auth {
  # HS256 secret for session tokens, at least 32 bytes. Leave it unset to have one generated
  # once in DATA_DIR/jwt-secret (mode 0600); set it (better: TFM_JWT_SECRET) when several
  # replicas must accept each other's tokens.
  # jwt_secret = "..."   [TFM_JWT_SECRET]
  # How long a login lasts.   [TFM_SESSION_MINUTES]
  session_minutes = 60
  # Failed logins for one username from one client address before each further attempt
  # is delayed: 1 s, 2 s, 4 s, ... up to lockout_max_seconds. A username from any address,
  # and an address for any username, get four times as many. A success clears its username
  # (never the address).
  max_failures = 5
  lockout_max_seconds = 900
  # Counts start again after this many seconds without a failure.
  failure_window_seconds = 900
  # Who may read the mirror and registry protocols: "anyone", or "token" (an API token of any
  # role; create a `consumer` token for Terraform's `credentials "HOST" { token = ... }`
  # block). With "token", archive and SHA256SUMS links in the documents are signed URLs
  # valid for at least signed_url_seconds (Terraform sends no token when downloading them).
  read_access = "anyone"   # [TFM_READ_ACCESS]
  signed_url_seconds = 3600

  # Single sign-on to the admin UI through an OpenID Connect provider (Keycloak, Entra ID,
  # Okta, Dex, Google...): the authorization code flow with PKCE. Register a client with the
  # redirect URI PUBLIC_URL/api/v1/auth/oidc/callback (server.public_url, else the address
  # users open). Users are created at their first login; their role follows their groups at
  # every login; anyone in none of the groups is refused. Local accounts keep working beside
  # it (break-glass). The provider is the only other host contacted, even when offline.
  # oidc {
  #   issuer        = "https://login.example.com/realms/main"   [TFM_OIDC_ISSUER]
  #   client_id     = "tfmirror"                                [TFM_OIDC_CLIENT_ID]
  #   client_secret = "..."   (empty: a public client)          [TFM_OIDC_CLIENT_SECRET]
  #   scopes        = ["openid", "profile", "email"]
  #   # The claim with the groups (ID token, else userinfo), and which groups get which role.
  #   groups_claim  = "groups"
  #   admin_groups  = ["tfmirror-admins"]
  #   viewer_groups = ["platform-engineers"]
  #   # The user name: this claim, else email, else sub.
  #   username_claim = "preferred_username"
  #   # The login button says "Log in with ...".
  #   display_name  = "single sign-on"
  # }
}

cache {
  # Rendered index.json / VERSION.json documents are kept in memory. Changes made by the
  # server itself show at once; changes by another process (a `tfmirror import` while the
  # server runs) show within this many seconds.
  metadata_ttl_seconds = 10
  # How many providers' documents to keep (and, apart, how many modules' version lists).
  metadata_capacity = 10000
  # The most memory those documents may take, in MiB (providers and modules each, 1 to
  # 4096): a provider with thousands of versions weighs what its documents weigh, so memory
  # is bounded here, never by the size of the catalogue. Whichever limit comes first holds.
  # A provider of 10 versions x 4 platforms takes about 27 KB: 64 MiB keeps about 2,400 of
  # them; size it to the providers your clients ask for (bench/README.md, "Catalogue scale").
  metadata_capacity_mb = 64
}

# Outbound requests to upstream registries (proxies: HTTPS_PROXY, HTTP_PROXY and NO_PROXY are
# honoured). The system CA store is always trusted.
outbound {
  # Extra PEM CA certificates to trust, for a TLS-intercepting proxy or a private registry
  # with an internal CA.   [TFM_EXTRA_CA_FILE]
  # extra_ca_file = "/etc/tfmirror/extra-ca.pem"
}

# Air-gapped installs: no outbound request at all. No upstream is contacted (the blocks
# below are ignored, with a warning at start); the mirror serves what was imported or
# uploaded.   [TFM_OFFLINE, --offline]
offline = false

# The origin registries tfmirror may fetch from. No other host is ever contacted: a
# definitions file that names an origin without a block here is refused. With no upstream
# block at all, the two public registries below are the upstreams, with pull-through on and
# every package verified (this file spells that default out, with one setting changed per
# key to show it); one block replaces both.
upstream "registry.terraform.io" {
  # Where service discovery starts (URL/.well-known/terraform.json). Default: https://HOSTNAME.
  # Point it at a proxy registry (Artifactory, Nexus) to go through it.
  # url = "https://artifactory.example.com/artifactory/api/terraform/registry"

  # Bearer token for private registries; sent only to the registry's own host.
  # token = "..."

  # Timeout of metadata requests, and the longest a download may stall, in seconds.
  timeout_seconds = 30

  # Downloads from this upstream at once.
  concurrency = 4

  # Accept packages the registry does not sign (logged, and recorded as unsigned).
  allow_unsigned = false

  # When set, archives and checksum files may only come from these hosts.
  # download_hosts = ["releases.hashicorp.com"]

  # Pull-through: a mirror request for something not stored is fetched from this origin on
  # demand, verified like a job, stored and streamed to the client. Off by default.
  pull_through = true
  # Serve this registry's modules too (modules.v1): fetched by definitions' module blocks
  # and, with pull_through, on demand; their archives and git repositories only from
  # download_hosts when it is set.
  modules = true
  # Which providers may be fetched from this origin: NAMESPACE or NAMESPACE/TYPE, "*" allowed.
  # An empty allow list allows all; deny wins over allow. Denied providers are never fetched.
  allow = []
  deny  = []
  # Do not offer versions the mirror first saw less than this many hours ago (0 = off).
  min_release_age_hours = 0
  # How long upstream version lists and verified checksums stay in memory; when the origin
  # is down the last good version list is served regardless.
  metadata_ttl_seconds = 300
  # The longest a client's metadata request waits for this origin (clients give up after
  # 10 s); past it the last good version list, or a 404, is served.
  metadata_deadline_ms = 5000
}

upstream "registry.opentofu.org" {
  pull_through = true
}

# The Provider Registry Protocol (providers.v1) served over the stored packages.
registry {
  # The origin served under /v1/providers/; every origin is also served under
  # /registry/HOSTNAME/v1/providers/.   [TFM_REGISTRY_DEFAULT_ORIGIN]
  default_origin = "registry.terraform.io"
  # The mirror signs SHA256SUMS of imported/uploaded packages with this ASCII-armored secret
  # key; when unset one is generated as DATA_DIR/signing-key.asc (mode 0600).
  # signing_key_file = "/etc/tfmirror/signing-key.asc"   [TFM_REGISTRY_SIGNING_KEY_FILE]
}

# The background worker that fetches the packages listed in definitions files.
worker {
  # Run the worker inside `serve` (or run `tfmirror worker` alone). On PostgreSQL every
  # replica's worker shares the queue: items are leased to one worker at a time.   [TFM_WORKER_ENABLED]
  enabled = true
  # Items processed at once, across all upstreams.   [TFM_WORKER_CONCURRENCY]
  concurrency = 4
  # Attempts per item; only transient failures (connection errors, timeouts, 429, 5xx,
  # short bodies) are retried. Checksum and signature failures fail at once.
  max_attempts = 5
  # Retry delay: doubles per attempt from backoff_base_ms up to backoff_max_ms, with jitter;
  # a Retry-After from the upstream is honoured when longer.
  backoff_base_ms = 2000
  backoff_max_ms = 300000
  # A running item whose heartbeat is older than this (by the database's clock) is redone by
  # any worker: its worker died. Workers that stop cleanly give their items back at once.
  stale_after_seconds = 30
  # How often the worker looks for due items, in milliseconds.
  poll_interval_ms = 1000
}

log {
  # A tracing filter such as "info" or "tfmirror=debug,info". RUST_LOG wins when set.   [TFM_LOG_LEVEL]
  level = "info"
  # "text" or "json".   [TFM_LOG_FORMAT]
  format = "text"
}

# GET /metrics in the Prometheus text format.
metrics {
  enabled = true
  # When set, scrapes must send "Authorization: Bearer TOKEN".   [TFM_METRICS_TOKEN]
  # token = "..."
}
