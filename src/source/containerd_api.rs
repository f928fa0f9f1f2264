//! containerd's gRPC API, the few unary calls `dredge prune` makes on the containerd image store
//! (`Leases.Delete`, `Content.Abort`; `Leases.AddResource` for the tests), and the proof that a
//! socket is the API of the store being read ([`find_socket`]).
//!
//! **Why hand-encoded.** A call is one HTTP/2 POST over containerd's unix socket: the path names the
//! method, `content-type: application/grpc`, `te: trailers`, `containerd-namespace: <ns>`; the body is
//! one message in gRPC's 5-byte frame (a compression flag, a big-endian length); the answer's status is
//! `grpc-status` in the trailers (or in the headers of a trailers-only answer), with `grpc-message`.
//! The requests are one to three string or bool fields and every answer dredge reads is
//! `google.protobuf.Empty`, so the protobuf encoding is ~40 lines here ([`encode_delete_lease`],
//! [`encode_abort`], [`encode_add_resource`], unit-tested against bytes worked out by hand from the
//! wire format). The transport is hyper 1's HTTP/2 client, already in the tree through bollard (its
//! `http2` feature adds two crates: `h2` and `fnv`). tonic + prost would add the generated code of
//! containerd's `.proto` files (or `protoc` at build time for prost-build) and about twenty crates not
//! in our Cargo.lock (tonic 0.12.3's default features, its Cargo.toml against our lock: tonic, tower,
//! tower-layer, tokio-stream, pin-project and its macro crate, async-trait, async-stream and its
//! macro crate, axum, axum-core, matchit, mime, sync_wrapper, hyper-timeout, prost, prost-derive,
//! itertools, and rand with its three crates for tower's balancer) for three calls.
//!
//! Async stays inside this module: each call runs on its own current-thread tokio runtime, with a
//! timeout, behind a plain function.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::dataroot::listens_on;
use super::procroot;

/// The namespace dockerd keeps its images, containers and leases in.
pub const NAMESPACE: &str = "moby";

/// How long one call may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call failed: one line each.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The socket could not be reached, or the HTTP/2 exchange failed.
    #[error("containerd at {socket}: {method}: {why}")]
    Transport {
        /// The socket.
        socket: String,
        /// The method.
        method: &'static str,
        /// What failed.
        why: String,
    },
    /// containerd answered with a gRPC status other than OK.
    #[error("containerd {method}: {} ({code}): {message}", code_name(*.code))]
    Status {
        /// The method.
        method: &'static str,
        /// `grpc-status`.
        code: u32,
        /// `grpc-message`, percent-decoded.
        message: String,
    },
}

impl ApiError {
    /// True when containerd said the object does not exist (`NOT_FOUND`).
    pub fn not_found(&self) -> bool {
        matches!(self, ApiError::Status { code: 5, .. })
    }
}

/// The name of a gRPC status code.
pub fn code_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("unknown code")
}

// ---- protobuf, by hand (wire format: a key is `field << 3 | wire type`; 0 varint, 2 bytes) ----

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// `containerd.services.leases.v1.DeleteRequest{id = 1, sync = 2}` (a false bool is left out, as
/// proto3 does).
pub fn encode_delete_lease(id: &str, sync: bool) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, 1, id.as_bytes());
    if sync {
        put_varint(&mut out, 2 << 3);
        out.push(1);
    }
    out
}

/// `containerd.services.content.v1.AbortRequest{ref = 1}`.
pub fn encode_abort(reference: &str) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, 1, reference.as_bytes());
    out
}

/// `containerd.services.leases.v1.AddResourceRequest{id = 1, resource = 2: Resource{id = 1,
/// type = 2}}`; `kind` is `content` (id: a digest), `ingests` (a ref) or `snapshots/<snapshotter>`.
pub fn encode_add_resource(lease: &str, id: &str, kind: &str) -> Vec<u8> {
    let mut res = Vec::new();
    put_bytes(&mut res, 1, id.as_bytes());
    put_bytes(&mut res, 2, kind.as_bytes());
    let mut out = Vec::new();
    put_bytes(&mut out, 1, lease.as_bytes());
    put_bytes(&mut out, 2, &res);
    out
}

/// A message in gRPC's frame: flag 0 (not compressed), its length (4 bytes, big-endian), the message.
pub fn frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + msg.len());
    out.push(0);
    out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    out.extend_from_slice(msg);
    out
}

