//! Directory listings as WinFsp pages them: markers and patterns. Platform-neutral.
//!
//! WinFsp asks for a directory in pages: each `read_directory` call carries the name of the
//! last entry it received (the marker) and expects the entries after it. An open directory
//! keeps one snapshot of the view's merged listing (taken at the first page), sorted as NTFS
//! sorts: by upcased UTF-16 code units, `.` and `..` first for every directory but the root.
//! Resuming is then a binary search for the first name past the marker, which also works when
//! the marker's entry is gone, or when the marker came from another handle.
//!
//! Patterns follow `FsRtlIsNameInExpression`, case-insensitively: `*` (any run), `?` (one
//! character) and the DOS wildcards `<` (any run up to the last dot), `>` (one character, or
//! none at a dot or the end) and `"` (a dot, or nothing at the end).
#![forbid(unsafe_code)]

const DOT: u16 = b'.' as u16;

/// The upcase of one UTF-16 code unit, as an NTFS upcase table maps it (one unit to one unit).
pub fn upcase(unit: u16) -> u16 {
    let Some(c) = char::from_u32(u32::from(unit)) else { return unit };
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u16::try_from(u32::from(u)).unwrap_or(unit),
        _ => unit,
    }
}

fn key_of(name: &[u16]) -> Vec<u16> {
    name.iter().map(|&u| upcase(u)).collect()
}

/// One entry of a sorted listing: its UTF-16 name and what the backend keeps with it.
#[derive(Debug)]
pub struct WideEntry<T> {
    /// The name as reported (the store's or the link's spelling).
    pub name: Vec<u16>,
    key: Vec<u16>,
    /// The backend's data for this entry (e.g. its index in the view's listing).
    pub item: T,
}

/// A directory listing in the order WinFsp is given it.
#[derive(Debug)]
pub struct SortedListing<T> {
    /// How many of `entries` are `.` and `..` (0 or 2), which come first.
    dots: usize,
    entries: Vec<WideEntry<T>>,
}

impl<T> SortedListing<T> {
    /// Sorts `items` (name, data); `dots` are the data of `.` and `..` (`None` at the root).
    pub fn new(items: Vec<(Vec<u16>, T)>, dots: Option<(T, T)>) -> SortedListing<T> {
        let mut rest: Vec<WideEntry<T>> =
            items.into_iter().map(|(name, item)| WideEntry { key: key_of(&name), name, item }).collect();
        rest.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.name.cmp(&b.name)));
        let mut entries = Vec::with_capacity(rest.len() + 2);
        let mut count = 0;
        if let Some((this, parent)) = dots {
            entries.push(WideEntry { name: vec![DOT], key: vec![DOT], item: this });
            entries.push(WideEntry { name: vec![DOT, DOT], key: vec![DOT, DOT], item: parent });
            count = 2;
        }
        entries.extend(rest);
        SortedListing { dots: count, entries }
    }

    /// Every entry, in order.
    pub fn entries(&self) -> &[WideEntry<T>] {
        &self.entries
    }

    /// The entries after `marker` (all of them without one).
    pub fn after(&self, marker: Option<&[u16]>) -> &[WideEntry<T>] {
        let Some(marker) = marker else { return &self.entries };
        if self.dots == 2 {
            if marker == [DOT] {
                return &self.entries[1..];
            }
            if marker == [DOT, DOT] {
                return &self.entries[2..];
            }
        }
        let key = key_of(marker);
        let rest = &self.entries[self.dots..];
        // Names that differ only in case (a case-sensitive backing directory) share a key: the
        // marker's own spelling tells which of them it was.
        let first = rest.partition_point(|e| e.key < key);
        let past = rest.partition_point(|e| e.key <= key);
        match rest[first..past].iter().position(|e| e.name == marker) {
            Some(i) => &rest[first + i + 1..],
            None => &rest[past..],
        }
    }
}

