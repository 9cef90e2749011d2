# syntax=docker/dockerfile:1
#
# tfmirror container image: the admin UI built with Node 20, the server built with Rust 1.95,
# run from debian:bookworm-slim as an unprivileged user. Every build step is one the README
# and CI also run: `npm ci`, `npm run build`, `cargo build --release --locked`.
#
#   docker build -t tfmirror:0.1.0 .
#   docker run --rm -p 8080:8080 -v tfmirror-data:/data tfmirror:0.1.0
#
# The container speaks plain HTTP on 8080: put it behind a reverse proxy or an Ingress that
# terminates TLS (Terraform and OpenTofu only use https:// mirrors), or give it a certificate
# with TFM_TLS_CERT_FILE / TFM_TLS_KEY_FILE.

# ---- web: the admin UI (web/ -> web/dist) -------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
# The lock file first, so the npm layer is reused while only sources change.
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# ---- build: the release binary, with web/dist embedded (rust-embed) -----------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY migrations/ migrations/
COPY src/ src/
COPY --from=web /src/web/dist/ web/dist/
# sqlx runs its queries at run time: no DATABASE_URL or offline query data is needed here.
# The cache mounts keep the crates.io downloads and compiled dependencies between builds
# (BuildKit); target/ lives in a cache mount, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0755 target/release/tfmirror /out/tfmirror

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim

# Set by the release build: --build-arg VERSION=... --build-arg SOURCE_URL=https://<the repository>
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="tfmirror" \
      org.opencontainers.image.description="A caching, verifying provider mirror for Terraform and OpenTofu" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# ca-certificates: TLS to the upstream registries and S3. curl: the HEALTHCHECK only. git:
# modules whose origin names a git repository (`git::https://...`) are cloned with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl git \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged UID/GID (the Helm chart's securityContext uses the same numbers).
RUN groupadd --system --gid 10001 tfmirror \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin tfmirror \
    && mkdir -p /data \
    && chown 10001:10001 /data \
    && chmod 0750 /data

COPY --from=build /out/tfmirror /usr/local/bin/tfmirror

# The SQLite database (/data/tfmirror.db), local blobs (unless S3 is used), the generated
# jwt-secret and signing-key.asc, and temp files of downloads and uploads.
VOLUME ["/data"]
WORKDIR /data

ENV TFM_DATA_DIR=/data \
    TFM_LISTEN=0.0.0.0:8080 \
    TFM_LOG_FORMAT=json

USER 10001:10001
EXPOSE 8080

# The port follows TFM_LISTEN; plain HTTP first, then HTTPS (self-signed allowed) for a
# container given its own certificate.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${TFM_LISTEN##*:}/healthz" \
        || curl -fsSk -o /dev/null "https://127.0.0.1:${TFM_LISTEN##*:}/healthz" \
        || exit 1

ENTRYPOINT ["tfmirror"]
CMD ["serve"]
