//! `bindfs-rs link create|remove|list|apply` and `bindfs-rs unmount`: changing live views.
//!
//! A path names its view: the deepest bindfs-rs mount (from `/proc/self/mountinfo`) that holds
//! it, once the symlinks *leading to* the view are resolved (never those inside it:
//! [`bindlink::client::resolved`]), the same for every command and the C API. Changes go to that
//! view's daemon over its control socket.

use std::path::{Path, PathBuf};

use bindfs_fuse::control::{self, LinkInfo, Request, WantedLink};

use crate::args::LinkArg;

use crate::mount::{absolute, backing_string};
use bindlink::client::resolved_string;

// Finding a path's view and sending it link changes is the client shared with the C API
// (`bindlink::client`), so `link create|remove` and `CreateBindLink`/`RemoveBindLink` give the
// same result and the same error (issue 15).
pub use bindlink::client::views;

/// The mount point of the view holding `path` (absolute).
pub(crate) fn view_of(path: &str) -> Result<PathBuf, String> {
    bindlink::client::view_of(path).map_err(|f| f.message)
}

pub(crate) fn call(mountpoint: &Path, request: &Request) -> Result<control::Reply, String> {
    let reply = control::call(mountpoint, request)?;
    match reply.error {
        Some(e) => Err(e),
        None => Ok(reply),
    }
}

/// `link create`.
pub fn create(
    virt: &Path,
    backing: &Path,
    read_only: bool,
    merged: bool,
    except: &[PathBuf],
) -> Result<(), String> {
    let flags = bindlink::Flags { read_only, merged };
    bindlink::client::create(virt, backing, flags, except).map_err(|f| f.line_as_asked())
}

/// `link remove`.
pub fn remove(virt: &Path) -> Result<(), String> {
    bindlink::client::remove(virt).map_err(|f| f.line_as_asked())
}

/// `link list`: the links of one view, or of every view.
///
/// Listing every view, one that cannot answer does not hide the others (review point 7 of
/// issue 14): a view of another user (not this user's to see) is left out, as `status` leaves
/// it out; a view whose daemon is dead or does not answer is left out with a one-line note on
/// stderr (`status` shows it as `daemon not running`). The listing of the rest succeeds.
pub fn list(
    mountpoint: Option<&Path>,
    format: crate::list::Format,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let Some(mountpoint) = mountpoint else {
        let mut all: Vec<LinkInfo> = Vec::new();
        for m in views()? {
            match bindlink::client::call(&m, &Request::List) {
                Ok(reply) => all.extend(reply.links),
                Err(f) if f.hresult == bindfs_core::hresult::ACCESS_DENIED => {}
                Err(f) if f.hresult == bindfs_core::hresult::SERVICE_NOT_ACTIVE => {
                    eprintln!("bindfs-rs: {}: skipped: daemon not running", m.display());
                }
                Err(f) => eprintln!("bindfs-rs: {}: skipped: {}", m.display(), f.message),
            }
        }
        return crate::list::print(&all, format, out);
    };
    let reply = call(&named_view(mountpoint)?, &Request::List)?;
    crate::list::print(&reply.links, format, out)
}

/// A link of a links file as `apply` sends it to the daemon of the view at `at`: paths
/// absolute (relative ones from the working directory), the backing resolved as `link create`
/// resolves it.
pub(crate) fn wanted(at: &bindfs_core::control::Endpoint, link: &LinkArg) -> Result<WantedLink, String> {
    // The view may not be mounted yet (`mount` checks its links first): its mount point still
    // ends the walk, so no symlink of its on-disk content is resolved.
    let view = PathBuf::from(at.mountpoint.to_string());
    let resolved_string = |p: &Path| {
        bindlink::client::resolved_at(p, Some(&view)).map(|a| a.to_string()).map_err(|f| f.message)
    };
    Ok(WantedLink {
        virt: resolved_string(&link.virt)?,
        backing: backing_string(at, &link.backing)?,
        read_only: link.read_only,
        merged: link.merged,
        except: link.except.iter().map(|e| resolved_string(e)).collect::<Result<_, _>>()?,
        optional: link.optional,
    })
}

/// `link apply`: makes the view at `mountpoint` (or the one holding the file's first link)
/// match the links file, all or nothing; prints what changed, one line.
pub fn apply(file: &Path, mountpoint: Option<&Path>, out: &mut dyn std::io::Write) -> Result<(), String> {
    let links = crate::args::read_links_file(file)?.0;
    let mountpoint = match (mountpoint, links.first()) {
        (Some(m), _) => named_view(m)?,
        (None, Some(first)) => view_of(&resolved_string(&first.virt)?)?,
        (None, None) => {
            return Err(format!("{}: no links, so no view named: give the mount point", file.display()));
        }
    };
    let at = control::endpoint(absolute(&mountpoint)?);
    let links = links.iter().map(|l| wanted(&at, l)).collect::<Result<Vec<_>, _>>()?;
    let reply = call(&mountpoint, &Request::Apply { links })?;
    let done = reply.applied.unwrap_or_default();
    writeln!(
        out,
        "{}: {} created, {} removed, {} pending",
        mountpoint.display(),
        done.created,
        done.removed,
        done.pending
    )
    .map_err(|e| format!("stdout: {e}"))
}

/// The mount point of the view named by `m`: a mount point, reached through symlinks as every
/// command reaches a view ([`bindlink::client::resolved`]).
pub(crate) fn named_view(m: &Path) -> Result<PathBuf, String> {
    let real = resolved_string(m)?;
    if !views()?.iter().any(|v| v.as_os_str() == real.as_str()) {
        return Err(format!("{real} is not a bindfs-rs view"));
    }
    Ok(PathBuf::from(real))
}

/// `unmount`: unmounts a view, also one whose daemon died ("transport endpoint is not
/// connected"), and removes its control socket. `lazy` detaches it at once (`MNT_DETACH`); its
/// daemon then serves the files still open in it and ends with the last one, keeping its
/// socket until then.
pub fn unmount(mountpoint: &Path, lazy: bool) -> Result<(), String> {
    let abs = named_view(mountpoint)?.to_string_lossy().into_owned();
    if lazy {
        return bindfs_fuse::mount::unmount_lazy(Path::new(&abs))
            .map_err(|e| format!("unmounting {abs}: {e}"));
    }
    bindfs_fuse::mount::unmount(Path::new(&abs)).map_err(|e| match e.raw_os_error() {
        Some(libc_busy) if libc_busy == rustix::io::Errno::BUSY.raw_os_error() => {
            format!("{abs} is busy (a process uses it)")
        }
        _ => format!("unmounting {abs}: {e}"),
    })?;
    // The daemon ends once its view is gone; wait for it, so a mount right after this one does
    // not meet the old daemon on its way out. One that died left a socket nobody answers.
    if !control::wait_until_gone(Path::new(&abs), std::time::Duration::from_secs(10)) {
        return Err(format!("the daemon of {abs} did not stop after the unmount"));
    }
    let _ = std::fs::remove_file(control::socket_path(Path::new(&abs)));
    Ok(())
}
