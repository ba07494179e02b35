//! The Linux client: views found in `/proc/self/mountinfo`, requests sent to their control
//! sockets ([`bindfs_fuse::control`]). Moved here from the CLI (`link.rs`, `mount.rs`) so that
//! `bindfs-rs link` and `libbindlink.so` share it.

use std::path::{Path, PathBuf};

use bindfs_core::control::{Endpoint, Request};
use bindfs_core::{AbsPath, Syntax, Target, hresult};
use bindfs_fuse::control;

use super::{Failure, Flags, checked};

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

/// The mount point of the view holding `path` (absolute, as [`resolved`] gives it).
pub fn view_of(path: &str) -> Result<PathBuf, Failure> {
    let target = Path::new(path);
    views()
        .map_err(|e| Failure::new(e, hresult::E_FAIL))?
        .into_iter()
        .filter(|m| target.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
        .ok_or_else(|| Failure::new(format!("{path} is not inside a bindfs-rs view"), hresult::NO_VIEW))
}

/// The most symlinks [`resolved`] follows for one path (as the kernel's `ELOOP` limit).
const MAX_SYMLINKS: usize = 40;

/// `path` made absolute ([`absolute`]), with the symlinks that lead to its view resolved, and
/// only those: every command and the C API find a path's view this way (review point 9 of
/// issue 15), so `unmount lnk`, `link create lnk/d` and `CreateBindLink("lnk/d")` agree when
/// `lnk` is a symlink to a mount point.
///
/// The path is walked from the root one name at a time; a symlink met *outside* every view is
/// replaced by its target. Once the walk reaches a view's mount point the rest is kept as
/// written: a view's virtual paths are never resolved through the view itself (a symlink inside
/// a view is an entry of the view, and the daemon must not be asked about its own paths to
/// decide which path a request names). A name that does not exist ends the walk too (the rest
/// as written). `..` stays lexical, as [`absolute`] made it.
pub fn resolved(path: &Path) -> Result<AbsPath, Failure> {
    resolved_at(path, None)
}

/// [`resolved`], `mountpoint` (canonical) counted as a view as well: the view a mount is about
/// to make, whose links are checked before it is mounted.
pub fn resolved_at(path: &Path, mountpoint: Option<&Path>) -> Result<AbsPath, Failure> {
    use std::os::unix::ffi::OsStringExt;
    let written = absolute_or_failure(path)?;
    let mut views = views().map_err(|e| Failure::new(e, hresult::E_FAIL))?;
    views.extend(mountpoint.map(Path::to_path_buf));
    let in_view = |p: &Path| views.iter().any(|m| p.starts_with(m));
    let host = PathBuf::from(std::ffi::OsString::from_vec(written.to_host_bytes()));
    let mut rest: std::collections::VecDeque<PathBuf> =
        host.components().skip(1).map(|c| PathBuf::from(c.as_os_str())).collect();
    let mut at = PathBuf::from("/");
    let mut hops = 0;
    while let Some(name) = rest.pop_front() {
        if in_view(&at) {
            rest.push_front(name);
            break;
        }
        let next = at.join(&name);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                let target = std::fs::read_link(&next)
                    .map_err(|e| Failure::new(format!("{}: {e}", next.display()), hresult::BAD_PATHNAME))?;
                if hops > MAX_SYMLINKS {
                    return Err(Failure::new(
                        format!("{}: too many levels of symbolic links", path.display()),
                        hresult::CANT_RESOLVE_FILENAME,
                    ));
                }
                // The target's names come first, read from the symlink's directory (or the root).
                if target.is_absolute() {
                    at = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        std::path::Component::Normal(n) => rest.push_front(PathBuf::from(n)),
                        std::path::Component::ParentDir => rest.push_front(PathBuf::from("..")),
                        _ => {}
                    }
                }
            }
            _ if name.as_os_str() == ".." => {
                at.pop();
            }
            Ok(_) => at = next,
            Err(_) => {
                rest.push_front(name);
                break;
            }
        }
    }
    let full = rest.iter().fold(at, |p, n| p.join(n));
    absolute_or_failure(&full)
}

/// An absolute, lexically normalized path (relative ones are taken from the working directory).
///
/// It must be UTF-8: the control protocol carries paths as UTF-8 strings, so a path that is
/// not would reach the daemon changed (U+FFFD for each bad byte), naming another link or a
/// backing that does not exist. It is refused with the C API's `HRESULT` for it,
/// `ERROR_NO_UNICODE_TRANSLATION` (review point 2 of issue 15). Names of files *inside* a view
/// need not be UTF-8; only the paths given to the control channel must be.
pub fn absolute(path: &Path) -> Result<AbsPath, String> {
    absolute_or_failure(path).map_err(|f| f.message)
}

/// [`absolute`], with the `HRESULT` of a failure.
fn absolute_or_failure(path: &Path) -> Result<AbsPath, Failure> {
    use std::os::unix::ffi::OsStrExt;
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::new(format!("working directory: {e}"), hresult::E_FAIL))?;
    let base = AbsPath::parse_bytes(cwd.as_os_str().as_bytes(), Syntax::Posix)
        .map_err(|e| Failure::of(format!("working directory {}: {e}", cwd.display()), &e))?;
    let abs = base
        .join_input(path.as_os_str().as_bytes(), Syntax::Posix)
        .map_err(|e| Failure::of(format!("{}: {e}", path.display()), &e))?;
    if std::str::from_utf8(&abs.to_host_bytes()).is_err() {
        return Err(Failure::new(
            format!("{}: not UTF-8 (the paths of links must be UTF-8)", abs.to_host_bytes().escape_ascii()),
            hresult::NO_UNICODE_TRANSLATION,
        ));
    }
    Ok(abs)
}

