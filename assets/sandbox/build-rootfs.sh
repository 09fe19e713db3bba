#!/bin/sh
# Builds the Aetheria sandbox root filesystem without any container registry: debootstrap a minimal
# Debian, install the packages of packages.txt in a chroot, add the unprivileged `sandbox` user,
# strip docs and caches, and write a tarball that the Docker Engine API imports as an image (and the
# bubblewrap backend unpacks). Needs root (debootstrap, chroot) and network access to a Debian mirror.
#
# usage: build-rootfs.sh PACKAGES_FILE OUT.tar
set -eu
packages_file=$1
out=$2
suite=${AETHERIA_SANDBOX_SUITE:-bookworm}

if [ "$(id -u)" != 0 ]; then
    echo "error: building the sandbox image needs root (debootstrap and chroot); run it with sudo" >&2
    exit 2
fi
command -v debootstrap >/dev/null || {
    echo "error: debootstrap is missing; install it (Debian/Ubuntu: apt-get install debootstrap)" >&2
    exit 2
}

# The mirror this machine's apt sources already name, so proxies and snapshots keep working.
mirror=${AETHERIA_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\([^ ]*\/debian\)\/\{0,1\}$/\1/p' | head -n1)
fi
if [ -z "$mirror" ]; then
    mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\/debian\)\/\{0,1\} .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
fi
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d "${TMPDIR:-/tmp}/aetheria-rootfs.XXXXXX")
root="$work/root"
cleanup() {
    umount "$root/proc" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Every download is checked against the Debian archive's keys: debootstrap refuses a Release file
# whose signature does not verify (never "cannot check, going on"), and apt in the chroot checks
# the packages of packages.txt the same way.
keyring=${AETHERIA_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
if [ ! -r "$keyring" ]; then
    echo "error: the Debian archive keyring $keyring is missing, so the downloads could not be verified; install it (apt-get install debian-archive-keyring)" >&2
    exit 2
fi
echo "step 1/4: debootstrap $suite from $mirror (signatures checked with $keyring)"
debootstrap --variant=minbase --force-check-gpg --keyring="$keyring" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
}

echo "step 2/4: install packages"
packages=$(grep -v '^[[:space:]]*#' "$packages_file" | tr -s ' \n' ' ')
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
# shellcheck disable=SC2086
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
    sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $packages" \
    >"$work/apt.log" 2>&1 || {
    tail -n 30 "$work/apt.log" >&2
    exit 1
}
umount "$root/proc"

echo "step 3/4: add the sandbox user and strip"
chroot "$root" /usr/sbin/useradd --uid 1000 --user-group --home-dir /home/sandbox --create-home \
    --shell /bin/bash sandbox
mkdir -p "$root/workspace"
chmod 1777 "$root/workspace"
rm -f "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/log/* "$root"/tmp/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +

echo "step 4/4: write $out"
mkdir -p "$(dirname "$out")"
tar --numeric-owner -C "$root" -cf "$out.partial" .
mv "$out.partial" "$out"
echo "done: $(du -h "$out" | cut -f1) root filesystem"
