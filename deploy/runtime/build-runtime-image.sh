#!/usr/bin/env bash
# Build the runtime image without network access inside the build:
#   deploy/runtime/build-runtime-image.sh [VERSION]      # prints the image tag
#
# Wheels are made on the host (pip reaches PyPI; the build container does not need to), the
# image builds FROM $BASE_IMAGE (default: the project's debootstrap base), and the tag carries
# a hash of everything that goes in, so an unchanged runtime is reused, not rebuilt.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/deploy/runtime"
python=${PYTHON:-"$repo/.venv/bin/python"}
version=${1:-$("$python" -c 'import tomllib;print(tomllib.load(open("'"$repo"'/pyproject.toml","rb"))["project"]["version"])')}
base=${BASE_IMAGE:-$("$repo/deploy/base/build-base-image.sh")}
base_id=$(docker image inspect --format '{{.Id}}' "$base")

content_hash=$(
  {
    echo "$version" "$base_id"
    cat "$here/Dockerfile" "$here/requirements.txt" "$repo/pyproject.toml"
    (cd "$repo" && git ls-files -z modelport | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-12
)
tag="modelport/runtime:${version}-${content_hash}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

ctx=$(mktemp -d /tmp/modelport-runtime.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/wheels"
cp "$here/Dockerfile" "$here/requirements.txt" "$ctx/"
echo "making wheels for $tag" >&2
"$python" -m pip wheel --quiet --wheel-dir "$ctx/wheels" -r "$here/requirements.txt" >&2
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$ctx/wheels" "$repo" >&2
echo "building $tag FROM $base" >&2
docker build --quiet --network none --build-arg "BASE_IMAGE=$base" \
  --build-arg "RUNTIME_VERSION=$version" -t "$tag" "$ctx" >&2
echo "$tag"
