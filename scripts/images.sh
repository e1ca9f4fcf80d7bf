#!/usr/bin/env bash
# Builds the connector images: `bash scripts/images.sh [connector ...]` (default: all five).
# Each image is tagged <dockerRepository>:<version> and <dockerRepository>:dev, where
# dockerRepository comes from the connector's metadata.yaml and version from its pyproject.toml.
# stdout: one `<connector>=<image>:<version>` line per built image; progress on stderr.
#
# Build contexts (what a user types is in docs/images.md):
#   sources:       the connector folder, as Airbyte's tooling builds it.
#   destinations:  the connector folder plus a named context `destination-common` (the shared
#                  package, not on PyPI): --build-context destination-common=destination-common
#                  (here a clean copy of it in build/images/ctx, without caches)
#
# Speed (the test tier builds all five on a 2-core box):
#   - every Dockerfile installs the CDK first, in a layer of its own (build arg PRE_INSTALL);
#     the five builds pass the same value, so that layer is built once and shared;
#   - with podman (machines without docker, whose build containers reach PyPI only through a
#     slow proxy) the dependencies are first collected as wheels on the host with the host's
#     pip, into build/images/wheels, and the builds install from there with --no-index;
#   - the engine keeps the layers between runs: a rebuild with no change takes seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL=(source-upgates-customers source-cartum destination-cartum-users destination-loyalty-batch destination-upgates-customers)
WORK="$ROOT/build/images"
mkdir -p "$WORK"

# One build at a time (a test run and `make images` side by side share the wheelhouse and tags).
exec 8>"$WORK/.images.lock"
flock 8 2>/dev/null || true

: >"$WORK/images.log"
say() { echo "images: [${SECONDS}s] $*" | tee -a "$WORK/images.log" >&2; }
die() { echo "images: ERROR: $*" >&2; exit 1; }

HOST_PY="$ROOT/.venv/bin/python"
[ -x "$HOST_PY" ] || HOST_PY="$(command -v python3)"

if [ "$#" -gt 0 ]; then WANT=("$@"); else WANT=("${ALL[@]}"); fi
CONNECTORS=()
for c in "${WANT[@]}"; do
  c="${c%/}"
  if [ ! -d "$ROOT/$c" ]; then say "$c: no folder yet, skipped"; continue; fi
  if [ ! -f "$ROOT/$c/Dockerfile" ] || [ ! -f "$ROOT/$c/pyproject.toml" ]; then
    say "FAILED: $c has no Dockerfile or no pyproject.toml"; MISSING=1; continue
  fi
  CONNECTORS+=("$c")
done
[ "${#CONNECTORS[@]}" -gt 0 ] || { say "nothing to build"; exit "${MISSING:-0}"; }

# Facts from pyproject.toml / metadata.yaml, read with Python's tomllib (3.11+).
info() { # info <connector> -> lines: version, repository, needs-common(0/1)
  "$HOST_PY" - "$ROOT/$1" <<'EOF'
import re, sys, tomllib
from pathlib import Path
d = Path(sys.argv[1])
p = tomllib.loads((d / "pyproject.toml").read_text())["project"]
repo = f"airbyte/{d.name}"
meta = d / "metadata.yaml"
if meta.exists():
    m = re.search(r"^\s*dockerRepository:\s*['\"]?([^'\"\s]+)", meta.read_text(), re.M)
    if m:
        repo = m.group(1)
deps = [re.split(r"[\s<>=!~;\[@(]", x, maxsplit=1)[0].lower().replace("_", "-") for x in p.get("dependencies", [])]
print(p["version"]); print(repo); print(1 if "destination-common" in deps else 0)
EOF
}

# Requirements shared by the builds: the CDK line(s) for the pre-installed layer, and for the
# wheelhouse every third-party dependency and build backend of the selected connectors.
reqs() { # reqs cdk|all <folders...>
  "$HOST_PY" - "$@" <<'EOF'
import re, sys, tomllib
from pathlib import Path
mode, folders = sys.argv[1], sys.argv[2:]
local = {Path(f).name for f in folders} | {"destination-common"}
out = []
for f in folders:
    t = tomllib.loads((Path(f) / "pyproject.toml").read_text())
    for r in t["project"].get("dependencies", []):
        name = re.split(r"[\s<>=!~;\[@(]", r, maxsplit=1)[0].lower().replace("_", "-")
        if name in local:
            continue
        if mode == "all" or name == "airbyte-cdk":
            out.append(r.strip())
    if mode == "all":
        out += t.get("build-system", {}).get("requires", [])
if mode == "all":
    out.append("wheel")
for r in sorted(set(out)):
    print(r)
EOF
}

# Over every connector present, whichever are built now: the shared layer and the wheelhouse
# stay the same from one call to the next.
folders=()
for c in "${ALL[@]}" destination-common; do [ -f "$ROOT/$c/pyproject.toml" ] && folders+=("$ROOT/$c"); done
mapfile -t CDK_REQS < <(reqs cdk "${folders[@]}")
PRE_INSTALL="${CDK_REQS[*]:-}"

