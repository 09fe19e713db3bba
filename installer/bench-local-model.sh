#!/usr/bin/env bash
# The built-in local-model runtime against llama.cpp (engine/benches/local_model.rs): prompt reading
# and generation on the same GGUF file, threads and prompt tokens, with llama-cpp-python from PyPI
# as the baseline (in a venv of its own under ~/.cache/aetheria; only this bench uses it), and how
# much of a follow-up turn's prompt comes from the kept cache.
#   installer/bench-local-model.sh     about 15 minutes the first time (llama.cpp compiles from
#                                      source), then a minute or two
# llama.cpp is built for AVX2+FMA+F16C (x86-64-v3), what the runtime's kernels use: the default
# native build also turns on AVX-512 and AMX where the CPU reports them, and it crashed on this
# machine's virtual CPU at the first evaluation.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetheria/target}"
export AETHERIA_TEST_MODELS="${AETHERIA_TEST_MODELS:-$HOME/.cache/aetheria/test-models}"
venv="$HOME/.cache/aetheria/llama-venv"
version=0.3.36
if ! "$venv/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$version')" 2>/dev/null; then
  echo "bench: building llama-cpp-python $version into $venv (several minutes)"
  python3 -m venv "$venv"
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \
    "$venv/bin/pip" install --quiet --no-cache-dir "llama-cpp-python==$version"
fi
[ -f "$AETHERIA_TEST_MODELS/SmolLM2-135M-Instruct.Q4_1.gguf" ] \
  || python3 installer/test-models.py "$AETHERIA_TEST_MODELS"
# candle's kernels size their thread pool once per process: one run per thread count.
for threads in 1 "$(nproc)"; do
  echo "== $threads thread(s)"
  CANDLE_NUM_THREADS="$threads" AETHERIA_BENCH_LLAMA_PYTHON="$venv/bin/python" \
    cargo bench --locked -p aetheria-engine --features testkit --profile fast --bench local_model
done
