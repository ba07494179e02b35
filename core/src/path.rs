//! Path syntax: parsing and lexical normalization of POSIX and Windows paths.
//!
//! Two types:
//! - [`VPath`]: a normalized path *inside a view*, relative to the view's root (the mount point).
//!   It is a list of [`Name`]s; the empty list is the root itself.
//! - [`AbsPath`]: an absolute host path: a [`Root`] (`/`, a drive letter, a UNC share or a volume
//!   GUID) and a [`VPath`] below it. Backing paths and mount points are `AbsPath`s.
//!
//! Normalization is lexical and strict, so that a path never means something other than it says:
//! `.` components are dropped, `..` removes the previous component and is an error at the root
//! (never clamped), empty components (`a//b`) and NUL bytes are errors. One trailing separator is
//! accepted (`/a/b/` is `/a/b`). Windows syntax accepts both separators, drive letters (`C:\`),
//! UNC shares (`\\server\share\`), and the `\\?\` / `\\.\` prefixes with `C:\`, `UNC\server\share\`
//! and `Volume{GUID}\` after them; `.` and `..` are normalized after `\\?\` too (NTFS cannot hold
//! such names). Drive-relative (`C:foo`) and root-relative (`\foo`) Windows paths are not absolute.

use std::fmt;

use crate::error::{Error, Result};
use crate::name::{CasePolicy, Name};

/// Which path syntax an input string is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// `/` separators, `/` root.
    Posix,
    /// `\` or `/` separators; drive letters, UNC shares, `\\?\` and volume GUID prefixes.
    Windows,
}

/// A normalized path inside a view, relative to its root: a list of names, empty for the root.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VPath {
    names: Vec<Name>,
}

impl VPath {
    /// The root of the view.
    pub fn root() -> VPath {
        VPath { names: Vec::new() }
    }

    /// A path made of already checked names.
    pub fn from_names(names: Vec<Name>) -> VPath {
        VPath { names }
    }

    /// Parses a path inside a view, written with POSIX separators: `/a/b` or `a/b` (both are
    /// relative to the view root).
    pub fn parse(input: &str) -> Result<VPath> {
        VPath::parse_bytes(input.as_bytes(), Syntax::Posix)
    }

    /// Parses a view-relative path in the given syntax; a leading separator is optional.
    pub fn parse_bytes(input: &[u8], syntax: Syntax) -> Result<VPath> {
        if input.is_empty() {
            return Err(Error::EmptyPath);
        }
        let rest = match input {
            [b'/', rest @ ..] => rest,
            [b'\\', rest @ ..] if syntax == Syntax::Windows => rest,
            _ => input,
        };
        let mut out = VPath::root();
        out.push_relative(rest, syntax)?;
        Ok(out)
    }

    /// The names, root first.
    pub fn names(&self) -> &[Name] {
        &self.names
    }

    /// Number of components (0 for the root).
    pub fn depth(&self) -> usize {
        self.names.len()
    }

    /// Whether this is the view root.
    pub fn is_root(&self) -> bool {
        self.names.is_empty()
    }

    /// The last name, `None` at the root.
    pub fn file_name(&self) -> Option<&Name> {
        self.names.last()
    }

    /// The parent path, `None` at the root.
    pub fn parent(&self) -> Option<VPath> {
        let (_, init) = self.names.split_last()?;
        Some(VPath { names: init.to_vec() })
    }

    /// This path with `name` appended.
    pub fn join(&self, name: &Name) -> VPath {
        let mut names = Vec::with_capacity(self.names.len() + 1);
        names.extend_from_slice(&self.names);
        names.push(name.clone());
        VPath { names }
    }

    /// This path with `rel` appended.
    pub fn join_all(&self, rel: &[Name]) -> VPath {
        let mut names = Vec::with_capacity(self.names.len() + rel.len());
        names.extend_from_slice(&self.names);
        names.extend_from_slice(rel);
        VPath { names }
    }

    /// The names after `prefix` when `prefix` is an ancestor of (or equal to) this path.
    pub fn strip_prefix(&self, prefix: &VPath, policy: CasePolicy) -> Option<&[Name]> {
        if prefix.names.len() > self.names.len() {
            return None;
        }
        let same = prefix.names.iter().zip(&self.names).all(|(a, b)| policy.same(a.as_bytes(), b.as_bytes()));
        same.then(|| &self.names[prefix.names.len()..])
    }

