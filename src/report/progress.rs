//! Progress on stderr: only when stderr is a terminal, and only once the work has taken a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::source::Progress;

/// Layer-listing progress, drawn by indicatif on stderr.
pub struct LayerProgress {
    bar: ProgressBar,
    enabled: bool,
}

impl LayerProgress {
    /// A progress bar that shows itself after one second if stderr is a terminal.
    pub fn new(enabled: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let enabled = enabled && std::io::stderr().is_terminal();
        if enabled {
            // Quick runs never show a bar: it appears only once the work has taken a second.
            let later = bar.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                if !later.is_finished() {
                    later.set_draw_target(ProgressDrawTarget::stderr());
                }
            });
        }
        LayerProgress { bar, enabled }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for LayerProgress {
    fn start(&self, layers: usize) {
        if layers > 0 {
            self.bar.set_length(layers as u64);
            self.bar.set_style(
                ProgressStyle::with_template("{spinner} reading layers {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        } else {
            self.bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} reading {pos} layers from stdin {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
        }
        if self.enabled {
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn layer_done(&self, member: &str) {
        self.bar.inc(1);
        self.bar.set_message(member.to_string());
    }
}

/// Data-root scan progress (`dredge df`): directories measured out of all planned.
pub struct ScanProgress {
    bar: ProgressBar,
    started: Instant,
    enabled: bool,
}

impl ScanProgress {
    /// A bar that shows itself after one second if stderr is a terminal and `enabled`.
    pub fn new(enabled: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} measuring {pos}/{len} directories")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        ScanProgress {
            bar,
            started: Instant::now(),
            enabled: enabled && std::io::stderr().is_terminal(),
        }
    }

    /// Records that `done` of `total` directories are measured.
    pub fn update(&self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        if self.enabled && self.bar.is_hidden() && self.started.elapsed() > Duration::from_secs(1) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