# The wheelhouse (podman path only: docker builds use PyPI) is collected in the background
# while the engine is set up, which may mean building the base image.
WH="$WORK/wheels"
wheel_pid=""
want_wheels=0
if [ "${IMAGES_WHEELHOUSE:-1}" = 1 ] \
   && { [ "${CONTAINER_ENGINE:-}" = podman ] || { [ -z "${CONTAINER_ENGINE:-}" ] && ! docker info >/dev/null 2>&1; }; } \
   && "$HOST_PY" -c 'import sys, platform; sys.exit(not (sys.version_info[:2] == (3, 11) and sys.platform == "linux" and platform.machine() == "x86_64"))'; then
  want_wheels=1
  mapfile -t ALL_REQS < <(reqs all "${folders[@]}")
  stamp="$(printf '%s\n' "${ALL_REQS[@]}" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$WH/.stamp" ] || [ "$(cat "$WH/.stamp")" != "$stamp" ]; then
    say "collecting wheels for ${ALL_REQS[*]} into $WH (in the background)"
    rm -rf "$WH"; mkdir -p "$WH"
    (
      t0=$SECONDS
      "$HOST_PY" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$WH" "${ALL_REQS[@]}" \
        >"$WORK/wheels.log" 2>&1 || exit 1
      echo "$stamp" >"$WH/.stamp"
      say "wheelhouse ready ($(ls "$WH" | wc -l) wheels, $((SECONDS - t0)) s)"
    ) &
    wheel_pid=$!
  fi
fi

engine_env="$(bash "$ROOT/scripts/container-engine.sh")" || { [ -n "$wheel_pid" ] && kill "$wheel_pid" 2>/dev/null; die "no container engine (see above)"; }
eval "$engine_env"
read -r -a ENGINE <<<"$CONTAINER_ENGINE"
read -r -a BUILD_FLAGS <<<"$CONTAINER_BUILD_FLAGS"

if [ -n "$wheel_pid" ]; then
  wait "$wheel_pid" || { tail -20 "$WORK/wheels.log" >&2; die "pip wheel failed (log: $WORK/wheels.log)"; }
fi
EXTRA=()
if [ "$want_wheels" = 1 ] && [ "${CONTAINER_WHEELHOUSE:-0}" = 1 ]; then
  EXTRA+=(-v "$WH:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels --build-arg PIP_NO_INDEX=1)
fi

[ -n "$CONTAINER_BASE_IMAGE" ] && EXTRA+=(--build-arg "BASE_IMAGE=$CONTAINER_BASE_IMAGE")
[ -n "$PRE_INSTALL" ] && EXTRA+=(--build-arg "PRE_INSTALL=$PRE_INSTALL")

status="${MISSING:-0}"
for c in "${CONNECTORS[@]}"; do
  mapfile -t I < <(info "$c")
  version="${I[0]}" repo="${I[1]}" common="${I[2]}"
  ctx=()
  if [ "$common" = 1 ]; then
    [ -d "$ROOT/destination-common" ] || die "$c needs destination-common, which is missing"
    # A clean copy (mtimes kept): .dockerignore does not apply to a named context, and test
    # runs keep rewriting __pycache__, which would otherwise invalidate the layer cache.
    common_ctx="$WORK/ctx/destination-common"
    rm -rf "$common_ctx"; mkdir -p "$common_ctx"
    tar -C "$ROOT/destination-common" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' \
      --exclude=unit_tests --exclude=build --exclude=secrets -cf - . | tar -C "$common_ctx" -xf -
    ctx=(--build-context "destination-common=$common_ctx")
  fi
  old="$("${ENGINE[@]}" image inspect --format '{{.Id}}' "$repo:$version" 2>/dev/null || true)"
  say "building $repo:$version (log: build/images/$c.build.log)"
  t0=$SECONDS
  if "${ENGINE[@]}" build "${BUILD_FLAGS[@]}" "${EXTRA[@]}" "${ctx[@]}" \
      --build-arg "CONNECTOR_VERSION=$version" \
      -t "$repo:$version" -t "$repo:dev" -f "$ROOT/$c/Dockerfile" "$ROOT/$c" 8>&- \
      >"$WORK/$c.build.log" 2>&1; then
    say "built $repo:$version in $((SECONDS - t0)) s"
    echo "$c=$repo:$version"
    new="$("${ENGINE[@]}" image inspect --format '{{.Id}}' "$repo:$version" 2>/dev/null || true)"
    # Drop the image this build replaced (untagged now), so rebuilds do not fill the disk.
    if [ -n "$old" ] && [ "$old" != "$new" ]; then "${ENGINE[@]}" rmi "$old" >/dev/null 2>&1 || true; fi
  else
    tail -30 "$WORK/$c.build.log" >&2
    say "FAILED to build $c (full log: $WORK/$c.build.log)"
    status=1
  fi
done
exit "$status"