    /// Whether `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &VPath, policy: CasePolicy) -> bool {
        self.strip_prefix(prefix, policy).is_some()
    }

    /// Whether both paths name the same place under `policy`.
    pub fn same(&self, other: &VPath, policy: CasePolicy) -> bool {
        self.names.len() == other.names.len() && self.starts_with(other, policy)
    }

    /// The path with `\` separators, for Windows messages.
    pub fn to_windows_string(&self) -> String {
        let mut s = String::new();
        for n in &self.names {
            s.push('\\');
            s.push_str(&n.to_string_lossy());
        }
        if s.is_empty() {
            s.push('\\');
        }
        s
    }

    /// Applies a relative path: `.` dropped, `..` pops (an error at the root), names checked.
    fn push_relative(&mut self, input: &[u8], syntax: Syntax) -> Result<()> {
        let windows = syntax == Syntax::Windows;
        let is_sep = |b: &u8| *b == b'/' || (windows && *b == b'\\');
        if input.is_empty() {
            return Ok(());
        }
        let body = match input.last() {
            Some(last) if is_sep(last) => &input[..input.len() - 1],
            _ => input,
        };
        for part in body.split(is_sep) {
            match part {
                b"" => return Err(Error::EmptyComponent),
                b"." => {}
                b".." => {
                    if self.names.pop().is_none() {
                        return Err(Error::EscapesRoot(String::from_utf8_lossy(input).into_owned()));
                    }
                }
                _ => {
                    if windows {
                        check_windows_name(part)?;
                    }
                    self.names.push(Name::new(part, windows)?);
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VPath({self})")
    }
}

impl fmt::Display for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            return f.write_str("/");
        }
        for n in &self.names {
            write!(f, "/{n}")?;
        }
        Ok(())
    }
}

/// Characters Win32 forbids in a file name.
fn check_windows_name(part: &[u8]) -> Result<()> {
    let bad = |b: &u8| *b < 0x20 || b"<>:\"|?*".contains(b);
    if part.iter().any(bad) {
        if part.contains(&0) {
            return Err(Error::NulInName(String::from_utf8_lossy(part).into_owned()));
        }
        return Err(Error::InvalidName(String::from_utf8_lossy(part).into_owned()));
    }
    Ok(())
}

/// The root of an absolute host path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Root {
    /// The POSIX root `/`.
    Posix,
    /// A drive letter (stored upper case): `C:\`.
    Drive(u8),
    /// A UNC share: `\\server\share\`.
    Unc {
        /// The server name.
        server: Name,
        /// The share name.
        share: Name,
    },
    /// A volume by GUID: `\\?\Volume{01234567-89ab-cdef-0123-456789abcdef}\` (stored lower case).
    Volume(String),
}

impl Root {
    fn same(&self, other: &Root) -> bool {
        match (self, other) {
            (Root::Unc { server: s1, share: h1 }, Root::Unc { server: s2, share: h2 }) => {
                // Server and share names are case-insensitive on every system that has them.
                let p = CasePolicy::Insensitive;
                p.same(s1.as_bytes(), s2.as_bytes()) && p.same(h1.as_bytes(), h2.as_bytes())
            }
            _ => self == other,
        }
    }
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Root::Posix => f.write_str("/"),
            Root::Drive(d) => write!(f, "{}:\\", *d as char),
            Root::Unc { server, share } => write!(f, "\\\\{server}\\{share}\\"),
            Root::Volume(g) => write!(f, "\\\\?\\Volume{g}\\"),
        }
    }
}

/// An absolute, normalized host path: a root and the names below it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AbsPath {
    /// Where the path starts.
    pub root: Root,
    /// The names below the root.
    pub path: VPath,
}

impl AbsPath {
    /// Parses an absolute path; a relative one is an error ([`Error::NotAbsolute`]).
    pub fn parse(input: &str, syntax: Syntax) -> Result<AbsPath> {
        AbsPath::parse_bytes(input.as_bytes(), syntax)
    }

