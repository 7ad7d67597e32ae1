#!/usr/bin/env bash
# Prints the path of a kustomize the k8s tests can render with. `kubectl kustomize` is preferred
# (kubectl ships kustomize); on a machine without kubectl this builds the standalone kustomize
# from the Go module proxy into a cache outside the clone, once per version.
set -euo pipefail
VERSION="${1:-v5.5.0}"
dir="${FAILWAY_CACHE:-${HOME}/.cache/failway}/kustomize-${VERSION}"
if [[ ! -x "${dir}/kustomize" ]]; then
  echo "build-kube-kustomize: building kustomize ${VERSION} (a minute or two, once)" >&2
  mkdir -p "${dir}"
  GOBIN="${dir}" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@${VERSION}" >&2
fi
echo "${dir}/kustomize"