/// The messages of a response body, each unframed; an error for a compressed or cut frame.
pub fn unframe(mut body: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let Some((head, rest)) = body.split_first_chunk::<5>() else {
            return Err(format!(
                "a frame of {} bytes, shorter than its header",
                body.len()
            ));
        };
        if head[0] != 0 {
            return Err(format!("a compressed frame (flag {})", head[0]));
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let Some(msg) = rest.get(..len) else {
            return Err(format!(
                "a frame of {len} bytes cut after {} bytes",
                rest.len()
            ));
        };
        out.push(msg);
        body = &rest[len..];
    }
    Ok(out)
}

/// `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses").
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status of an answer: `grpc-status` from the trailers, else from the headers (a trailers-only
/// answer); `Err` when neither has one. `Ok((code, message))`.
pub fn status_of(
    headers: &http::HeaderMap,
    trailers: Option<&http::HeaderMap>,
) -> Result<(u32, String), String> {
    let from = |h: &http::HeaderMap| {
        let code = h
            .get("grpc-status")?
            .to_str()
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()?;
        let msg = h
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .map(percent_decode)
            .unwrap_or_default();
        Some((code, msg))
    };
    trailers
        .and_then(from)
        .or_else(|| from(headers))
        .ok_or_else(|| "no grpc-status in the answer".to_string())
}

// ---- the calls ----

/// A containerd API at a unix socket, in one namespace.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    namespace: String,
    timeout: Duration,
}

impl Client {
    /// A client of the API at `socket` (found by [`find_socket`]), in `namespace`.
    pub fn new(socket: &Path, namespace: &str) -> Client {
        Client {
            socket: socket.to_path_buf(),
            namespace: namespace.to_string(),
            timeout: TIMEOUT,
        }
    }

    /// The same API in another namespace.
    #[must_use]
    pub fn in_namespace(&self, namespace: &str) -> Client {
        Client {
            namespace: namespace.to_string(),
            ..self.clone()
        }
    }

    /// `Leases.Delete`; with `sync`, containerd collects what only that lease held before answering.
    pub fn delete_lease(&self, id: &str, sync: bool) -> Result<(), ApiError> {
        self.unary(
            "/containerd.services.leases.v1.Leases/Delete",
            &encode_delete_lease(id, sync),
        )
        .map(drop)
    }

    /// `Content.Abort`: drops an unfinished write (`ingest/`) by its ref.
    pub fn abort_ingest(&self, reference: &str) -> Result<(), ApiError> {
        self.unary(
            "/containerd.services.content.v1.Content/Abort",
            &encode_abort(reference),
        )
        .map(drop)
    }

    /// `Leases.AddResource`: lease `lease` holds `id` of `kind` (`content`, `ingests`,
    /// `snapshots/overlayfs`).
    pub fn add_lease_resource(&self, lease: &str, id: &str, kind: &str) -> Result<(), ApiError> {
        self.unary(
            "/containerd.services.leases.v1.Leases/AddResource",
            &encode_add_resource(lease, id, kind),
        )
        .map(drop)
    }

    /// One unary call: the answer's messages, concatenated, when the status is OK.
    fn unary(&self, method: &'static str, msg: &[u8]) -> Result<Vec<u8>, ApiError> {
        let transport = |why: String| ApiError::Transport {
            socket: self.socket.display().to_string(),
            method,
            why,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| transport(e.to_string()))?;
        let answer = rt.block_on(async {
            tokio::time::timeout(self.timeout, self.exchange(method, msg))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {} s", self.timeout.as_secs())))
        });
        let (headers, trailers, body) = answer.map_err(transport)?;
        let (code, message) = status_of(&headers, trailers.as_ref()).map_err(transport)?;
        if code != 0 {
            return Err(ApiError::Status {
                method,
                code,
                message,
            });
        }
        let msgs = unframe(&body).map_err(transport)?;
        Ok(msgs.concat())
    }

