//! `dredge reclaim` without an engine: bad policies, bad places, a daemon that is down (exit 2,
//! nothing deleted), and the systemd units of `install-timer`, checked by `systemd-analyze verify`.

mod common;

use common::dredge;

fn reclaim(policy: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.toml");
    std::fs::write(&p, policy).unwrap();
    let out = dredge()
        .arg("reclaim")
        .args(["--policy", p.to_str().unwrap()])
        .args(["--state-dir", dir.path().join("state").to_str().unwrap()])
        .args(extra)
        // A socket that does not exist: a daemon that is down.
        .env(
            "DOCKER_HOST",
            format!("unix://{}/no.sock", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "nothing printed on stdout for an error"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_policies_exit_2_naming_file_line_and_key() {
    for (policy, want) in [
        (
            "[watermarks]\nhigh = \"80%\"\nlow = \"90%\"\n",
            ":3: watermarks.low: low (90%) is above high (80%)",
        ),
        (
            "[watermarks]\nhigh = \"101%\"\n",
            ":2: watermarks.high: 101% is not a percent between 0% and 100%",
        ),
        (
            "[images]\nkeep_lats = 2\n",
            ":2: images.keep_lats: unknown key",
        ),
        ("[watermarks]\nhigh = \"lots\"\n", ":2: watermarks.high: "),
        (
            "[order]\nsteps = [\"everything\"]\n",
            ":2: order.steps: unknown step 'everything'",
        ),
    ] {
        let (code, err) = reclaim(policy, &[]);
        assert_eq!(code, 2, "{policy}: {err}");
        assert!(err.contains(want), "{policy}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let out = dredge()
        .args(["reclaim", "--policy", "/nonexistent/reclaim.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read the policy /nonexistent/reclaim.toml")
    );
}

#[test]
fn an_unwritable_metrics_file_or_a_daemon_that_is_down_exit_2() {
    let (code, err) = reclaim("", &["--metrics", "/nonexistent/dir/reclaim.prom"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot write the metrics file /nonexistent/dir/reclaim.prom"),
        "{err}"
    );
    let (code, err) = reclaim("", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot reach the Docker Engine"), "{err}");
    // No policy at all.
    let out = dredge().arg("reclaim").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn install_timer_prints_a_oneshot_idle_service_and_a_persistent_randomized_timer() {
    let out = dredge()
        .args([
            "reclaim",
            "install-timer",
            "--on-calendar",
            "*-*-* 03:00",
            "--randomized-delay",
            "30m",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "Type=oneshot",
        "Nice=19",
        "IOSchedulingClass=idle",
        "OnCalendar=*-*-* 03:00",
        "Persistent=true",
        "RandomizedDelaySec=1800",
        " reclaim --policy /etc/dredge/reclaim.toml",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    let out = dredge()
        .args([
            "reclaim",
            "install-timer",
            "--on-calendar",
            "daily\nExecStart=/bin/evil",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
#[ignore = "needs systemd-analyze (the systemd package)"]
fn systemd_analyze_verify_accepts_both_units() {
    let dir = tempfile::tempdir().unwrap();
    let out = dredge()
        .args(["reclaim", "install-timer", "--write", "--unit-dir"])
        .arg(dir.path())
        .args([
            "--metrics",
            "/var/lib/node_exporter/textfile_collector/dredge_reclaim.prom",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let service = dir.path().join("dredge-reclaim.service");
    let timer = dir.path().join("dredge-reclaim.timer");
    assert!(service.exists() && timer.exists());
    let v = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&service)
        .arg(&timer)
        .output()
        .expect("systemd-analyze is installed (scripts/test installs the systemd package)");
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(v.status.success(), "systemd-analyze verify: {err}");
    // verify exits 0 on some warnings: none about our files either.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("dredge-reclaim"))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}
