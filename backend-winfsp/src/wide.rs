//! Windows names: UTF-16 as WinFsp and the NT API speak it, to and from the core's byte names.
//!
//! The core holds names as bytes; Windows names are UTF-16 and may hold unpaired surrogates, so
//! they travel as WTF-8 (UTF-8 that also encodes lone surrogates), which is lossless both ways.
//! Paths from WinFsp (`\Foo\Bar`, relative to the volume root) become a [`VPath`] under Windows
//! syntax: both separators, Win32's reserved characters refused (so a `:stream` suffix is an
//! invalid name: named streams are not served). Comparison is the view's business: the volume
//! is case-insensitive and case-preserving, and the core compares under
//! [`bindfs_core::CasePolicy::Insensitive`]. Names reported back (the normalized name, rule 21)
//! come from [`bindfs_core::View::canonical_path`], spelled as the view holds them.
#![forbid(unsafe_code)]

use bindfs_core::{AbsPath, Error, Name, Result, Root, Syntax, VPath};

/// WTF-8 bytes of UTF-16 code units (unpaired surrogates encoded as themselves).
pub fn wtf8_of_wide(wide: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wide.len());
    for unit in char::decode_utf16(wide.iter().copied()) {
        let code = match unit {
            Ok(c) => u32::from(c),
            Err(e) => u32::from(e.unpaired_surrogate()),
        };
        push_code_point(&mut out, code);
    }
    out
}

