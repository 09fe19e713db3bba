#!/usr/bin/env bash
# Whole-app performance budgets (app/benches/whole_app): builds the app optimised (profile `fast`,
# what `installer/dev.sh run` builds) with the harness, then measures on a private Xvfb the app
# against a bare iced window: start, idle CPU and wakeups, memory, a streamed answer, exit.
#   installer/budgets.sh            the full run (medians of 5; about 10 minutes)
#   installer/budgets.sh --quick    fewer, shorter runs
#   installer/budgets.sh --check    also exit non-zero when a budget does not hold
# AETHERIA_BUDGETS_PROFILE=dev measures the debug build instead (what CI's quick gate uses).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
command -v Xvfb >/dev/null || { echo "budgets: Xvfb is missing (apt-get install xvfb)"; exit 1; }
profile="${AETHERIA_BUDGETS_PROFILE:-fast}"
if [ "$profile" = dev ]; then
  # The harness and the bare window as the test build made them (CI has compiled both already).
  cargo build --locked --workspace --all-features --example bare_window
  exec cargo test --locked --workspace --all-features --bench whole_app -- "$@"
fi
cargo build --locked -p aetheria --profile "$profile" --example bare_window
exec cargo bench --locked -p aetheria --profile "$profile" --bench whole_app -- "$@"