    async fn exchange(
        &self,
        method: &str,
        msg: &[u8],
    ) -> Result<(http::HeaderMap, Option<http::HeaderMap>, Bytes), String> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        tokio::spawn(async move {
            // The connection ends with this call; its error, if any, is the request's too.
            let _ = conn.await;
        });
        let req = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("http://containerd{method}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("containerd-namespace", &self.namespace)
            .body(Full::new(Bytes::from(frame(msg))))
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        if resp.status() != http::StatusCode::OK {
            return Err(format!("HTTP status {}", resp.status()));
        }
        let (parts, body) = resp.into_parts();
        let collected = body.collect().await.map_err(|e| format!("answer: {e}"))?;
        let trailers = collected.trailers().cloned();
        Ok((parts.headers, trailers, collected.to_bytes()))
    }
}

// ---- which socket is the store's containerd ----

/// The socket `addr`, as process `namer` names it (a path in its root), as reached from here: when
/// containerd `listener` listens on that very file and the path here is that file too.
pub fn reachable(namer: u32, listener: u32, addr: &str) -> Result<PathBuf, String> {
    let (here, sock_id) =
        procroot::seen_from_here(namer, Path::new(addr)).map_err(|e| format!("{addr}: {e}"))?;
    if !listens_on(listener, sock_id) {
        return Err(format!("it does not listen on {addr}"));
    }
    let same = std::fs::metadata(&here).is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino()) == sock_id
    });
    if same {
        Ok(here)
    } else {
        Err(format!(
            "its socket {addr} is not reachable from here ({} is another file)",
            here.display()
        ))
    }
}

/// What moby's `containerd.toml` says: the containerd root and the gRPC socket, in containerd's own
/// root. Pure.
pub fn config_paths(toml_text: &str) -> Result<(String, String), String> {
    let v: toml::Table = toml_text.parse().map_err(|e| format!("not TOML: {e}"))?;
    let root = v
        .get("root")
        .and_then(|r| r.as_str())
        .ok_or("no root")?
        .to_string();
    let addr = v
        .get("grpc")
        .and_then(|g| g.get("address"))
        .and_then(|a| a.as_str())
        .ok_or("no grpc.address")?
        .to_string();
    Ok((root, addr))
}

/// `--config PATH` (or `-c PATH`, `--config=PATH`) of a command line split at NULs.
pub fn config_arg(cmdline: &[u8]) -> Option<String> {
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    args.iter().enumerate().find_map(|(i, a)| {
        if a == "--config" || a == "-c" {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix("--config=").map(String::from)
        }
    })
}

fn ppid_and_comm(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses; it ends at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let ppid = stat.get(close + 2..)?.split(' ').nth(1)?.parse().ok()?;
    Some((ppid, comm))
}

