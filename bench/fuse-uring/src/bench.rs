//! One benchmark run: mount, serve with the chosen transport, time the clients, unmount.

use std::fs as stdfs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{Mode, OFlags};

use crate::client::{median, time_lstat};
use crate::cpu;
use crate::dev::{self, InitGate};
use crate::fs::{self as synth, DEV, FILE_NAME, Fs, RING, Snapshot};
use crate::mount::Mount;
use crate::proto::op;
use crate::sys::RingSetup;
use crate::uring::{self, QueueOpts};

/// The kernel switch for FUSE over io_uring.
const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

/// Which transport serves the mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// read(/dev/fuse) / write(/dev/fuse).
    Dev,
    /// FUSE over io_uring.
    Uring,
}

/// The command line, validated.
#[derive(Debug, Clone)]
pub struct Config {
    transport: Transport,
    iters: u64,
    threads: Vec<usize>,
    runs: usize,
    dev_threads: usize,
    depth: usize,
    pin: bool,
    ring_setup: RingSetup,
    pin_dev: bool,
    pin_client: bool,
    native_dir: PathBuf,
    timeout: Duration,
}

fn number<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: '{v}' is not a valid number"))
}

impl Config {
    /// Parses the arguments; Ok(None) for --help.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>, String> {
        let mut cfg = Self {
            transport: Transport::Dev,
            iters: 200_000,
            threads: vec![1, 2],
            runs: 3,
            dev_threads: 2,
            depth: 2,
            pin: true,
            ring_setup: RingSetup::Plain,
            pin_dev: false,
            pin_client: false,
            native_dir: PathBuf::from("/dev/shm"),
            timeout: Duration::from_secs(600),
        };
        while let Some(flag) = args.next() {
            match flag.as_str() {
                "--transport" => {
                    cfg.transport = match args.next().as_deref() {
                        Some("dev") => Transport::Dev,
                        Some("uring") => Transport::Uring,
                        other => return Err(format!("--transport: '{other:?}' is not dev or uring")),
                    }
                }
                "--iters" => cfg.iters = number(&flag, args.next())?,
                "--threads" => {
                    let v = args.next().ok_or("--threads needs a value")?;
                    cfg.threads =
                        v.split(',').map(|t| number(&flag, Some(t.to_owned()))).collect::<Result<_, _>>()?;
                }
                "--runs" => cfg.runs = number(&flag, args.next())?,
                "--dev-threads" => cfg.dev_threads = number(&flag, args.next())?,
                "--depth" => cfg.depth = number(&flag, args.next())?,
                "--no-pin" => cfg.pin = false,
                "--ring-setup" => {
                    cfg.ring_setup = match args.next().as_deref() {
                        Some("plain") => RingSetup::Plain,
                        Some("coop") => RingSetup::Coop,
                        Some("defer") => RingSetup::Defer,
                        other => {
                            return Err(format!("--ring-setup: '{other:?}' is not plain, coop or defer"));
                        }
                    }
                }
                "--pin-dev" => cfg.pin_dev = true,
                "--pin-client" => cfg.pin_client = true,
                "--native-dir" => cfg.native_dir = args.next().ok_or("--native-dir needs a value")?.into(),
                "--timeout" => cfg.timeout = Duration::from_secs(number(&flag, args.next())?),
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument '{other}'")),
            }
        }
        if cfg.iters == 0 || cfg.runs == 0 || cfg.dev_threads == 0 || cfg.depth == 0 {
            return Err("--iters, --runs, --dev-threads and --depth must be at least 1".into());
        }
        if cfg.threads.is_empty() || cfg.threads.contains(&0) {
            return Err("--threads needs counts of at least 1".into());
        }
        Ok(Some(cfg))
    }
}

/// What a server thread reports when it ends.
type Ended = (String, io::Result<()>);

/// Starts a named server thread that reports its end on `done`.
fn spawn_server(
    name: String,
    done: &mpsc::Sender<Ended>,
    body: impl FnOnce() -> io::Result<()> + Send + 'static,
) -> io::Result<()> {
    let done = done.clone();
    thread::Builder::new().name(name.clone()).spawn(move || {
        let r = body();
        let _ = done.send((name, r));
    })?;
    Ok(())
}

/// One timed row of the table.
#[derive(Debug)]
struct Row {
    target: &'static str,
    threads: usize,
    us_per_op: f64,
    us_per_stat_per_thread: f64,
    req_per_op: f64,
    ring_share: f64,
}

