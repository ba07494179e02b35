//! The Windows client, the one both `bindfs-rs` (`link`, `status`, `unmount`) and
//! `bindlink.dll` use: moved here from the CLI (`cli/src/windows.rs`), so the C API takes the
//! CLI's path handling and its check of who serves a pipe.
//!
//! - The view at M is served on `\\.\pipe\bindfs-rs-<hash of M, case-folded>`, one JSON line
//!   each way ([`bindfs_core::control`]); the view holding a path is the nearest ancestor of it
//!   whose pipe exists.
//! - A client talks only to a server run by its own user or by an elevated process
//!   ([`trusted_server`]): anyone may create a pipe of a name nobody serves yet, and a squatter
//!   could otherwise answer for a view (say a link was made that was not). The server may only
//!   identify the client, never act as it (`SECURITY_IDENTIFICATION`).
//! - Every path is made absolute in the working directory and lexically normalized; a backing
//!   path outside the view is canonicalized ([`backing_path`]).
//!
//! The Win32 calls are in `sys`; its token helpers are public for the CLI's pipe server (which
//! logs its clients' SIDs and makes its pipe's DACL from its own).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bindfs_core::control::{Endpoint, Reply, Request};
use bindfs_core::{AbsPath, CasePolicy, Syntax, Target, hresult};
use windows::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY};
use windows::Win32::Storage::FileSystem::SECURITY_IDENTIFICATION;

pub use self::sys::{elevated, my_sid, process_token, this_process_elevated, token_sid, wide};
use super::{Failure, Flags, checked};

mod sys;

/// An absolute, lexically normalized Windows path (relative ones from the working directory).
pub fn absolute(path: &Path) -> Result<AbsPath, Failure> {
    let abs = std::path::absolute(path)
        .map_err(|e| Failure::new(format!("{}: {e}", path.display()), hresult::BAD_PATHNAME))?;
    let text = abs.to_str().ok_or_else(|| {
        Failure::new(format!("{}: not valid Unicode", path.display()), hresult::NO_UNICODE_TRANSLATION)
    })?;
    AbsPath::parse(text, Syntax::Windows).map_err(|e| Failure::of(format!("{}: {e}", path.display()), &e))
}

/// The view at `mountpoint` as the protocol addresses it.
pub fn endpoint(mountpoint: AbsPath) -> Endpoint {
    Endpoint { mountpoint, syntax: Syntax::Windows, policy: CasePolicy::Insensitive }
}

/// The pipe of the view mounted at `mountpoint`: a stable hash (FNV-1a) of its case-folded
/// absolute spelling.
pub fn pipe_name(mountpoint: &AbsPath) -> String {
    let text = mountpoint.to_string();
    let folded = CasePolicy::Insensitive.key(text.as_bytes()).into_owned();
    let hash = folded
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!(r"\\.\pipe\bindfs-rs-{hash:016x}")
}

/// Who serves a pipe: its process, that process's user (string SID), and whether it runs
/// elevated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The serving process's id.
    pub pid: u32,
    /// Its user's SID (`S-1-5-21-...`).
    pub sid: String,
    /// Whether it runs with an administrator's full token.
    pub elevated: bool,
}

/// Who serves the pipe whose client end is `pipe`.
pub fn server_of(pipe: &File) -> Result<Server, Failure> {
    let refused = |e: String| Failure::new(e, hresult::ACCESS_DENIED);
    let (pid, token) = sys::server_token(pipe).map_err(refused)?;
    let sid = token_sid(&token).map_err(refused)?;
    Ok(Server { pid, sid, elevated: elevated(&token) })
}

/// Whether `server` may answer a client run by the user `me` (a SID): only a process of that
/// user or an elevated one (which could act as anyone anyway) is trusted.
pub fn trust(server: &Server, me: &str) -> Result<(), Failure> {
    if server.elevated || server.sid == me {
        Ok(())
    } else {
        Err(Failure::new(
            format!("the control pipe is served by process {}, not an administrator or you", server.pid),
            hresult::ACCESS_DENIED,
        ))
    }
}

/// Whether the server at the other end of `pipe` is this user or an elevated process
/// ([`trust`]); a server that cannot be identified is not trusted either.
pub fn trusted_server(pipe: &File) -> Result<(), Failure> {
    let server = server_of(pipe)?;
    let me = my_sid().map_err(|e| Failure::new(e, hresult::ACCESS_DENIED))?;
    trust(&server, &me)
}

