//! What Windows is told about a file: the core's [`Attr`] as WinFsp's file information, and the
//! way back for `set_basic_info`. Platform-neutral, so it is unit-tested on Linux.
//!
//! Choices:
//! - Type: a directory is `FILE_ATTRIBUTE_DIRECTORY`; a symbolic link (a symlink or junction
//!   reparse point in the backing, rule 24) is `FILE_ATTRIBUTE_REPARSE_POINT` with the store's
//!   own tag ([`Attr::reparse_tag`]: a junction shows as `IO_REPARSE_TAG_MOUNT_POINT`, as
//!   bindflt passes it through), or `IO_REPARSE_TAG_SYMLINK` for a link with no tag from its
//!   store (a Linux store's symlink); any other file with no attribute to report is
//!   `FILE_ATTRIBUTE_NORMAL`. A reparse point that is not a name surrogate (a cloud-file
//!   placeholder, a compressed or deduplicated file) is its file or directory, as its filter
//!   shows it: the store reports it as one ([`is_link_tag`]).
//! - Read-only: `FILE_ATTRIBUTE_READONLY` exactly when the mode the core reports has no write
//!   bit. The core clears the write bits of every entry reached through a read-only layer
//!   (rule 13), and the Windows store reports a read-only file as mode `0o444`, so both show.
//! - Other attributes: HIDDEN, SYSTEM, ARCHIVE and TEMPORARY show as the store has them
//!   ([`Attr::win_attributes`]), and so does the directory bit of a link that is a junction or
//!   directory symlink. `set_basic_info`, `Create` and `Overwrite` pass the first four back.
//! - Times: the creation time is the store's ([`Attr::btime`]); where a store has none, it is
//!   reported as the earlier of the modification and change times (no file was written or
//!   changed before it existed).
//! - Sizes: allocation is the store's allocated 512-byte blocks; the index number is the inode
//!   number (the Windows store reports the file id there); the hard-link count is left 0, as
//!   WinFsp requires.
#![forbid(unsafe_code)]

use bindfs_core::{Attr, FileKind, SetAttr, SetTime, Timestamp, win_attr};

/// `FILE_ATTRIBUTE_READONLY`.
pub const FILE_ATTRIBUTE_READONLY: u32 = 0x0000_0001;
/// `FILE_ATTRIBUTE_DIRECTORY`.
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x0000_0010;
/// `FILE_ATTRIBUTE_ARCHIVE`.
pub const FILE_ATTRIBUTE_ARCHIVE: u32 = 0x0000_0020;
/// `FILE_ATTRIBUTE_NORMAL`: no other attribute set.
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x0000_0080;
/// `FILE_ATTRIBUTE_REPARSE_POINT`.
pub const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0000_0400;
/// `IO_REPARSE_TAG_SYMLINK`: the tag of a symbolic link, and the one reported for a link whose
/// store has no tags.
pub const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;
/// `IO_REPARSE_TAG_MOUNT_POINT`: the tag of a junction (or a volume mount point).
pub const IO_REPARSE_TAG_MOUNT_POINT: u32 = 0xA000_0003;
/// The bit of a reparse tag that makes it a name surrogate (ntifs.h's
/// `IsReparseTagNameSurrogate`): the reparse point names another object.
const NAME_SURROGATE_BIT: u32 = 0x2000_0000;
/// `INVALID_FILE_ATTRIBUTES`: "leave the attributes alone" in `set_basic_info` (WinFsp passes
/// it for a `FILE_BASIC_INFORMATION` whose attributes are 0).
pub const INVALID_FILE_ATTRIBUTES: u32 = u32::MAX;

/// Whether a reparse point with `tag` names another object (a symlink, a junction, a volume
/// mount point ...), as `IsReparseTagNameSurrogate` says. One that does not (cloud files, WOF,
/// dedup, HSM ...) stands for its own data, which its file-system filter supplies.
pub fn is_name_surrogate(tag: u32) -> bool {
    tag & NAME_SURROGATE_BIT != 0
}

