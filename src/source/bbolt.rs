//! A small read-only reader of bbolt files (containerd's `meta.db` and the overlayfs snapshotter's
//! `metadata.db`), that never takes the file's lock.
//!
//! Why our own: the maintained Rust bbolt (`bbolt-rs`) is a read-write port of Go's bbolt, which maps
//! the file and takes `flock` on open, shared even read-only, which waits for containerd's exclusive
//! lock as long as containerd runs; `bolt-lite` is a 0.1 with one release. What we need is small:
//! walk buckets of a file read into memory, and prove the copy consistent. About 250 lines.
//!
//! Format (bbolt `page.go`, `node.go`, `bucket.go`): pages of `page_size`; a page starts with a 16-byte
//! header `id u64, flags u16, count u16, overflow u32`. Pages 0 and 1 are meta pages (flag 0x04): after
//! the header `magic u32 (0xED0CDAED), version u32 (2), page_size u32, flags u32, root {pgid u64,
//! sequence u64}, freelist u64, pgid u64 (high water mark), txid u64, checksum u64` (FNV-1a 64 of the
//! 56 bytes before it). The valid meta with the higher txid is the current one. A branch page (0x01)
//! has `count` elements `pos u32, ksize u32, pgid u64`; a leaf page (0x02) has `flags u32, pos u32,
//! ksize u32, vsize u32`; `pos` is from the element's own start. A leaf element with flag 0x01 is a
//! nested bucket: its value is `root u64, sequence u64`, and with root 0 an inline page follows.
//!
//! **Reading a live file without its lock** ([`read_consistent`]). bbolt is copy-on-write: a commit
//! writes its pages to free pages, syncs, and only then writes the meta page (txid + 1). A page that
//! the meta of txid `M` reaches is freed at the earliest by commit `M + 1` and re-used at the earliest
//! by the transaction after it, `M + 2`, which writes it before its own meta. So: read the metas
//! (txid `T0`), read the whole file (its meta pages first, at offset 0, so the copy's current meta `M`
//! is `T0` or a later one whose pages were on disk before), then read the metas again (`T1`). When
//! `T1 == M`, no commit after `M` finished, so no transaction `M + 2` began: every page `M` reaches
//! was unchanged while we read it. When `T1 > M` the copy may mix two states: read again (a few
//! times, then give up with an error). This is the "same or one higher" rule: `M` is `T0` or `T0 + 1`,
//! and it must equal `T1`. Offline (no writer) the first read always passes.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Why a bbolt file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BoltError {
    /// The file cannot be read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Neither meta page is valid.
    #[error("not a bbolt file (no valid meta page)")]
    NoMeta,
    /// A page or element points outside the file, or the tree loops.
    #[error("corrupt bbolt file: {0}")]
    Corrupt(&'static str),
    /// A writer kept committing while the file was read.
    #[error("the file kept changing while it was read ({0} tries)")]
    Unstable(u32),
}

const MAGIC: u32 = 0xED0C_DAED;
const PAGE_HEADER: usize = 16;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const BUCKET_LEAF: u32 = 0x01;
/// Deeper than any B+tree of a real file: a loop in garbage stops here.
const MAX_DEPTH: usize = 64;