    /// Parses an absolute path given as bytes (Linux paths need not be UTF-8).
    pub fn parse_bytes(input: &[u8], syntax: Syntax) -> Result<AbsPath> {
        if input.is_empty() {
            return Err(Error::EmptyPath);
        }
        if input.contains(&0) {
            return Err(Error::NulInName(String::from_utf8_lossy(input).into_owned()));
        }
        let (root, rest) = match syntax {
            Syntax::Posix => match input {
                [b'/', rest @ ..] => (Root::Posix, rest),
                _ => return Err(Error::NotAbsolute(lossy(input))),
            },
            // Windows names are Unicode: a host path that is not UTF-8 names nothing there (and
            // its server and share would not survive the round trip to text).
            Syntax::Windows if std::str::from_utf8(input).is_err() => {
                return Err(Error::InvalidName(lossy(input)));
            }
            Syntax::Windows => windows_root(input)?,
        };
        let mut path = VPath::root();
        path.push_relative(rest, syntax)?;
        Ok(AbsPath { root, path })
    }

    /// Resolves `input` against this path when it is relative (as a shell's working directory
    /// does), or parses it as it is when it is absolute.
    pub fn join_input(&self, input: &[u8], syntax: Syntax) -> Result<AbsPath> {
        if input.is_empty() {
            return Err(Error::EmptyPath);
        }
        match AbsPath::parse_bytes(input, syntax) {
            Err(Error::NotAbsolute(_)) => {
                if syntax == Syntax::Windows && matches!(input, [b'\\' | b'/', ..]) {
                    // `\foo`: rooted on the base's drive or share.
                    let mut path = VPath::root();
                    path.push_relative(&input[1..], syntax)?;
                    return Ok(AbsPath { root: self.root.clone(), path });
                }
                if syntax == Syntax::Windows && matches!(input, [_, b':', ..]) {
                    return Err(Error::NotAbsolute(lossy(input)));
                }
                let mut path = self.path.clone();
                path.push_relative(input, syntax)?;
                Ok(AbsPath { root: self.root.clone(), path })
            }
            other => other,
        }
    }

    /// The path inside `base` (as a [`VPath`] relative to it) when `base` is this path or one of
    /// its ancestors.
    pub fn strip_prefix(&self, base: &AbsPath, policy: CasePolicy) -> Option<VPath> {
        if !self.root.same(&base.root) {
            return None;
        }
        let rest = self.path.strip_prefix(&base.path, policy)?;
        Some(VPath::from_names(rest.to_vec()))
    }

    /// This path with `rel` appended.
    pub fn join(&self, rel: &[Name]) -> AbsPath {
        AbsPath { root: self.root.clone(), path: self.path.join_all(rel) }
    }

    /// The path as the host's byte string: `/a/b`, `C:\a\b`, `\\srv\share\a`, `\\?\Volume{..}\a`.
    pub fn to_host_bytes(&self) -> Vec<u8> {
        let (mut out, sep) = match &self.root {
            Root::Posix => (b"/".to_vec(), b'/'),
            other => (other.to_string().into_bytes(), b'\\'),
        };
        for (i, n) in self.path.names().iter().enumerate() {
            if i > 0 {
                out.push(sep);
            }
            out.extend_from_slice(n.as_bytes());
        }
        out
    }
}

impl fmt::Debug for AbsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AbsPath({self})")
    }
}

impl fmt::Display for AbsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_host_bytes()))
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_win_sep(b: u8) -> bool {
    b == b'\\' || b == b'/'
}

/// Splits a Windows path into its root and the rest (which starts after the root's separator).
fn windows_root(input: &[u8]) -> Result<(Root, &[u8])> {
    // `\\?\` and `\\.\` prefixes: what follows is a drive, `UNC\server\share` or `Volume{GUID}`.
    if input.len() >= 4
        && is_win_sep(input[0])
        && is_win_sep(input[1])
        && (input[2] == b'?' || input[2] == b'.')
        && is_win_sep(input[3])
    {
        let rest = &input[4..];
        if let Some(r) = drive_root(rest)? {
            return Ok(r);
        }
        let (first, after) = split_first_component(rest);
        if first.eq_ignore_ascii_case(b"UNC") {
            return unc_root(after, input);
        }
        if first.len() > 6 && first[..6].eq_ignore_ascii_case(b"Volume") {
            let guid = parse_guid(&first[6..]).ok_or_else(|| Error::BadPrefix(lossy(input)))?;
            return Ok((Root::Volume(guid), after));
        }
        return Err(Error::BadPrefix(lossy(input)));
    }
    if input.len() >= 2 && is_win_sep(input[0]) && is_win_sep(input[1]) {
        return unc_root(&input[2..], input);
    }
    if let Some(r) = drive_root(input)? {
        return Ok(r);
    }
    Err(Error::NotAbsolute(lossy(input)))
}

