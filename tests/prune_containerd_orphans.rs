//! scratch
use dredge::source::containerd_api::{Client, find_socket};
use std::path::Path;

#[test]
#[ignore = "needs containerd-store engine"]
fn scratch() {
    let root = "/var/tmp/dredge-trixie";
    let pid: u32 = std::fs::read_to_string(format!("{root}/run/docker.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let s = find_socket(
        pid,
        &Path::new(root).join("var/lib/docker/containerd/daemon"),
    );
    eprintln!("{s:?}");
    let c = Client::new(&s.unwrap(), "moby");
    eprintln!("{:?}", c.delete_lease("dredge-no-such-lease", true));
    eprintln!("{:?}", c.abort_ingest("dredge-no-such-ref"));
    eprintln!("{:?}", find_socket(pid, Path::new("/var/lib/docker")));
    eprintln!("{:?}", find_socket(1, Path::new("/var/lib/docker")));
    panic!("show");
}