/// The socket of the containerd that serves the store `store_root` (read from here, the data root's
/// `containerd/daemon`), for the engine served by dockerd `dockerd`; a one-line reason when not proven.
///
/// Proven when one process is all of: a child of that dockerd named `containerd` (dockerd starts its
/// own containerd and supervises it); its `--config` file, read inside its root, names as `root` the
/// very directory `store_root` (same device and inode) and as `grpc.address` a socket that process
/// listens on (its listening socket's inode, bound to a path that, resolved in its root, is that
/// file). The socket is returned as seen from here (e.g.
/// `/var/tmp/dredge-trixie/run/docker/containerd/containerd.sock` for a chrooted engine).
pub fn find_socket(dockerd: u32, store_root: &Path) -> Result<PathBuf, String> {
    let want_root = std::fs::metadata(store_root)
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        })
        .map_err(|e| format!("{}: {e}", store_root.display()))?;
    let children: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|e| format!("/proc: {e}"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| ppid_and_comm(*p).is_some_and(|(pp, c)| pp == dockerd && c == "containerd"))
        .collect();
    if children.is_empty() {
        return Err(format!(
            "dockerd pid {dockerd} has no containerd child (a system containerd, or one in another \
             pid namespace)"
        ));
    }
    let mut why = Vec::new();
    for pid in children {
        let r = (|| -> Result<PathBuf, String> {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map_err(|e| format!("/proc/{pid}/cmdline: {e}"))?;
            let cfg = config_arg(&cmdline).ok_or("started without --config")?;
            let text = procroot::read_in(pid, Path::new(&cfg), 1 << 20)
                .map_err(|e| format!("{cfg}: {e}"))?;
            let (root, addr) =
                config_paths(&String::from_utf8_lossy(&text)).map_err(|e| format!("{cfg}: {e}"))?;
            let (root_id, _) =
                procroot::stat_in(pid, Path::new(&root)).map_err(|e| format!("{root}: {e}"))?;
            if root_id != want_root {
                return Err(format!(
                    "its root {root} is not the store read here ({})",
                    store_root.display()
                ));
            }
            reachable(pid, pid, &addr)
        })();
        match r {
            Ok(p) => return Ok(p),
            Err(e) => why.push(format!("containerd pid {pid}: {e}")),
        }
    }
    Err(why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_as_the_wire_format_says() {
        // DeleteRequest{id:"ab", sync:true}: key 1<<3|2 = 0x0a, length 2, "ab"; key 2<<3|0 = 0x10, 1.
        assert_eq!(
            encode_delete_lease("ab", true),
            [0x0a, 0x02, b'a', b'b', 0x10, 0x01]
        );
        // sync false is the default: left out.
        assert_eq!(encode_delete_lease("ab", false), [0x0a, 0x02, b'a', b'b']);
        // AbortRequest{ref:"r1"}.
        assert_eq!(encode_abort("r1"), [0x0a, 0x02, b'r', b'1']);
        // AddResourceRequest{id:"L", resource: Resource{id:"d", type:"content"}}:
        // inner = 0a 01 'd' (3 bytes) + 12 07 "content" (9 bytes) = 12 bytes; outer = 0a 01 'L' 12 0c inner.
        let mut want = vec![0x0a, 0x01, b'L', 0x12, 0x0c, 0x0a, 0x01, b'd', 0x12, 0x07];
        want.extend_from_slice(b"content");
        assert_eq!(encode_add_resource("L", "d", "content"), want);
    }

    #[test]
    fn long_strings_take_a_multi_byte_length() {
        // 300 = 0b1_0010_1100: low 7 bits 0x2c with the continuation bit (0xac), then 300 >> 7 = 2.
        let id = "x".repeat(300);
        let e = encode_abort(&id);
        assert_eq!(&e[..3], &[0x0a, 0xac, 0x02]);
        assert_eq!(e.len(), 3 + 300);
    }

    #[test]
    fn frames_round_trip_and_bad_frames_are_errors() {
        assert_eq!(frame(b"hi"), [0, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(frame(b""), [0, 0, 0, 0, 0]);
        let mut two = frame(b"a");
        two.extend(frame(b""));
        assert_eq!(unframe(&two).unwrap(), vec![&b"a"[..], &b""[..]]);
        assert_eq!(unframe(&[]).unwrap(), Vec::<&[u8]>::new());
        assert!(unframe(&[0, 0, 0]).unwrap_err().contains("shorter"));
        assert!(unframe(&[0, 0, 0, 0, 9, 1]).unwrap_err().contains("cut"));
        assert!(
            unframe(&[1, 0, 0, 0, 0])
                .unwrap_err()
                .contains("compressed")
        );
    }

    #[test]
    fn status_comes_from_trailers_or_a_trailers_only_answer() {
        let mut h = http::HeaderMap::new();
        let mut t = http::HeaderMap::new();
        t.insert("grpc-status", "5".parse().unwrap());
        t.insert("grpc-message", "lease %22x%22: not found".parse().unwrap());
        assert_eq!(
            status_of(&h, Some(&t)).unwrap(),
            (5, "lease \"x\": not found".into())
        );
        assert!(status_of(&h, None).is_err());
        h.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(status_of(&h, None).unwrap(), (0, String::new()));
        let e = ApiError::Status {
            method: "m",
            code: 5,
            message: "gone".into(),
        };
        assert!(e.not_found());
        assert_eq!(e.to_string(), "containerd m: NOT_FOUND (5): gone");
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn moby_config_and_command_line() {
        let toml = "root = \"/var/lib/docker/containerd/daemon\"\nversion = 2\n[grpc]\n  \
                    address = \"/var/run/docker/containerd/containerd.sock\"\n";
        assert_eq!(
            config_paths(toml).unwrap(),
            (
                "/var/lib/docker/containerd/daemon".into(),
                "/var/run/docker/containerd/containerd.sock".into()
            )
        );
        assert!(config_paths("root = 1").is_err());
        assert_eq!(
            config_arg(b"containerd\0--config\0/var/run/docker/containerd/containerd.toml\0"),
            Some("/var/run/docker/containerd/containerd.toml".into())
        );
        assert_eq!(
            config_arg(b"containerd\0--config=/c.toml\0"),
            Some("/c.toml".into())
        );
        assert_eq!(config_arg(b"containerd\0"), None);
    }
}
