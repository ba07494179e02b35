//! `bindfs-rs link create|remove|list|apply` and `bindfs-rs unmount`: changing live views.
//!
//! A path names its view: the deepest bindfs-rs mount (from `/proc/self/mountinfo`) that holds
//! it. Changes go to that view's daemon over its control socket.

use std::path::{Path, PathBuf};

use bindfs_fuse::control::{self, LinkInfo, Request, WantedLink};

use crate::args::LinkArg;

use crate::mount::{abs_string, absolute, backing_string};

/// The source name bindfs-rs views show in the mount table (type `fuse`, or `fuse.bindfs-rs`
/// where the subtype reaches the kernel).
const SOURCE: &str = "bindfs-rs";

/// Undoes the octal escapes of `/proc/self/mountinfo` (`\040` for a space ...).
fn unescape(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// The mount points of every bindfs-rs view on this system.
pub fn views() -> Result<Vec<PathBuf>, String> {
    let table =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    Ok(table
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mountpoint = left.split(' ').nth(4)?;
            let mut fields = right.split(' ');
            let (fstype, source) = (fields.next()?, fields.next()?);
            (fstype.starts_with("fuse") && source == SOURCE).then(|| unescape(mountpoint))
        })
        .collect())
}

/// The mount point of the view holding `path` (absolute).
pub(crate) fn view_of(path: &str) -> Result<PathBuf, String> {
    let target = Path::new(path);
    views()?
        .into_iter()
        .filter(|m| target.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
        .ok_or_else(|| format!("{path} is not inside a bindfs-rs view"))
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
    let virt = abs_string(virt)?;
    let mountpoint = view_of(&virt)?;
    let except = except.iter().map(|e| abs_string(e)).collect::<Result<Vec<_>, _>>()?;
    let at = control::endpoint(absolute(&mountpoint)?);
    let backing = backing_string(&at, backing)?;
    let request = Request::Create { virt, backing, read_only, merged, except };
    call(&mountpoint, &request).map(|_| ())
}

/// `link remove`.
pub fn remove(virt: &Path) -> Result<(), String> {
    let virt = abs_string(virt)?;
    let mountpoint = view_of(&virt)?;
    call(&mountpoint, &Request::Remove { virt }).map(|_| ())
}

/// `link list`: the links of one view, or of every view.
pub fn list(
    mountpoint: Option<&Path>,
    format: crate::list::Format,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let mountpoints = match mountpoint {
        Some(m) => vec![named_view(m)?],
        None => views()?,
    };
    let mut all: Vec<LinkInfo> = Vec::new();
    let every_view = mountpoint.is_none();
    for m in &mountpoints {
        match call(m, &Request::List) {
            Ok(reply) => all.extend(reply.links),
            // Listing every view: those of other users are not this user's to see.
            Err(e) if every_view && e == "permission denied" => {}
            Err(e) => return Err(e),
        }
    }
    crate::list::print(&all, format, out)
}

/// A link of a links file as `apply` sends it to the daemon of the view at `at`: paths
/// absolute (relative ones from the working directory), the backing resolved as `link create`
/// resolves it.
pub(crate) fn wanted(at: &bindfs_core::control::Endpoint, link: &LinkArg) -> Result<WantedLink, String> {
    Ok(WantedLink {
        virt: abs_string(&link.virt)?,
        backing: backing_string(at, &link.backing)?,
        read_only: link.read_only,
        merged: link.merged,
        except: link.except.iter().map(|e| abs_string(e)).collect::<Result<_, _>>()?,
        optional: link.optional,
    })
}

/// `link apply`: makes the view at `mountpoint` (or the one holding the file's first link)
/// match the links file, all or nothing; prints what changed, one line.
pub fn apply(file: &Path, mountpoint: Option<&Path>, out: &mut dyn std::io::Write) -> Result<(), String> {
    let links = crate::args::read_config(file)?;
    let mountpoint = match (mountpoint, links.first()) {
        (Some(m), _) => named_view(m)?,
        (None, Some(first)) => view_of(&abs_string(&first.virt)?)?,
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

/// The mount point of the view named by `m` (a mount point, symlinks resolved).
pub(crate) fn named_view(m: &Path) -> Result<PathBuf, String> {
    let abs = abs_string(m)?;
    let real = std::fs::canonicalize(&abs).map(|p| p.to_string_lossy().into_owned()).unwrap_or(abs);
    if !views()?.iter().any(|v| v.as_os_str() == real.as_str()) {
        return Err(format!("{real} is not a bindfs-rs view"));
    }
    Ok(PathBuf::from(real))
}

/// `unmount`: unmounts a view, also one whose daemon died ("transport endpoint is not
/// connected"), and removes its control socket.
pub fn unmount(mountpoint: &Path) -> Result<(), String> {
    let abs = absolute(mountpoint)?.to_string();
    if !views()?.iter().any(|v| v.as_os_str() == abs.as_str()) {
        return Err(format!("{abs} is not a bindfs-rs view"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/mnt/my\\040view"), PathBuf::from("/mnt/my view"));
        assert_eq!(unescape("/a\\134b"), PathBuf::from("/a\\b"));
        assert_eq!(unescape("/plain"), PathBuf::from("/plain"));
    }
}
