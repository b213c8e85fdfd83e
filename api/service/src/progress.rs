//! Progress of long maintenance commands (seeding, rollup rebuilds and checks, imports, the
//! reform) on a terminal: lines on standard error with the time so far, at most one every few
//! seconds unless a step changes. Lines, not a redrawn bar, so the same output reads well in a
//! terminal, in a CI log and through `ssh`.
//!
//! A service function that can take minutes reports [`Step`]s to a callback ([`OnStep`]); the
//! command line prints them with [`Progress::report`], the API passes [`quiet`].

use std::io::Write;
use std::time::{Duration, Instant};

/// How often a repeated step may print.
const EVERY: Duration = Duration::from_secs(2);

/// How far a long service call has got: `done` of `of` items of its current `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub phase: &'static str,
    pub done: u64,
    pub of: u64,
}

/// Where a long service call reports its [`Step`]s.
pub type OnStep<'a> = &'a (dyn Fn(Step) + Send + Sync);

/// An [`OnStep`] that shows nothing (the API: its answer is the report).
pub fn quiet(_: Step) {}

pub struct Progress {
    what: &'static str,
    started: Instant,
    last: Option<Instant>,
    /// The phase of the last [`Step`] reported, and when it began.
    phase: Option<(&'static str, Instant)>,
}

impl Progress {
    pub fn new(what: &'static str) -> Self {
        Progress {
            what,
            started: Instant::now(),
            last: None,
            phase: None,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Prints `text` now (a new step).
    pub fn step(&mut self, text: &str) {
        self.last = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        // A closed standard error must not stop the work it reports on.
        let _ = writeln!(
            err,
            "{}: [{:>7.1} s] {text}",
            self.what,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Prints `text()` if nothing was printed for a while (a repeated step).
    pub fn tick(&mut self, text: impl FnOnce(Duration) -> String) {
        if self.last.is_none_or(|t| t.elapsed() >= EVERY) {
            let line = text(self.started.elapsed());
            self.step(&line);
        }
    }

    /// Prints a [`Step`]: at once when its phase begins or ends, else as a repeated step, with
    /// the phase's rate so far.
    pub fn report(&mut self, step: Step) {
        let began = match self.phase {
            Some((phase, began)) if phase == step.phase => began,
            _ => {
                let now = Instant::now();
                self.phase = Some((step.phase, now));
                self.last = None;
                now
            }
        };
        let line = || {
            let seconds = began.elapsed().as_secs_f64();
            let rate = if seconds >= 0.5 {
                format!(" ({}/s)", thousands((step.done as f64 / seconds) as u64))
            } else {
                String::new()
            };
            format!(
                "{}: {} of {}{rate}",
                step.phase,
                thousands(step.done),
                thousands(step.of)
            )
        };
        if step.done >= step.of {
            self.step(&line());
        } else {
            self.tick(|_| line());
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn groups_digits_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_264_000), "1,264,000");
    }
}
