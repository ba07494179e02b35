//! The store driver of the shared rule scenarios: the same table played on a platform's backing
//! store through the core's [`View`], without a mount. "Mounting" makes a view over `disk/`,
//! links are made and removed with [`View::create_link`] and [`View::remove_link`] (what a
//! daemon does for `bindfs-rs link`), and every step inside the view is a `View` call.
//!
//! It runs where no mount can (Wine has no WinFsp driver), and it checks the store itself apart
//! from the mount layer: a scenario that fails here and passes on a mount (or the reverse) points
//! at the layer in between. Generic over the store, so each platform picks its own (Linux's in
//! `tests/tests/scenarios.rs`, Windows' in `backend-winfsp/tests/store_scenarios.rs`, which keeps
//! this crate free of the GPL backend).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bindfs_core::{
    AbsPath, Backing, CasePolicy, Error, FileKind, Handle, LinkFlags, LinkSpec, OpenFlags, RenameFlags,
    SetAttr, SetTime, Syntax, Target, Timestamp, VPath, View,
};

use crate::scenarios::{At, Change, Driver, Failure, Flag, Held, Stat};

/// Opens the store whose on-disk layer is the given directory.
pub type OpenStore<B> = fn(&Path) -> bindfs_core::Result<B>;

/// A fresh tree (`disk/`, `t/`) and, while "mounted", a view of store `B` over `disk/`.
pub struct StoreEnv<B: Backing> {
    /// First, so it is dropped before `tmp`: its handles must be closed before the tree goes
    /// (removing a tree with a directory held open never ends under Wine), also when a failed
    /// step unwinds.
    view: Option<Arc<View<B>>>,
    tmp: tempfile::TempDir,
    open: OpenStore<B>,
    syntax: Syntax,
    policy: CasePolicy,
}

impl<B: Backing> std::fmt::Debug for StoreEnv<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreEnv")
            .field("root", &self.tmp.path())
            .field("mounted", &self.view.is_some())
            .finish()
    }
}

impl<B: Backing + 'static> StoreEnv<B> {
    /// A fresh tree; `open` makes the store, whose host paths are spelled in `syntax` and whose
    /// names compare under `policy`.
    pub fn new(open: OpenStore<B>, syntax: Syntax, policy: CasePolicy) -> std::io::Result<StoreEnv<B>> {
        let tmp = tempfile::Builder::new().prefix("bindfs-store-").tempdir()?;
        std::fs::create_dir_all(tmp.path().join("disk"))?;
        std::fs::create_dir_all(tmp.path().join("t"))?;
        Ok(StoreEnv { view: None, tmp, open, syntax, policy })
    }

    fn under(base: PathBuf, rel: &str) -> PathBuf {
        rel.split('/').filter(|n| !n.is_empty()).fold(base, |p, n| p.join(n))
    }

    fn view(&self) -> std::io::Result<&Arc<View<B>>> {
        self.view.as_ref().ok_or_else(|| std::io::Error::other("no view is mounted"))
    }

    /// The view path of a scenario's relative path.
    fn vpath(rel: &str) -> std::io::Result<VPath> {
        if rel.is_empty() { Ok(VPath::root()) } else { VPath::parse(rel).map_err(io) }
    }

    fn target(&self, backing: At) -> Result<Target, String> {
        match backing {
            At::View(rel) => Ok(Target::View(Self::vpath(rel).map_err(|e| e.to_string())?)),
            host => {
                let path = self.path(host);
                let text = path.to_str().ok_or_else(|| format!("not UTF-8: {}", path.display()))?;
                let abs = AbsPath::parse(text, self.syntax).map_err(|e| format!("{text}: {e}"))?;
                Ok(Target::Host(Arc::new(abs)))
            }
        }
    }
}

/// A core error as an I/O error the driver's [`Driver::is`] can tell apart again.
fn io(e: Error) -> std::io::Error {
    std::io::Error::other(e)
}

/// A file opened through the view, read through it.
struct StoreHeld<B: Backing> {
    view: Arc<View<B>>,
    file: Handle<B>,
}

impl<B: Backing> Held for StoreHeld<B> {
    fn read_all(&mut self) -> std::io::Result<String> {
        read_all(&self.view, &self.file)
    }

    /// Through the core's handle: by the object opened, with the core's rules.
    fn change(&mut self, change: Change) -> std::io::Result<()> {
        let set = |changes: SetAttr| self.view.handle_set_attr(&self.file, &changes).map(|_| ());
        match change {
            Change::Size(size) => set(SetAttr { size: Some(size), ..SetAttr::default() }),
            Change::Modified(secs) => {
                let secs = i64::try_from(secs).map_err(|_| Error::InvalidArgument).map_err(io)?;
                let at = SetTime::At(Timestamp { secs, nanos: 0 });
                set(SetAttr { mtime: Some(at), ..SetAttr::default() })
            }
            Change::EveryoneMayWrite => self.view.handle_set_security(
                &self.file,
                crate::scenarios::DACL_SECURITY_INFORMATION,
                &crate::scenarios::everyone_may_write(),
            ),
        }
        .map_err(io)
    }
}

fn read_all<B: Backing>(view: &View<B>, file: &Handle<B>) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = view.read(file, out.len() as u64, &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).map_err(std::io::Error::other)
}

