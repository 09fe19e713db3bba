#!/usr/bin/env bash
# The linker of the Windows cross-build (.cargo/config.toml): MinGW-w64's gcc, posix-threads flavour,
# as the C++ code was compiled with. whisper-rs-sys asks for the C++ runtime as a DLL
# (`-lstdc++`, which rustc brackets with -Bdynamic), and a Windows machine has no libstdc++-6.dll:
# the archive is named instead, so aetheria.exe carries its C++ runtime like the rest of MinGW's.
# rustc passes long command lines in a response file (@file, one argument a line): rewritten too.
set -euo pipefail
args=()
for arg in "$@"; do
  case "$arg" in
    -lstdc++) args+=("-l:libstdc++.a") ;;
    @*) sed -i 's/^-lstdc++$/-l:libstdc++.a/' "${arg#@}"; args+=("$arg") ;;
    *) args+=("$arg") ;;
  esac
done
exec x86_64-w64-mingw32-gcc-posix "${args[@]}"
