//! `--verify`: does every blob hold what its name, its descriptor and the config say? Pure comparisons
//! over digests gathered while the blobs were read; the reasons returned are put in errors that name the
//! archive and the member.

use super::hex;
use super::manifest::Expected;

/// The digest a member's name claims, as `sha256:<hex>`: `blobs/sha256/<hex>` (OCI layouts, Docker 25+
/// saves) or `<hex>.json` (a legacy save's config, named by the image id). Other names (a legacy
/// `<id>/layer.tar`, whose id is not a content digest) claim nothing.
pub(crate) fn named_digest(member: &str) -> Option<String> {
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(h) = member.strip_prefix("blobs/sha256/")
        && hex64(h)
    {
        return Some(format!("sha256:{}", h.to_ascii_lowercase()));
    }
    if let Some(h) = member.strip_suffix(".json")
        && hex64(h)
    {
        return Some(format!("sha256:{}", h.to_ascii_lowercase()));
    }
    None
}

/// Checks a blob whose bytes hash to `sha` and number `len` against its name and what a descriptor
/// (from the manifest or the index) says of it. Digests of another algorithm than sha256 are not
/// checked (none is written by Docker or the OCI tools in use).
pub(crate) fn check_blob(
    member: &str,
    expected: Option<&Expected>,
    sha: &[u8; 32],
    len: u64,
) -> Result<(), String> {
    let actual = format!("sha256:{}", hex(sha));
    if let Some(named) = named_digest(member)
        && named != actual
    {
        return Err(format!(
            "its content's digest is {actual}, its name says {named} (corrupt or altered)"
        ));
    }
    let Some(e) = expected else {
        return Ok(());
    };
    if e.digest.starts_with("sha256:") && !e.digest.eq_ignore_ascii_case(&actual) {
        return Err(format!(
            "its content's digest is {actual}, its descriptor says {} (corrupt or altered)",
            e.digest
        ));
    }
    if let Some(size) = e.size
        && size != len
    {
        return Err(format!(
            "it holds {len} bytes, its descriptor says {size} (truncated or altered)"
        ));
    }
    Ok(())
}

/// Checks the sha256 of a layer's decompressed tar against the diff id the config lists for it.
pub(crate) fn check_diff_id(diff_id: Option<&str>, diff: &[u8; 32]) -> Result<(), String> {
    let actual = format!("sha256:{}", hex(diff));
    match diff_id {
        None => Err(format!(
            "the config lists no diff id for it (its tar is {actual})"
        )),
        Some(d) if d.starts_with("sha256:") && !d.eq_ignore_ascii_case(&actual) => Err(format!(
            "its tar's digest is {actual}, the config's diff id is {d}"
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";

    fn sha_a() -> [u8; 32] {
        // sha256("a")
        let mut out = [0u8; 32];
        let h = &A["sha256:".len()..];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn names_that_claim_a_digest() {
        let h = &A["sha256:".len()..];
        assert_eq!(
            named_digest(&format!("blobs/sha256/{h}")).as_deref(),
            Some(A)
        );
        assert_eq!(named_digest(&format!("{h}.json")).as_deref(), Some(A));
        assert_eq!(named_digest(&format!("{h}/layer.tar")), None);
        assert_eq!(named_digest("blobs/sha256/abc"), None);
        assert_eq!(named_digest("manifest.json"), None);
    }

    #[test]
    fn a_blob_must_match_its_name_and_descriptor() {
        let h = &A["sha256:".len()..];
        let name = format!("blobs/sha256/{h}");
        let good = Expected {
            digest: A.into(),
            size: Some(1),
        };
        assert_eq!(check_blob(&name, Some(&good), &sha_a(), 1), Ok(()));
        assert_eq!(check_blob("l0/layer.tar", None, &sha_a(), 1), Ok(()));
        let other = [0u8; 32];
        assert!(
            check_blob(&name, None, &other, 1)
                .unwrap_err()
                .contains("its name says")
        );
        assert!(
            check_blob("l0/layer.tar", Some(&good), &other, 1)
                .unwrap_err()
                .contains("its descriptor says sha256:ca97")
        );
        let err = check_blob(&name, Some(&good), &sha_a(), 2).unwrap_err();
        assert!(
            err.contains("holds 2 bytes") && err.contains("says 1"),
            "{err}"
        );
        // Another algorithm is not checked; an absent size neither.
        let sha512 = Expected {
            digest: "sha512:00".into(),
            size: None,
        };
        assert_eq!(check_blob("x", Some(&sha512), &other, 9), Ok(()));
    }

    #[test]
    fn a_layer_tar_must_match_its_diff_id() {
        assert_eq!(check_diff_id(Some(A), &sha_a()), Ok(()));
        assert!(
            check_diff_id(Some(A), &[0; 32])
                .unwrap_err()
                .contains("diff id is sha256:ca97")
        );
        assert!(check_diff_id(None, &sha_a()).is_err());
    }
}
