//! The detectors: each looks at the stacked image and the layer ↔ instruction map, and proposes one
//! kind of change with the bytes it saves.

mod caches;
mod cleanup;
mod copy_chown;
mod copy_delete;
mod dockerignore;
mod merge_runs;
mod multi_stage;

use super::context::Ctx;
use super::types::Suggestion;

/// Every detector's suggestions, in detector order.
pub(super) fn all(ctx: &Ctx<'_>) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    merge_runs::merge_runs(ctx, &mut out);
    cleanup::cleanup_moves(ctx, &mut out);
    caches::caches_left(ctx, &mut out);
    copy_chown::copy_chown(ctx, &mut out);
    copy_delete::copy_then_delete(ctx, &mut out);
    multi_stage::multi_stage(ctx, &mut out);
    dockerignore::dockerignore(ctx, &mut out);
    out
}