/// Whether a reparse point with `tag` is a link the store shows as a symbolic link (rule 24):
/// a symlink or a junction. Other name surrogates (an AppExecLink, a WCI or projected-file
/// tag ...) have no target text a link could carry, and show as the file or directory they
/// are.
pub fn is_link_tag(tag: u32) -> bool {
    matches!(tag, IO_REPARSE_TAG_SYMLINK | IO_REPARSE_TAG_MOUNT_POINT)
}

/// Seconds from 1601-01-01 (the FILETIME epoch) to 1970-01-01 (the Unix epoch).
const EPOCH_GAP_SECS: i64 = 11_644_473_600;
/// FILETIME ticks (100 ns) per second.
const TICKS_PER_SEC: i64 = 10_000_000;

/// A FILETIME (100 ns ticks since 1601) for a core timestamp; times before 1601 become 0.
pub fn filetime_of(t: Timestamp) -> u64 {
    let secs = t.secs.saturating_add(EPOCH_GAP_SECS);
    if secs < 0 {
        return 0;
    }
    let ticks = i128::from(secs) * i128::from(TICKS_PER_SEC) + i128::from(t.nanos / 100);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// The core timestamp of a FILETIME.
pub fn timestamp_of(filetime: u64) -> Timestamp {
    let ticks = i128::from(filetime);
    let secs = ticks / i128::from(TICKS_PER_SEC);
    let rest = ticks % i128::from(TICKS_PER_SEC);
    // u64 ticks / 1e7 is at most ~1.8e12 seconds: it fits an i64.
    Timestamp { secs: secs as i64 - EPOCH_GAP_SECS, nanos: rest as u32 * 100 }
}

/// Windows file information, field for field as WinFsp's `FileInfo` holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WinFileInfo {
    /// `FILE_ATTRIBUTE_*` flags.
    pub file_attributes: u32,
    /// The reparse tag when `FILE_ATTRIBUTE_REPARSE_POINT` is set.
    pub reparse_tag: u32,
    /// Bytes allocated.
    pub allocation_size: u64,
    /// End of file.
    pub file_size: u64,
    /// Creation time (FILETIME).
    pub creation_time: u64,
    /// Last access (FILETIME).
    pub last_access_time: u64,
    /// Last write (FILETIME).
    pub last_write_time: u64,
    /// Last change of data or metadata (FILETIME).
    pub change_time: u64,
    /// File reference number.
    pub index_number: u64,
}

/// The `FILE_ATTRIBUTE_*` flags of what the core shows at a virtual path.
pub fn attributes_of(attr: &Attr) -> u32 {
    let mut flags = match attr.kind {
        FileKind::Dir => FILE_ATTRIBUTE_DIRECTORY,
        FileKind::Symlink => FILE_ATTRIBUTE_REPARSE_POINT | attr.win_attributes & win_attr::DIRECTORY,
        _ => 0,
    };
    flags |= attr.win_attributes & win_attr::SETTABLE;
    if attr.perm & 0o222 == 0 {
        flags |= FILE_ATTRIBUTE_READONLY;
    }
    if flags == 0 { FILE_ATTRIBUTE_NORMAL } else { flags }
}

/// The Windows file information of what the core shows at a virtual path.
pub fn win_file_info(attr: &Attr) -> WinFileInfo {
    let file_attributes = attributes_of(attr);
    let reparse_tag = match (attr.kind, attr.reparse_tag) {
        (FileKind::Symlink, 0) => IO_REPARSE_TAG_SYMLINK,
        (FileKind::Symlink, tag) => tag,
        _ => 0,
    };
    WinFileInfo {
        file_attributes,
        reparse_tag,
        allocation_size: attr.blocks.saturating_mul(512),
        file_size: if attr.kind == FileKind::Dir { 0 } else { attr.size },
        creation_time: filetime_of(attr.btime.unwrap_or(attr.mtime.min(attr.ctime))),
        last_access_time: filetime_of(attr.atime),
        last_write_time: filetime_of(attr.mtime),
        change_time: filetime_of(attr.ctime),
        index_number: attr.ino,
    }
}