/// `C:\rest` or `C:` at the end of the input; `C:rest` is drive-relative, so not absolute.
fn drive_root(input: &[u8]) -> Result<Option<(Root, &[u8])>> {
    match input {
        [d, b':'] if d.is_ascii_alphabetic() => Ok(Some((Root::Drive(d.to_ascii_uppercase()), &[]))),
        [d, b':', s, rest @ ..] if d.is_ascii_alphabetic() && is_win_sep(*s) => {
            Ok(Some((Root::Drive(d.to_ascii_uppercase()), rest)))
        }
        [d, b':', ..] if d.is_ascii_alphabetic() => Err(Error::NotAbsolute(lossy(input))),
        _ => Ok(None),
    }
}

fn split_first_component(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|b| is_win_sep(*b)) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[]),
    }
}

fn unc_root<'a>(input: &'a [u8], whole: &[u8]) -> Result<(Root, &'a [u8])> {
    let (server, rest) = split_first_component(input);
    let (share, rest) = split_first_component(rest);
    if server.is_empty() || share.is_empty() {
        return Err(Error::BadPrefix(lossy(whole)));
    }
    check_windows_name(server)?;
    check_windows_name(share)?;
    Ok((Root::Unc { server: Name::new(server, true)?, share: Name::new(share, true)? }, rest))
}

/// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`, returned lower case with its braces.
fn parse_guid(s: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(s).ok()?;
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let groups: Vec<&str> = inner.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups.iter().zip(lens).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| format!("{{{}}}", inner.to_ascii_lowercase()))
}

