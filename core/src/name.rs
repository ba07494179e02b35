//! File names (one path component) and the case policy that decides when two names are the same.
//!
//! Names are byte strings: Linux file names need not be UTF-8, and a view must serve every name
//! its backing holds. The Windows backend hands in UTF-8 (WTF-8 for unpaired surrogates).

use std::borrow::Cow;
use std::fmt;

use crate::error::{Error, Result};

/// One path component: never empty, never `.` or `..`, no separator and no NUL byte.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(std::sync::Arc<[u8]>);

impl Name {
    /// Checks `bytes` as one component: the error says what is wrong with it.
    ///
    /// `/` is always a separator; `\` is one too when `windows` is set.
    pub fn new(bytes: &[u8], windows: bool) -> Result<Name> {
        if bytes.is_empty() {
            return Err(Error::EmptyComponent);
        }
        if bytes.contains(&0) {
            return Err(Error::NulInName(String::from_utf8_lossy(bytes).into_owned()));
        }
        if bytes == b"." || bytes == b".." {
            return Err(Error::InvalidName(String::from_utf8_lossy(bytes).into_owned()));
        }
        if bytes.contains(&b'/') || (windows && bytes.contains(&b'\\')) {
            return Err(Error::InvalidName(String::from_utf8_lossy(bytes).into_owned()));
        }
        Ok(Name(bytes.into()))
    }

    /// Like [`Name::new`] for POSIX names (only `/` is a separator).
    pub fn posix(bytes: impl AsRef<[u8]>) -> Result<Name> {
        Name::new(bytes.as_ref(), false)
    }

    /// The raw bytes, as the backing store holds them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name as text, with invalid UTF-8 replaced (for messages and listings shown to people).
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// When two names denote the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CasePolicy {
    /// Byte-exact comparison: Linux views.
    #[default]
    Sensitive,
    /// Case-insensitive, case-preserving comparison: Windows views. Folding maps each character
    /// to its simple upper case (one character to one character, like the NTFS upcase table);
    /// names that are not UTF-8 fold their ASCII letters only.
    Insensitive,
}

impl CasePolicy {
    /// The key under which `name` is compared and hashed.
    pub fn key<'a>(self, name: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            CasePolicy::Sensitive => Cow::Borrowed(name),
            CasePolicy::Insensitive => fold(name),
        }
    }

    /// Whether `a` and `b` name the same entry under this policy.
    pub fn same(self, a: &[u8], b: &[u8]) -> bool {
        a == b || (self == CasePolicy::Insensitive && fold(a) == fold(b))
    }
}

fn fold(name: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(name) {
        Ok(s) if s.is_ascii() => {
            if s.bytes().any(|b| b.is_ascii_lowercase()) {
                Cow::Owned(name.to_ascii_uppercase())
            } else {
                Cow::Borrowed(name)
            }
        }
        Ok(s) => {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                let mut up = c.to_uppercase();
                match (up.next(), up.next()) {
                    (Some(u), None) => out.push(u),
                    _ => out.push(c), // no one-to-one upper case (e.g. ß): keep, as NTFS does
                }
            }
            Cow::Owned(out.into_bytes())
        }
        Err(_) => Cow::Owned(name.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_what_cannot_be_a_component() {
        assert_eq!(Name::posix(""), Err(Error::EmptyComponent));
        assert!(matches!(Name::posix("a\0b"), Err(Error::NulInName(_))));
        assert!(matches!(Name::posix(".."), Err(Error::InvalidName(_))));
        assert!(matches!(Name::posix("a/b"), Err(Error::InvalidName(_))));
        assert!(Name::posix("a\\b").is_ok());
        assert!(matches!(Name::new(b"a\\b", true), Err(Error::InvalidName(_))));
        assert_eq!(Name::posix(b"\xff\xfe").map(|n| n.as_bytes().to_vec()), Ok(vec![0xff, 0xfe]));
    }

    #[test]
    fn insensitive_policy_folds_like_an_upcase_table() {
        let p = CasePolicy::Insensitive;
        assert!(p.same(b"Foo.TXT", b"foo.txt"));
        assert!(p.same("Ärger".as_bytes(), "äRGER".as_bytes()));
        assert!(!p.same("straße".as_bytes(), "STRASSE".as_bytes()));
        assert!(!CasePolicy::Sensitive.same(b"Foo", b"foo"));
        assert!(p.same(b"\xffA", b"\xffa"));
    }
}
