//! `dredge reclaim --watch`: for hosts without timers. One run at the start; then it follows the
//! engine's container events, records each image's last use in the state file as it happens (the
//! daemon's event buffer is small), and runs the policy whenever used space is at or above `high` (checked
//! on every event and once a minute). SIGTERM or SIGINT stops it cleanly: a run under way stops before
//! its next step (the object in flight finishes, journaled), and the watch returns.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;

use super::{Options, Outcome, ReclaimError, policy, run, state};

/// How often usage is measured without events.
const TICK: Duration = Duration::from_secs(60);
/// The shortest time between two runs started by events.
const DEBOUNCE: Duration = Duration::from_secs(10);

/// Watches until SIGTERM/SIGINT; `report` gets every run's outcome (or error: a bad policy ends the
/// watch, other errors are reported and the watch goes on).
pub fn watch(
    opts: &Options,
    report: &mut dyn FnMut(&Result<Outcome, ReclaimError>),
) -> Result<(), ReclaimError> {
    let policy = policy::load(&opts.policy)?;
    let stop = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ReclaimError::Input(e.to_string()))?;
    // Signals are taken over before anything runs (the default action would kill mid-apply), on a
    // runtime and a thread of their own, so that a run (synchronous, on this thread) sees the flag at
    // once.
    let sig_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ReclaimError::Input(e.to_string()))?;
    let (mut term, mut int) = sig_rt
        .block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })
        .map_err(|e| ReclaimError::Input(format!("cannot handle SIGTERM: {e}")))?;
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            sig_rt.block_on(async {
                let a = Box::pin(term.recv());
                let b = Box::pin(int.recv());
                futures_util::future::select(a, b).await;
            });
            stop.store(true, Ordering::SeqCst);
        });
    }
    let opts = Options {
        stop: Some(stop.clone()),
        ..opts.clone()
    };
    let first = run(&opts);
    if let Err(ReclaimError::Policy(_)) = &first {
        return first.map(|_| ());
    }
    report(&first);
    let root = match &first {
        Ok(o) => std::path::PathBuf::from(&o.data_root),
        Err(_) => {
            return first.map(|_| ());
        }
    };
    let engine_id = first
        .as_ref()
        .map(|o| o.engine_id.clone())
        .unwrap_or_default();
    let d = rt
        .block_on(async { Docker::connect_with_defaults()?.negotiate_version().await })
        .map_err(|e| ReclaimError::Input(format!("cannot reach the Docker Engine: {e}")))?;
    let mut filters = HashMap::new();
    filters.insert("type", vec!["container"]);
    let since = crate::prune::engine::now().to_string();
    let mut events = d.events(Some(
        EventsOptionsBuilder::new()
            .since(&since)
            .filters(&filters)
            .build(),
    ));
    let mut last_check = Instant::now();
    let mut last_run = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        // Wait up to a second for an event (then look at the flag again).
        let ev = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(1), events.next()).await });
        let mut triggered = false;
        match ev {
            Ok(Some(Ok(e))) => {
                let image = e
                    .actor
                    .and_then(|a| a.attributes)
                    .and_then(|mut a| a.remove("image"));
                if let (Some(name), Some(t)) = (image, e.time) {
                    let id = if name.starts_with("sha256:") {
                        Some(name)
                    } else {
                        rt.block_on(d.inspect_image(&name)).ok().and_then(|i| i.id)
                    };
                    if let Some(id) = id {
                        record_use(&opts, &engine_id, &id, t);
                    }
                }
                triggered = last_run.elapsed() >= DEBOUNCE;
            }
            Ok(Some(Err(e))) => {
                report(&Err(ReclaimError::Input(format!(
                    "the engine's event stream failed: {e}"
                ))));
                return Err(ReclaimError::Input(format!(
                    "the engine's event stream failed: {e}"
                )));
            }
            Ok(None) => {
                return Err(ReclaimError::Input(
                    "the engine's event stream ended (the daemon stopped?)".into(),
                ));
            }
            Err(_) => {}
        }
        if !(triggered || last_check.elapsed() >= TICK) {
            continue;
        }
        last_check = Instant::now();
        let Ok(u) = super::run::measure(&root) else {
            continue;
        };
        if u.used_bytes >= policy.high.bytes(u.size()) && !stop.load(Ordering::SeqCst) {
            last_run = Instant::now();
            let r = run(&opts);
            report(&r);
            if let Err(ReclaimError::Policy(_)) = r {
                return r.map(|_| ());
            }
        }
    }
    Ok(())
}

/// Records one container event's image (by id) as used at `t` in the state file (images the state
/// does not know yet are left to the next run, which sees them first).
fn record_use(opts: &Options, engine_id: &str, id: &str, t: i64) {
    if opts.dry_run {
        return;
    }
    let (mut st, warning) = state::load(&opts.state_file, engine_id);
    if warning.is_some() {
        return;
    }
    if let Some(s) = st.images.get_mut(id) {
        s.last_used = s.last_used.max(t);
        let _ = state::save(&opts.state_file, &st);
    }
}
