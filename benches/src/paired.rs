//! A paired-sample harness: a Safire operation and its baseline measured **interleaved**, so
//! whatever the machine does meanwhile (frequency changes, other people's builds, a vCPU
//! descheduled) hits both sides alike and cancels in the ratio.
//!
//! Each sample times one batch of the Safire routine and one batch of the baseline, back to
//! back (the order alternates from sample to sample, so a trend within a pair cancels too),
//! and keeps the ratio of the two batch times. The result is the **median of the per-sample
//! ratios** with a distribution-free 95% confidence interval (order statistics of the
//! median), which a burst of noise in a few samples does not move. Separate criterion groups
//! minutes apart cannot do this: their medians see different machines.
//!
//! Per-iteration inputs are made outside the timed loop, and inputs and outputs are dropped
//! after it, on both sides alike (criterion's `iter_batched_ref` with small inputs): a flow
//! outlives the request it makes, so freeing it is no part of making one.
//!
//! ```
//! use safire_benches::paired::{Settings, batched, measure, plain};
//! let settings = Settings::quick();
//! let result = measure(
//!     "sum vs sum",
//!     &settings,
//!     &mut plain(|| (0..100u64).sum::<u64>()),
//!     &mut batched(|| 100u64, |n| (0..*n).sum::<u64>()),
//! );
//! assert!(result.ratio.median > 0.0 && result.samples >= settings.min_samples);
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long to measure, and which pairs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Alternating batches run, untimed, before sampling.
    pub warm_up: Duration,
    /// Sampling time per pair (at least `min_samples` samples are taken anyway).
    pub measurement: Duration,
    /// The slower side's batch is sized to take at least this long.
    pub batch_target: Duration,
    /// Fewest samples per pair.
    pub min_samples: usize,
    /// Only pairs whose name contains this (or one of its `|`-separated parts).
    pub filter: Option<String>,
    /// Separate processes to run every pair in (see [`summarize`]).
    pub runs: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            warm_up: Duration::from_millis(500),
            measurement: Duration::from_secs(3),
            batch_target: Duration::from_millis(1),
            min_samples: 30,
            filter: None,
            runs: 3,
        }
    }
}

impl Settings {
    /// Tiny settings for doc tests and smoke runs.
    pub fn quick() -> Self {
        Self {
            warm_up: Duration::from_millis(5),
            measurement: Duration::from_millis(20),
            batch_target: Duration::from_micros(200),
            min_samples: 11,
            filter: None,
            runs: 1,
        }
    }

    /// The defaults, overridden by `--warm-up-time S`, `--measurement-time S`,
    /// `--batch-time-ms MS`, `--min-samples N`, `--runs N` and a positional name filter. `--bench` (which
    /// `cargo bench` passes) and unknown flags are ignored.
    pub fn from_args() -> Self {
        let mut settings = Self::default();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut seconds = || {
                args.next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .map(Duration::from_secs_f64)
            };
            match arg.as_str() {
                "--warm-up-time" => settings.warm_up = seconds().unwrap_or(settings.warm_up),
                "--measurement-time" => {
                    settings.measurement = seconds().unwrap_or(settings.measurement)
                }
                "--batch-time-ms" => {
                    settings.batch_target = seconds().map_or(settings.batch_target, |d| d / 1000)
                }
                "--min-samples" => {
                    settings.min_samples = args
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(settings.min_samples)
                }
                "--runs" => {
                    settings.runs = args
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(settings.runs)
                        .max(1)
                }
                flag if flag.starts_with("--") => {}
                filter => settings.filter = Some(filter.to_owned()),
            }
        }
        settings
    }

    /// Whether the pair `name` is selected: its name contains the filter, or one of the
    /// filter's `|`-separated parts.
    pub fn selects(&self, name: &str) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|f| f.split('|').any(|part| name.contains(part)))
    }
}

/// Something that can run `iterations` times and say how long the timed part took.
pub trait Routine {
    /// Runs one batch; returns the time of the timed loop only.
    fn run_batch(&mut self, iterations: usize) -> Duration;
}

