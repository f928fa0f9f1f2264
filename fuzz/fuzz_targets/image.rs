//! The input is an image archive, as `dredge image FILE` reads it: `docker save` (legacy or Docker 25+),
//! an OCI layout archive, with layers plain, gzip or zstd; manifest, index and config are parsed, every
//! layer is walked, the analysis (with the duplicate search, which reads files again) and the advice run.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::Builder::new()
        .prefix("dredge-fuzz-image")
        .tempfile()
        .expect("a temp file");
    file.write_all(data).expect("the temp file takes the input");
    dredge_fuzz::image(file.path());
});
