//! The image model every source yields: an image is a config plus an ordered list of layers, and a
//! layer is the list of entries of its tar, in tar order. Nothing here knows where the layers came from.

mod digest;
mod entry;
mod image;
pub mod paths;

pub use digest::hex;
pub use entry::{Entry, EntryKind, PathError, display_path, normalize_path};
pub use image::{Compression, History, Image, Layer};
pub use paths::{PathId, Paths, ROOT};
pub mod containerd;
pub mod dataroot;
pub mod engine;
pub mod held;