/// Whether a pipe named `name` exists, without connecting to it (a connection would take an
/// instance from a live server, and a busy or forbidden pipe still exists).
pub fn pipe_exists(name: &str) -> bool {
    if sys::wait_named_pipe(&wide(name), 1) {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(ERROR_FILE_NOT_FOUND.0 as i32)
}

/// Opens the client end of pipe `name`, waiting a little while every instance is busy (the
/// server makes a new one after each connection). The server may only identify the client,
/// never act as it (SECURITY_IDENTIFICATION): a server squatting the name gains nothing.
pub fn open_pipe(name: &str) -> std::io::Result<File> {
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
                // Waits at most 2 s for a free instance.
                let _ = sys::wait_named_pipe(&wide_name, 2000);
            }
            other => return other,
        }
    }
}

/// Sends one request to the view mounted at `mountpoint`, once its server is trusted: its
/// reply, or why it failed (the daemon's refusal included).
pub fn call(mountpoint: &AbsPath, request: &Request) -> Result<Reply, Failure> {
    call_checked(mountpoint, request, trusted_server)
}

/// [`call`] with the check of the server given: an untrusted server gets nothing, not even the
/// request. Public for the tests, which cannot start a server of another user under Wine.
#[doc(hidden)]
pub fn call_checked(
    mountpoint: &AbsPath,
    request: &Request,
    trusted: impl FnOnce(&File) -> Result<(), Failure>,
) -> Result<Reply, Failure> {
    let pipe = open_pipe(&pipe_name(mountpoint)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::new(format!("no live view at {mountpoint}"), hresult::SERVICE_NOT_ACTIVE)
        }
        std::io::ErrorKind::PermissionDenied => Failure::new("permission denied", hresult::ACCESS_DENIED),
        _ => Failure::new(format!("control pipe of {mountpoint}: {e}"), hresult::BROKEN_PIPE),
    })?;
    trusted(&pipe)?;
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

/// The backing path of a link in the view at `at`, as its daemon takes it: the path that names
/// where it leads ([`Target::of_backing`]: a chain under the mount point, or the host path
/// canonicalized). Only a path written outside the view is canonicalized: inside it,
/// `canonicalize` would ask the WinFsp volume, which answers another spelling.
pub fn backing_path(backing: &Path, at: &Endpoint) -> Result<AbsPath, Failure> {
    let written = absolute(backing)?;
    let target = Target::of_backing(&at.mountpoint, at.policy, &written, || {
        std::fs::canonicalize(backing).ok().and_then(|real| absolute(&real).ok())
    });
    Ok(target.path_at(&at.mountpoint))
}

/// `link create` / `CreateBindLink`: makes `backing`'s tree visible at `virt` in the live view
/// holding it.
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

/// `link remove` / `RemoveBindLink`: removes the link at `virt`.
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

    #[test]
    fn only_this_user_or_an_elevated_process_may_serve_a_pipe() {
        let me = "S-1-5-21-1-2-3-1001";
        let server = |sid: &str, elevated| Server { pid: 42, sid: sid.to_owned(), elevated };
        assert_eq!(trust(&server(me, false), me), Ok(()));
        assert_eq!(trust(&server(me, true), me), Ok(()));
        // An elevated process could act as anyone: SYSTEM, or an administrator's full token.
        assert_eq!(trust(&server("S-1-5-18", true), me), Ok(()));
        let other = trust(&server("S-1-5-21-1-2-3-1002", false), me).unwrap_err();
        assert_eq!(other.hresult, hresult::ACCESS_DENIED);
        assert_eq!(other.message, "the control pipe is served by process 42, not an administrator or you");
        // A SID is compared whole, not as a prefix.
        assert!(trust(&server("S-1-5-21-1-2-3-100", false), me).is_err());
    }

    #[test]
    fn this_process_knows_its_own_user() {
        let sid = my_sid().unwrap();
        assert!(sid.starts_with("S-1-"), "{sid}");
        let token = process_token(std::process::id()).unwrap();
        assert_eq!(token_sid(&token).unwrap(), sid);
        assert_eq!(elevated(&token), this_process_elevated());
    }
}
