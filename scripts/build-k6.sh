#!/usr/bin/env bash
# Builds k6 from the Go module proxy into a cache outside the clone (once per version) and prints
# the binary's path. `go install go.k6.io/k6/v2@VERSION` cannot be used: the proxy serves the
# module's versions but not its version list, which go install reads to check for deprecation.
# A throwaway module that requires the pinned version builds the same command.
set -euo pipefail
VERSION="${1:-v2.2.0}"
dir="${FAILWAY_CACHE:-${HOME}/.cache/failway}/k6-${VERSION}"
mkdir -p "${dir}"
# Concurrent runs wait for each other; the binary appears only once it is complete.
exec 9>"${dir}.lock"
flock 9
if [[ ! -x "${dir}/k6" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  printf 'module failway.local/k6build\n\ngo 1.24\n\nrequire go.k6.io/k6/v2 %s\n' "${VERSION}" > "${work}/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.k6.io/k6/v2"\n' > "${work}/tools.go"
  echo "build-k6: building k6 ${VERSION} (a few minutes, once)" >&2
  (cd "${work}" && GOFLAGS=-mod=mod go mod tidy >&2 && GOFLAGS=-mod=mod go build -o "${work}/k6" go.k6.io/k6/v2 >&2)
  mv "${work}/k6" "${dir}/k6"
fi
echo "${dir}/k6"
