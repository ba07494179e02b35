//! `bindfs-rs`: Windows-style bind links (shadow, anchorless, merged, read-only) on any directory.
//!
//! Parsing is in two stages (clap's raw arguments, then checked requests); errors are reported
//! in one place: one line on stderr naming the problem, exit status 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod args;
#[cfg(target_os = "linux")]
mod demo;
mod docs;
mod doctor;
mod fstab;
mod help;
#[cfg(target_os = "linux")]
mod link;
#[cfg(any(target_os = "linux", windows))]
mod list;
mod logs;
#[cfg(target_os = "linux")]
mod mount;
mod options;
mod service;
#[cfg(any(target_os = "linux", windows))]
mod which;
#[cfg(windows)]
mod windows;

/// Windows-style bind links on any directory.
#[derive(Debug, Parser)]
#[command(name = "bindfs-rs", version, about, propagate_version = true, after_help = help::MAIN)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mount a view over MOUNTPOINT (its content stays visible as the on-disk layer) and create
    /// its first links. Returns once the view is live; the daemon keeps serving.
    #[command(after_help = help::MOUNT)]
    Mount {
        /// The directory to cover (Windows: a drive `X:`, a global drive `\\.\X:`, or a directory
        /// that does not exist yet).
        mountpoint: PathBuf,
        /// Windows only: the directory whose content is the on-disk layer.
        #[arg(long, value_name = "DIR")]
        lower: Option<PathBuf>,
        /// A link VIRTUAL=BACKING (VIRTUAL inside the view, may be MOUNTPOINT itself).
        #[arg(long = "link", value_name = "VIRTUAL=BACKING")]
        links: Vec<String>,
        /// A TOML links file: `[[link]]` tables (virtual, backing, read_only, merged, except),
        /// created in order before the --link ones, and a `[mount]` table of mount options
        /// (the command line wins over it).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Stay in the foreground, serving until unmounted.
        #[arg(short, long)]
        foreground: bool,
        /// The SOURCE of the fstab form `bindfs-rs SOURCE MOUNTPOINT -o OPTIONS`: a links file,
        /// a directory (one link over the whole view), or `none`.
        #[arg(long, value_name = "SOURCE", hide = true)]
        source: Option<PathBuf>,
        #[command(flatten)]
        opts: options::MountArgs,
    },
    /// Create, remove or list links of live views.
    #[command(subcommand, after_help = help::LINK)]
    Link(LinkCommand),
    /// Unmount a view (also one whose daemon died) and remove its control socket.
    #[command(after_help = help::UNMOUNT)]
    Unmount {
        /// The view's mount point.
        mountpoint: PathBuf,
        /// Linux: detach the view now and let it go once no file in it is open any more
        /// (`umount -l`); the daemon ends then.
        #[arg(short, long)]
        lazy: bool,
    },
    /// Check what views need on this system (/dev/fuse, fusermount3, /etc/fuse.conf, the
    /// kernel and privileges for passthrough; on Windows WinFsp): one line a finding, with its
    /// fix; exit status 1 when something required is missing.
    #[command(after_help = help::DOCTOR)]
    Doctor,
    /// Show each live view (or the one at MOUNTPOINT): its daemon's pid, passthrough, cache
    /// time and link count; a view whose daemon is dead is shown as such.
    #[command(after_help = help::STATUS)]
    Status {
        /// The view's mount point (every view when left out).
        mountpoint: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build a small tree in a temporary directory, make a shadow, a merged, a read-only and an
    /// anchorless link over it, and print what a user sees through them.
    #[command(after_help = help::DEMO)]
    Demo,
    /// Print the completion script of a shell (bash, zsh, fish, powershell, elvish).
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Windows: start a view at boot, as a Windows service (install, uninstall, start, stop,
    /// status). On Linux the systemd unit does this.
    #[command(subcommand, after_help = service::HELP, hide = cfg!(not(windows)))]
    Service(service::ServiceCommand),
    /// Write the man pages (man1/bindfs-rs*.1, man5/bindfs-rs.toml.5) below DIR.
    #[command(hide = true, after_help = help::MAN)]
    Man {
        /// The directory to write them below (e.g. /usr/local/share/man).
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum LinkCommand {
    /// Make BACKING's tree visible at VIRTUAL, a path inside a live view.
    #[command(after_help = help::LINK_CREATE)]
    Create {
        /// The virtual path (absolute, or relative to the working directory).
        #[arg(value_name = "VIRTUAL")]
        virt: PathBuf,
        /// The backing path: any directory or file, on any file system, or a path inside a view.
        backing: PathBuf,
        /// Refuse every change through the link (the backing stays writable directly).
        #[arg(long)]
        read_only: bool,
        /// Show the union of VIRTUAL's own content and BACKING (BACKING wins on a clash).
        #[arg(long)]
        merged: bool,
        /// A path below VIRTUAL where the link does not apply (repeatable).
        #[arg(long = "except", value_name = "PATH")]
        except: Vec<PathBuf>,
    },
    /// Remove the link at VIRTUAL (links below it first).
    #[command(after_help = help::LINK_REMOVE)]
    Remove {
        /// The virtual path of the link.
        #[arg(value_name = "VIRTUAL")]
        virt: PathBuf,
    },
    /// Tell which link and layer serve PATH, where it really is, and for a merged link every
    /// layer that has the name, in order.
    #[command(after_help = help::LINK_WHICH)]
    Which {
        /// A path inside a live view.
        path: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the links of one view, or of every view (links waiting for their backing too).
    #[command(after_help = help::LINK_LIST)]
    List {
        /// The view's mount point (every view when left out).
        mountpoint: Option<PathBuf>,
        /// Print JSON.
        #[arg(long, conflicts_with = "toml")]
        json: bool,
        /// Print the links as a links file (what `link apply` and `mount --config` read).
        #[arg(long)]
        toml: bool,
    },
    /// Make a live view's links match a links file: create the missing links, remove the extra
    /// ones (a file without links removes them all), replace the changed ones, parents before
    /// children. All or nothing: a bad file changes nothing. The file's `[mount]` table is
    /// ignored: mount options change only at mount.
    #[command(after_help = help::LINK_APPLY)]
    Apply {
        /// The links file (`[[link]]` tables, as `mount --config` reads).
        file: PathBuf,
        /// The view's mount point (left out: the view holding the file's links).
        mountpoint: Option<PathBuf>,
    },
}

#[cfg(target_os = "linux")]
fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Mount { mountpoint, lower, links, config, foreground, source, opts } => {
            if lower.is_some() {
                return Err("--lower is for Windows views; on Linux the mount point's own content is \
                            the on-disk layer"
                    .into());
            }
            let (all, settings) = mount_links(config.as_deref(), source.as_deref(), &mountpoint, &links)?;
            let given_as = log_file_given_as(&opts, &settings);
            let chosen = opts.settings()?.or(settings).resolve();
            let foreground = foreground || chosen.log.debug;
            logs::start(&chosen.log, foreground, given_as)?;
            // A failure from here on is logged too: under fstab or a service, stderr is lost.
            mount::run(mount::MountRequest {
                mountpoint,
                links: all,
                foreground,
                options: (!chosen.kernel.is_empty()).then(|| chosen.kernel.join(",")),
                cache_ttl: chosen.cache_ttl,
                poll: chosen.poll,
                wait_backings: chosen.wait_backings,
            })
            .inspect_err(|message| logs::failure(message))
        }
        Command::Link(LinkCommand::Create { virt, backing, read_only, merged, except }) => {
            link::create(&virt, &backing, read_only, merged, &except)
        }
        Command::Link(LinkCommand::Remove { virt }) => link::remove(&virt),
        Command::Link(LinkCommand::List { mountpoint, json, toml }) => {
            link::list(mountpoint.as_deref(), list::Format::of(json, toml), &mut std::io::stdout().lock())
        }
        Command::Link(LinkCommand::Apply { file, mountpoint }) => {
            link::apply(&file, mountpoint.as_deref(), &mut std::io::stdout().lock())
        }
        Command::Link(LinkCommand::Which { path, json }) => {
            which::which(&path, json, &mut std::io::stdout().lock())
        }
        Command::Status { mountpoint, json } => {
            which::status(mountpoint.as_deref(), json, &mut std::io::stdout().lock())
        }
        Command::Unmount { mountpoint, lazy } => link::unmount(&mountpoint, lazy),
        Command::Doctor => doctor::run(&mut std::io::stdout().lock()),
        Command::Demo => demo::run(&mut std::io::stdout().lock()),
        Command::Completions { shell } => {
            docs::completions(shell, Cli::command(), &mut std::io::stdout().lock())
        }
        Command::Man { dir } => docs::man_pages(Cli::command(), &dir).map(|_| ()),
        Command::Service(command) => service::run(command),
    }
}

#[cfg(windows)]
fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Mount { mountpoint, lower, links, config, foreground, source, opts } => {
            let lower = lower.ok_or("--lower DIR: a Windows view names its on-disk layer")?;
            let (all, settings) = mount_links(config.as_deref(), source.as_deref(), &mountpoint, &links)?;
            let given_as = log_file_given_as(&opts, &settings);
            let chosen = opts.settings()?.or(settings).resolve();
            if !chosen.kernel.is_empty() {
                return Err(format!(
                    "-o {}: these mount options are for Linux views",
                    chosen.kernel.join(",")
                ));
            }
            if let Some(poll) = chosen.poll {
                return Err(format!("poll_us {}: polling is for Linux views", poll.as_micros()));
            }
            let foreground = foreground || chosen.log.debug;
            logs::start(&chosen.log, foreground, given_as)?;
            windows::mount(windows::MountRequest {
                mountpoint,
                lower,
                links: all,
                foreground,
                cache_ttl: chosen.cache_ttl,
                wait_backings: chosen.wait_backings,
            })
            .inspect_err(|message| logs::failure(message))
        }
        Command::Link(LinkCommand::Create { virt, backing, read_only, merged, except }) => {
            windows::link_create(&virt, &backing, read_only, merged, &except)
        }
        Command::Link(LinkCommand::Remove { virt }) => windows::link_remove(&virt),
        Command::Link(LinkCommand::List { mountpoint, json, toml }) => windows::link_list(
            mountpoint.as_deref(),
            list::Format::of(json, toml),
            &mut std::io::stdout().lock(),
        ),
        Command::Link(LinkCommand::Apply { file, mountpoint }) => {
            windows::link_apply(&file, mountpoint.as_deref(), &mut std::io::stdout().lock())
        }
        Command::Link(LinkCommand::Which { path, json }) => {
            windows::link_which(&path, json, &mut std::io::stdout().lock())
        }
        Command::Status { mountpoint, json } => {
            windows::status(mountpoint.as_deref(), json, &mut std::io::stdout().lock())
        }
        Command::Unmount { mountpoint, lazy: false } => windows::unmount(&mountpoint),
        Command::Unmount { lazy: true, .. } => {
            Err("--lazy: Windows views have no lazy unmount (close the files open in the view)".into())
        }
        Command::Doctor => doctor::run(&mut std::io::stdout().lock()),
        Command::Demo => Err("demo: runs on Linux (it mounts a FUSE view)".into()),
        Command::Completions { shell } => {
            docs::completions(shell, Cli::command(), &mut std::io::stdout().lock())
        }
        Command::Man { dir } => docs::man_pages(Cli::command(), &dir).map(|_| ()),
        Command::Service(command) => service::run(command),
    }
}

