//! A remote backing (issue 5): sshfs to an sshd on 127.0.0.1 that the test starts, stops and
//! starts again. While it is down, calls through the view end with an error within a bounded
//! time (no process hangs) and other links keep working; once it is back, the view serves it
//! again without re-linking.
//!
//! Needs `sshd` and `sshfs` (Debian: openssh-server, sshfs; `.ci/run` installs them). Where they
//! are missing the test skips, unless `BINDFS_REQUIRE_FUSE` is set (CI): then it fails.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bindfs_tests::{Env, cat, put};

const SSHD: &str = "/usr/sbin/sshd";

fn tools_present() -> bool {
    let present = Path::new(SSHD).exists() && Command::new("sshfs").arg("--version").output().is_ok();
    if !present {
        assert!(
            std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(),
            "sshd or sshfs missing (.ci/run installs them)"
        );
        eprintln!("skipped: sshd or sshfs is not installed");
    }
    present
}

/// An sshd on 127.0.0.1, for this test only.
struct Sshd {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Sshd {
    fn new(dir: &Path) -> Sshd {
        std::fs::create_dir_all(dir).unwrap();
        for key in ["host", "client"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(key))
                .status()
                .unwrap();
            assert!(status.success());
        }
        std::fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin yes\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nPidFile {d}/pid\n\
             Subsystem sftp internal-sftp\nClientAliveInterval 1\nClientAliveCountMax 2\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap(); // its privilege-separation directory
        Sshd { dir: dir.to_path_buf(), port, child: None }
    }

    fn start(&mut self) {
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Listening once a connection is accepted.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server and every session it serves (sessions are its children, in sessions of
    /// their own).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let mut pids = vec![child.id() as i32];
            let mut i = 0;
            while i < pids.len() {
                pids.extend(children_of(pids[i]));
                i += 1;
            }
            for pid in pids {
                let _ = bindfs_tests::sys::kill(pid, libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The processes whose parent is `pid`.
fn children_of(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid ...`: the fields after the last ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

/// Reads `path` on another thread; the result, or `None` if it takes longer than `within`.
fn read_within(path: PathBuf, within: Duration) -> Option<std::io::Result<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read_to_string(path));
    });
    rx.recv_timeout(within).ok()
}

#[test]
fn a_remote_backing_that_drops_gives_errors_in_bounded_time_and_serves_again_when_back() {
    let Some(mut env) = Env::new() else { return };
    if !tools_present() {
        return;
    }
    let export = env.t("export");
    put(&export.join("remote.txt"), "over ssh");
    put(&env.t("Local/local.txt"), "local");
    let mut sshd = Sshd::new(&env.t("sshd"));
    sshd.start();
    let mnt = env.t("sshfs");
    std::fs::create_dir_all(&mnt).unwrap();
    let key = sshd.dir.join("client");
    let status = Command::new("sshfs")
        .arg(format!("root@127.0.0.1:{}", export.display()))
        .arg(&mnt)
        .arg("-p")
        .arg(sshd.port.to_string())
        .arg("-o")
        .arg(format!(
            "IdentityFile={},StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes,\
             reconnect,ServerAliveInterval=1,ServerAliveCountMax=2,ConnectTimeout=2",
            key.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "sshfs did not mount");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("fusermount3").arg("-uz").arg(&self.0).status();
        }
    }
    let _sshfs = Unmount(mnt.clone());

    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Remote"), &mnt, &[]);
    env.link(&env.v("Local"), &env.t("Local"), &[]);
    assert_eq!(cat(&env.v("Remote/remote.txt")), "over ssh");

    // The server goes away: calls through the view end with an error within a bounded time.
    sshd.stop();
    let bound = Duration::from_secs(30);
    let started = Instant::now();
    loop {
        match read_within(env.v("Remote/remote.txt"), bound) {
            None => panic!("a read through the view hung for {bound:?} with the remote down"),
            Some(Err(e)) => {
                eprintln!("remote down: {e} after {:?}", started.elapsed());
                break;
            }
            // Cached by sshfs or before it noticed: try again, within the bound.
            Some(Ok(_)) if started.elapsed() < bound => std::thread::sleep(Duration::from_millis(200)),
            Some(Ok(_)) => panic!("the remote backing still served {bound:?} after its server stopped"),
        }
    }
    // The other link keeps working meanwhile.
    assert_eq!(read_within(env.v("Local/local.txt"), bound).unwrap().unwrap(), "local");

    // The server returns: the view serves the remote backing again, without re-linking.
    sshd.start();
    let started = Instant::now();
    loop {
        match read_within(env.v("Remote/remote.txt"), bound) {
            Some(Ok(text)) => {
                assert_eq!(text, "over ssh");
                eprintln!("remote back after {:?}", started.elapsed());
                break;
            }
            Some(Err(_)) if started.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(500))
            }
            other => panic!("the remote backing did not come back: {other:?}"),
        }
    }
}