/// The current meta page's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Page size.
    pub page_size: usize,
    /// Root bucket's root page.
    pub root: u64,
    /// Pages in use (high water mark).
    pub pgid: u64,
    /// Transaction id of the last commit.
    pub txid: u64,
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(o..o.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn fnv1a64(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The meta at `off` (a page start), if valid.
fn meta_at(b: &[u8], off: usize) -> Option<Meta> {
    let m = off.checked_add(PAGE_HEADER)?;
    let body = b.get(m..m.checked_add(64)?)?;
    if u32_at(body, 0)? != MAGIC || u32_at(body, 4)? != 2 {
        return None;
    }
    if fnv1a64(&body[..56]) != u64_at(body, 56)? {
        return None;
    }
    let page_size = u32_at(body, 8)? as usize;
    if !(512..=1 << 20).contains(&page_size) {
        return None;
    }
    Some(Meta {
        page_size,
        root: u64_at(body, 16)?,
        pgid: u64_at(body, 40)?,
        txid: u64_at(body, 48)?,
    })
}

/// The current meta of a file's first bytes: the valid one of pages 0 and 1 with the higher txid.
pub fn current_meta(b: &[u8]) -> Option<Meta> {
    let m0 = meta_at(b, 0);
    // Page 1 is at the page size page 0 gives, or the usual 4096 when page 0 is bad.
    let ps = m0.map_or(4096, |m| m.page_size);
    let m1 = meta_at(b, ps);
    match (m0, m1) {
        (Some(a), Some(b)) => Some(if b.txid > a.txid { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// A bbolt file read into memory.
pub struct Db {
    data: Vec<u8>,
    meta: Meta,
}

/// A value in a bucket: bytes, or a nested bucket.
pub enum Value<'a> {
    /// A plain value.
    Bytes(&'a [u8]),
    /// A nested bucket.
    Bucket(Bucket<'a>),
}

/// A bucket: its root page, or an inline page.
#[derive(Clone, Copy)]
pub struct Bucket<'a> {
    db: &'a Db,
    /// Root page id; 0 for an inline bucket.
    root: u64,
    /// The inline page's bytes.
    inline: Option<&'a [u8]>,
}

impl Db {
    /// Parses a file's bytes.
    pub fn parse(data: Vec<u8>) -> Result<Db, BoltError> {
        let meta = current_meta(&data).ok_or(BoltError::NoMeta)?;
        Ok(Db { data, meta })
    }

    /// Walks every bucket once: the first structural error (a page out of the file, a loop, an
    /// element out of its page), so that lookups after it, which treat an unreadable bucket as absent,
    /// can hide nothing.
    pub fn check(&self) -> Result<(), BoltError> {
        fn walk(b: Bucket<'_>, depth: usize) -> Result<(), BoltError> {
            if depth > MAX_DEPTH {
                return Err(BoltError::Corrupt("buckets nested too deep"));
            }
            for (_, v) in b.entries()? {
                if let Value::Bucket(c) = v {
                    walk(c, depth + 1)?;
                }
            }
            Ok(())
        }
        walk(self.root(), 0)
    }

    /// The current meta.
    pub fn meta(&self) -> Meta {
        self.meta
    }

    /// The root bucket (its keys are the top-level buckets).
    pub fn root(&self) -> Bucket<'_> {
        Bucket {
            db: self,
            root: self.meta.root,
            inline: None,
        }
    }

    /// The bytes of page `id` (with its overflow pages).
    fn page(&self, id: u64) -> Result<&[u8], BoltError> {
        if id < 2 || id >= self.meta.pgid {
            return Err(BoltError::Corrupt("page id out of range"));
        }
        let ps = self.meta.page_size;
        let start = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_mul(ps))
            .ok_or(BoltError::Corrupt("page id out of range"))?;
        let head = self
            .data
            .get(start..start + PAGE_HEADER)
            .ok_or(BoltError::Corrupt("page past the end of the file"))?;
        let overflow = u32_at(head, 12).unwrap_or(0) as usize;
        let len = overflow
            .checked_add(1)
            .and_then(|n| n.checked_mul(ps))
            .ok_or(BoltError::Corrupt("page overflow too large"))?;
        let end = start.saturating_add(len).min(self.data.len());
        Ok(&self.data[start..end])
    }
}

impl<'a> Bucket<'a> {
    /// Every key and value, in key order.
    pub fn entries(&self) -> Result<Vec<(&'a [u8], Value<'a>)>, BoltError> {
        let mut out = Vec::new();
        // In a real tree each page is visited once: garbage that points many elements at the same
        // pages stops here instead of taking exponential time.
        let mut budget = self.db.meta.pgid.min(1 << 24) as usize + 1;
        match self.inline {
            Some(p) => self.collect(p, &mut out, 0, &mut budget)?,
            None => {
                let p = self.db.page(self.root)?;
                self.collect(p, &mut out, 0, &mut budget)?
            }
        }
        Ok(out)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value<'a>>, BoltError> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v))
    }

    /// The plain value of `key`, if there is one.
    pub fn bytes(&self, key: &[u8]) -> Option<&'a [u8]> {
        match self.get(key) {
            Ok(Some(Value::Bytes(b))) => Some(b),
            _ => None,
        }
    }

    /// The nested bucket `key`, if there is one.
    pub fn bucket(&self, key: &[u8]) -> Option<Bucket<'a>> {
        match self.get(key) {
            Ok(Some(Value::Bucket(b))) => Some(b),
            _ => None,
        }
    }

    /// Follows nested buckets.
    pub fn path(&self, keys: &[&[u8]]) -> Option<Bucket<'a>> {
        keys.iter().try_fold(*self, |b, k| b.bucket(k))
    }

    fn collect(
        &self,
        page: &'a [u8],
        out: &mut Vec<(&'a [u8], Value<'a>)>,
        depth: usize,
        budget: &mut usize,
    ) -> Result<(), BoltError> {
        if depth > MAX_DEPTH {
            return Err(BoltError::Corrupt("tree too deep (a loop?)"));
        }
        *budget = budget
            .checked_sub(1)
            .ok_or(BoltError::Corrupt("a page is reached twice (a loop?)"))?;
        let bad = BoltError::Corrupt;
        let flags = u16_at(page, 8).ok_or(bad("short page"))?;
        let count = usize::from(u16_at(page, 10).ok_or(bad("short page"))?);
        for i in 0..count {
            let e = PAGE_HEADER + i * 16;
            if flags & BRANCH != 0 {
                let child = u64_at(page, e + 8).ok_or(bad("element past the page"))?;
                if self.inline.is_some() {
                    return Err(bad("branch in an inline bucket"));
                }
                let p = self.db.page(child)?;
                self.collect(p, out, depth + 1, budget)?;
            } else if flags & LEAF != 0 {
                let f = u32_at(page, e).ok_or(bad("element past the page"))?;
                let pos = u32_at(page, e + 4).ok_or(bad("element past the page"))? as usize;
                let ks = u32_at(page, e + 8).ok_or(bad("element past the page"))? as usize;
                let vs = u32_at(page, e + 12).ok_or(bad("element past the page"))? as usize;
                let k0 = e.checked_add(pos).ok_or(bad("key out of page"))?;
                let v0 = k0.checked_add(ks).ok_or(bad("key out of page"))?;
                let v1 = v0.checked_add(vs).ok_or(bad("value out of page"))?;
                let key = page.get(k0..v0).ok_or(bad("key out of page"))?;
                let val = page.get(v0..v1).ok_or(bad("value out of page"))?;
                if f & BUCKET_LEAF != 0 {
                    let root = u64_at(val, 0).ok_or(bad("short bucket header"))?;
                    let inline = if root == 0 {
                        Some(val.get(16..).ok_or(bad("short inline bucket"))?)
                    } else {
                        None
                    };
                    out.push((
                        key,
                        Value::Bucket(Bucket {
                            db: self.db,
                            root,
                            inline,
                        }),
                    ));
                } else {
                    out.push((key, Value::Bytes(val)));
                }
            } else {
                return Err(bad("neither a branch nor a leaf page"));
            }
        }
        Ok(())
    }
}

/// Reads the meta pages of `path` (its first two pages at most).
fn read_metas(path: &Path) -> io::Result<Option<Meta>> {
    let mut head = Vec::new();
    File::open(path)?.take(2 * 65536).read_to_end(&mut head)?;
    Ok(current_meta(&head))
}

/// How many times a file that keeps changing is read again.
const TRIES: u32 = 8;

/// Reads a bbolt file that a writer may be changing, without its lock, and proves the copy consistent
/// (module docs): the txid of the copy's meta equals the one read after it. Refuses more than `limit`
/// bytes, and a file whose tree is broken anywhere ([`Db::check`]).
pub fn read_consistent(path: &Path, limit: u64) -> Result<Db, BoltError> {
    for _ in 0..TRIES {
        let mut data = Vec::new();
        let f = File::open(path)?;
        let n = f.take(limit.saturating_add(1)).read_to_end(&mut data)?;
        if n as u64 > limit {
            return Err(BoltError::Corrupt("larger than the read limit"));
        }
        let db = Db::parse(data)?;
        let after = read_metas(path)?.ok_or(BoltError::NoMeta)?;
        if after.txid == db.meta.txid {
            db.check()?;
            return Ok(db);
        }
    }
    Err(BoltError::Unstable(TRIES))
}

/// Decodes a Go varint (containerd's snapshot ids and kinds are `binary.PutUvarint`).
pub fn uvarint(b: &[u8]) -> Option<u64> {
    let mut x: u64 = 0;
    for (i, &c) in b.iter().enumerate().take(10) {
        x |= u64::from(c & 0x7f) << (7 * i);
        if c < 0x80 {
            return Some(x);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert!(matches!(Db::parse(Vec::new()), Err(BoltError::NoMeta)));
        assert!(matches!(
            Db::parse(vec![0xff; 9000]),
            Err(BoltError::NoMeta)
        ));
        // Every length and a pseudo-random filler of a valid-looking meta pointing anywhere.
        let mut seed = 7u64;
        for len in [0usize, 15, 16, 80, 4096, 4097, 8192, 20000] {
            for root in [0u64, 1, 2, 3, 5, u64::MAX] {
                let mut d = vec![0u8; len];
                for x in &mut d {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    *x = (seed >> 33) as u8;
                }
                if len >= 80 {
                    write_meta(&mut d, 0, 4096, root, 5, 1);
                }
                if let Ok(db) = Db::parse(d) {
                    let _ = db.root().entries();
                    let _ = db.root().path(&[b"v1", b"moby"]);
                }
            }
        }
    }

    fn write_meta(d: &mut [u8], off: usize, ps: u32, root: u64, pgid: u64, txid: u64) {
        let m = off + PAGE_HEADER;
        d[off + 8..off + 10].copy_from_slice(&4u16.to_le_bytes());
        d[m..m + 4].copy_from_slice(&MAGIC.to_le_bytes());
        d[m + 4..m + 8].copy_from_slice(&2u32.to_le_bytes());
        d[m + 8..m + 12].copy_from_slice(&ps.to_le_bytes());
        d[m + 12..m + 16].copy_from_slice(&0u32.to_le_bytes());
        d[m + 16..m + 24].copy_from_slice(&root.to_le_bytes());
        d[m + 24..m + 32].copy_from_slice(&0u64.to_le_bytes());
        d[m + 32..m + 40].copy_from_slice(&2u64.to_le_bytes());
        d[m + 40..m + 48].copy_from_slice(&pgid.to_le_bytes());
        d[m + 48..m + 56].copy_from_slice(&txid.to_le_bytes());
        let c = fnv1a64(&d[m..m + 56]);
        d[m + 56..m + 64].copy_from_slice(&c.to_le_bytes());
    }

    /// A hand-made file: root leaf page 3 with key "a" = "1" and bucket "b" (inline) holding "c" = "2".
    fn tiny(txid0: u64, txid1: u64) -> Vec<u8> {
        let ps = 4096usize;
        let mut d = vec![0u8; ps * 4];
        write_meta(&mut d, 0, ps as u32, 3, 4, txid0);
        write_meta(&mut d, ps, ps as u32, 3, 4, txid1);
        // Inline page of bucket "b": header (16) + one leaf element (16) + "c" + "2".
        let mut inl = vec![0u8; 16 + 16 + 2];
        inl[8..10].copy_from_slice(&LEAF.to_le_bytes());
        inl[10..12].copy_from_slice(&1u16.to_le_bytes());
        inl[16 + 4..16 + 8].copy_from_slice(&16u32.to_le_bytes());
        inl[16 + 8..16 + 12].copy_from_slice(&1u32.to_le_bytes());
        inl[16 + 12..16 + 16].copy_from_slice(&1u32.to_le_bytes());
        inl[32] = b'c';
        inl[33] = b'2';
        let mut bval = vec![0u8; 16];
        bval.extend_from_slice(&inl);
        let p = 3 * ps;
        d[p..p + 8].copy_from_slice(&3u64.to_le_bytes());
        d[p + 8..p + 10].copy_from_slice(&LEAF.to_le_bytes());
        d[p + 10..p + 12].copy_from_slice(&2u16.to_le_bytes());
        let data0 = p + 16 + 32;
        // element 0: "a" = "1"
        let e0 = p + 16;
        d[e0 + 4..e0 + 8].copy_from_slice(&((data0 - e0) as u32).to_le_bytes());
        d[e0 + 8..e0 + 12].copy_from_slice(&1u32.to_le_bytes());
        d[e0 + 12..e0 + 16].copy_from_slice(&1u32.to_le_bytes());
        d[data0] = b'a';
        d[data0 + 1] = b'1';
        // element 1: bucket "b"
        let e1 = p + 32;
        let data1 = data0 + 2;
        d[e1..e1 + 4].copy_from_slice(&BUCKET_LEAF.to_le_bytes());
        d[e1 + 4..e1 + 8].copy_from_slice(&((data1 - e1) as u32).to_le_bytes());
        d[e1 + 8..e1 + 12].copy_from_slice(&1u32.to_le_bytes());
        d[e1 + 12..e1 + 16].copy_from_slice(&(bval.len() as u32).to_le_bytes());
        d[data1] = b'b';
        d[data1 + 1..data1 + 1 + bval.len()].copy_from_slice(&bval);
        d
    }

    #[test]
    fn reads_a_hand_made_file_and_picks_the_newer_meta() {
        let db = Db::parse(tiny(4, 5)).unwrap();
        assert_eq!(db.meta().txid, 5);
        let r = db.root();
        assert_eq!(r.bytes(b"a"), Some(&b"1"[..]));
        assert_eq!(r.path(&[b"b"]).unwrap().bytes(b"c"), Some(&b"2"[..]));
        assert!(r.bucket(b"a").is_none());
        // A bad checksum on the newer meta: the older one is used.
        let mut d = tiny(4, 5);
        d[4096 + 16 + 56] ^= 1;
        assert_eq!(Db::parse(d).unwrap().meta().txid, 4);
    }

    #[test]
    fn every_truncation_of_a_file_is_safe() {
        let d = tiny(1, 2);
        assert!(Db::parse(d.clone()).unwrap().check().is_ok());
        // Metas intact, the tree's page cut: an error, not an empty database.
        for n in [2 * 4096, 3 * 4096, 3 * 4096 + 40] {
            assert!(Db::parse(d[..n].to_vec()).unwrap().check().is_err(), "{n}");
        }
        for n in (0..d.len()).step_by(7) {
            if let Ok(db) = Db::parse(d[..n].to_vec()) {
                let _ = db.root().entries();
                let _ = db
                    .root()
                    .path(&[b"b"])
                    .map(|b| b.entries().map(|e| e.len()));
            }
        }
    }

    #[test]
    fn varints() {
        assert_eq!(uvarint(&[0x05]), Some(5));
        assert_eq!(uvarint(&[0xac, 0x02]), Some(300));
        assert_eq!(uvarint(&[0x80]), None);
    }
}
