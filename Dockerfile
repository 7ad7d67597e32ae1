# syntax=docker/dockerfile:1
# One recipe for every Failway service; SERVICE picks which one:
#   docker build --build-arg SERVICE=gateway -t ghcr.io/failway/gateway:0.1.0 .
# compose.yaml builds each service this way, with versions from .env.
#
# The runtime stage holds the service's production bundle (bundle/: its compiled code and every
# dependency it imports, made by scripts/bundle.ts) and its static files (gateway public/,
# route-config config/): no node_modules, TypeScript sources, declarations, source maps or tests.

ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS manifests
WORKDIR /app
# npm ci checks the lockfile against every workspace, so all their manifests come along.
COPY package.json package-lock.json ./
COPY packages/contract/package.json packages/contract/
COPY packages/telemetry/package.json packages/telemetry/
COPY packages/stack/package.json packages/stack/
COPY packages/testkit/package.json packages/testkit/
COPY services/rail-sim/package.json services/rail-sim/
COPY services/route-config/package.json services/route-config/
COPY services/departures/package.json services/departures/
COPY services/gateway/package.json services/gateway/

FROM manifests AS build
ARG SERVICE
RUN test -n "${SERVICE}" || (echo 'build with --build-arg SERVICE=<rail-sim|route-config|departures|gateway>' >&2; exit 1)
# --ignore-scripts: the image already has Node 24, so the dev dependency `node` (whose preinstall
# downloads Node 24 for machines that lack it) must not fetch a second one. No other dependency
# needs its install script (package.json allowScripts: protobufjs, cpu-features, ssh2 and esbuild,
# whose script only checks the binary its platform package brings, are off).
# Without its preinstall, npm links no node_modules/.bin/node, so npx uses the image's node.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY scripts/bundle.ts scripts/
COPY packages/contract/ packages/contract/
COPY packages/telemetry/ packages/telemetry/
COPY services/${SERVICE}/ services/${SERVICE}/
# tsc -b compiles and type-checks the service, following its project references to
# packages/telemetry and packages/contract; scripts/bundle.ts bundles the compiled entry points
# with everything they import. The output tree /out is exactly what the runtime stage gets: the
# service's manifest, bundle/ and its data folders.
RUN npx tsc -b packages/contract "services/${SERVICE}" \
  && node scripts/bundle.ts "${SERVICE}" \
  && mkdir -p "/out/services/${SERVICE}" \
  && cp "services/${SERVICE}/package.json" "/out/services/${SERVICE}/" \
  && cp -R "services/${SERVICE}/bundle" "/out/services/${SERVICE}/" \
  && for data in public config; do \
       if [ -d "services/${SERVICE}/${data}" ]; then cp -R "services/${SERVICE}/${data}" "/out/services/${SERVICE}/"; fi; \
     done \
  && find /out -name '*.d.ts' -delete -o -name '*.map' -delete -o -name '*.tsbuildinfo' -delete

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG SERVICE
ARG VERSION=0.1.0
# tini is PID 1: it forwards SIGTERM to node (graceful shutdown) and reaps zombies. npm is not
# needed to run a service, so it leaves the image.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
  && rm -rf /var/lib/apt/lists/* /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx
# NODE_OPTIONS: V8's heap sized for the published memory limits (160M), not from the host; MALLOC_*:
# glibc's malloc keeps less freed memory; the same as compose, Kubernetes and npm start
# (packages/stack SERVICE_MEMORY_ENV, docs/performance.md).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=64 --max-semi-space-size=4" \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    HOST=0.0.0.0 \
    SERVICE_VERSION=${VERSION}
WORKDIR /app
# Owned by root and read-only to the `node` user the process runs as.
COPY --from=build /out/ ./
WORKDIR /app/services/${SERVICE}
USER node
LABEL org.opencontainers.image.title="failway-${SERVICE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/failway/failway"
ENTRYPOINT ["/usr/bin/tini", "--"]
# The same command as `npm run start:bundle`: telemetry is loaded before the app so that the
# tracer, propagator and context manager are in place when it starts.
CMD ["node", "--import", "./bundle/instrumentation.js", "bundle/main.js"]