/// Shorthand for tests and examples: `vpath("/a/b")`. Panics on an invalid literal, so only for
/// literals known to be valid.
#[doc(hidden)]
pub fn vpath_lit(s: &str) -> VPath {
    match VPath::parse(s) {
        Ok(p) => p,
        Err(e) => panic!("invalid path literal {s:?}: {e}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn abs(s: &str, syn: Syntax) -> Result<String> {
        AbsPath::parse(s, syn).map(|p| p.to_string())
    }

    #[test]
    fn posix_paths_normalize_lexically() {
        assert_eq!(abs("/a/./b/../c/", Syntax::Posix), Ok("/a/c".into()));
        assert_eq!(abs("/", Syntax::Posix), Ok("/".into()));
        assert_eq!(abs("/a/..", Syntax::Posix), Ok("/".into()));
        assert!(matches!(AbsPath::parse("/..", Syntax::Posix), Err(Error::EscapesRoot(_))));
        assert!(matches!(AbsPath::parse("/a/../..", Syntax::Posix), Err(Error::EscapesRoot(_))));
        assert_eq!(AbsPath::parse("/a//b", Syntax::Posix), Err(Error::EmptyComponent));
        assert!(matches!(AbsPath::parse("a/b", Syntax::Posix), Err(Error::NotAbsolute(_))));
        assert_eq!(AbsPath::parse("", Syntax::Posix), Err(Error::EmptyPath));
        assert!(matches!(AbsPath::parse("/a\0b", Syntax::Posix), Err(Error::NulInName(_))));
        // A backslash is an ordinary byte in a POSIX name.
        assert_eq!(AbsPath::parse("/a\\b", Syntax::Posix).map(|p| p.path.depth()), Ok(1));
    }

    #[test]
    fn windows_roots_parse() {
        let w = Syntax::Windows;
        assert_eq!(abs("c:\\Users\\x", w), Ok("C:\\Users\\x".into()));
        assert_eq!(abs("C:/Users/x/", w), Ok("C:\\Users\\x".into()));
        assert_eq!(abs("C:", w), Ok("C:\\".into()));
        assert_eq!(abs("\\\\srv\\share\\d\\f.txt", w), Ok("\\\\srv\\share\\d\\f.txt".into()));
        assert_eq!(abs("\\\\?\\C:\\a\\.\\b", w), Ok("C:\\a\\b".into()));
        assert_eq!(abs("\\\\?\\UNC\\srv\\share\\a", w), Ok("\\\\srv\\share\\a".into()));
        assert_eq!(
            abs("\\\\?\\Volume{0123ABCD-89ab-cdef-0123-456789abcdef}\\dir", w),
            Ok("\\\\?\\Volume{0123abcd-89ab-cdef-0123-456789abcdef}\\dir".into())
        );
        assert!(matches!(AbsPath::parse("\\\\?\\Volume{nope}\\x", w), Err(Error::BadPrefix(_))));
        assert!(matches!(AbsPath::parse("\\\\srv", w), Err(Error::BadPrefix(_))));
        assert!(matches!(AbsPath::parse("C:foo", w), Err(Error::NotAbsolute(_))));
        assert!(matches!(AbsPath::parse("\\foo", w), Err(Error::NotAbsolute(_))));
        assert!(matches!(AbsPath::parse("C:\\a:b", w), Err(Error::InvalidName(_))));
        assert!(matches!(AbsPath::parse("C:\\..", w), Err(Error::EscapesRoot(_))));
        assert_eq!(AbsPath::parse("C:\\a\\\\b", w), Err(Error::EmptyComponent));
    }

    #[test]
    fn relative_input_joins_a_base() {
        let base = AbsPath::parse("/mnt/view/sub", Syntax::Posix).ok();
        let base = base.as_ref();
        let j = |s: &str| base.map(|b| b.join_input(s.as_bytes(), Syntax::Posix).map(|p| p.to_string()));
        assert_eq!(j("x/../y"), Some(Ok("/mnt/view/sub/y".into())));
        assert_eq!(j("../.."), Some(Ok("/mnt".into())));
        assert_eq!(j("/etc"), Some(Ok("/etc".into())));
        // Found by fuzzing: a UNC share that is not UTF-8 did not parse back to itself.
        let bad = AbsPath::parse_bytes(b"\\\\srv/b\xd7\xd1.share\\a", Syntax::Windows);
        assert!(matches!(bad, Err(Error::InvalidName(_))), "{bad:?}");
        let wbase = AbsPath::parse("D:\\work", Syntax::Windows).ok();
        let r = wbase.map(|b| b.join_input(b"\\top", Syntax::Windows).map(|p| p.to_string()));
        assert_eq!(r, Some(Ok("D:\\top".into())));
    }

    #[test]
    fn strip_prefix_maps_host_paths_into_a_view() {
        let mnt = AbsPath::parse("C:\\Mnt", Syntax::Windows);
        let p = AbsPath::parse("c:\\mnt\\Foo\\bar", Syntax::Windows);
        let (Ok(mnt), Ok(p)) = (mnt, p) else { panic!("valid literals") };
        assert_eq!(p.strip_prefix(&mnt, CasePolicy::Insensitive), Some(vpath_lit("/Foo/bar")));
        assert_eq!(p.strip_prefix(&mnt, CasePolicy::Sensitive), None);
        let unc1 = AbsPath::parse("\\\\SRV\\Share\\a", Syntax::Windows);
        let unc2 = AbsPath::parse("\\\\srv\\share", Syntax::Windows);
        let (Ok(u1), Ok(u2)) = (unc1, unc2) else { panic!("valid literals") };
        assert_eq!(u1.strip_prefix(&u2, CasePolicy::Sensitive), Some(vpath_lit("/a")));
    }

    #[test]
    fn view_paths_accept_either_leading_form() {
        assert_eq!(VPath::parse("a/b"), VPath::parse("/a/b"));
        assert_eq!(VPath::parse("/"), Ok(VPath::root()));
        assert_eq!(VPath::parse_bytes(b"\\a\\b", Syntax::Windows), VPath::parse("/a/b"));
        assert!(matches!(VPath::parse("/a/../.."), Err(Error::EscapesRoot(_))));
    }
}