fn sum(s: &Snapshot) -> u64 {
    s.iter().sum()
}

/// The benchmark: see the crate doc.
pub fn run(cfg: &Config) -> io::Result<()> {
    if cfg.transport == Transport::Uring {
        let on = stdfs::read_to_string(ENABLE_URING).unwrap_or_default();
        if on.trim() != "Y" {
            return Err(io::Error::other(format!(
                "{ENABLE_URING} is '{}': echo Y > it first (as root)",
                on.trim()
            )));
        }
    }
    // Whatever happens below, do not hang: past the limit, detach the mount and exit; the exit
    // closes /dev/fuse, which aborts the connection and frees any stuck caller.
    let pid = std::process::id();
    let mnt = std::env::temp_dir().join(format!("fuse-uring-bench-{pid}"));
    let native = cfg.native_dir.join(format!("fuse-uring-bench-{pid}"));
    {
        let (mnt, timeout) = (mnt.clone(), cfg.timeout);
        thread::spawn(move || {
            thread::sleep(timeout);
            eprintln!("fuse-uring-bench: timed out after {timeout:?}, detaching the mount");
            let _ = rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::DETACH);
            std::process::exit(3);
        });
    }
    stdfs::write(&native, vec![0u8; 4096])?;
    stdfs::create_dir(&mnt)?;
    let result = serve_and_time(cfg, &mnt, &native);
    let _ = stdfs::remove_file(&native);
    let _ = stdfs::remove_dir(&mnt);
    result
}

fn serve_and_time(cfg: &Config, mnt: &Path, native: &Path) -> io::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let fs = Arc::new(Fs::new(now));
    let dev: Arc<OwnedFd> =
        Arc::new(rustix::fs::open("/dev/fuse", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?);
    let mut mount = Mount::new(mnt, &dev)?;
    let gate = Arc::new(InitGate::default());
    let want_uring = cfg.transport == Transport::Uring;
    let (done_tx, done_rx) = mpsc::channel::<Ended>();
    let (reg_tx, reg_rx) = mpsc::channel::<u16>();

    let ncpus = cpu::possible()?;
    let readers = if want_uring { 1 } else { cfg.dev_threads };
    let mut servers = readers;
    for i in 0..readers {
        let (dev, fs, gate) = (Arc::clone(&dev), Arc::clone(&fs), Arc::clone(&gate));
        let pin = cfg.pin_dev.then_some(i % ncpus);
        spawn_server(format!("dev-{i}"), &done_tx, move || {
            if let Some(cpu) = pin {
                cpu::pin_to(cpu)?;
            }
            dev::serve(&dev, &fs, &gate, want_uring)
        })?;
    }
    let queues = if want_uring { ncpus } else { 0 };
    for qid in 0..queues {
        let qid = u16::try_from(qid).map_err(io::Error::other)?;
        let opts = QueueOpts { qid, depth: cfg.depth, pin: cfg.pin, setup: cfg.ring_setup };
        let (dev, fs, gate, reg) = (Arc::clone(&dev), Arc::clone(&fs), Arc::clone(&gate), reg_tx.clone());
        spawn_server(format!("ring-{qid}"), &done_tx, move || {
            uring::serve_queue(&dev, &fs, &gate, opts, move || {
                let _ = reg.send(qid);
            })
        })?;
        servers += 1;
    }
    drop(done_tx);

    // Every queue must have registered before timing: until then the kernel holds requests.
    for _ in 0..queues {
        if reg_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let why = done_rx
                .try_recv()
                .map(|(name, r)| format!("{name}: {r:?}"))
                .unwrap_or_else(|_| "no thread reported".into());
            return Err(io::Error::other(format!("the ring queues did not all register: {why}")));
        }
    }
    let file = mnt.join(FILE_NAME);
    time_lstat(&file, 1, 1000, None)?; // warm-up, and proof the mount answers
    let clients = cfg.pin_client.then_some(ncpus);
    let rows = measure(cfg, &file, native, clients)?;
    report(cfg, queues, &rows);

    mount.unmount()?;
    drop(dev);
    for _ in 0..servers {
        match done_rx.recv_timeout(Duration::from_secs(10)) {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => eprintln!("fuse-uring-bench: server thread {name}: {e}"),
            Err(_) => {
                eprintln!("fuse-uring-bench: a server thread did not stop after unmount");
                break;
            }
        }
    }
    Ok(())
}

