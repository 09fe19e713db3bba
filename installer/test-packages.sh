#!/usr/bin/env bash
# Installs the .deb into a clean Debian made without any registry (debootstrap, imported into
# Docker) and checks it as a person would: `aetheria --version`, `aetheria doctor`, a headless
# `aetheria ask` against the loopback model server, the desktop entry and icons where desktops
# look, an upgrade from an older package that keeps the person's session, and a removal that
# keeps their data. Then runs the AppImage in another clean container (no FUSE there:
# `--appimage-extract-and-run`): --version and a headless ask. Needs root, Docker, debootstrap,
# a Debian mirror, mksquashfs and patchelf.
#   installer/test-packages.sh [--profile dev|release]
#   installer/test-packages.sh --fetch    only make the clean Debian's cached root filesystem (no
#                                         Docker needed: CI does it while the workspace compiles)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PROFILE=release
[ "${1:-}" = --profile ] && PROFILE=$2
say() { printf '\033[1m[package test]\033[0m %s\n' "$*" >&2; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# A clean Debian image: debootstrap once (cached by suite), imported with no registry.
SUITE=bookworm
IMAGE="aetheria-test/debian:$SUITE"
cache="$HOME/.cache/aetheria/clean-debian"
clean_rootfs() {
  [ -s "$cache/$SUITE.tar" ] && return
  mkdir -p "$cache"
  say "debootstrap $SUITE (once, ~1 min)"
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\([^ ]*\/debian\)\/\{0,1\}$/\1/p' | head -n1)
  mirror=${mirror:-http://deb.debian.org/debian}
  debootstrap --variant=minbase "$SUITE" "$WORK/root" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  tar -C "$WORK/root" -cf "$cache/$SUITE.tar.partial" . && mv "$cache/$SUITE.tar.partial" "$cache/$SUITE.tar"
  rm -rf "$WORK/root"
}
if [ "${1:-}" = --fetch ]; then clean_rootfs; exit 0; fi
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  clean_rootfs
  docker import "$cache/$SUITE.tar" "$IMAGE" >/dev/null
fi

say "building the packages ($PROFILE): an older one to upgrade from, and this version"
mkdir -p "$WORK/debs"
old=$(installer/build-linux.sh --profile "$PROFILE" --formats deb --version 0.0.1 --out "$WORK/debs")
made=$(installer/build-linux.sh --profile "$PROFILE" --formats deb,appimage --out "$WORK/debs")
new=$(echo "$made" | grep '\.deb$')
appimage=$(echo "$made" | grep '\.AppImage$')
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
ls -l "$old" "$new" "$appimage" >&2

# The scripted model server on the host's loopback; the container shares the host's network.
target="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
[ -x "$target/debug/examples/loopback_provider" ] \
  || cargo build --locked -q -p aetheria-engine --features testkit --example loopback_provider
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$target/debug/examples/loopback_provider" "127.0.0.1:$PORT" >"$WORK/provider.log" 2>&1 & PIDS+=($!)

say "installing into a clean $SUITE container"
docker run --rm --network host -v "$WORK/debs:/debs:ro" -e PORT="$PORT" -e OLD="/debs/$(basename "$old")" \
  -e NEW="/debs/$(basename "$new")" -e VERSION="$version" "$IMAGE" bash -euo pipefail -c '
export DEBIAN_FRONTEND=noninteractive HOME=/root
fail() { echo "FAILED: $*"; exit 1; }
apt-get update -qq
apt-get install -y -qq "$OLD" >/tmp/apt.log 2>&1 || { grep -v "^Selecting\|^Preparing\|^Unpacking\|^Get:" /tmp/apt.log | tail -30; fail "installing the older package"; }
[ "$(dpkg-query -W -f="\${Version}" aetheria)" = 0.0.1 ] || fail "the older package is not installed"
aetheria --version | grep -q "aetheria $VERSION" || fail "--version"
start=$(date +%s%N); aetheria --version >/dev/null; echo "cold start of --version: $(( ($(date +%s%N) - start) / 1000000 )) ms"
doctor=$(aetheria doctor 2>&1 || true)
echo "$doctor"
echo "$doctor" | grep -qi "docker" || fail "doctor does not explain Docker"
echo "$doctor" | grep -qi "fix:" || fail "doctor gives no fix"
answer=$(aetheria ask --base-url "http://127.0.0.1:$PORT/v1" --model demo "What is in my workspace?" 2>/tmp/ask.log) \
  || { cat /tmp/ask.log; fail "aetheria ask"; }
echo "$answer" | grep -q "Your workspace" || fail "the answer did not arrive: $answer"
[ -d /root/.local/share/aetheria ] || fail "no data folder in the platform place"
aetheria data path | grep -q "/root/.local/share/aetheria" || fail "aetheria data path"
apt-get install -y -qq "$NEW" >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; fail "upgrading"; }
[ "$(dpkg-query -W -f="\${Version}" aetheria)" = "$VERSION" ] || fail "the upgrade did not install $VERSION"
aetheria sessions list | grep -q "What is in my workspace?" || fail "the session did not survive the upgrade"
desktop=/usr/share/applications/aetheria.desktop
[ -f "$desktop" ] || fail "no desktop entry"
grep -q "^Exec=aetheria" "$desktop" && grep -q "^Icon=aetheria" "$desktop" && grep -q "^Keywords=" "$desktop" \
  && grep -q "^Categories=" "$desktop" || fail "incomplete desktop entry: $(cat $desktop)"
for size in 32x32 64x64 128x128 256x256 512x512; do
  [ -f "/usr/share/icons/hicolor/$size/apps/aetheria.png" ] || fail "no $size icon"
done
ls /usr/lib/aetheria/sandbox/packages.txt /usr/lib/aetheria/sandbox/build-rootfs.sh >/dev/null || fail "the sandbox recipe is not shipped"
apt-get install -y -qq desktop-file-utils >/dev/null 2>&1 && desktop-file-validate "$desktop"
apt-get remove -y -qq aetheria >/dev/null 2>&1 || fail "removing"
[ ! -e /usr/bin/aetheria ] || fail "the binary is still there after removal"
[ -d /root/.local/share/aetheria ] || fail "removal took the person'"'"'s data"
echo "the package installs, runs, upgrades keeping the session, and uninstalls keeping the data"
'

say "running the AppImage in a clean $SUITE container"
# A fresh scripted conversation (the one above has moved on to its later replies).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$target/debug/examples/loopback_provider" "127.0.0.1:$PORT" >"$WORK/provider2.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 40); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.25; done
docker run --rm --network host -v "$WORK/debs:/debs:ro" -e PORT="$PORT" -e IMAGE_FILE="/debs/$(basename "$appimage")" \
  -e VERSION="$version" "$IMAGE" bash -euo pipefail -c '
export HOME=/root DEBIAN_FRONTEND=noninteractive
fail() { echo "FAILED: $*"; exit 1; }
cd /tmp
"$IMAGE_FILE" --appimage-extract-and-run --version | grep -q "aetheria $VERSION" || fail "AppImage --version"
# This bare system has no CA certificates (every desktop does): the app says how to get them.
if "$IMAGE_FILE" --appimage-extract-and-run ask --base-url "http://127.0.0.1:$PORT/v1" --model demo "hi" >/dev/null 2>/tmp/ask.log; then
  fail "ask worked without CA certificates"
fi
grep -q "apt install ca-certificates" /tmp/ask.log || { cat /tmp/ask.log; fail "no hint about the CA certificates"; }
apt-get update -qq && apt-get install -y -qq ca-certificates >/dev/null 2>&1 || fail "installing ca-certificates"
answer=$("$IMAGE_FILE" --appimage-extract-and-run ask --base-url "http://127.0.0.1:$PORT/v1" --model demo "What is in my workspace?" 2>/tmp/ask.log) \
  || { cat /tmp/ask.log; fail "AppImage ask"; }
echo "$answer" | grep -q "Your workspace" || fail "the AppImage answer did not arrive: $answer"
echo "the AppImage runs in a clean system: --version and a headless ask"
'
