#!/usr/bin/env bash
# Installs the tools the project needs beyond npm packages and puts them on PATH.
#
#   source scripts/install-tools.sh          # Node 24 on PATH only
#   source scripts/install-tools.sh --all    # plus everything the tests use (what CI runs)
#
# npm scripts (npm start, npm test) need none of this: npm ci installs Node 24 as the dev
# dependency `node`, and npm runs every script with node_modules/.bin first on PATH. This puts the
# same Node (the npm package `node`, a prebuilt binary inside a registry package, at the version
# package.json pins) into .tools/ and on PATH for running node outside npm scripts, on machines
# that ship an older Node. System tools come from Debian's packages
# (apt-get; root or sudo needed). Each step is skipped when the tool is already there.
set -euo pipefail

FAILWAY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${FAILWAY_ROOT}/.tools"
NODE_MAJOR=24
# The exact version package.json's devDependencies pin (falls back to the latest 24).
NODE_VERSION="$(sed -n 's/^ *"node": "\(24\.[0-9.]*\)",\{0,1\}$/\1/p' "${FAILWAY_ROOT}/package.json" | head -1)"
NODE_VERSION="${NODE_VERSION:-${NODE_MAJOR}}"

log() { echo "install-tools: $*" >&2; }

install_node() {
  local prefix="${TOOLS_DIR}/node${NODE_MAJOR}"
  local bin="${prefix}/node_modules/.bin/node"
  if [[ -x "${bin}" ]] && [[ "$("${bin}" --version)" == v${NODE_MAJOR}.* ]]; then return 0; fi
  if command -v node >/dev/null && [[ "$(node --version)" == v${NODE_MAJOR}.* ]]; then return 0; fi
  log "installing Node ${NODE_VERSION} from the npm package node@${NODE_VERSION} into ${prefix}"
  mkdir -p "${prefix}"
  npm install --prefix "${prefix}" --no-save --no-audit --no-fund --loglevel=error "node@${NODE_VERSION}" >&2
  "${bin}" --version >/dev/null
}

APT_UPDATED=0
apt_install() {
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else log "need root or sudo to install $*"; return 1; fi
  fi
  if [[ "${APT_UPDATED}" == 0 ]]; then
    ${sudo} apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends "$@" >&2
}

install_chromium() {
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then return 0; fi
  apt_install chromium
}

install_prometheus_and_syslog() {
  local missing=()
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v promtool >/dev/null || missing+=(prometheus)
  [[ -x /usr/sbin/syslog-ng ]] || command -v syslog-ng >/dev/null || missing+=(syslog-ng-core)
  if [[ ${#missing[@]} -gt 0 ]]; then apt_install $(printf '%s\n' "${missing[@]}" | sort -u); fi
}

# wrk, the load generator of `npm run bench` (bench/run.ts, docs/performance.md): a small C
# program that keeps its share of a 2-core machine's CPU far below the services it measures.
install_wrk() {
  command -v wrk >/dev/null || apt_install wrk
}

# The OpenTelemetry Collector, built from the repo's manifest with the official builder; cached
# outside the clone (by manifest hash) because the build takes minutes.
install_collector() {
  if ! command -v go >/dev/null; then log "go is needed to build the OpenTelemetry Collector"; return 1; fi
  OTELCOL_BIN="$(bash "${FAILWAY_ROOT}/scripts/build-collector.sh")"
  export OTELCOL_BIN
  log "collector ${OTELCOL_BIN}"
}

# schemathesis (PyPI), the fuzzer of `npm run fuzz` (scripts/fuzz.ts, docs/api.md): a pinned version
# in its own virtualenv, cached outside the clone by version; SCHEMATHESIS_BIN tells the script
# and the tests where it is.
SCHEMATHESIS_VERSION=4.32.5
install_schemathesis() {
  local venv="${HOME}/.cache/failway/schemathesis-${SCHEMATHESIS_VERSION}"
  if [[ ! -x "${venv}/bin/schemathesis" ]]; then
    if ! python3 -m venv --help >/dev/null 2>&1; then apt_install python3-venv python3-pip; fi
    log "installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${venv}"
    rm -rf "${venv}"
    python3 -m venv "${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}" >&2
  fi
  SCHEMATHESIS_BIN="${venv}/bin/schemathesis"
  export SCHEMATHESIS_BIN
  # Only the command on PATH, not the venv's bin/ (its python3 and pip would shadow the system's).
  mkdir -p "${TOOLS_DIR}/bin"
  ln -sf "${SCHEMATHESIS_BIN}" "${TOOLS_DIR}/bin/schemathesis"
  export PATH="${TOOLS_DIR}/bin:${PATH}"
  log "$("${SCHEMATHESIS_BIN}" --version)"
}

K6_VERSION=v2.2.0
# k6 from the Go module proxy (no npm or apt package exists); cached outside the clone by version.
install_k6() {
  if ! command -v go >/dev/null; then log "go is needed to build k6"; return 1; fi
  local bin
  bin="$(bash "${FAILWAY_ROOT}/scripts/build-k6.sh" "${K6_VERSION}")"
  export PATH="$(dirname "${bin}"):${PATH}"
  log "$(k6 version 2>/dev/null | head -1)"
}

# Kubernetes manifests (k8s/): kustomize renders them (kubectl's built-in one when kubectl is
# there, else the standalone kustomize built from the Go module proxy) and kube-score lints them.
# Both binaries are cached outside the clone by version; KUSTOMIZE_BIN and KUBE_SCORE_BIN tell the
# k8s tests where they are.
KUSTOMIZE_VERSION=v5.5.0
KUBE_SCORE_VERSION=v1.20.0
install_kube_tools() {
  if ! command -v go >/dev/null; then log "go is needed to build the Kubernetes lint tools"; return 1; fi
  if ! command -v kubectl >/dev/null; then
    KUSTOMIZE_BIN="$(bash "${FAILWAY_ROOT}/scripts/go-install-cached.sh" kustomize \
      sigs.k8s.io/kustomize/kustomize/v5 "${KUSTOMIZE_VERSION}")"
    export KUSTOMIZE_BIN
  fi
  # kube-score, not kube-linter: the module proxy refuses every kube-linter module (403 "Go module
  # host not permitted") and it has no npm, PyPI or Debian package (docs/kubernetes.md, "Linting").
  KUBE_SCORE_BIN="$(bash "${FAILWAY_ROOT}/scripts/go-install-cached.sh" kube-score \
    github.com/zegl/kube-score/cmd/kube-score "${KUBE_SCORE_VERSION}")"
  export KUBE_SCORE_BIN
  log "kube-score ${KUBE_SCORE_VERSION} ${KUBE_SCORE_BIN}"
}

install_node
if [[ -x "${TOOLS_DIR}/node${NODE_MAJOR}/node_modules/.bin/node" ]]; then
  export PATH="${TOOLS_DIR}/node${NODE_MAJOR}/node_modules/.bin:${PATH}"
fi
if [[ "${1:-}" == "--all" ]]; then
  install_chromium
  install_prometheus_and_syslog
  install_wrk
  install_schemathesis
  if [[ -f "${FAILWAY_ROOT}/scripts/build-collector.sh" ]]; then install_collector; fi
  install_k6
  install_kube_tools
fi
log "node $(node --version), npm $(npm --version)"