/// The absolute path string of `path` (lexically normalized).
pub fn abs_string(path: &Path) -> Result<String, String> {
    Ok(absolute(path)?.to_string())
}

/// The path string of `path` as a view's client takes it ([`resolved`]: absolute, the symlinks
/// that lead to its view resolved).
pub fn resolved_string(path: &Path) -> Result<String, String> {
    resolved(path).map(|a| a.to_string()).map_err(|f| f.message)
}

/// A backing path as the daemon of the view at `at` takes it: absolute, and the path that names
/// where it leads ([`Target::of_backing`]: a chain under the mount point, or the host path with
/// its symlinks resolved).
pub fn backing_string(at: &Endpoint, path: &Path) -> Result<String, String> {
    backing_or_failure(at, path).map_err(|f| f.message)
}

fn backing_or_failure(at: &Endpoint, path: &Path) -> Result<String, Failure> {
    let written = absolute_or_failure(path)?;
    let target = Target::of_backing(&at.mountpoint, at.policy, &written, || {
        std::fs::canonicalize(path).ok().and_then(|real| absolute(&real).ok())
    });
    Ok(target.path_at(&at.mountpoint).to_string())
}

/// Sends `request` to the view at `mountpoint`: its reply, or why it failed.
pub fn call(mountpoint: &Path, request: &Request) -> Result<bindfs_core::control::Reply, Failure> {
    let reply = control::try_call(mountpoint, request).map_err(|e| Failure::new(e.message, e.hresult))?;
    checked(reply)
}

/// `link create` / `CreateBindLink`: makes `backing`'s tree visible at `virt` in the live view
/// holding `virt`. Relative paths are taken from the working directory.
pub fn create(virt: &Path, backing: &Path, flags: Flags, except: &[PathBuf]) -> Result<(), Failure> {
    // Every path is checked before the view is looked for, as the C API checks them all first.
    let virt = resolved(virt)?.to_string();
    let except = except.iter().map(|e| resolved(e).map(|a| a.to_string())).collect::<Result<Vec<_>, _>>()?;
    absolute_or_failure(backing)?;
    let mountpoint = view_of(&virt)?;
    let at = control::endpoint(absolute_or_failure(&mountpoint)?);
    let backing = backing_or_failure(&at, backing)?;
    let request = Request::Create { virt, backing, read_only: flags.read_only, merged: flags.merged, except };
    call(&mountpoint, &request).map(|_| ())
}

/// `link remove` / `RemoveBindLink`: removes the link at `virt`.
pub fn remove(virt: &Path) -> Result<(), Failure> {
    let virt = resolved(virt)?.to_string();
    let mountpoint = view_of(&virt)?;
    call(&mountpoint, &Request::Remove { virt }).map(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/mnt/my\\040view"), PathBuf::from("/mnt/my view"));
        assert_eq!(unescape("/a\\134b"), PathBuf::from("/a\\b"));
        assert_eq!(unescape("/plain"), PathBuf::from("/plain"));
    }

    #[test]
    fn a_path_in_no_view_is_refused_with_its_hresult() {
        let f =
            create(Path::new("/proc/bindlink-none"), Path::new("/tmp"), Flags::default(), &[]).unwrap_err();
        assert_eq!(f.hresult, hresult::NO_VIEW, "{f:?}");
        assert_eq!(f.message, "/proc/bindlink-none is not inside a bindfs-rs view");
        assert_eq!(remove(Path::new("/proc/bindlink-none")).unwrap_err().hresult, hresult::NO_VIEW);
        let bad = create(Path::new("/a/../.."), Path::new("/tmp"), Flags::default(), &[]).unwrap_err();
        assert_eq!(bad.hresult, hresult::BAD_PATHNAME, "{bad:?}");
    }

    /// Review point 9 of issue 15: symlinks outside views are followed (relative, absolute,
    /// chained, with `..` in the target); a name that does not exist ends the walk.
    #[test]
    fn symlinks_outside_views_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(real.join("a/b")).unwrap();
        std::os::unix::fs::symlink("a/b", real.join("rel")).unwrap();
        std::os::unix::fs::symlink(real.join("rel"), real.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../a", real.join("a/b/up")).unwrap();
        let text = |p: PathBuf| resolved(&p).unwrap().to_string();
        let want = |rel: &str| real.join(rel).to_str().unwrap().to_owned();
        assert_eq!(text(real.join("rel/new/x")), want("a/b/new/x"));
        assert_eq!(text(real.join("abs")), want("a/b"));
        assert_eq!(text(real.join("abs/up/b")), want("a/b"));
        std::os::unix::fs::symlink("loop", real.join("loop")).unwrap();
        assert_eq!(resolved(&real.join("loop")).unwrap_err().hresult, hresult::CANT_RESOLVE_FILENAME);
    }

    /// Review point 2 of issue 15: a path that is not UTF-8 is refused, never changed.
    #[test]
    fn a_path_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"/proc/v\xfe"));
        for f in [
            create(bad, Path::new("/tmp"), Flags::default(), &[]).unwrap_err(),
            create(Path::new("/proc/v"), bad, Flags::default(), &[]).unwrap_err(),
            create(Path::new("/proc/v"), Path::new("/tmp"), Flags::default(), &[bad.to_owned()]).unwrap_err(),
            remove(bad).unwrap_err(),
        ] {
            assert_eq!(f.hresult, hresult::NO_UNICODE_TRANSLATION, "{f:?}");
        }
        assert_eq!(absolute(bad).unwrap_err(), "/proc/v\\xfe: not UTF-8 (the paths of links must be UTF-8)");
    }
}
