# Sourced by the scripts that build the release app (build-linux.sh, screenshots.sh): the one set
# of flags that makes it portable — ggml without native CPU tuning, no build paths baked in — and
# the target folder those flags get (they would otherwise rebuild the development tree).
# Expects ROOT (the repository). Sets CARGO_TARGET_DIR, GGML_NATIVE, RUSTFLAGS, CFLAGS, CXXFLAGS.
export CARGO_TARGET_DIR="${AETHERIA_PACKAGE_TARGET:-$HOME/.cache/aetheria/package-target}"
export GGML_NATIVE=OFF
export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$ROOT=/aetheria --remap-path-prefix=$HOME/.cargo=/cargo"
export CFLAGS="-ffile-prefix-map=$ROOT=/aetheria -ffile-prefix-map=$HOME=/home"
export CXXFLAGS="$CFLAGS"
