#!/usr/bin/env bash
# Builds Aetheria's Linux packages from installer/Packager.toml with cargo-packager: a .deb, and an
# AppImage where its tools can be fetched (cargo-packager downloads linuxdeploy and AppRun from
# GitHub). Release builds are portable: ggml without native CPU tuning, no build paths baked in.
#   installer/build-linux.sh [--profile release|dev] [--formats deb,appimage] [--version V] [--out DIR]
# Prints the paths of the packages it made, one per line, on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PROFILE=release
FORMATS=deb
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
OUT="$ROOT/target/packages"
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=$2; shift 2 ;;
    --formats) FORMATS=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) sed -n '2,7p' "$0" >&2; exit 2 ;;
  esac
done
say() { printf '\033[1m[package]\033[0m %s\n' "$*" >&2; }

if [ "$PROFILE" = release ]; then
  # Its own target folder: the flags below would otherwise rebuild the development tree.
  export CARGO_TARGET_DIR="${AETHERIA_PACKAGE_TARGET:-$HOME/.cache/aetheria/package-target}"
  export GGML_NATIVE=OFF
  remap="--remap-path-prefix=$ROOT=/aetheria --remap-path-prefix=$HOME/.cargo=/cargo"
  export RUSTFLAGS="${RUSTFLAGS:-} $remap"
  export CFLAGS="-ffile-prefix-map=$ROOT=/aetheria -ffile-prefix-map=$HOME=/home"
  export CXXFLAGS="$CFLAGS"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
fi
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")

command -v cargo-packager >/dev/null || {
  say "installing cargo-packager (once)"
  env -u CARGO_TARGET_DIR cargo install cargo-packager --locked --version 0.11.8 >&2
}
command -v rsvg-convert >/dev/null || { say "rsvg-convert is missing: installer/dev.sh deps build"; exit 2; }

say "building aetheria ($PROFILE)"
if [ "$PROFILE" = dev ]; then
  # The same selection as the test run and screenshots.sh, so their build is reused as is.
  cargo build --locked -q --workspace --all-features --bins --tests --examples >&2
else
  cargo build --locked --profile "$PROFILE" -p aetheria >&2
fi
bin="$CARGO_TARGET_DIR/$dir/aetheria"
if [ "$PROFILE" = release ] && grep -aq -e "$ROOT" -e "$HOME/.cargo" "$bin"; then
  say "the binary still names build paths"; grep -ao -e "$ROOT[^\"]*" -e "$HOME/.cargo[^\"]*" "$bin" | sort -u | head >&2; exit 1
fi

say "rendering the icons from assets/icon.svg"
rm -rf installer/.build && mkdir -p installer/.build/icons
for size in 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" assets/icon.svg -o "installer/.build/icons/${size}x${size}.png"
done

config=$(python3 installer/render-config.py "$CARGO_TARGET_DIR/$dir" "$OUT" "$VERSION")
mkdir -p "$OUT"
say "packaging $FORMATS (version $VERSION)"
cargo packager --config "$config" --formats "$FORMATS" >&2
for format in ${FORMATS//,/ }; do
  case "$format" in
    deb) ls "$OUT"/aetheria_"${VERSION}"_*.deb ;;
    appimage) ls "$OUT"/aetheria_"${VERSION}"_*.AppImage ;;
  esac
done