/// The attribute changes a `set_basic_info` call asks for, given what the entry shows now.
///
/// `FILE_ATTRIBUTE_READONLY` becomes the write bits (all cleared, or the owner's set back);
/// HIDDEN, SYSTEM, ARCHIVE and TEMPORARY become exactly the ones given; other flags (the
/// directory bit ...) follow from the kind and are ignored. `file_attributes` is
/// [`INVALID_FILE_ATTRIBUTES`] for "leave them", and 0 for "none": WinFsp strips
/// `FILE_ATTRIBUTE_NORMAL` before it calls, so clearing them arrives as 0 (as winfsp's ntptfs
/// and memfs read it). A time of 0 means "leave it", as in `FILE_BASIC_INFORMATION`; the change
/// time cannot be set. Only what differs from `current` is asked for, so a call that changes
/// nothing is empty (and passes a read-only link).
pub fn basic_info_changes(
    current: &Attr,
    file_attributes: u32,
    creation: u64,
    access: u64,
    write: u64,
) -> SetAttr {
    let mut changes = SetAttr::default();
    let current_perm = current.perm;
    if file_attributes != INVALID_FILE_ATTRIBUTES {
        let bits = file_attributes & win_attr::SETTABLE;
        if bits != current.win_attributes & win_attr::SETTABLE {
            changes.win_attributes = Some(bits);
        }
        let read_only = file_attributes & FILE_ATTRIBUTE_READONLY != 0;
        let perm = if read_only {
            current_perm & !0o222
        } else if current_perm & 0o222 == 0 {
            current_perm | 0o200
        } else {
            current_perm
        };
        if perm != current_perm {
            changes.perm = Some(perm);
        }
    }
    let time = |t: u64| (t != 0 && t != u64::MAX).then(|| SetTime::At(timestamp_of(t)));
    changes.btime = time(creation);
    changes.atime = time(access);
    changes.mtime = time(write);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: FileKind, perm: u32) -> Attr {
        let t = Timestamp { secs: 1_700_000_000, nanos: 123_456_700 };
        Attr {
            kind,
            perm,
            nlink: 1,
            uid: 0,
            gid: 0,
            size: 10,
            blocks: 8,
            blksize: 4096,
            rdev: 0,
            dev: 1,
            ino: 42,
            atime: t,
            mtime: t,
            ctime: Timestamp { secs: t.secs + 5, nanos: 0 },
            btime: None,
            win_attributes: 0,
            reparse_tag: 0,
        }
    }

    #[test]
    fn filetimes_round_trip_at_100ns() {
        assert_eq!(filetime_of(Timestamp { secs: 0, nanos: 0 }), 116_444_736_000_000_000);
        let t = Timestamp { secs: 1_700_000_000, nanos: 123_456_700 };
        assert_eq!(timestamp_of(filetime_of(t)), t);
        assert_eq!(filetime_of(Timestamp { secs: -EPOCH_GAP_SECS - 1, nanos: 0 }), 0);
        assert_eq!(timestamp_of(0), Timestamp { secs: -EPOCH_GAP_SECS, nanos: 0 });
    }

    #[test]
    fn types_and_read_only_show_as_attributes() {
        assert_eq!(attributes_of(&attr(FileKind::File, 0o644)), FILE_ATTRIBUTE_NORMAL);
        assert_eq!(attributes_of(&attr(FileKind::Dir, 0o755)), FILE_ATTRIBUTE_DIRECTORY);
        // Rule 13: the core cleared the write bits of an entry from a read-only link.
        assert_eq!(attributes_of(&attr(FileKind::File, 0o444)), FILE_ATTRIBUTE_READONLY);
        assert_eq!(
            attributes_of(&attr(FileKind::Dir, 0o555)),
            FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_READONLY
        );
        let link = win_file_info(&attr(FileKind::Symlink, 0o777));
        assert_eq!(link.file_attributes, FILE_ATTRIBUTE_REPARSE_POINT);
        assert_eq!(link.reparse_tag, IO_REPARSE_TAG_SYMLINK);
    }

    #[test]
    fn file_info_carries_sizes_times_and_identity() {
        let a = attr(FileKind::File, 0o644);
        let info = win_file_info(&a);
        assert_eq!((info.file_size, info.allocation_size, info.index_number), (10, 4096, 42));
        assert_eq!(info.last_write_time, filetime_of(a.mtime));
        assert_eq!(info.change_time, filetime_of(a.ctime));
        // No creation time from the store: the earlier of mtime and ctime.
        assert_eq!(info.creation_time, filetime_of(a.mtime));
        assert_eq!(win_file_info(&attr(FileKind::Dir, 0o755)).file_size, 0);
    }

    #[test]
    fn basic_info_maps_read_only_and_times() {
        let file = |perm| attr(FileKind::File, perm);
        let none = basic_info_changes(&file(0o644), INVALID_FILE_ATTRIBUTES, 0, 0, 0);
        assert!(none.is_empty());
        let ro = basic_info_changes(&file(0o644), FILE_ATTRIBUTE_READONLY, 0, 0, 0);
        assert_eq!(ro.perm, Some(0o444));
        let rw = basic_info_changes(&file(0o444), FILE_ATTRIBUTE_NORMAL, 0, 0, 0);
        assert_eq!(rw.perm, Some(0o644));
        // What WinFsp sends to clear read-only (attrib -r, SetFileAttributes(NORMAL)).
        assert_eq!(basic_info_changes(&file(0o444), 0, 0, 0, 0).perm, Some(0o644));
        assert!(basic_info_changes(&file(0o444), INVALID_FILE_ATTRIBUTES, 0, 0, 0).is_empty());
        let t = filetime_of(Timestamp { secs: 5, nanos: 0 });
        let times = basic_info_changes(&file(0o644), 0, 0, t, 0);
        assert_eq!(times.atime, Some(SetTime::At(Timestamp { secs: 5, nanos: 0 })));
        assert_eq!(times.mtime, None);
        assert_eq!(times.btime, None);
    }

    #[test]
    fn hidden_system_archive_temporary_show_and_set() {
        let mut a = attr(FileKind::File, 0o644);
        a.win_attributes = win_attr::HIDDEN | win_attr::SYSTEM | win_attr::ARCHIVE | win_attr::TEMPORARY;
        assert_eq!(attributes_of(&a), 0x2 | 0x4 | FILE_ATTRIBUTE_ARCHIVE | 0x100);
        a.perm = 0o444;
        assert_eq!(attributes_of(&a), 0x2 | 0x4 | FILE_ATTRIBUTE_ARCHIVE | 0x100 | FILE_ATTRIBUTE_READONLY);
        let mut d = attr(FileKind::Dir, 0o777);
        d.win_attributes = win_attr::HIDDEN;
        assert_eq!(attributes_of(&d), FILE_ATTRIBUTE_DIRECTORY | 0x2);
        // Setting: the four bits become exactly those given; 0 clears them; INVALID leaves them.
        let plain = attr(FileKind::File, 0o644);
        let set = basic_info_changes(&plain, 0x4 | FILE_ATTRIBUTE_ARCHIVE, 0, 0, 0);
        assert_eq!(
            set,
            SetAttr { win_attributes: Some(win_attr::SYSTEM | win_attr::ARCHIVE), ..SetAttr::default() }
        );
        let mut shown = plain;
        shown.win_attributes = win_attr::SYSTEM | win_attr::ARCHIVE;
        assert_eq!(basic_info_changes(&shown, 0, 0, 0, 0).win_attributes, Some(0));
        assert!(basic_info_changes(&shown, INVALID_FILE_ATTRIBUTES, 0, 0, 0).is_empty());
        // Asking for what is already there changes nothing (so it passes a read-only link).
        assert!(basic_info_changes(&shown, 0x4 | FILE_ATTRIBUTE_ARCHIVE, 0, 0, 0).is_empty());
        // The directory bit follows the kind and is never asked for.
        assert!(
            basic_info_changes(&attr(FileKind::Dir, 0o777), FILE_ATTRIBUTE_DIRECTORY, 0, 0, 0).is_empty()
        );
    }

    #[test]
    fn a_junction_shows_the_directory_bit() {
        let mut junction = attr(FileKind::Symlink, 0o777);
        junction.win_attributes = win_attr::DIRECTORY;
        let info = win_file_info(&junction);
        assert_eq!(info.file_attributes, FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY);
        assert_eq!(info.file_size, 10);
        // Without a tag from its store (a Linux symlink to a directory): a symlink.
        assert_eq!(info.reparse_tag, IO_REPARSE_TAG_SYMLINK);
        // A file symlink has no directory bit.
        assert_eq!(
            win_file_info(&attr(FileKind::Symlink, 0o777)).file_attributes,
            FILE_ATTRIBUTE_REPARSE_POINT
        );
    }

    #[test]
    fn creation_time_shows_and_sets() {
        let born = Timestamp { secs: 1_000_000_000, nanos: 500 };
        let mut a = attr(FileKind::File, 0o644);
        a.btime = Some(born);
        assert_eq!(win_file_info(&a).creation_time, filetime_of(born));
        let t = filetime_of(born);
        let set = basic_info_changes(&a, INVALID_FILE_ATTRIBUTES, t, 0, 0);
        assert_eq!(set, SetAttr { btime: Some(SetTime::At(born)), ..SetAttr::default() });
        // 0 (and -1, "stop updating") leave it.
        assert!(basic_info_changes(&a, INVALID_FILE_ATTRIBUTES, 0, 0, 0).is_empty());
        assert!(basic_info_changes(&a, INVALID_FILE_ATTRIBUTES, u64::MAX, 0, 0).is_empty());
    }

    #[test]
    fn a_link_shows_its_stores_own_tag() {
        let mut junction = attr(FileKind::Symlink, 0o777);
        junction.win_attributes = win_attr::DIRECTORY;
        junction.reparse_tag = IO_REPARSE_TAG_MOUNT_POINT;
        let info = win_file_info(&junction);
        assert_eq!(info.reparse_tag, IO_REPARSE_TAG_MOUNT_POINT);
        assert_eq!(info.file_attributes, FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY);
        let mut symlink = attr(FileKind::Symlink, 0o777);
        symlink.reparse_tag = IO_REPARSE_TAG_SYMLINK;
        assert_eq!(win_file_info(&symlink).reparse_tag, IO_REPARSE_TAG_SYMLINK);
        // Only a link carries a tag: a file or directory shows none, whatever it holds.
        let mut file = attr(FileKind::File, 0o644);
        file.reparse_tag = IO_REPARSE_TAG_MOUNT_POINT;
        assert_eq!(win_file_info(&file).reparse_tag, 0);
        assert_eq!(win_file_info(&file).file_attributes & FILE_ATTRIBUTE_REPARSE_POINT, 0);
    }

    #[test]
    fn tags_are_told_apart_as_ntifs_does() {
        // Name surrogates: symlink, junction, a container's WCI link (0xA0000027).
        for tag in [IO_REPARSE_TAG_SYMLINK, IO_REPARSE_TAG_MOUNT_POINT, 0xA000_0027] {
            assert!(is_name_surrogate(tag), "{tag:#x}");
        }
        // Filters' own data: WOF, dedup, cloud files (and a cloud tag with its flag bits), HSM,
        // AppExecLink, a third party's tag.
        for tag in [0x8000_0017, 0x8000_0013, 0x9000_001A, 0x9000_F01A, 0xC000_0004, 0x8000_001B, 0x0000_0FFF]
        {
            assert!(!is_name_surrogate(tag), "{tag:#x}");
            assert!(!is_link_tag(tag), "{tag:#x}");
        }
        assert!(is_link_tag(IO_REPARSE_TAG_SYMLINK) && is_link_tag(IO_REPARSE_TAG_MOUNT_POINT));
        // A name surrogate that is not a symlink or junction has no link text to show.
        assert!(!is_link_tag(0xA000_0027));
    }
}
