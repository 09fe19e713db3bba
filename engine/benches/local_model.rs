//! Local model speed: tokens per second of a whole engine turn on the built-in runtime (template,
//! tokenizer, sampling, streaming events, the answer stored) versus a bare candle decode loop of
//! the same installed Q8_0 file, in the same process. Prompt reading is timed too.
//! Then the runtime against llama.cpp: prompt reading and generation on the same file, threads and
//! prompt tokens, with llama-cpp-python from PyPI as the baseline (`llama_cpp_baseline.py`; set
//! `AETHERIA_BENCH_LLAMA_PYTHON` to a Python that has it — `installer/bench-local-model.sh` makes
//! one, and runs it at one thread and at every core), and a follow-up turn that reads only its new
//! tokens from the kept cache. candle's kernels run on a pool of their own whose size is fixed per
//! process (`CANDLE_NUM_THREADS`), so "one thread" above holds only when that is 1.
//! Needs the test model (installer/dev.sh test fetches it).
//! Run: `installer/bench-local-model.sh`, or
//! `cargo bench -p aetheria-engine --features testkit --bench local_model` without the baseline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use aetheria_engine::api::{
    Command, Event, ModelsCommand, Policy, SessionCommand, SessionId, TurnCommand,
};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::{local_bench, test_model};
use aetheria_engine::{Engine, Events};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;

const TOKENS: usize = 128;
const RUNS: usize = 3;

async fn until<T>(events: &mut Events, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    while let Some(event) = events.recv().await.map(|e| e.event) {
        if let Event::CommandFailed { error, .. } | Event::TurnFailed { error, .. } = &event {
            panic!("{error:?}");
        }
        if let Some(found) = pick(event) {
            return found;
        }
    }
    panic!("the engine stopped");
}

/// A bare greedy decode of `TOKENS` tokens after a 1-token prompt: tokens per second.
fn raw_decode(path: &std::path::Path) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let mut file = std::fs::File::open(path).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        let mut model = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
        let mut token = 1u32;
        let t = Instant::now();
        for pos in 0..TOKENS {
            let input = Tensor::new(&[token], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let logits = model.forward(&input, pos).unwrap().squeeze(0).unwrap();
            // Never stop early: the same number of forward passes as asked.
            token = logits.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        }
        TOKENS as f64 / t.elapsed().as_secs_f64()
    })
}

