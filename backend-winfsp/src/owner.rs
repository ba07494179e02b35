//! Who a caller may make the owner of a file: the check NTFS makes, done by the view because
//! the store writes with the service's privileges.
//!
//! The service enables `SeRestorePrivilege` (see `host::PRIVILEGES`), with which the kernel
//! lets it write any owner. NTFS lets a *caller* set an owner only if it is the caller's user
//! SID or a group of its token with the `SE_GROUP_OWNER` attribute, unless the caller has
//! `SeRestorePrivilege` enabled (`STATUS_INVALID_OWNER` otherwise); the primary group is not
//! checked. A [`Caller`] is what a token allows, read while WinFsp dispatches a Create (the only
//! request that carries the caller's token), and [`owner_of`] reads the owner out of a
//! self-relative descriptor with bounds-checked reads. Platform-neutral, so it is unit-tested
//! on Linux.
#![forbid(unsafe_code)]

/// What a caller may make the owner of a file, as its token said when it opened the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// The token's user SID (binary).
    user: Vec<u8>,
    /// The token's groups with `SE_GROUP_OWNER` (binary SIDs).
    owner_groups: Vec<Vec<u8>>,
    /// Whether `SeRestorePrivilege` is enabled in the token: then any owner goes.
    restore: bool,
}

impl Caller {
    /// A caller whose token has user SID `user`, the groups `owner_groups` with
    /// `SE_GROUP_OWNER`, and `SeRestorePrivilege` enabled or not (`restore`); SIDs binary.
    pub fn new(user: Vec<u8>, owner_groups: Vec<Vec<u8>>, restore: bool) -> Caller {
        Caller { user, owner_groups, restore }
    }

    /// A caller that may make no one owner: a user-mode caller whose token could not be read.
    pub fn nobody() -> Caller {
        Caller::default()
    }

    /// The token's user SID (empty for [`Caller::nobody`]).
    pub fn user(&self) -> &[u8] {
        &self.user
    }

    /// The token's groups with `SE_GROUP_OWNER`.
    pub fn owner_groups(&self) -> &[Vec<u8>] {
        &self.owner_groups
    }

    /// Whether `SeRestorePrivilege` was enabled in the token.
    pub fn restore(&self) -> bool {
        self.restore
    }

    /// Whether the caller may make `owner` (a binary SID) the owner of a file. A SID that does
    /// not parse is no one's.
    pub fn may_own(&self, owner: &[u8]) -> bool {
        if self.restore {
            return true;
        }
        let Some(owner) = sid_at(owner) else { return false };
        // Binary SIDs of their exact length compare as EqualSid does.
        let same = |sid: &[u8]| sid_at(sid) == Some(owner);
        same(&self.user) || self.owner_groups.iter().any(|g| same(g))
    }
}

/// The owner part of a self-relative security descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// The descriptor names no owner (its owner offset is 0).
    Absent,
    /// The owner's binary SID, cut to its length.
    Sid(&'a [u8]),
    /// The descriptor is not self-relative, or its owner lies outside it or is no SID.
    Unreadable,
}

/// The owner of the self-relative `descriptor`.
pub fn owner_of(descriptor: &[u8]) -> Owner<'_> {
    // SECURITY_DESCRIPTOR_RELATIVE: Revision, Sbz1, Control (u16), then the u32 offsets of
    // Owner, Group, Sacl and Dacl.
    const HEADER: usize = 20;
    const SE_SELF_RELATIVE: u16 = 0x8000;
    let (Some(control), Some(offset)) = (descriptor.get(2..4), descriptor.get(4..8)) else {
        return Owner::Unreadable;
    };
    if descriptor.len() < HEADER || u16::from_le_bytes([control[0], control[1]]) & SE_SELF_RELATIVE == 0 {
        return Owner::Unreadable;
    }
    let at = u32::from_le_bytes([offset[0], offset[1], offset[2], offset[3]]) as usize;
    if at == 0 {
        return Owner::Absent;
    }
    match descriptor.get(at..).filter(|_| at >= HEADER).and_then(sid_at) {
        Some(sid) => Owner::Sid(sid),
        None => Owner::Unreadable,
    }
}

