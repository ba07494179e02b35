//! The client half of a live view's control channel, shared by the C API and the CLI's
//! `link create|remove`: the same path handling, the same view lookup, the same request, so
//! both give the same result and the same error (issue 15, item 4).
//!
//! - Linux ([`linux`]): a path names its view, the deepest bindfs-rs mount holding it (from
//!   `/proc/self/mountinfo`); the request goes to that view's control socket.
//! - Windows (`windows`): the view is the nearest ancestor of the path that has a control
//!   pipe, served by this user or an elevated process.

use bindfs_core::hresult;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(windows)]
pub mod windows;
#[cfg(windows)]
pub use windows::*;

/// Elsewhere there is no backend to serve a view: every call is refused.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn create(
    _virt: &std::path::Path,
    _backing: &std::path::Path,
    _flags: Flags,
    _except: &[std::path::PathBuf],
) -> Result<(), Failure> {
    Err(Failure::new("bindfs-rs has no backend for this system", hresult::NOT_SUPPORTED))
}

/// Elsewhere there is no backend to serve a view: every call is refused.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn remove(_virt: &std::path::Path) -> Result<(), Failure> {
    Err(Failure::new("bindfs-rs has no backend for this system", hresult::NOT_SUPPORTED))
}

/// The flags of a link, as `link create` and `CREATE_BIND_LINK_FLAGS` give them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--read-only`, `CREATE_BIND_LINK_FLAG_READ_ONLY`.
    pub read_only: bool,
    /// `--merged`, `CREATE_BIND_LINK_FLAG_MERGED`.
    pub merged: bool,
}

/// Why a call failed: one line naming the problem (what the CLI prints), and its `HRESULT`
/// (what the C API returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One line naming the problem.
    pub message: String,
    /// Its `HRESULT` ([`bindfs_core::hresult`]).
    pub hresult: u32,
}

impl Failure {
    /// A failure with `message` and `hresult`.
    pub fn new(message: impl Into<String>, hresult: u32) -> Failure {
        Failure { message: message.into(), hresult }
    }

    /// A refusal of the core, with its `HRESULT`.
    pub fn of(message: impl Into<String>, error: &bindfs_core::Error) -> Failure {
        Failure::new(message, error.hresult())
    }

    /// The one line the CLI prints: the message, and with `with_hresult` the code and its name
    /// (`[HRESULT 0x80070057 E_INVALIDARG]`), which scripts compare with the C API's.
    pub fn line(&self, with_hresult: bool) -> String {
        if !with_hresult {
            return self.message.clone();
        }
        let name = hresult::name(self.hresult).unwrap_or("HRESULT");
        format!("{} [HRESULT {:#010X} {name}]", self.message, self.hresult)
    }
}

/// Set (to anything but `0`) to have a failed `bindfs-rs link create|remove` end its line with
/// the `HRESULT` the C API returns for the same failure (`[HRESULT 0x80070057 E_INVALIDARG]`).
/// Read here so the Linux and Windows commands print alike.
pub const HRESULT_ENV: &str = "BINDFS_RS_HRESULT";

impl Failure {
    /// [`Failure::line`], with the `HRESULT` when [`HRESULT_ENV`] asks for it.
    pub fn line_as_asked(&self) -> String {
        self.line(std::env::var_os(HRESULT_ENV).is_some_and(|v| v != "0"))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
/// The outcome of a daemon's reply: its error with its `HRESULT` (`E_FAIL` from a daemon that
/// sends none), or success.
fn checked(reply: bindfs_core::control::Reply) -> Result<bindfs_core::control::Reply, Failure> {
    match reply.error {
        Some(message) => {
            let code = reply.hresult.unwrap_or(hresult::E_FAIL);
            Err(Failure::new(message, code))
        }
        None => Ok(reply),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_prints_its_hresult_only_when_asked() {
        let f = Failure::new("/m/a: /a is already a link", hresult::E_INVALIDARG);
        assert_eq!(f.line(false), "/m/a: /a is already a link");
        assert_eq!(f.line(true), "/m/a: /a is already a link [HRESULT 0x80070057 E_INVALIDARG]");
        let reply = bindfs_core::control::Reply { error: Some("old".into()), ..Default::default() };
        assert_eq!(checked(reply).err().map(|f| f.hresult), Some(hresult::E_FAIL));
    }
}
