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
if [[ ! -x "${dir}/${NAME}" ]]; then
  echo "go-install-cached: building ${NAME} ${VERSION} (a minute or two, once)" >&2
  mkdir -p "${dir}"
  GOBIN="${dir}" GOFLAGS=-mod=mod go install "${PACKAGE}@${VERSION}" >&2
fi
echo "${dir}/${NAME}"
