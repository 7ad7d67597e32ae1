#!/usr/bin/env bash
# Builds the Failway OpenTelemetry Collector from observability/otel-collector/builder-config.yaml
# with the official builder (ocb) and prints the binary's path. The build takes minutes, so the
# binary is cached outside the clone, keyed by the manifest's content: edit the manifest and the
# next run builds again. Concurrent runs (two CI clones on one machine) wait for each other on a
# lock and build into their own temporary folder, so they never write the same path.
#
#   scripts/build-collector.sh          # build if needed, print the binary's path
#   scripts/build-collector.sh --path   # print the path only; exit 1 when it is not built yet
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST="${ROOT}/observability/otel-collector/builder-config.yaml"
# The builder's version must match the core components' version in the manifest.
OCB_VERSION="$(sed -n 's#.*go.opentelemetry.io/collector/receiver/otlpreceiver \(v[0-9.]*\).*#\1#p' "${MANIFEST}")"
CACHE="${FAILWAY_CACHE:-${HOME}/.cache/failway}"
hash="$(sha256sum "${MANIFEST}" | cut -c1-16)"
out="${CACHE}/otelcol-${hash}"
bin="${out}/otelcol-failway"
if [[ "${1:-}" == "--path" ]]; then
  echo "${bin}"
  [[ -x "${bin}" ]]
  exit
fi
mkdir -p "${CACHE}"
exec 9>"${CACHE}/otelcol.lock"
flock 9
if [[ ! -x "${bin}" ]]; then
  ocb="${CACHE}/ocb-${OCB_VERSION}/builder"
  if [[ ! -x "${ocb}" ]]; then
    echo "build-collector: installing the builder ${OCB_VERSION}" >&2
    GOBIN="$(dirname "${ocb}")" go install "go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}" >&2
  fi
  echo "build-collector: building the collector from ${MANIFEST} (several minutes, once)" >&2
  tmp="$(mktemp -d "${out}.XXXXXX")"
  trap 'rm -rf "${tmp}"' EXIT
  "${ocb}" --config "${MANIFEST}" --output-path "${tmp}" >&2
  # Keep only the binary: the generated sources are hundreds of MB of module cache references.
  find "${tmp}" -mindepth 1 -not -name otelcol-failway -delete
  rm -rf "${out}" && mv "${tmp}" "${out}"
fi
echo "${bin}"
