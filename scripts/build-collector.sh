#!/usr/bin/env bash
# Builds the Failway OpenTelemetry Collector from observability/otel-collector/builder-config.yaml
# with the official builder (ocb) and prints the binary's path. The build takes minutes, so the
# binary is cached outside the clone, keyed by the manifest's content: edit the manifest and the
# next run builds again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST="${ROOT}/observability/otel-collector/builder-config.yaml"
# The builder's version must match the core components' version in the manifest.
OCB_VERSION="$(sed -n 's#.*go.opentelemetry.io/collector/receiver/otlpreceiver \(v[0-9.]*\).*#\1#p' "${MANIFEST}")"
CACHE="${FAILWAY_CACHE:-${HOME}/.cache/failway}"
hash="$(sha256sum "${MANIFEST}" | cut -c1-16)"
out="${CACHE}/otelcol-${hash}"
bin="${out}/otelcol-failway"
if [[ ! -x "${bin}" ]]; then
  ocb="${CACHE}/ocb-${OCB_VERSION}/builder"
  if [[ ! -x "${ocb}" ]]; then
    echo "build-collector: installing the builder ${OCB_VERSION}" >&2
    GOBIN="$(dirname "${ocb}")" go install "go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}" >&2
  fi
  echo "build-collector: building the collector from ${MANIFEST} (several minutes, once)" >&2
  rm -rf "${out}.tmp"
  "${ocb}" --config "${MANIFEST}" --output-path "${out}.tmp" >&2
  rm -rf "${out}" && mv "${out}.tmp" "${out}"
  # Keep only the binary: the generated sources are hundreds of MB of module cache references.
  find "${out}" -mindepth 1 -not -name otelcol-failway -delete
fi
echo "${bin}"
