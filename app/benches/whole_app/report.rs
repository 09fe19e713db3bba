//! The figures as a table: each against the bare window's where there is one, with its budget and
//! whether it holds. Budgets allow for the noise measured on this machine (README, "Performance").

use std::fmt::Write as _;
use std::time::Duration;

use crate::Runs;
use crate::procs::Usage;

/// What the stream measured.
pub struct Streaming {
    /// First chunk sent → last chunk sent.
    pub duration: Duration,
    /// First chunk sent → the last visible change of the conversation.
    pub shown: Duration,
    /// CPU of the window and its engine from the message sent to the last change.
    pub cpu: Duration,
    /// Between visible changes while it streamed.
    pub intervals: Vec<Duration>,
    /// Idle afterwards, the answer on screen.
    pub idle_after: Usage,
    pub changed_after: bool,
    pub idle_span: Duration,
}

/// One line of the table.
pub struct Figure {
    name: String,
    value: String,
    baseline: String,
    ratio: Option<f64>,
    budget: String,
    ok: Option<bool>,
    /// `--check` fails when it does not hold (the figures known over budget are shown, not
    /// gated: README, "Performance").
    gated: bool,
}

#[derive(Default)]
pub struct Report {
    base: Option<Base>,
    figures: Vec<Figure>,
    /// A debug build is measured: its start is not the optimised app's, so not gated.
    pub debug: bool,
    /// The window's RSS in the first configuration added (the first run's welcome): what a long
    /// conversation's window is compared with.
    first_window_rss: Option<u64>,
}

struct Base {
    start: Duration,
    rss: u64,
    exit: Duration,
    idle_cpu: Duration,
}