impl<B: Backing + 'static> Driver for StoreEnv<B> {
    /// Host paths for the on-disk layer and the backing trees; a view path has no host path
    /// here (there is no mount), so it names where a mount would be, for messages only.
    fn path(&self, at: At) -> PathBuf {
        match at {
            At::Disk(rel) => Self::under(self.tmp.path().join("disk"), rel),
            At::Backing(rel) => Self::under(self.tmp.path().join("t"), rel),
            At::View(rel) => Self::under(self.tmp.path().join("view"), rel),
        }
    }

    fn mount(&mut self, _exact: bool) {
        // No cache sits between the runner and the view: every call is exact.
        let store = match (self.open)(&self.tmp.path().join("disk")) {
            Ok(store) => store,
            Err(e) => panic!("opening the store over {}: {e}", self.tmp.path().display()),
        };
        self.view = Some(Arc::new(View::new(store, self.policy)));
    }

    fn unmount(&mut self) {
        self.view = None;
    }

    fn mounted(&self) -> bool {
        self.view.is_some()
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        Err(format!("{args:?}: the store driver has no command (it calls the view)"))
    }

    /// A view call fails with a core error; a host path (a backing tree) with the system's.
    fn is(&self, e: &std::io::Error, failure: Failure) -> bool {
        let Some(core) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) else {
            return failure == Failure::NotFound && e.kind() == std::io::ErrorKind::NotFound;
        };
        matches!(
            (failure, core),
            (Failure::NotFound, Error::NotFound)
                | (Failure::ReadOnly, Error::ReadOnly)
                | (Failure::NotEmpty, Error::NotEmpty)
        )
    }

    fn link(&self, virt: &'static str, backing: At, flags: &[Flag]) -> Result<String, String> {
        let view = self.view().map_err(|e| e.to_string())?;
        let mut spec = LinkSpec {
            virt: Self::vpath(virt).map_err(|e| e.to_string())?,
            target: self.target(backing)?,
            flags: LinkFlags::default(),
            exceptions: Vec::new(),
        };
        for flag in flags {
            match flag {
                Flag::ReadOnly => spec.flags.read_only = true,
                Flag::Merged => spec.flags.merged = true,
                Flag::Except(p) => spec.exceptions.push(Self::vpath(p).map_err(|e| e.to_string())?),
            }
        }
        view.create_link(spec).map(|_| String::new()).map_err(|e| format!("{virt}: {e}"))
    }

    fn unlink(&self, virt: &'static str) -> Result<String, String> {
        let view = self.view().map_err(|e| e.to_string())?;
        let path = Self::vpath(virt).map_err(|e| e.to_string())?;
        view.remove_link(&path).map(|_| String::new()).map_err(|e| format!("{virt}: {e}"))
    }

    fn ls(&self, rel: &'static str) -> std::io::Result<Vec<String>> {
        let entries = self.view()?.readdir(&Self::vpath(rel)?).map_err(io)?;
        let mut names: Vec<String> = entries
            .iter()
            .map(|e| e.name.to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        Ok(names)
    }

    fn cat(&self, rel: &'static str) -> std::io::Result<String> {
        let view = self.view()?;
        let file = view.open(&Self::vpath(rel)?, OpenFlags::READ).map_err(io)?;
        read_all(view, &file)
    }

    fn write(&self, rel: &'static str, data: &str) -> std::io::Result<()> {
        let view = self.view()?;
        let path = Self::vpath(rel)?;
        let flags = OpenFlags { truncate: true, ..OpenFlags::READ_WRITE };
        let file = match view.open(&path, flags) {
            Err(Error::NotFound) => view.create(&path, 0o644, OpenFlags::READ_WRITE).map_err(io)?.1,
            opened => opened.map_err(io)?,
        };
        let mut done = 0;
        while done < data.len() {
            done += view.write(&file, done as u64, &data.as_bytes()[done..]).map_err(io)?;
        }
        Ok(())
    }

    fn mkdir(&self, rel: &'static str) -> std::io::Result<()> {
        self.view()?.mkdir(&Self::vpath(rel)?, 0o755).map(|_| ()).map_err(io)
    }

    fn remove(&self, rel: &'static str) -> std::io::Result<()> {
        self.view()?.unlink(&Self::vpath(rel)?).map_err(io)
    }

    fn rmdir(&self, rel: &'static str) -> std::io::Result<()> {
        self.view()?.rmdir(&Self::vpath(rel)?).map_err(io)
    }

    fn rename(&self, from: &'static str, to: &'static str) -> std::io::Result<()> {
        self.view()?.rename(&Self::vpath(from)?, &Self::vpath(to)?, RenameFlags::default()).map_err(io)
    }

    /// The view's attributes of the entry (the scenarios follow no symlink, so `follow` changes
    /// nothing here).
    fn stat(&self, rel: &'static str, _follow: bool) -> std::io::Result<Stat> {
        let attr = self.view()?.getattr(&Self::vpath(rel)?).map_err(io)?;
        Ok(Stat { is_dir: attr.kind == FileKind::Dir, read_only: attr.perm & 0o222 == 0 })
    }

    fn hold(&self, rel: &'static str) -> std::io::Result<Box<dyn Held>> {
        let view = Arc::clone(self.view()?);
        let file = view.open(&Self::vpath(rel)?, OpenFlags::READ).map_err(io)?;
        Ok(Box::new(StoreHeld { view, file }))
    }

    fn hold_to_change(&self, rel: &'static str) -> std::io::Result<Box<dyn Held>> {
        let view = Arc::clone(self.view()?);
        let file = view.open(&Self::vpath(rel)?, OpenFlags::READ_WRITE).map_err(io)?;
        Ok(Box::new(StoreHeld { view, file }))
    }

    /// The name the view reports for an entry (what the Windows backend gives WinFsp as the
    /// normalized name) is its virtual path, spelled as given.
    fn reports_its_path(&self, rel: &'static str) -> Result<(), String> {
        let path = Self::vpath(rel).map_err(|e| e.to_string())?;
        let seen =
            self.view().map_err(|e| e.to_string())?.canonical_path(&path).map_err(|e| e.to_string())?;
        if seen == path { Ok(()) } else { Err(format!("reported {seen}")) }
    }
}
