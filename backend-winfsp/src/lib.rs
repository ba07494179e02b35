//! # bindfs-winfsp
//!
//! The Windows side of bindfs-rs, through WinFsp, for systems without the Bind Filter. Licensed
//! GPL-3.0 because winfsp-rs is. The platform-neutral parts build and are tested everywhere; the
//! file system itself is Windows-only.
//!
//! - [`status`]: the one mapping between core errors and NTSTATUS codes, both ways.
//! - [`info`]: core attributes as Windows file information (attributes, FILETIMEs, sizes).
//! - [`wide`]: UTF-16 names and paths to and from the core's names and view paths.
//! - [`dirlist`]: directory listings as WinFsp pages them (markers, patterns, `.` and `..`).
//! - [`owner`]: who a caller may make the owner of a file (NTFS's check, which the store's
//!   privileges would skip) and the owner of a descriptor.
//! - `backing` (Windows): `WindowsBacking`, the core's backing port over NT handles opened
//!   relative to kept root handles with `FILE_OPEN_REPARSE_POINT`; `sys` holds every `unsafe`
//!   call it makes.
//! - `ops` (Windows): `Ops`, what each WinFsp callback does, over plain types (UTF-16 names,
//!   flag words, byte buffers), so tests call it as WinFsp's DLL calls the callbacks.
//! - `sys::fsp` (Windows): the WinFsp interface filled over winfsp-sys, one `extern "C"`
//!   function per callback from WinFsp's raw pointers to `Ops`, and `Volume`, the file system
//!   object they serve (why not winfsp-rs's host: see there). `sys` and it hold all the
//!   `unsafe` code.
//! - `host` (Windows): `mount(config, links) -> Mounted`, what the command-line tool calls;
//!   `Mounted` changes links on the live view and stops it.
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(windows)]
pub mod backing;
pub mod dirlist;
#[cfg(windows)]
pub mod host;
pub mod info;
#[cfg(windows)]
pub mod ops;
pub mod owner;
pub mod status;
#[cfg(windows)]
mod sys;
pub mod wide;

#[cfg(windows)]
pub use backing::{DeleteHandle, WindowsBacking, WindowsFile, WindowsNode};
#[cfg(windows)]
pub use host::{MountConfig, MountError, Mounted, mount};
#[cfg(windows)]
pub use ops::{ByName, OpenHandle, Opened, Ops};
#[cfg(windows)]
pub use sys::fsp::Volume;
#[cfg(windows)]
pub use sys::{load_winfsp, registry_string, under_wine, winfsp_dll_name, winfsp_install_dirs};
