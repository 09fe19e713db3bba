#!/usr/bin/env bash
# Builds Aetheria's Linux packages: the .deb from installer/Packager.toml with cargo-packager, and the
# AppImage from the same files (the .deb's payload as its AppDir, libasound bundled, AppImageKit's
# type-2 runtime from the crates.io `appimage` crate — cargo-packager's own AppImage tools come from
# GitHub, which this project's CI machine cannot reach). Release builds are portable: ggml without
# native CPU tuning, no build paths baked in.
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
  # shellcheck source=installer/release-env.sh
  . installer/release-env.sh
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
# The AppImage is made from the .deb's files.
cargo packager --config "$config" --formats deb >&2
deb=$(ls "$OUT"/aetheria_"${VERSION}"_*.deb)

# AppImageKit's type-2 runtime (x86-64; extracts or FUSE-mounts the squashfs appended to it), as the
# crates.io `appimage` crate ships it; both checksums pinned.
appimage_runtime() {
  local cache="$HOME/.cache/aetheria/appimage" runtime
  runtime="$cache/runtime-x86_64"
  local crate_sum=567a4da6b94a2ac20a27620933c80fc14cf475b5fe7d7b137d20eb237d6b1920
  local runtime_sum=328e0d745c5c6817048c27bc3e8314871703f8f47ffa81a37cb06cd95a94b323
  if ! echo "$runtime_sum  $runtime" | sha256sum -c --quiet - >/dev/null 2>&1; then
    mkdir -p "$cache"
    curl -fsSL -o "$cache/appimage-0.4.0.crate" https://static.crates.io/crates/appimage/appimage-0.4.0.crate
    echo "$crate_sum  $cache/appimage-0.4.0.crate" | sha256sum -c --quiet - >&2
    tar -xzf "$cache/appimage-0.4.0.crate" -C "$cache" --strip-components=2 appimage-0.4.0/assets/runtime-x86_64
    echo "$runtime_sum  $runtime" | sha256sum -c --quiet - >&2
  fi
  echo "$runtime"
}

make_appimage() {
  [ "$(uname -m)" = x86_64 ] || { say "the AppImage runtime here is x86-64 only"; exit 2; }
  command -v mksquashfs >/dev/null && command -v patchelf >/dev/null \
    || { say "mksquashfs and patchelf are missing: installer/dev.sh deps build"; exit 2; }
  local work appdir image runtime lib
  work=$(mktemp -d)
  appdir="$work/Aetheria.AppDir"
  dpkg-deb -x "$deb" "$appdir"
  # libasound is the one library the binary links that a minimal system lacks (GL, Vulkan, X11,
  # Wayland and D-Bus are loaded at run time from the host, as they must be).
  lib=$(ldd "$appdir/usr/bin/aetheria" | awk '$1 == "libasound.so.2" { print $3 }')
  [ -n "$lib" ] || { say "libasound.so.2 not found"; exit 1; }
  install -Dm644 "$lib" "$appdir/usr/lib/libasound.so.2"
  patchelf --set-rpath '$ORIGIN/../lib' "$appdir/usr/bin/aetheria"
  ln -s usr/bin/aetheria "$appdir/AppRun"
  cp "$appdir/usr/share/applications/aetheria.desktop" "$appdir/aetheria.desktop"
  cp "$appdir/usr/share/icons/hicolor/256x256/apps/aetheria.png" "$appdir/aetheria.png"
  ln -s aetheria.png "$appdir/.DirIcon"
  mksquashfs "$appdir" "$work/image.squashfs" -root-owned -noappend -comp gzip -no-progress -quiet >&2
  runtime=$(appimage_runtime)
  image="$OUT/aetheria_${VERSION}_amd64.AppImage"
  cat "$runtime" "$work/image.squashfs" >"$image.partial"
  chmod 755 "$image.partial"
  mv "$image.partial" "$image"
  rm -rf "$work"
  echo "$image"
}

for format in ${FORMATS//,/ }; do
  case "$format" in
    deb) echo "$deb" ;;
    appimage) make_appimage ;;
    *) say "unknown format $format (deb, appimage)"; exit 2 ;;
  esac
done