/// A routine with an untimed per-iteration setup; see [`batched`] and [`plain`].
pub struct Batched<S, R> {
    setup: S,
    routine: R,
}

/// `routine(&mut setup())` per iteration; only `routine` is timed, inputs and outputs are
/// dropped after.
pub fn batched<I, O>(setup: impl FnMut() -> I, routine: impl FnMut(&mut I) -> O) -> impl Routine {
    Batched { setup, routine }
}

/// `routine()` per iteration; outputs are dropped after the timed loop.
pub fn plain<O>(mut routine: impl FnMut() -> O) -> impl Routine {
    batched(|| (), move |_| routine())
}

impl<S, R, I, O> Routine for Batched<S, R>
where
    S: FnMut() -> I,
    R: FnMut(&mut I) -> O,
{
    fn run_batch(&mut self, iterations: usize) -> Duration {
        let mut inputs: Vec<I> = (0..iterations).map(|_| (self.setup)()).collect();
        // Written once before timing, so no page of the output buffer is first touched (and
        // faulted in) inside the timed loop.
        let mut outputs: Vec<Option<O>> = (0..iterations).map(|_| None).collect();
        let start = Instant::now();
        // The routine borrows its input: inputs are freed after timing, not inside the loop.
        for (input, output) in inputs.iter_mut().zip(&mut outputs) {
            *output = Some(black_box((self.routine)(black_box(input))));
        }
        let elapsed = start.elapsed();
        drop((inputs, outputs));
        elapsed
    }
}

/// A median with its 95% confidence interval.
#[derive(Clone, Copy, Debug)]
pub struct Estimate {
    /// The median.
    pub median: f64,
    /// Lower bound of the 95% interval.
    pub low: f64,
    /// Upper bound of the 95% interval.
    pub high: f64,
}

impl Estimate {
    /// The median of `values` and its distribution-free 95% interval: the order statistics
    /// `n/2 ∓ 0.98·√n` (normal approximation of the binomial; exact enough from ~10 values).
    /// `values` must not be empty.
    pub fn median_of(values: &mut [f64]) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let half_width = 0.98 * (n as f64).sqrt();
        let low = ((n as f64 / 2.0 - half_width).floor().max(0.0)) as usize;
        let high = ((n as f64 / 2.0 + half_width).ceil() as usize).min(n - 1);
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Self {
            median,
            low: values[low],
            high: values[high],
        }
    }
}

/// What [`measure`] found for one pair.
#[derive(Clone, Debug)]
pub struct PairResult {
    /// The pair's name.
    pub name: String,
    /// Iterations per batch (the same on both sides).
    pub iterations: usize,
    /// Samples (pairs of batches) taken.
    pub samples: usize,
    /// Median per-iteration time of the Safire side, ns.
    pub safire_ns: Estimate,
    /// Median per-iteration time of the baseline, ns.
    pub baseline_ns: Estimate,
    /// Median of the per-sample ratios Safire ÷ baseline.
    pub ratio: Estimate,
}

impl PairResult {
    /// One markdown table row: name, the two times, the ratio with its interval, samples.
    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {} | {} | **{:.3}** ({:.3}–{:.3}) | {} × {} |",
            self.name,
            format_ns(self.safire_ns.median),
            format_ns(self.baseline_ns.median),
            self.ratio.median,
            self.ratio.low,
            self.ratio.high,
            self.samples,
            self.iterations,
        )
    }
}