fn median<T: Copy + Ord>(v: &[T]) -> T {
    let mut v = v.to_vec();
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Noise allowed on top of a ratio budget (README, "Performance": what moved between runs here).
const RATIO_NOISE: f64 = 0.10;
/// Noise allowed on an absolute time budget.
const TIME_NOISE: Duration = Duration::from_millis(30);
/// Noise allowed on a memory budget: RSS moved by under 2 % between runs here.
const RSS_NOISE: u64 = 4_000_000;
/// What a long conversation open may add to the window's memory.
const CONVERSATION_RSS: u64 = 40_000_000;

impl Report {
    pub fn baseline(&mut self, runs: &Runs) {
        let base = Base {
            start: median(&runs.start),
            rss: median(&runs.rss),
            exit: median(&runs.exit),
            idle_cpu: median(&runs.idle_cpu),
        };
        self.figures.push(Figure {
            name: "bare window: exec → first frame, idle CPU, RSS, SIGTERM → gone".into(),
            value: format!(
                "{} · {} · {} · {}",
                ms(base.start),
                ms(base.idle_cpu),
                mb(base.rss),
                ms(base.exit)
            ),
            baseline: String::new(),
            ratio: None,
            budget: String::new(),
            ok: None,
            gated: false,
        });
        self.base = Some(base);
    }

    fn ratio(
        &mut self,
        name: String,
        (value, base): (f64, f64),
        shown: (String, String),
        budget: f64,
        gated: bool,
    ) {
        let ratio = value / base;
        self.figures.push(Figure {
            name,
            value: shown.0,
            baseline: shown.1,
            ratio: Some(ratio),
            budget: format!("≤ {budget:.1}×"),
            ok: Some(ratio <= budget + RATIO_NOISE),
            gated,
        });
    }

    fn absolute(&mut self, name: String, value: String, budget: String, ok: bool, gated: bool) {
        self.figures.push(Figure {
            name,
            value,
            baseline: String::new(),
            ratio: None,
            budget,
            ok: Some(ok),
            gated,
        });
    }

    /// A configuration of the app, against the bare window.
    pub fn add(&mut self, what: &str, runs: &Runs) {
        let Some(base) = self.base.as_ref() else {
            return;
        };
        let (bs, brss) = (base.start, base.rss);
        let start = median(&runs.start);
        let gate_start = !self.debug;
        self.ratio(
            format!("{what}: exec → first non-blank frame"),
            (start.as_secs_f64(), bs.as_secs_f64()),
            (ms(start), ms(bs)),
            1.3,
            gate_start,
        );
        let idle = median(&runs.idle_cpu);
        let span = 20.0;
        self.absolute(
            format!("{what}: idle CPU (window + engine), per 20 s"),
            format!(
                "{} · {} wakeups/s",
                ms(idle),
                median(&runs.wakeups) as f64 / span
            ),
            "≤ 20 ms".into(),
            idle <= Duration::from_millis(20) + TIME_NOISE,
            false,
        );
        let window_idle = median(&runs.window_idle_cpu);
        self.absolute(
            format!("{what}: idle CPU of the window alone, per 20 s"),
            ms(window_idle),
            "≤ 20 ms".into(),
            window_idle <= Duration::from_millis(20) + TIME_NOISE,
            true,
        );
        self.absolute(
            format!("{what}: the screen changed while idle"),
            if runs.changed { "yes" } else { "no" }.into(),
            "no".into(),
            !runs.changed,
            true,
        );
        let rss = median(&runs.rss);
        self.ratio(
            format!("{what}: RSS, window + engine"),
            (rss as f64, brss as f64),
            (mb(rss), mb(brss)),
            1.3,
            false,
        );
        let wrss = median(&runs.window_rss);
        self.figures.push(Figure {
            name: format!("{what}: RSS, the window alone"),
            value: mb(wrss),
            baseline: mb(brss),
            ratio: Some(wrss as f64 / brss as f64),
            budget: String::new(),
            ok: None,
            gated: false,
        });
        match self.first_window_rss {
            None => self.first_window_rss = Some(wrss),
            Some(first) => {
                let added = wrss.saturating_sub(first);
                self.absolute(
                    format!("{what}: the window's RSS over the first run's"),
                    format!("+{}", mb(added)),
                    format!("≤ +{}", mb(CONVERSATION_RSS)),
                    added <= CONVERSATION_RSS + RSS_NOISE,
                    true,
                );
            }
        }
        if let Some((grown, text)) = runs.growth {
            self.absolute(
                format!(
                    "{what}: RSS grown over the turns sent (text stored: {})",
                    mb(text as u64)
                ),
                mb(grown),
                "≤ 10× the text".into(),
                grown <= (text as u64 * 10).max(8_000_000) + RSS_NOISE,
                true,
            );
        }
        let exit = median(&runs.exit);
        self.absolute(
            format!("{what}: window closed → gone"),
            ms(exit),
            "≤ 300 ms".into(),
            exit <= Duration::from_millis(300) + TIME_NOISE,
            true,
        );
        if !runs.host_exit.is_empty() {
            let host = median(&runs.host_exit);
            self.absolute(
                format!("{what}: its engine (serve) SIGTERM → gone, store reopens"),
                ms(host),
                "≤ 300 ms".into(),
                host <= Duration::from_millis(300) + TIME_NOISE,
                true,
            );
        }
    }

    pub fn streaming(&mut self, s: Streaming) {
        let ratio = s.shown.as_secs_f64() / s.duration.as_secs_f64();
        self.figures.push(Figure {
            name: "streaming: last text on screen / the stream's duration".into(),
            value: ms(s.shown),
            baseline: ms(s.duration),
            ratio: Some(ratio),
            budget: "≤ 1.2×".into(),
            ok: Some(ratio <= 1.2 + RATIO_NOISE),
            gated: true,
        });
        let (p50, p99) = if s.intervals.is_empty() {
            (Duration::ZERO, Duration::MAX)
        } else {
            let mut v = s.intervals.clone();
            v.sort_unstable();
            (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
        };
        self.absolute(
            "streaming: between visible changes, p50 / p99".into(),
            format!(
                "{} / {} ({} changes)",
                ms(p50),
                ms(p99),
                s.intervals.len() + 1
            ),
            "p99 ≤ 16 ms".into(),
            p99 <= Duration::from_millis(16),
            false,
        );
        self.absolute(
            "streaming: CPU of window + engine while it streamed".into(),
            format!(
                "{} ({:.0} % of a core)",
                ms(s.cpu),
                100.0 * s.cpu.as_secs_f64() / s.shown.as_secs_f64()
            ),
            String::new(),
            true,
            false,
        );
        let per20 = s.idle_after.cpu.as_secs_f64() * 20.0 / s.idle_span.as_secs_f64();
        self.absolute(
            "the answer on screen, idle: CPU per 20 s".into(),
            format!(
                "{:.0} ms · {:.1} wakeups/s · screen changed: {}",
                per20 * 1000.0,
                s.idle_after.wakeups as f64 / s.idle_span.as_secs_f64(),
                if s.changed_after { "yes" } else { "no" }
            ),
            "≤ 20 ms, no change".into(),
            per20 <= 0.02 + TIME_NOISE.as_secs_f64() && !s.changed_after,
            false,
        );
    }

    /// Whether every gated figure holds.
    pub fn within_budgets(&self) -> bool {
        self.figures.iter().all(|f| !f.gated || f.ok != Some(false))
    }

    pub fn table(&self) -> String {
        let mut out = String::from(
            "\n| figure | Aetheria | bare iced window | ratio | budget | holds |\n|---|---|---|---|---|---|\n",
        );
        for f in &self.figures {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                f.name,
                f.value,
                f.baseline,
                f.ratio.map_or(String::new(), |r| format!("{r:.2}×")),
                f.budget,
                match (f.ok, f.gated) {
                    (Some(true), _) => "yes",
                    (Some(false), true) => "**no**",
                    (Some(false), false) => "no (not gated)",
                    (None, _) => "",
                }
            );
        }
        out
    }
}