/// Whether `name` matches the wildcard `pattern`, case-insensitively.
pub fn matches(pattern: &[u16], name: &[u16]) -> bool {
    let star = u16::from(b'*');
    if pattern.iter().all(|&u| u == star) && !pattern.is_empty() {
        return true;
    }
    let (p, n): (Vec<u16>, Vec<u16>) = (key_of(pattern), key_of(name));
    let last_dot = n.iter().rposition(|&u| u == DOT);
    // fit[i][j]: pattern p[i..] matches name n[j..].
    let mut fit = vec![vec![false; n.len() + 1]; p.len() + 1];
    fit[p.len()][n.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..=n.len()).rev() {
            let here = n.get(j).copied();
            fit[i][j] = match p[i] {
                0x2A /* * */ => fit[i + 1][j] || (here.is_some() && fit[i][j + 1]),
                0x3F /* ? */ => here.is_some() && fit[i + 1][j + 1],
                0x3C /* < */ => {
                    // Any run that does not swallow the last dot of the name.
                    let max = match last_dot {
                        Some(d) if d >= j => d,
                        _ => n.len(),
                    };
                    (j..=max).any(|k| fit[i + 1][k])
                }
                0x3E /* > */ => match here {
                    None | Some(DOT) => fit[i + 1][j],
                    Some(_) => fit[i + 1][j + 1],
                },
                0x22 /* " */ => match here {
                    Some(DOT) => fit[i + 1][j + 1],
                    None => fit[i + 1][j],
                    Some(_) => false,
                },
                c => here == Some(c) && fit[i + 1][j + 1],
            };
        }
    }
    fit[0][0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn names<T>(entries: &[WideEntry<T>]) -> Vec<String> {
        entries.iter().map(|e| String::from_utf16_lossy(&e.name)).collect()
    }

    fn listing(dots: bool) -> SortedListing<usize> {
        let items = ["dog.txt", "Cat.txt", "bar", "Zebra", "ärger"]
            .iter()
            .enumerate()
            .map(|(i, n)| (w(n), i))
            .collect();
        SortedListing::new(items, dots.then_some((100, 101)))
    }

    #[test]
    fn listings_sort_like_ntfs_with_dots_first() {
        assert_eq!(
            names(listing(true).entries()),
            [".", "..", "bar", "Cat.txt", "dog.txt", "Zebra", "ärger"]
        );
        assert_eq!(names(listing(false).entries()), ["bar", "Cat.txt", "dog.txt", "Zebra", "ärger"]);
    }

    #[test]
    fn markers_resume_after_the_named_entry() {
        let l = listing(true);
        assert_eq!(l.after(None).len(), 7);
        assert_eq!(names(l.after(Some(&w(".")))), ["..", "bar", "Cat.txt", "dog.txt", "Zebra", "ärger"]);
        assert_eq!(names(l.after(Some(&w("..")))), ["bar", "Cat.txt", "dog.txt", "Zebra", "ärger"]);
        assert_eq!(names(l.after(Some(&w("Cat.txt")))), ["dog.txt", "Zebra", "ärger"]);
        // A marker in another case, or one whose entry is gone, resumes at the next name.
        assert_eq!(names(l.after(Some(&w("CAT.TXT")))), ["dog.txt", "Zebra", "ärger"]);
        assert_eq!(names(l.after(Some(&w("cow")))), ["dog.txt", "Zebra", "ärger"]);
        assert!(l.after(Some(&w("ärger"))).is_empty());
    }

    #[test]
    fn patterns_match_case_insensitively_with_dos_wildcards() {
        let m = |p: &str, n: &str| matches(&w(p), &w(n));
        assert!(m("*", "anything"));
        assert!(m("*.TXT", "cat.txt"));
        assert!(!m("*.txt", "cat.txt.bak"));
        assert!(m("c?t.*", "Cat.txt"));
        assert!(!m("c?t", "ct"));
        assert!(m("Ärger", "äRGER"));
        assert!(m("a*b*c", "aXXbYYc"));
        // DOS wildcards, as cmd.exe sends `*.*` and `foo?.txt`.
        assert!(m("<.<", "file.txt"));
        assert!(m("<", "noext"));
        assert!(m("<.txt", "a.b.txt"));
        assert!(m("foo>>.txt", "foo1.txt"));
        assert!(m("foo>>.txt", "foo.txt"));
        assert!(m("foo\"<", "foo"));
        assert!(m("foo\"<", "foo.bar"));
        assert!(!m("foo\"<", "fooXbar"));
    }
}
