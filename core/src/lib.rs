//! # bindfs-core
//!
//! The platform-neutral heart of bindfs-rs: everything about Windows-style bind links that does
//! not depend on an operating system. The rules it implements are numbered in the project's
//! `docs/spec.md`; tests are named after them.
//!
//! - [`path`], [`name`]: virtual and host paths in POSIX and Windows syntax, strictly
//!   normalized; file names and the view's case policy.
//! - [`table`]: the link table and its creation and removal rules (1-10, 17).
//! - [`resolve`]: a virtual path to the layers that serve it (rules 8, 9, 11, 13-16).
//! - [`merge`]: listing unions and where creates, renames and deletes go (rules 11, 12, 14).
//! - [`plan`]: the steps that make a view's links match a wanted set (`link apply`).
//! - [`report`]: what the user sees: virtual names (rule 21) and read-only attributes.
//! - [`backing`]: the port trait through which the core reaches real storage, by handle.
//! - [`view`]: every file-system operation on virtual paths, written once over the port.
//! - [`fake`]: an in-memory store for fast tests.
//! - [`error`]: the error vocabulary shared by every backend; [`hresult`]: its `HRESULT`s, as
//!   the bind link API (`bindlink.h`) reports them.
//! - `control` (feature `control`): the protocol through which clients change a live view's
//!   links, the same for every platform.
//!
//! The core is usable without any mount: build a [`View`] over a store, create links, and call
//! its operations on virtual paths. With the in-memory store:
//!
//! ```
//! use bindfs_core::{fake::FakeBacking, CasePolicy, LinkFlags, LinkSpec, Target, VPath, View};
//!
//! let store = FakeBacking::new("/vol");
//! store.write_file("/vol/Foo/old.txt", b"on disk");
//! store.write_file("/t/Target/Cat.txt", b"meow");
//! let view = View::new(store, CasePolicy::Sensitive);
//! view.create_link(LinkSpec {
//!     virt: VPath::parse("/Foo")?,
//!     target: Target::host("/t/Target")?,
//!     flags: LinkFlags::default(),
//!     exceptions: vec![],
//! })?;
//! let names: Vec<String> = view.readdir(&VPath::parse("/Foo")?)?.iter().map(|e| e.name.to_string()).collect();
//! assert_eq!(names, ["Cat.txt"]); // a shadow link hides V's on-disk content (rule 6)
//! # Ok::<(), bindfs_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backing;
#[cfg(feature = "control")]
pub mod control;
pub mod error;
pub mod fake;
pub mod hresult;
pub mod merge;
pub mod name;
pub mod path;
pub mod plan;
pub mod report;
pub mod resolve;
pub mod table;
pub mod view;

pub use backing::{
    Attr, Backing, DirEntry, FileKind, OpenFlags, RenameFlags, SetAttr, SetTime, StatFs, Timestamp,
    XattrMode, win_attr,
};
pub use error::{Error, Result};
pub use name::{CasePolicy, Name};
pub use path::{AbsPath, Root, Syntax, VPath};
pub use resolve::{Layer, LayerRoot, Origin, Resolution};
pub use table::{Link, LinkFlags, LinkId, LinkSpec, LinkTable, Target};
pub use view::{Entry, EntryAttr, Handle, Holder, ListedEntry, Listing, OpenDir, Served, View, Which};
