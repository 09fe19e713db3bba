//! Local model speed: tokens per second of a whole engine turn on the built-in runtime (template,
//! tokenizer, sampling, streaming events, the answer stored) versus a bare candle decode loop of
//! the same installed Q8_0 file, in the same process, on one thread. Prompt reading is timed too.
//! Needs the test model (installer/dev.sh test fetches it).
//! Run: `cargo bench -p aetheria-engine --features testkit --bench local_model`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use aetheria_engine::api::{
    Command, Event, ModelsCommand, Policy, SessionCommand, SessionId, TurnCommand,
};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::test_model;
use aetheria_engine::{Engine, Events};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;

const TOKENS: usize = 128;

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

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::new(data.path().join("config"), data.path().join("data"));
        config.local.threads = Some(1);
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
        println!("raw candle decode (1 thread): {raw:.1} tokens/s");
        println!(
            "engine turn decode (1 thread): {engine:.1} tokens/s = {:.2}x of raw",
            engine / raw
        );
        handle.submit(Command::Shutdown).unwrap();
        while events.recv().await.is_some() {}
    });
}