/// The binary SID at the start of `bytes`, cut to its length: revision 1, a sub-authority
/// count (at most 15), a 6-byte identifier authority, then 4 bytes per sub-authority.
pub fn sid_at(bytes: &[u8]) -> Option<&[u8]> {
    let (&revision, &count) = (bytes.first()?, bytes.get(1)?);
    if revision != 1 || count > 15 {
        return None;
    }
    bytes.get(..8 + 4 * usize::from(count))
}

/// The binary SID written `text` (`S-1-5-18`, `S-1-5-21-1-2-3-4242`); `None` if it is not one.
pub fn sid_of_text(text: &str) -> Option<Vec<u8>> {
    let mut parts = text.strip_prefix("S-1-")?.split('-');
    let authority: u64 = parts.next()?.parse().ok()?;
    if authority >= 1 << 48 {
        return None;
    }
    let subs: Vec<u32> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let count = u8::try_from(subs.len()).ok().filter(|&c| c <= 15)?;
    let mut sid = vec![1u8, count];
    sid.extend(&authority.to_be_bytes()[2..]); // the authority is big-endian
    for sub in subs {
        sid.extend(sub.to_le_bytes());
    }
    Some(sid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(text: &str) -> Vec<u8> {
        sid_of_text(text).unwrap_or_default()
    }

    /// A self-relative descriptor with owner `owner` (offset 0 when `None`) and nothing else.
    fn owned_by(owner: Option<&[u8]>) -> Vec<u8> {
        let mut d = vec![1u8, 0, 0x00, 0x80]; // revision 1, SE_SELF_RELATIVE
        d.extend(if owner.is_some() { 20u32 } else { 0 }.to_le_bytes());
        d.extend([0u8; 12]);
        d.extend(owner.unwrap_or_default());
        d
    }

    #[test]
    fn sids_read_from_text_as_windows_lays_them_out() {
        assert_eq!(sid("S-1-5-18"), [1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]);
        assert_eq!(sid("S-1-1-0"), [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        let domain = sid("S-1-5-21-1-2-3-4242");
        assert_eq!((domain.len(), domain[1]), (8 + 4 * 5, 5));
        assert_eq!(domain[domain.len() - 4..], 4242u32.to_le_bytes());
        for bad in ["S-2-5-18", "S-1-x", "1-5-18", "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"] {
            assert_eq!(sid_of_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_caller_may_own_its_user_and_owner_groups_only_unless_restore_is_enabled() {
        let (user, admins, system) = (sid("S-1-5-21-7-8-9-1001"), sid("S-1-5-32-544"), sid("S-1-5-18"));
        let caller = Caller::new(user.clone(), vec![admins.clone()], false);
        assert!(caller.may_own(&user));
        assert!(caller.may_own(&admins));
        assert!(!caller.may_own(&system));
        assert!(!caller.may_own(&sid("S-1-5-21-7-8-9-1002")));
        // A longer buffer holding the user's SID first is the user's SID; a cut one is no one's.
        let mut padded = user.clone();
        padded.extend([0xAA; 4]);
        assert!(caller.may_own(&padded));
        assert!(!caller.may_own(&user[..user.len() - 1]));
        assert!(!caller.may_own(&[]));
        // Restore lets any owner go; nobody owns nothing, not even an empty SID.
        assert!(Caller::new(user.clone(), Vec::new(), true).may_own(&system));
        assert!(!Caller::nobody().may_own(&user));
        assert!(!Caller::nobody().may_own(&[]));
    }

    #[test]
    fn the_owner_is_read_from_self_relative_descriptors_within_their_bytes() {
        let system = sid("S-1-5-18");
        assert_eq!(owner_of(&owned_by(Some(&system))), Owner::Sid(&system));
        assert_eq!(owner_of(&owned_by(None)), Owner::Absent);
        let whole = owned_by(Some(&system));
        assert_eq!(owner_of(&whole[..whole.len() - 1]), Owner::Unreadable);
        assert_eq!(owner_of(&whole[..10]), Owner::Unreadable);
        let mut absolute = whole.clone();
        absolute[3] = 0; // not self-relative: the offsets would be pointers
        assert_eq!(owner_of(&absolute), Owner::Unreadable);
        let mut into_header = whole.clone();
        into_header[4] = 2; // the owner "inside" the header
        assert_eq!(owner_of(&into_header), Owner::Unreadable);
        let mut far = whole;
        far[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(owner_of(&far), Owner::Unreadable);
    }
}
