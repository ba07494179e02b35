//! The Windows client: the view holding a path is the nearest ancestor whose control pipe
//! (`\\.\pipe\bindfs-rs-<hash>`) exists; one JSON request line goes to it, one reply line
//! comes back. Named and hashed as the CLI's daemon names them (`cli/src/windows.rs`).
//!
//! Unlike the CLI, this client does not yet check who serves the pipe (the CLI accepts only
//! itself or an elevated process): the library sends nothing secret (paths), but a squatter
//! could lie about the outcome.

use std::io::{BufRead, BufReader, Write};
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bindfs_core::control::{Endpoint, Reply, Request};
use bindfs_core::{AbsPath, CasePolicy, Syntax, Target, hresult};
use windows::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY};
use windows::Win32::Storage::FileSystem::SECURITY_IDENTIFICATION;

use super::{Failure, Flags, checked};

/// An absolute, lexically normalized Windows path (relative ones from the working directory).
pub fn absolute(path: &Path) -> Result<AbsPath, Failure> {
    let abs = std::path::absolute(path)
        .map_err(|e| Failure::new(format!("{}: {e}", path.display()), hresult::BAD_PATHNAME))?;
    let text = abs.to_str().ok_or_else(|| {
        Failure::new(format!("{}: not valid Unicode", path.display()), hresult::NO_UNICODE_TRANSLATION)
    })?;
    AbsPath::parse(text, Syntax::Windows).map_err(|e| Failure::of(format!("{}: {e}", path.display()), &e))
}

fn endpoint(mountpoint: AbsPath) -> Endpoint {
    Endpoint { mountpoint, syntax: Syntax::Windows, policy: CasePolicy::Insensitive }
}

/// The pipe of the view mounted at `mountpoint`: a stable hash (FNV-1a) of its case-folded
/// absolute spelling, as the daemon names it.
pub fn pipe_name(mountpoint: &AbsPath) -> String {
    let text = mountpoint.to_string();
    let folded = CasePolicy::Insensitive.key(text.as_bytes()).into_owned();
    let hash = folded
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!(r"\\.\pipe\bindfs-rs-{hash:016x}")
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

/// Whether a pipe named `name` exists, without connecting to it.
fn pipe_exists(name: &str) -> bool {
    if crate::sys::wait_named_pipe(&wide(name), 1) {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(ERROR_FILE_NOT_FOUND.0 as i32)
}

/// Opens the client end of pipe `name`, waiting a little while every instance is busy. The
/// server may only identify the client, never act as it.
fn open_pipe(name: &str) -> std::io::Result<std::fs::File> {
    let wide_name = wide(name);
    let mut tries = 0;
    loop {
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .security_qos_flags(SECURITY_IDENTIFICATION.0)
            .open(name);
        match opened {
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY.0 as i32) && tries < 5 => {
                tries += 1;
                let _ = crate::sys::wait_named_pipe(&wide_name, 2000);
            }
            other => return other,
        }
    }
}

/// Sends `request` to the view at `mountpoint`: its reply, or why it failed.
pub fn call(mountpoint: &AbsPath, request: &Request) -> Result<Reply, Failure> {
    let pipe = open_pipe(&pipe_name(mountpoint)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::new(format!("no live view at {mountpoint}"), hresult::SERVICE_NOT_ACTIVE)
        }
        std::io::ErrorKind::PermissionDenied => Failure::new("permission denied", hresult::ACCESS_DENIED),
        _ => Failure::new(format!("control pipe of {mountpoint}: {e}"), hresult::BROKEN_PIPE),
    })?;
    let broken =
        |e: std::io::Error| Failure::new(format!("control pipe of {mountpoint}: {e}"), hresult::BROKEN_PIPE);
    let mut text =
        serde_json::to_string(request).map_err(|e| Failure::new(e.to_string(), hresult::E_UNEXPECTED))?;
    text.push('\n');
    (&pipe).write_all(text.as_bytes()).map_err(broken)?;
    let mut line = String::new();
    BufReader::new(&pipe).read_line(&mut line).map_err(broken)?;
    let reply = serde_json::from_str(&line).map_err(|_| {
        Failure::new(format!("the daemon of {mountpoint} gave no answer"), hresult::BROKEN_PIPE)
    })?;
    checked(reply)
}

/// The view `path` is in: the nearest ancestor (or itself) whose pipe exists.
pub fn view_of(path: &AbsPath) -> Result<AbsPath, Failure> {
    let mut candidate = Some(path.clone());
    while let Some(p) = candidate {
        if pipe_exists(&pipe_name(&p)) {
            return Ok(p);
        }
        candidate = p.path.parent().map(|path| AbsPath { root: p.root.clone(), path });
    }
    Err(Failure::new(format!("{path} is not inside a live view"), hresult::NO_VIEW))
}

/// The backing path as the daemon takes it: a chain under the mount point, or the host path
/// canonicalized (only outside the view: inside, WinFsp would answer another spelling).
fn backing_path(backing: &Path, at: &Endpoint) -> Result<AbsPath, Failure> {
    let written = absolute(backing)?;
    let target = Target::of_backing(&at.mountpoint, at.policy, &written, || {
        std::fs::canonicalize(backing).ok().and_then(|real| absolute(&real).ok())
    });
    Ok(target.path_at(&at.mountpoint))
}

/// `CreateBindLink`: makes `backing`'s tree visible at `virt` in the live view holding it.
pub fn create(virt: &Path, backing: &Path, flags: Flags, except: &[PathBuf]) -> Result<(), Failure> {
    let v = absolute(virt)?;
    let mountpoint = view_of(&v)?;
    let backing = backing_path(backing, &endpoint(mountpoint.clone()))?.to_string();
    let except = except.iter().map(|e| absolute(e).map(|a| a.to_string())).collect::<Result<Vec<_>, _>>()?;
    let request = Request::Create {
        virt: v.to_string(),
        backing,
        read_only: flags.read_only,
        merged: flags.merged,
        except,
    };
    call(&mountpoint, &request).map(|_| ())
}

/// `RemoveBindLink`: removes the link at `virt`.
pub fn remove(virt: &Path) -> Result<(), Failure> {
    let v = absolute(virt)?;
    let mountpoint = view_of(&v)?;
    call(&mountpoint, &Request::Remove { virt: v.to_string() }).map(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_path_in_no_view_is_refused_with_its_hresult() {
        let f = create(Path::new(r"C:\bindlink-no-view\Foo"), Path::new(r"C:\"), Flags::default(), &[])
            .unwrap_err();
        assert_eq!(f.hresult, hresult::NO_VIEW, "{f:?}");
        assert!(f.message.ends_with("is not inside a live view"), "{f:?}");
    }

    #[test]
    fn pipes_are_named_as_the_daemon_names_them() {
        let a = AbsPath::parse(r"C:\Views\V", Syntax::Windows).unwrap();
        let b = AbsPath::parse(r"c:\views\v", Syntax::Windows).unwrap();
        assert_eq!(pipe_name(&a), pipe_name(&b));
        assert!(pipe_name(&a).starts_with(r"\\.\pipe\bindfs-rs-"));
    }
}
