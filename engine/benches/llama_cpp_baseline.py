"""llama.cpp (llama-cpp-python from PyPI) on the same GGUF file, threads and tokens as the
local-model bench: the baseline its ratios are against. Only the bench runs it.

Reads a JSON object on stdin: {"model": path, "threads": n, "prompt": [token ids], "generate": n,
"runs": n}; prints one JSON object: the median seconds to read the prompt and pick the first token,
and the median tokens per second of the rest of the answer (greedy, never stopping early).
"""

import json
import statistics
import sys
import time

from llama_cpp import Llama


def main() -> None:
    job = json.load(sys.stdin)
    llm = Llama(
        model_path=job["model"],
        n_ctx=2048,
        n_batch=512,
        n_threads=job["threads"],
        n_threads_batch=job["threads"],
        verbose=False,
    )
    prompt = job["prompt"]
    generate = job["generate"]
    prefill, decode = [], []
    for _ in range(job["runs"]):
        llm.reset()
        started = time.perf_counter()
        first = None
        made = 0
        for _token in llm.generate(prompt, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
            made += 1
            if first is None:
                first = time.perf_counter()
            if made >= generate:
                break
        ended = time.perf_counter()
        prefill.append(first - started)
        decode.append((made - 1) / (ended - first))
    json.dump(
        {
            "prefill_secs": statistics.median(prefill),
            "decode_tokens_per_sec": statistics.median(decode),
            "llama_cpp_python": __import__("llama_cpp").__version__,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