fn push_code_point(out: &mut Vec<u8>, code: u32) {
    // Generalized UTF-8: the same encoding as UTF-8, surrogates included.
    match code {
        0..=0x7F => out.push(code as u8),
        0x80..=0x7FF => out.extend([0xC0 | (code >> 6) as u8, 0x80 | (code & 0x3F) as u8]),
        0x800..=0xFFFF => out.extend([
            0xE0 | (code >> 12) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
        _ => out.extend([
            0xF0 | (code >> 18) as u8,
            0x80 | ((code >> 12) & 0x3F) as u8,
            0x80 | ((code >> 6) & 0x3F) as u8,
            0x80 | (code & 0x3F) as u8,
        ]),
    }
}

/// UTF-16 code units of WTF-8 bytes; a byte sequence that is not WTF-8 is an invalid name.
pub fn wide_of_wtf8(bytes: &[u8]) -> Result<Vec<u16>> {
    let invalid = || Error::InvalidName(String::from_utf8_lossy(bytes).into_owned());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (len, init) = match b {
            0x00..=0x7F => (1, u32::from(b)),
            0xC2..=0xDF => (2, u32::from(b & 0x1F)),
            0xE0..=0xEF => (3, u32::from(b & 0x0F)),
            0xF0..=0xF4 => (4, u32::from(b & 0x07)),
            _ => return Err(invalid()),
        };
        let tail = bytes.get(i + 1..i + len).ok_or_else(invalid)?;
        let mut code = init;
        for &t in tail {
            if t & 0xC0 != 0x80 {
                return Err(invalid());
            }
            code = (code << 6) | u32::from(t & 0x3F);
        }
        let shortest = match len {
            1 => true,
            2 => code >= 0x80,
            3 => code >= 0x800,
            _ => (0x1_0000..=0x10_FFFF).contains(&code),
        };
        if !shortest {
            return Err(invalid());
        }
        if code >= 0x1_0000 {
            let v = code - 0x1_0000;
            out.extend([0xD800 | (v >> 10) as u16, 0xDC00 | (v & 0x3FF) as u16]);
        } else {
            out.push(code as u16);
        }
        i += len;
    }
    Ok(out)
}

/// The view path of a WinFsp file name (`\`, `\Foo\Bar`), relative to the volume root.
pub fn vpath_of_wide(wide: &[u16]) -> Result<VPath> {
    VPath::parse_bytes(&wtf8_of_wide(wide), Syntax::Windows)
}

/// One name of a WinFsp request (a rename's target, a marker) as a core name.
pub fn name_of_wide(wide: &[u16]) -> Result<Name> {
    Name::new(&wtf8_of_wide(wide), true)
}

/// The UTF-16 of one name.
pub fn wide_of_name(name: &Name) -> Result<Vec<u16>> {
    wide_of_wtf8(name.as_bytes())
}

/// The UTF-16 path WinFsp expects for a view path: `\` for the root, `\Foo\Bar` below it.
pub fn wide_of_vpath(path: &VPath) -> Result<Vec<u16>> {
    if path.is_root() {
        return Ok(vec![u16::from(b'\\')]);
    }
    let mut out = Vec::new();
    for name in path.names() {
        out.push(u16::from(b'\\'));
        out.extend(wide_of_name(name)?);
    }
    Ok(out)
}

/// The NT object path of an absolute Windows path, for `NtCreateFile` without a root handle:
/// `C:\a` is `\??\C:\a`, `\\srv\share\a` is `\??\UNC\srv\share\a`, a volume GUID path is
/// `\??\Volume{...}\a`. POSIX paths have no NT form ([`Error::NotSupported`]).
pub fn nt_path_of(path: &AbsPath) -> Result<Vec<u16>> {
    let mut text: Vec<u8> = b"\\??\\".to_vec();
    match &path.root {
        Root::Posix => return Err(Error::NotSupported),
        Root::Drive(letter) => text.extend([*letter, b':']),
        Root::Unc { server, share } => {
            text.extend_from_slice(b"UNC\\");
            text.extend_from_slice(server.as_bytes());
            text.push(b'\\');
            text.extend_from_slice(share.as_bytes());
        }
        Root::Volume(guid) => {
            text.extend_from_slice(b"Volume");
            text.extend_from_slice(guid.as_bytes());
        }
    }
    for name in path.path.names() {
        text.push(b'\\');
        text.extend_from_slice(name.as_bytes());
    }
    if path.path.is_root() {
        text.push(b'\\'); // the root directory of the volume, not the volume device
    }
    wide_of_wtf8(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn wtf8_is_lossless_for_every_utf16_name() {
        for sample in [w("plain.txt"), w("Ärger ß 日本"), w("emoji \u{1F600}"), vec![0x61, 0xD800, 0x62]]
        {
            let bytes = wtf8_of_wide(&sample);
            assert_eq!(wide_of_wtf8(&bytes).ok(), Some(sample.clone()));
        }
        assert_eq!(wtf8_of_wide(&w("Ärger")), "Ärger".as_bytes());
        assert!(wide_of_wtf8(b"\xff").is_err());
        assert!(wide_of_wtf8(b"\xc0\x80").is_err()); // overlong
        assert!(wide_of_wtf8(b"\xe2\x82").is_err()); // truncated
    }

    #[test]
    fn winfsp_paths_become_view_paths() {
        assert_eq!(vpath_of_wide(&w("\\")), Ok(VPath::root()));
        assert_eq!(vpath_of_wide(&w("\\Foo\\Bar")), VPath::parse("/Foo/Bar"));
        assert!(matches!(vpath_of_wide(&w("\\Foo\\a.txt:stream")), Err(Error::InvalidName(_))));
        assert!(matches!(vpath_of_wide(&w("\\..")), Err(Error::EscapesRoot(_))));
        assert_eq!(name_of_wide(&w("Cat.txt")).map(|n| n.to_string()), Ok("Cat.txt".to_string()));
        assert!(name_of_wide(&w("a\\b")).is_err());
    }

    #[test]
    fn view_paths_go_back_with_backslashes() {
        assert_eq!(wide_of_vpath(&VPath::root()), Ok(w("\\")));
        let p = VPath::parse("/Foo/Cat.txt");
        assert_eq!(p.and_then(|p| wide_of_vpath(&p)), Ok(w("\\Foo\\Cat.txt")));
    }

    #[test]
    fn host_paths_get_their_nt_form() {
        let nt = |s: &str| AbsPath::parse(s, Syntax::Windows).and_then(|p| nt_path_of(&p));
        assert_eq!(nt("c:\\t\\Target"), Ok(w("\\??\\C:\\t\\Target")));
        assert_eq!(nt("C:\\"), Ok(w("\\??\\C:\\")));
        assert_eq!(nt("\\\\srv\\share\\d"), Ok(w("\\??\\UNC\\srv\\share\\d")));
        assert_eq!(
            nt("\\\\?\\Volume{0123abcd-89ab-cdef-0123-456789abcdef}\\x"),
            Ok(w("\\??\\Volume{0123abcd-89ab-cdef-0123-456789abcdef}\\x"))
        );
        let posix = AbsPath::parse("/t", Syntax::Posix).and_then(|p| nt_path_of(&p));
        assert_eq!(posix, Err(Error::NotSupported));
    }
}
