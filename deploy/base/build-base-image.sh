#!/usr/bin/env bash
# Build the Debian base image Modelport's images start FROM, without any registry:
# debootstrap a minimal bookworm with Python into a folder and `docker import` it.
#
#   deploy/base/build-base-image.sh            # prints the image tag it made or found
#
# The tag carries a hash of this script, so a changed recipe makes a new image and an
# unchanged one is reused (about 50 s the first time, instant after).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=${MODELPORT_BASE_SUITE:-bookworm}
mirror=${MODELPORT_BASE_MIRROR:-http://deb.debian.org/debian}
packages=python3,python3-venv,python3-pip,ca-certificates,tini,tzdata
recipe_hash=$(printf '%s\n' "$suite" "$packages" | cat - "$here/build-base-image.sh" | sha256sum | cut -c1-12)
tag="modelport/base:${suite}-${recipe_hash}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

command -v debootstrap >/dev/null || {
  echo "debootstrap missing: apt-get install -y debootstrap" >&2
  exit 1
}
root=$(mktemp -d /tmp/modelport-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building $tag with debootstrap ($suite, $mirror)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' \
  --change 'CMD ["/bin/bash"]' - "$tag" >&2
echo "$tag"