/// Times every (threads, run) pair on the tmpfs floor and through the mount.
fn measure(cfg: &Config, file: &Path, native: &Path, pin_clients: Option<usize>) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let transport = match cfg.transport {
        Transport::Dev => "fuse-dev",
        Transport::Uring => "fuse-uring",
    };
    println!(
        "{:<11} {:>7} {:>4} {:>9} {:>15} {:>10} {:>9}",
        "target", "threads", "run", "us/op", "us/stat/thread", "req/stat", "via ring"
    );
    for &threads in &cfg.threads {
        for run in 1..=cfg.runs {
            let ops = cfg.iters * threads as u64;
            let wall = time_lstat(native, threads, cfg.iters, pin_clients)?;
            rows.push(row("tmpfs", threads, wall, ops, None));
            print_row(rows.last(), run);

            let (dev0, ring0) = (DEV.snapshot(), RING.snapshot());
            let wall = time_lstat(file, threads, cfg.iters, pin_clients)?;
            let (dev1, ring1) = (DEV.snapshot(), RING.snapshot());
            let d = synth::delta(&dev1, &dev0);
            let r = synth::delta(&ring1, &ring0);
            rows.push(row(transport, threads, wall, ops, Some((&d, &r))));
            print_row(rows.last(), run);
            if run == 1 {
                print_mix(&d, &r, ops);
            }
        }
    }
    Ok(rows)
}

fn row(
    target: &'static str,
    threads: usize,
    wall: Duration,
    ops: u64,
    counts: Option<(&Snapshot, &Snapshot)>,
) -> Row {
    let us = wall.as_secs_f64() * 1e6;
    let (req, ring) = counts.map_or((0, 0), |(d, r)| (sum(d) + sum(r), sum(r)));
    Row {
        target,
        threads,
        us_per_op: us / ops as f64,
        us_per_stat_per_thread: us * threads as f64 / ops as f64,
        req_per_op: req as f64 / ops as f64,
        ring_share: if req == 0 { 0.0 } else { ring as f64 / req as f64 },
    }
}

fn print_row(r: Option<&Row>, run: usize) {
    if let Some(r) = r {
        println!(
            "{:<11} {:>7} {:>4} {:>9.3} {:>15.3} {:>10.3} {:>8.1}%",
            r.target,
            r.threads,
            run,
            r.us_per_op,
            r.us_per_stat_per_thread,
            r.req_per_op,
            r.ring_share * 100.0
        );
    }
}

/// Prints which requests one stat caused, per stat and per transport.
fn print_mix(dev: &Snapshot, ring: &Snapshot, ops: u64) {
    let mut parts = Vec::new();
    for (via, s) in [("dev", dev), ("ring", ring)] {
        for (opcode, &n) in s.iter().enumerate() {
            if n > 0 {
                let name = u32::try_from(opcode).map_or("other", op::name);
                parts.push(format!("{via}:{name}={:.3}", n as f64 / ops as f64));
            }
        }
    }
    println!("            requests per stat: {}", parts.join(" "));
}

/// The medians table.
fn report(cfg: &Config, queues: usize, rows: &[Row]) {
    println!();
    println!(
        "medians of {} runs, {} lstat per thread per run{}, stat threads {}",
        cfg.runs,
        cfg.iters,
        match cfg.transport {
            Transport::Dev => format!(
                ", {} /dev/fuse reader threads {}",
                cfg.dev_threads,
                if cfg.pin_dev { "pinned" } else { "unpinned" }
            ),
            Transport::Uring => format!(
                ", {queues} ring queues x {} entries ({:?} setup), ring threads {}",
                cfg.depth,
                cfg.ring_setup,
                if cfg.pin { "pinned" } else { "unpinned" }
            ),
        },
        if cfg.pin_client { "pinned" } else { "unpinned" }
    );
    println!("{:<11} {:>7} {:>9} {:>15} {:>10}", "target", "threads", "us/op", "us/stat/thread", "req/stat");
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for r in rows {
        if seen.contains(&(r.target, r.threads)) {
            continue;
        }
        seen.push((r.target, r.threads));
        let same: Vec<&Row> =
            rows.iter().filter(|o| o.target == r.target && o.threads == r.threads).collect();
        let pick = |f: fn(&Row) -> f64| median(&same.iter().map(|o| f(o)).collect::<Vec<_>>());
        println!(
            "{:<11} {:>7} {:>9.3} {:>15.3} {:>10.3}",
            r.target,
            r.threads,
            pick(|o| o.us_per_op),
            pick(|o| o.us_per_stat_per_thread),
            pick(|o| o.req_per_op)
        );
    }
}
