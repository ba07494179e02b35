//! The Win32 calls of the Windows client, each behind a safe function: the tokens that say who
//! runs a process (the pipe's server, this process) and waiting for a pipe. Moved here from the
//! CLI (`cli/src/windows/sys.rs`), which uses them for its pipe server too; the only `unsafe` of
//! the client.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use windows::Win32::Foundation::{HANDLE, HLOCAL, LocalFree};
use windows::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows::Win32::Security::{
    GetTokenInformation, TOKEN_ELEVATION, TOKEN_QUERY, TOKEN_USER, TokenElevation, TokenUser,
};
use windows::Win32::System::Pipes::{GetNamedPipeServerProcessId, WaitNamedPipeW};
use windows::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};
use windows::core::{PCWSTR, PWSTR};

/// `text` as a NUL-terminated UTF-16 string.
pub fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

fn raw(handle: &impl AsRawHandle) -> HANDLE {
    HANDLE(handle.as_raw_handle())
}

/// The token of this process, for queries.
fn own_token() -> Result<OwnedHandle, String> {
    let mut token = HANDLE::default();
    // SAFETY: the pseudo handle of this process; `token` receives a handle owned below.
    unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) }
        .map_err(|e| format!("process token: {e}"))?;
    // SAFETY: a token handle just opened, owned from here on.
    Ok(unsafe { OwnedHandle::from_raw_handle(token.0) })
}

/// The string SID of the user this process runs as.
pub fn my_sid() -> Result<String, String> {
    token_sid(&own_token()?)
}

/// The string SID of `token`'s user.
pub fn token_sid(token: &OwnedHandle) -> Result<String, String> {
    let mut buf = vec![0u64; 64]; // 512 bytes, aligned for TOKEN_USER
    let mut len = 0u32;
    // SAFETY: `buf` is writable for the length given; `len` receives the size used.
    unsafe {
        GetTokenInformation(
            raw(token),
            TokenUser,
            Some(buf.as_mut_ptr().cast()),
            (buf.len() * 8) as u32,
            &mut len,
        )
    }
    .map_err(|e| format!("token user: {e}"))?;
    // SAFETY: GetTokenInformation(TokenUser) filled `buf` with a TOKEN_USER.
    let user = unsafe { &*buf.as_ptr().cast::<TOKEN_USER>() };
    let mut text = PWSTR::null();
    // SAFETY: a valid SID inside `buf`; `text` receives a LocalAlloc'ed string freed below.
    unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) }.map_err(|e| format!("SID: {e}"))?;
    // SAFETY: a NUL-terminated string from ConvertSidToStringSidW.
    let sid = unsafe { text.to_string() }.map_err(|e| format!("SID: {e}"));
    // SAFETY: allocated by ConvertSidToStringSidW with LocalAlloc, freed once.
    unsafe { LocalFree(Some(HLOCAL(text.0.cast()))) };
    sid
}

/// Whether `token` is elevated (an administrator's full token).
pub fn elevated(token: &OwnedHandle) -> bool {
    let mut elevation = TOKEN_ELEVATION::default();
    let mut len = 0u32;
    // SAFETY: `elevation` is writable for its size.
    let ok = unsafe {
        GetTokenInformation(
            raw(token),
            TokenElevation,
            Some((&raw mut elevation).cast()),
            std::mem::size_of::<TOKEN_ELEVATION>() as u32,
            &mut len,
        )
    };
    ok.is_ok() && elevation.TokenIsElevated != 0
}

/// Whether this process runs elevated (an administrator's full token).
pub fn this_process_elevated() -> bool {
    own_token().is_ok_and(|token| elevated(&token))
}

/// The id of the process serving the pipe whose client end is `pipe`, and that process's token.
pub fn server_token(pipe: &File) -> Result<(u32, OwnedHandle), String> {
    let mut pid = 0u32;
    // SAFETY: a pipe handle we hold open; `pid` is a local the call writes.
    unsafe { GetNamedPipeServerProcessId(raw(pipe), &mut pid) }
        .map_err(|e| format!("control pipe server: {e}"))?;
    Ok((pid, process_token(pid).map_err(|e| format!("control pipe server {e}"))?))
}

/// The token of process `pid`, for queries.
pub fn process_token(pid: u32) -> Result<OwnedHandle, String> {
    // SAFETY: opening a process by id for a query; the handle is owned below.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid) }
        .map_err(|e| format!("process {pid}: {e}"))?;
    // SAFETY: a process handle just opened, owned from here on.
    let process = unsafe { OwnedHandle::from_raw_handle(process.0) };
    let mut token = HANDLE::default();
    // SAFETY: a process handle we own; `token` receives a handle owned below.
    unsafe { OpenProcessToken(raw(&process), TOKEN_QUERY, &mut token) }
        .map_err(|e| format!("process {pid} token: {e}"))?;
    // SAFETY: a token handle just opened, owned from here on.
    Ok(unsafe { OwnedHandle::from_raw_handle(token.0) })
}

/// `WaitNamedPipeW`: waits at most `millis` for an instance of pipe `name` (NUL-terminated
/// UTF-16) to be free; false when none is (the error says why: no such pipe, or all busy).
pub fn wait_named_pipe(name: &[u16], millis: u32) -> bool {
    if name.last() != Some(&0) {
        return false;
    }
    // SAFETY: a NUL-terminated name (checked) that outlives the call.
    unsafe { WaitNamedPipeW(PCWSTR(name.as_ptr()), millis) }.as_bool()
}
