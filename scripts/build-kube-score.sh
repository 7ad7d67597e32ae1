#!/usr/bin/env bash
# Builds kube-score (the Kubernetes manifest linter the k8s tests run) from the Go module proxy
# into a cache outside the clone, once per version, and prints the binary's path.
# Why kube-score and not kube-linter: see docs/kubernetes.md ("Linting"). In short, the Go module
# proxy our machines and CI reach refuses every kube-linter module (403 "Go module host not
# permitted"), and kube-linter ships no npm, PyPI or Debian package.
set -euo pipefail
VERSION="${1:-v1.20.0}"
dir="${FAILWAY_CACHE:-${HOME}/.cache/failway}/kube-score-${VERSION}"
if [[ ! -x "${dir}/kube-score" ]]; then
  echo "build-kube-score: building kube-score ${VERSION} (about a minute, once)" >&2
  mkdir -p "${dir}"
  GOBIN="${dir}" GOFLAGS=-mod=mod go install "github.com/zegl/kube-score/cmd/kube-score@${VERSION}" >&2
fi
echo "${dir}/kube-score"
