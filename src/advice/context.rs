//! What the advisor knows about the image: which instruction made each layer, what it is (RUN, COPY),
//! which layers can merge, and the stacked image's final filesystem; and evidence rows from it.

use super::dockerfile::{self, Dockerfile, squash};
use super::edit;
use super::history::{LayerMap, Step};
use super::types::{Evidence, LineSpan};
use crate::analysis::paths::PathTable;
use crate::analysis::stack::{self, Stacked};
use crate::model::{Image, Paths};

const EVIDENCE_ROWS: usize = 20;

/// What the advisor knows about each layer.
pub(super) struct Ctx<'a> {
    /// The image advised on.
    pub image: &'a Image,
    /// The Dockerfile, when it matched the image.
    pub df: Option<&'a Dockerfile>,
    /// Which instruction (or history step) made each layer.
    pub map: LayerMap,
    /// The image's paths as a tree, for stacking ranges of layers.
    pub paths: PathTable<'a>,
    /// The whole image stacked.
    pub st: Stacked,
    /// The final filesystem as (path, node), sorted by path.
    pub live: Vec<(Box<[u8]>, stack::Node)>,
    /// Merge group of each layer: consecutive mergeable RUNs share one (the first layer's index).
    pub group: Vec<usize>,
}

impl<'a> Ctx<'a> {
    /// Stacks `image` and works out what its layers are, from `map` (and `df`, when it matched).
    pub fn new(image: &'a Image, df: Option<&'a Dockerfile>, map: LayerMap) -> Self {
        let paths = PathTable::of(image);
        let st = stack::stack_with(image, &paths);
        let live = st.live_sorted(&image.paths);
        let mut ctx = Ctx {
            image,
            df,
            map,
            paths,
            st,
            live,
            group: Vec::new(),
        };
        let n = image.layers.len();
        let mut group = vec![0usize; n];
        for l in 1..n {
            group[l] = if ctx.mergeable_pair(l - 1) {
                group[l - 1]
            } else {
                l
            };
        }
        ctx.group = group;
        ctx
    }
}

impl Ctx<'_> {
    /// The Dockerfile instruction that made `layer`, when the Dockerfile matched.
    pub fn instr(&self, layer: usize) -> Option<&dockerfile::Instruction> {
        let df = self.df?;
        self.map
            .instruction
            .get(layer)
            .copied()
            .flatten()
            .map(|i| &df.instructions[i])
    }
    /// True when a RUN made `layer` (from the Dockerfile when it matched, else from the history).
    pub fn is_run(&self, layer: usize) -> bool {
        match self.instr(layer) {
            Some(i) => i.keyword == "RUN",
            None => self.df.is_none() && matches!(self.map.steps[layer], Step::Run { .. }),
        }
    }
    /// True when a COPY or ADD made `layer`.
    pub fn is_copy(&self, layer: usize) -> bool {
        match self.instr(layer) {
            Some(i) => matches!(i.keyword.as_str(), "COPY" | "ADD"),
            None => self.df.is_none() && matches!(self.map.steps[layer], Step::Copy { .. }),
        }
    }
    /// The command text of a RUN layer.
    pub fn command(&self, layer: usize) -> String {
        if let Some(i) = self.instr(layer) {
            return squash(&i.args);
        }
        match &self.map.steps[layer] {
            Step::Run { command } => squash(command),
            _ => String::new(),
        }
    }
    /// The Dockerfile lines of the instruction that made `layer`.
    pub fn span(&self, layer: usize) -> Option<LineSpan> {
        self.instr(layer).map(|i| LineSpan {
            start: i.start_line,
            end: i.end_line,
        })
    }
    /// The Dockerfile lines of the instructions that made `layers`.
    pub fn spans(&self, layers: &[usize]) -> Vec<LineSpan> {
        layers.iter().filter_map(|&l| self.span(l)).collect()
    }
    /// Layers the Dockerfile at hand can change.
    pub fn ours(&self, layer: usize) -> bool {
        layer >= self.map.base_layers
    }
    /// True when RUN layers `l` and `l + 1` could be one RUN without changing meaning.
    fn mergeable_pair(&self, l: usize) -> bool {
        if !(self.is_run(l) && self.is_run(l + 1) && self.ours(l)) {
            return false;
        }
        match self.df {
            Some(_) => {
                let (Some(&Some(a)), Some(&Some(b))) =
                    (self.map.instruction.get(l), self.map.instruction.get(l + 1))
                else {
                    return false;
                };
                let df = self.df.expect("matched above");
                let (ia, ib) = (&df.instructions[a], &df.instructions[b]);
                b == a + 1
                    && edit::appendable(ia)
                    && edit::appendable(ib)
                    && ["mount", "network", "security"]
                        .iter()
                        .all(|f| ia.flag(f) == ib.flag(f))
            }
            // From history alone: nothing recorded between them (ENV, USER, WORKDIR… leave records).
            None => self.image.layers[l + 1].history.empty_before.is_empty(),
        }
    }
}

/// Evidence rows, largest first, cut to the rows shown; and how many were left out.
pub(super) fn evidence_rows(mut rows: Vec<Evidence>) -> (Vec<Evidence>, usize) {
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    let more = rows.len().saturating_sub(EVIDENCE_ROWS);
    rows.truncate(EVIDENCE_ROWS);
    (rows, more)
}

/// Evidence rows for groups of hidden bytes.
pub(super) fn hidden_evidence(
    paths: &Paths,
    items: &[&stack::HiddenItem],
) -> (Vec<Evidence>, usize) {
    evidence_rows(
        items
            .iter()
            .map(|h| Evidence {
                path: paths.display(h.path),
                bytes: h.bytes,
                files: h.files,
                added_in: h.added(),
                hidden_by: Some(h.hidden_by()),
                reason: h.reason.name(),
            })
            .collect(),
    )
}
