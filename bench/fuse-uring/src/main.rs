//! fuse-uring-bench: what one FUSE request round trip costs over the classic /dev/fuse
//! read/write transport and over FUSE over io_uring (Linux 6.14+), measured with `lstat` of a
//! file whose entry and attributes the kernel may never cache (issue 13).
//!
//! The program mounts its own synthetic file system (a root directory holding `file`), speaks
//! the FUSE wire protocol itself (no fuser: fuser 0.18 has only the /dev/fuse transport),
//! times `lstat` of the file through the mount and of a file on tmpfs (the floor), and
//! unmounts. Needs root and /dev/fuse; the ring transport also needs the fuse module parameter:
//!
//! ```text
//! cargo build --release -p bindfs-fuse-uring-bench
//! echo Y > /sys/module/fuse/parameters/enable_uring      # only for --transport uring
//! timeout -s KILL 900 target/release/fuse-uring-bench --transport dev
//! timeout -s KILL 900 target/release/fuse-uring-bench --transport uring
//! echo N > /sys/module/fuse/parameters/enable_uring
//! ```
//!
//! Results and what they mean: bench/fuse-uring/README.md.

#[cfg(target_os = "linux")]
mod bench;
#[cfg(target_os = "linux")]
mod client;
#[cfg(target_os = "linux")]
mod cpu;
#[cfg(target_os = "linux")]
mod dev;
#[cfg(target_os = "linux")]
mod fs;
#[cfg(target_os = "linux")]
mod mount;
#[cfg(target_os = "linux")]
mod proto;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
mod uring;

/// Usage text.
#[cfg(target_os = "linux")]
const USAGE: &str = "\
usage: fuse-uring-bench [--transport dev|uring] [options]
  --transport T     dev: threads read(/dev/fuse) and write() replies (default)
                    uring: FUSE over io_uring, one ring per possible CPU
  --iters N         lstat calls per thread per run (default 200000)
  --threads LIST    client thread counts to time, comma-separated (default 1,2)
  --runs N          runs of each measurement; medians are reported (default 3)
  --dev-threads N   /dev/fuse reader threads for --transport dev (default 2)
  --depth N         ring entries per queue for --transport uring (default 2)
  --no-pin          do not pin each ring thread to its queue's CPU
  --ring-setup S    plain (default, as libfuse), coop (COOP_TASKRUN) or defer
                    (SINGLE_ISSUER|DEFER_TASKRUN): where ring task work runs
  --pin-dev         pin /dev/fuse reader thread i to CPU i (mod CPUs)
  --pin-client      pin stat thread i to CPU i (mod CPUs)
  --native-dir DIR  where the tmpfs floor file goes (default /dev/shm)
  --timeout SECS    give up (unmount, exit 3) after this long (default 600)";

#[cfg(target_os = "linux")]
fn main() {
    let cfg = match bench::Config::parse(std::env::args().skip(1)) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("fuse-uring-bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = bench::run(&cfg) {
        eprintln!("fuse-uring-bench: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("fuse-uring-bench: Linux only (FUSE over io_uring is a Linux 6.14+ interface)");
    std::process::exit(2);
}
