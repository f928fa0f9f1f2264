//! The input is a Dockerfile (read as `dredge lint` / `dredge advise --dockerfile` read it: UTF-8, here
//! lossily). It is parsed, linted, and advised on against the kitchen fixture image (fuzz/seeds/image/
//! docker25.tar, read once), whose history the kitchen Dockerfile seed matches; when it still matches,
//! the mechanical edit is applied and must parse again.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use dredge::model::Image;
use dredge::source::{self, NoProgress};
use libfuzzer_sys::fuzz_target;

static KITCHEN: &[u8] = include_bytes!("../seeds/image/docker25.tar");

fn kitchen() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let mut file = tempfile::Builder::new()
            .prefix("dredge-fuzz-kitchen")
            .tempfile()
            .expect("a temp file");
        file.write_all(KITCHEN)
            .expect("the temp file takes the image");
        let path = file.path().to_str().expect("temp paths are UTF-8");
        source::open(path, dredge_fuzz::LOAD, &NoProgress)
            .expect("the kitchen seed opens")
            .image
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let image = kitchen();
    if let Ok(df) = dredge::advice::dockerfile::parse("Dockerfile", &text) {
        dredge_fuzz::dockerfile(&df, image);
    }
});
