//! The input is one layer blob (tar, gzip or zstd). It is wrapped in a legacy `docker save` archive that
//! names it twice, as the base layer and again as a symlinked `layer.tar` on top (as `docker save` stores
//! a repeated layer), so that the tar walk, the stacking of a layer over itself and the re-reading of
//! files for the duplicate search all see it; then the archive is read as `dredge image` does.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000","sha256:0000000000000000000000000000000000000000000000000000000000000000"]},"history":[{"created_by":"/bin/sh -c #(nop) ADD file:0 in / "},{"created_by":"/bin/sh -c rm -rf /var/cache/apk/* /tmp/*"}]}"#;
const MANIFEST: &[u8] =
    br#"[{"Config":"config.json","RepoTags":["fuzz:1"],"Layers":["a/layer.tar","b/layer.tar"]}]"#;

fn wrap(layer: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::with_capacity(layer.len() + 8192));
    let mut add = |path: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, bytes).expect("in memory");
    };
    add("config.json", CONFIG);
    add("a/layer.tar", layer);
    add("manifest.json", MANIFEST);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "b/layer.tar", "../a/layer.tar")
        .expect("in memory");
    b.into_inner().expect("in memory")
}

fuzz_target!(|data: &[u8]| {
    let path = dredge_fuzz::scratch("layer-image.tar");
    std::fs::write(&path, wrap(data)).expect("the scratch file takes the input");
    dredge_fuzz::image(&path);
});
