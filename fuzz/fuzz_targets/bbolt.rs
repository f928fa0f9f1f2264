//! The input is a bbolt file (containerd's `meta.db` or the snapshotter's `metadata.db`, as `dredge df`
//! reads them on the containerd image store): parsed, checked, and walked as the containerd reader walks
//! it. Any input must give a value or an error, never a panic, a hang or an allocation out of bounds.
#![no_main]

use dredge::source::bbolt::{Bucket, Db, Value};
use libfuzzer_sys::fuzz_target;

fn walk(b: Bucket<'_>, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Ok(entries) = b.entries() {
        for (_, v) in entries {
            if let Value::Bucket(c) = v {
                walk(c, depth + 1);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(db) = Db::parse(data.to_vec()) {
        let _ = db.check();
        let _ = db.root().path(&[b"v1", b"moby", b"images"]);
        walk(db.root(), 0);
    }
});
