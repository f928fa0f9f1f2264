//! The input is an image archive, as `dredge image FILE` reads it: `docker save` (legacy or Docker 25+),
//! an OCI layout archive, with layers plain, gzip or zstd; manifest, index and config are parsed, every
//! layer is walked, the analysis (with the duplicate search, which reads files again) and the advice run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = dredge_fuzz::scratch("image.tar");
    std::fs::write(&path, data).expect("the scratch file takes the input");
    dredge_fuzz::image(&path);
});
