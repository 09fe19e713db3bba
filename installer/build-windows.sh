#!/usr/bin/env bash
# Cross-builds Aetheria for Windows on Linux and makes its NSIS installer, from the same
# installer/Packager.toml as every other package: MinGW-w64 compiles the Rust and the C/C++ code
# (whisper.cpp, aws-lc; .cargo/config.toml picks the compilers and links their runtimes into the
# one .exe), Debian's makensis builds installer/windows/aetheria.nsi. Needs the packages of
# installer/debian/windows-packages.txt (`installer/dev.sh deps windows`) and the Rust target
# (`rustup target add x86_64-pc-windows-gnu`).
#   installer/build-windows.sh [--profile release|dev] [--version V] [--out DIR]
# Prints the installer's path on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PROFILE=release
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
OUT="$ROOT/target/packages"
TARGET=x86_64-pc-windows-gnu
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) sed -n '2,9p' "$0" >&2; exit 2 ;;
  esac
done
say() { printf '\033[1m[windows]\033[0m %s\n' "$*" >&2; }

for tool in x86_64-w64-mingw32-gcc-posix makensis convert rsvg-convert; do
  command -v "$tool" >/dev/null || { say "$tool is missing: installer/dev.sh deps build windows"; exit 2; }
done
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" \
  || { say "the Rust target is missing: rustup target add $TARGET"; exit 2; }

if [ "$PROFILE" = release ]; then
  # shellcheck source=installer/release-env.sh
  . installer/release-env.sh
  # RUSTFLAGS set there would replace .cargo/config.toml's flags for the target: carried over.
  RUSTFLAGS="$RUSTFLAGS -C link-args=-static -C link-args=-static-libgcc -C link-args=-static-libstdc++"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
fi
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")

say "building aetheria.exe ($PROFILE)"
cargo build --locked --target "$TARGET" --profile "$PROFILE" -p aetheria >&2
bin="$CARGO_TARGET_DIR/$TARGET/$dir/aetheria.exe"
imports=$(x86_64-w64-mingw32-objdump -p "$bin" | sed -n 's/^\s*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
if echo "$imports" | grep -E 'libstdc\+\+|libgcc|libwinpthread'; then
  say "aetheria.exe needs MinGW's runtime DLLs, which a Windows machine lacks"; exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$OUT"
# What is shipped carries no debug information (the release profile strips it already).
x86_64-w64-mingw32-strip --strip-debug -o "$work/bin/aetheria.exe" "$bin"

say "rendering the icon from assets/icon.svg"
for size in 16 24 32 48 64 128 256; do
  rsvg-convert -w "$size" -h "$size" assets/icon.svg -o "$work/$size.png"
done
convert "$work"/{16,24,32,48,64,128,256}.png "$work/aetheria.ico"

say "making the NSIS installer (version $VERSION)"
python3 installer/render-config.py --nsis "$work/aetheria.ico" "$work/bin" "$OUT" "$VERSION" >"$work/config.nsh"
compressor=$([ "$PROFILE" = release ] && echo "/SOLID lzma" || echo zlib)
makensis -V2 -INPUTCHARSET UTF8 "-DCONFIG=$work/config.nsh" "-DCOMPRESSOR=$compressor" installer/windows/aetheria.nsi >&2
installer="$OUT/Aetheria_${VERSION}_x64-setup.exe"
[ -s "$installer" ] || { say "makensis made no $installer"; exit 1; }
echo "$installer"