impl PairResult {
    /// One tab-separated line (name without tabs), read back by [`PairResult::from_tsv`]: how
    /// a run in a child process hands its results to the parent.
    pub fn to_tsv(&self) -> String {
        let e = |e: &Estimate| format!("{}\t{}\t{}", e.median, e.low, e.high);
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.name.replace('\t', " "),
            self.iterations,
            self.samples,
            e(&self.safire_ns),
            e(&self.baseline_ns),
            e(&self.ratio),
        )
    }

    /// Parses a [`PairResult::to_tsv`] line.
    pub fn from_tsv(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, iterations, samples, rest @ ..] = fields.as_slice() else {
            return None;
        };
        let numbers: Vec<f64> = rest.iter().map(|v| v.parse().ok()).collect::<Option<_>>()?;
        let [s, sl, sh, b, bl, bh, r, rl, rh] = numbers.as_slice() else {
            return None;
        };
        let e = |median: f64, low: f64, high: f64| Estimate { median, low, high };
        Some(Self {
            name: (*name).to_owned(),
            iterations: iterations.parse().ok()?,
            samples: samples.parse().ok()?,
            safire_ns: e(*s, *sl, *sh),
            baseline_ns: e(*b, *bl, *bh),
            ratio: e(*r, *rl, *rh),
        })
    }
}

/// One pair over several runs (processes): a run's median ratio moves more between processes
/// (memory layout, which core, what else runs) than its own interval says, so the figure to
/// read is the median over runs, with the range of the runs' medians.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The pair's name.
    pub name: String,
    /// Median over runs of the Safire side's median time, ns.
    pub safire_ns: f64,
    /// Median over runs of the baseline's median time, ns.
    pub baseline_ns: f64,
    /// Median over runs of the runs' median ratios.
    pub ratio: f64,
    /// Lowest run's median ratio.
    pub ratio_min: f64,
    /// Highest run's median ratio.
    pub ratio_max: f64,
    /// Runs that measured the pair.
    pub runs: usize,
}

impl Summary {
    /// One markdown table row: name, times, median ratio, range over runs, runs.
    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {} | {} | **{:.3}** | {:.3}–{:.3} | {} |",
            self.name,
            format_ns(self.safire_ns),
            format_ns(self.baseline_ns),
            self.ratio,
            self.ratio_min,
            self.ratio_max,
            self.runs,
        )
    }
}

