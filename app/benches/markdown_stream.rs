//! Streaming markdown cost, as ratios measured in one run (not a test):
//! 1. applying the last 1,000 deltas of a 100 KB answer versus the first 1,000 (goal ≤ 2×);
//! 2. the same last 1,000 deltas with a full re-parse per delta (the naive baseline), versus ours;
//! 3. frames per second while 2,000 tokens/s stream in: each frame applies its deltas, refreshes the
//!    tail, builds the view, lays it out and renders it headless (iced_test, tiny-skia).
//!
//! `cargo bench -p aetheria --bench markdown_stream` (add `--profile dev` for a quick debug figure).

mod shared {
    pub mod answer;
}

use std::time::{Duration, Instant};

use aetheria_app::markdown::{self, Stream};
use aetheria_app::theme::{Mode, Palette};
use shared::answer::{deltas, markdown as answer};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let text = answer(100_000);
    let pieces = deltas(&text, 4);
    let n = pieces.len();
    assert!(n > 3_000, "{n} deltas");

    // 1 and 2: per-delta cost at the start and the end of a long answer.
    let mut first = Vec::new();
    let mut last = Vec::new();
    let mut naive_last = Vec::new();
    for _ in 0..5 {
        let mut stream = Stream::default();
        let t = Instant::now();
        for d in &pieces[..1_000] {
            stream.push(d);
            stream.refresh();
        }
        first.push(t.elapsed());
        for d in &pieces[1_000..n - 1_000] {
            stream.push(d);
        }
        stream.refresh();
        let t = Instant::now();
        for d in &pieces[n - 1_000..] {
            stream.push(d);
            stream.refresh();
        }
        last.push(t.elapsed());
        std::hint::black_box(stream.blocks().count());
    }
    // The naive baseline re-parses the whole answer per delta: 20 deltas are enough to price it.
    let prefix: String = pieces[..n - 20].concat();
    for _ in 0..3 {
        let mut whole = prefix.clone();
        let t = Instant::now();
        for d in &pieces[n - 20..] {
            whole.push_str(d);
            std::hint::black_box(markdown::parse(&whole).len());
        }
        naive_last.push(t.elapsed());
    }
    let (first, last, naive) = (median(first), median(last), median(naive_last));
    let ours_per_delta = last.as_secs_f64() / 1_000.0;
    let naive_per_delta = naive.as_secs_f64() / 20.0;
    println!("answer: {} bytes in {n} deltas of ~4 bytes", text.len());
    println!(
        "first 1,000 deltas: {first:?}; last 1,000: {last:?}; ratio last/first = {:.2}x (goal <= 2x)",
        last.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "per delta at the end of the answer: ours {:.1} us, naive full re-parse {:.1} ms: {:.0}x",
        ours_per_delta * 1e6,
        naive_per_delta * 1e3,
        naive_per_delta / ours_per_delta
    );

    // 3: frames while streaming 2,000 tokens/s at 60 frames/s (≈ 33 deltas per frame), measured over
    // the last part of the answer, where the document is longest.
    let palette = Palette::of(Mode::Light);
    let per_frame = 2_000 / 60 + 1;
    let mut stream = Stream::default();
    for d in &pieces[..n - 10 * per_frame] {
        stream.push(d);
    }
    stream.refresh();
    let actions = markdown::view::Actions::<String> {
        open: |link| link.url,
        copy: |s| s,
    };
    let mut frame_times = Vec::new();
    for frame in pieces[n - 10 * per_frame..].chunks(per_frame) {
        let t = Instant::now();
        for d in frame {
            stream.push(d);
        }
        stream.refresh();
        let view = iced::widget::scrollable(markdown::view::blocks(
            stream.blocks(),
            palette,
            16.0,
            actions,
        ))
        .anchor_bottom();
        let mut ui = iced_test::simulator(view);
        std::hint::black_box(ui.snapshot(&palette.theme(Mode::Light)).is_ok());
        frame_times.push(t.elapsed());
    }
    let frame = median(frame_times);
    println!(
        "frame while streaming 2,000 tokens/s (apply + parse + view + layout + headless render of a 100 KB answer): {frame:?} → {:.0} frames/s",
        1.0 / frame.as_secs_f64()
    );
}
