#!/usr/bin/env bash
# Renders every kustomization under k8s/ that users apply and lints it with kube-score, with the
# checks and flags k8s/kube-score-ignores.yaml switches off (the k8s tests run the same).
#   bash scripts/k8s-lint.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KUBE_SCORE="${KUBE_SCORE_BIN:-$(bash "${ROOT}/scripts/go-install-cached.sh" kube-score \
  github.com/zegl/kube-score/cmd/kube-score v1.20.0)}"
render() {
  if command -v kubectl >/dev/null; then kubectl kustomize "$1"
  else "${KUSTOMIZE_BIN:-$(bash "${ROOT}/scripts/go-install-cached.sh" kustomize \
    sigs.k8s.io/kustomize/kustomize/v5 v5.5.0)}" build "$1"; fi
}
ignores="${ROOT}/k8s/kube-score-ignores.yaml"
ignore_args=()
while read -r test; do ignore_args+=(--ignore-test "${test}"); done \
  < <(sed -n 's/^  - test: *\([a-z0-9-]*\).*/\1/p' "${ignores}")
status=0
for dir in overlays/local overlays/production loadtest; do
  extra=()
  # The per-directory flags block: `  <dir>:` then `    args: [a, "b"]`.
  args_line="$(sed -n "/^  ${dir//\//\\/}:/,/args:/s/^ *args: *\[\(.*\)\]/\1/p" "${ignores}")"
  if [[ -n "${args_line}" ]]; then IFS=', ' read -r -a extra <<< "${args_line//\"/}"; fi
  echo "== k8s/${dir}"
  set +e
  out="$(render "${ROOT}/k8s/${dir}" | "${KUBE_SCORE}" score --output-format ci --kubernetes-version v1.32 \
    --exit-one-on-warning --enable-optional-test container-seccomp-profile \
    --enable-optional-test container-ports-check "${ignore_args[@]}" "${extra[@]}" -)"
  rc=$?
  set -e
  grep -v '^\[OK\]\|^\[SKIPPED\]' <<< "${out}" || echo "no findings"
  [[ "${rc}" == 0 ]] || status=1
done
exit "${status}"
