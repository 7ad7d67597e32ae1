#!/usr/bin/env bash
# Builds a Go command from the Go module proxy into a cache outside the clone, once per version,
# and prints the binary's path:
#
#   scripts/go-install-cached.sh kube-score github.com/zegl/kube-score/cmd/kube-score v1.20.0
#
# For commands whose module `go install pkg@version` can fetch directly (k6 cannot: see
# scripts/build-k6.sh).
set -euo pipefail
NAME="$1" PACKAGE="$2" VERSION="$3"
dir="${FAILWAY_CACHE:-${HOME}/.cache/failway}/${NAME}-${VERSION}"
mkdir -p "${dir}"
# Concurrent runs wait for each other; the binary appears only once it is complete.
exec 9>"${dir}.lock"
flock 9
if [[ ! -x "${dir}/${NAME}" ]]; then
  echo "go-install-cached: building ${NAME} ${VERSION} (a minute or two, once)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  GOBIN="${work}" GOFLAGS=-mod=mod go install "${PACKAGE}@${VERSION}" >&2
  mv "${work}/${NAME}" "${dir}/${NAME}"
fi
echo "${dir}/${NAME}"