/// Medians of `RUNS` runs of the runtime on `model` with `threads` threads: prompt seconds, decode
/// tokens/s, and one run's timing (its prompt tokens and answer length, given to llama.cpp).
fn runtime(model: &std::path::Path, threads: usize) -> (f64, f64, local_bench::Timing) {
    let mut runs: Vec<local_bench::Timing> = (0..RUNS)
        .map(|_| {
            local_bench::run(
                model,
                threads,
                "Write a long story about a lighthouse keeper and a storm.",
                "Now give the story a title.",
                TOKENS,
            )
            .unwrap()
        })
        .collect();
    let prefill = median(runs.iter().map(|t| t.prefill_secs).collect());
    let decode = median(
        runs.iter()
            .map(|t| t.answer_tokens.saturating_sub(1) as f64 / t.decode_secs)
            .collect(),
    );
    (prefill, decode, runs.remove(0))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// llama.cpp's medians on `model`: prompt seconds and decode tokens/s, and its version.
fn llama_cpp(
    python: &str,
    model: &std::path::Path,
    threads: usize,
    timing: &local_bench::Timing,
) -> (f64, f64, String) {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/llama_cpp_baseline.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the baseline's Python runs");
    let job = serde_json::json!({
        "model": model,
        "threads": threads,
        "prompt": timing.prompt,
        "generate": timing.answer_tokens,
        "runs": RUNS,
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "llama_cpp_baseline.py failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["prefill_secs"].as_f64().unwrap(),
        v["decode_tokens_per_sec"].as_f64().unwrap(),
        v["llama_cpp_python"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The threads candle's quantized kernels really use: its own process-wide pool, sized once from
/// `CANDLE_NUM_THREADS` (else `RAYON_NUM_THREADS`, else the physical cores), whatever thread count
/// the runtime is given. llama.cpp is compared at the same count.
fn candle_threads() -> usize {
    std::env::var("CANDLE_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(candle_core::utils::get_num_threads)
}

/// The runtime against llama.cpp on the installed file (and llama.cpp on the original too: what
/// a person running llama.cpp would use), at the thread count candle really uses (run with
/// `CANDLE_NUM_THREADS=1` for one thread).
fn against_llama_cpp(installed: &std::path::Path) {
    let python = std::env::var("AETHERIA_BENCH_LLAMA_PYTHON").ok();
    let threads = candle_threads();
    let (prefill, decode, timing) = runtime(installed, threads);
    let n = timing.prompt.len();
    println!(
        "runtime, {threads} thread(s): {n}-token prompt read in {:.3} s ({:.0} tokens/s); {} answer tokens at {decode:.1} tokens/s; follow-up: {} of {} prompt tokens from the kept cache, read in {:.3} s",
        prefill,
        n as f64 / prefill,
        timing.answer_tokens,
        timing.followup_cached,
        timing.followup_prompt,
        timing.followup_prefill_secs,
    );
    let Some(python) = python.as_deref() else {
        println!("llama.cpp: AETHERIA_BENCH_LLAMA_PYTHON is not set; not compared");
        return;
    };
    for (name, file) in [
        ("the installed file", installed.to_path_buf()),
        ("the original file", test_model::path()),
    ] {
        let (l_prefill, l_decode, version) = llama_cpp(python, &file, threads, &timing);
        println!(
            "llama.cpp (llama-cpp-python {version}), {threads} thread(s), {name}: prompt {:.0} tokens/s, decode {l_decode:.1} tokens/s; runtime/llama.cpp: prompt {:.2}x, decode {:.2}x",
            n as f64 / l_prefill,
            l_prefill / prefill,
            decode / l_decode,
        );
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::new(data.path().join("config"), data.path().join("data"));
        config.local.threads = Some(candle_threads());
        config.local.max_tokens = TOKENS;
        for tool in [
            "fs_list",
            "fs_read",
            "fs_write",
            "run_code",
            "shell",
            "sandbox_network",
        ] {
            config.tools.policy.insert(tool.into(), Policy::Deny);
        }
        let (handle, mut events) = Engine::start(config).await.unwrap();
        handle
            .submit(Command::Models(ModelsCommand::AddLocal {
                source: test_model::path().display().to_string(),
                name: Some("bench".into()),
                sha256: None,
            }))
            .unwrap();
        let installed = until(&mut events, |e| match e {
            Event::LocalModelAdded { model } => Some(model.path),
            _ => None,
        })
        .await;

        let session = SessionId::new();
        handle
            .submit(Command::Session(SessionCommand::Create {
                session: session.clone(),
                title: Some("bench".into()),
            }))
            .unwrap();
        until(&mut events, |e| {
            matches!(e, Event::SessionCreated { .. }).then_some(())
        })
        .await;
        let prompt = "Write a long story about a lighthouse keeper and a storm.";
        let mut runs = Vec::new();
        for _ in 0..3 {
            handle
                .submit(Command::Turn(TurnCommand::Send {
                    session: session.clone(),
                    text: prompt.into(),
                    attachments: vec![],
                    create: false,
                    allow: vec![],
                }))
                .unwrap();
            let start = Instant::now();
            let mut first = None;
            let usage = until(&mut events, |e| match e {
                Event::TextDelta { .. } => {
                    first.get_or_insert_with(Instant::now);
                    None
                }
                Event::TurnFinished { usage, .. } => Some(usage),
                _ => None,
            })
            .await;
            let end = Instant::now();
            let first = first.unwrap_or(end);
            let decode = end.duration_since(first).as_secs_f64();
            runs.push((
                usage.input_tokens,
                first.duration_since(start).as_secs_f64(),
                (usage.output_tokens.saturating_sub(1)) as f64 / decode,
            ));
        }
        let raw = raw_decode(&installed);
        for (i, (prompt_tokens, to_first, tps)) in runs.iter().enumerate() {
            println!(
                "turn {}: {prompt_tokens} prompt tokens, first text after {:.2} s, {:.1} tokens/s",
                i + 1,
                to_first,
                tps
            );
        }
        let engine = runs.iter().map(|r| r.2).fold(f64::NAN, f64::max);
        let threads = candle_threads();
        println!("raw candle decode ({threads} thread(s)): {raw:.1} tokens/s");
        println!(
            "engine turn decode ({threads} thread(s)): {engine:.1} tokens/s = {:.2}x of raw",
            engine / raw
        );
        handle.submit(Command::Shutdown).unwrap();
        while events.recv().await.is_some() {}
        tokio::task::spawn_blocking(move || against_llama_cpp(&installed))
            .await
            .unwrap();
    });
}