/// Groups the results of several runs by pair name (first-seen order) into [`Summary`] rows.
pub fn summarize(runs: &[Vec<PairResult>]) -> Vec<Summary> {
    let mut names: Vec<&str> = Vec::new();
    for result in runs.iter().flatten() {
        if !names.contains(&result.name.as_str()) {
            names.push(&result.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let of = |f: fn(&PairResult) -> f64| -> Vec<f64> {
                runs.iter()
                    .flatten()
                    .filter(|r| r.name == name)
                    .map(f)
                    .collect()
            };
            let mut ratios = of(|r| r.ratio.median);
            let ratio = Estimate::median_of(&mut ratios);
            Summary {
                name: name.to_owned(),
                safire_ns: Estimate::median_of(&mut of(|r| r.safire_ns.median)).median,
                baseline_ns: Estimate::median_of(&mut of(|r| r.baseline_ns.median)).median,
                ratio: ratio.median,
                ratio_min: ratios[0],
                ratio_max: ratios[ratios.len() - 1],
                runs: ratios.len(),
            }
        })
        .collect()
}

/// `1.23 µs`, `4.567 ms`, `890 ns`.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Measures `safire` against `baseline`, interleaved (see the module docs).
pub fn measure(
    name: &str,
    settings: &Settings,
    safire: &mut dyn Routine,
    baseline: &mut dyn Routine,
) -> PairResult {
    // Calibrate: the slower side's batch takes at least `batch_target` (the fastest of three
    // tries, so one preempted batch does not decide the batch size).
    let mut iterations = 1usize;
    loop {
        let slower = (0..3)
            .map(|_| {
                safire
                    .run_batch(iterations)
                    .max(baseline.run_batch(iterations))
            })
            .min()
            .unwrap_or_default();
        if slower >= settings.batch_target || iterations >= 1 << 24 {
            break;
        }
        let scale = settings.batch_target.as_secs_f64() / slower.as_secs_f64().max(1e-9);
        iterations = (iterations as f64 * scale.clamp(1.5, 100.0)).ceil() as usize;
    }

    let warm_up_end = Instant::now() + settings.warm_up;
    while Instant::now() < warm_up_end {
        safire.run_batch(iterations);
        baseline.run_batch(iterations);
    }

    let (mut ratios, mut safire_ns, mut baseline_ns) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    while ratios.len() < settings.min_samples || start.elapsed() < settings.measurement {
        let (s, b) = if ratios.len() % 2 == 0 {
            let s = safire.run_batch(iterations);
            (s, baseline.run_batch(iterations))
        } else {
            let b = baseline.run_batch(iterations);
            (safire.run_batch(iterations), b)
        };
        let (s, b) = (s.as_secs_f64(), b.as_secs_f64().max(1e-12));
        ratios.push(s / b);
        safire_ns.push(s * 1e9 / iterations as f64);
        baseline_ns.push(b * 1e9 / iterations as f64);
    }
    PairResult {
        name: name.to_owned(),
        iterations,
        samples: ratios.len(),
        safire_ns: Estimate::median_of(&mut safire_ns),
        baseline_ns: Estimate::median_of(&mut baseline_ns),
        ratio: Estimate::median_of(&mut ratios),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift steps: a serial chain the compiler cannot shorten.
    fn spin(steps: u64) -> u64 {
        let mut x = 1u64;
        for _ in 0..steps {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x
    }

    #[test]
    fn median_and_interval_of_known_values() {
        let mut odd = [5.0, 1.0, 3.0, 2.0, 4.0];
        let e = Estimate::median_of(&mut odd);
        assert_eq!(e.median, 3.0);
        assert!(e.low <= 3.0 && e.high >= 3.0);
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        values.reverse();
        let e = Estimate::median_of(&mut values);
        assert_eq!(e.median, 50.5);
        // n = 100: 50 ∓ 9.8 → order statistics 40 and 60 (0-based), i.e. 41.0 and 61.0.
        assert_eq!((e.low, e.high), (41.0, 61.0));
    }

    fn result(name: &str, ratio: f64) -> PairResult {
        let e = |median: f64| Estimate {
            median,
            low: median * 0.99,
            high: median * 1.01,
        };
        PairResult {
            name: name.into(),
            iterations: 7,
            samples: 100,
            safire_ns: e(ratio * 100.0),
            baseline_ns: e(100.0),
            ratio: e(ratio),
        }
    }

    #[test]
    fn results_survive_the_trip_through_a_child_process() {
        let original = result("token request", 1.125);
        let line = original.to_tsv();
        let back = PairResult::from_tsv(&line).expect("parses");
        assert_eq!(back.to_tsv(), line);
        assert_eq!((back.iterations, back.samples), (7, 100));
        assert!(PairResult::from_tsv("token request\t1\t2\t3").is_none());
        assert!(PairResult::from_tsv("not a result").is_none());
    }

    #[test]
    fn summary_is_the_median_over_runs_with_their_range() {
        let runs = vec![
            vec![result("a", 1.10), result("b", 2.0)],
            vec![result("a", 1.30)],
            vec![result("a", 1.20), result("b", 3.0)],
        ];
        let summary = summarize(&runs);
        assert_eq!(summary.len(), 2);
        assert_eq!(summary[0].name, "a");
        assert_eq!(summary[0].runs, 3);
        assert!((summary[0].ratio - 1.20).abs() < 1e-12);
        assert_eq!((summary[0].ratio_min, summary[0].ratio_max), (1.10, 1.30));
        assert_eq!(summary[1].runs, 2);
        assert!((summary[1].ratio - 2.5).abs() < 1e-12);
    }

    #[test]
    fn ratios_of_known_work() {
        // A routine against itself is about one; doing twice the work, about two.
        for (name, safire, baseline, expected) in [
            ("control", 2_000, 2_000, 0.5..2.0),
            ("double", 20_000, 10_000, 1.4..2.8),
        ] {
            let result = measure(
                name,
                &Settings::quick(),
                &mut plain(|| spin(black_box(safire))),
                &mut plain(|| spin(black_box(baseline))),
            );
            assert!(
                expected.contains(&result.ratio.median),
                "{}",
                result.markdown_row()
            );
        }
    }
}