/// How the log file of `mount` was given, as its error names it: `--log-file `, `-o log_file=`
/// or the links file's `[mount] log_file = ` (the command line wins over the file).
#[cfg(any(target_os = "linux", windows))]
fn log_file_given_as(opts: &options::MountArgs, file: &options::Settings) -> &'static str {
    if opts.log.log_file.is_some() {
        "--log-file "
    } else if opts.options.iter().any(|o| o.log_file.is_some()) || file.log_file.is_none() {
        "-o log_file="
    } else {
        "[mount] log_file = "
    }
}

/// The names of the subcommands (and their aliases), which a fstab-form SOURCE is not.
fn subcommands() -> Vec<String> {
    let cli = Cli::command();
    let mut names: Vec<String> = cli.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    names.push("help".to_owned());
    names
}

#[cfg(not(any(target_os = "linux", windows)))]
fn run(cli: Cli) -> Result<(), String> {
    Err(format!("{:?}: this build has no backend for this system", cli.command))
}

/// The links of `mount` and the mount options of its links file: the links file's (`--config`,
/// or a SOURCE that is a file), a SOURCE directory's link over the whole view, then the
/// `--link` ones, in order.
#[cfg(any(target_os = "linux", windows))]
fn mount_links(
    config: Option<&std::path::Path>,
    source: Option<&std::path::Path>,
    mountpoint: &std::path::Path,
    links: &[String],
) -> Result<(Vec<args::LinkArg>, options::Settings), String> {
    let source = source.map(fstab::Source::of).transpose()?;
    let file = match (config, &source) {
        (Some(_), Some(fstab::Source::File(f))) => {
            return Err(format!("{}: a links file as SOURCE and --config: give one", f.display()));
        }
        (Some(f), _) => Some(f),
        (None, Some(fstab::Source::File(f))) => Some(f.as_path()),
        (None, _) => None,
    };
    let (mut all, settings) = match file {
        Some(file) => args::read_links_file(file)?,
        None => (Vec::new(), options::Settings::default()),
    };
    if let Some(fstab::Source::Dir(dir)) = source {
        all.insert(0, args::LinkArg::whole_view(mountpoint, &dir));
    }
    for l in links {
        all.push(args::parse_link(l)?);
    }
    Ok((all, settings))
}

/// The exit status of a failure, when it is not 1 (see [`set_exit_status`]).
static EXIT_STATUS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);

/// Makes the command, if it fails, exit with `status` rather than 1 (a failure a caller must
/// tell from others, such as `mount`'s [`mount::ALREADY_MOUNTED`]).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn set_exit_status(status: u8) {
    EXIT_STATUS.store(status, std::sync::atomic::Ordering::Relaxed);
}

fn main() -> ExitCode {
    let argv = match fstab::rewrite(std::env::args_os().collect(), &subcommands()) {
        Ok(fstab::Rewritten::Args(argv)) => argv,
        Ok(fstab::Rewritten::Fake) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bindfs-rs: {message}");
            return ExitCode::FAILURE;
        }
    };
    fstab::set_args(argv.clone());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        // --help, --version, and a command without its subcommand (its help) print as clap
        // does; a bad command line is one line.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            eprintln!("bindfs-rs: {}", help::one_line(&e));
            return ExitCode::FAILURE;
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bindfs-rs: {message}");
            ExitCode::from(EXIT_STATUS.load(std::sync::atomic::Ordering::Relaxed))
        }
    }
}
