//! The raw ends of the service: the entry point the SCM calls through a function pointer, and
//! (for the tests) the split of a command line as Windows programs split it. The only `unsafe`
//! of the service.
#![allow(unsafe_code)]

#[cfg(test)]
use std::ffi::{OsStr, OsString};

use super::service_main;

// The entry point the SCM calls with the service's start arguments: the macro's `unsafe` block
// reads those from the pointer and count the SCM passes (the crate's documented use).
windows_service::define_windows_service!(ffi_service_main, service_main);

/// Connects this process to the SCM as the service `name`; returns once the service stopped.
pub fn dispatch(name: &str) -> windows_service::Result<()> {
    windows_service::service_dispatcher::start(name, ffi_service_main)
}

/// The arguments of command line `line`, split as `CommandLineToArgvW` splits it (the program
/// name first).
#[cfg(test)]
pub fn split_command_line(line: &OsStr) -> std::io::Result<Vec<OsString>> {
    use std::os::windows::ffi::{OsStrExt, OsStringExt};

    use windows::Win32::Foundation::{HLOCAL, LocalFree};
    use windows::Win32::UI::Shell::CommandLineToArgvW;
    use windows::core::PCWSTR;

    let wide: Vec<u16> = line.encode_wide().chain(Some(0)).collect();
    let mut count = 0_i32;
    // SAFETY: `wide` is NUL-terminated and lives through the call; `count` is a valid out
    // pointer.
    let argv = unsafe { CommandLineToArgvW(PCWSTR(wide.as_ptr()), &mut count) };
    if argv.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let args = (0..usize::try_from(count).unwrap_or(0))
        .map(|i| {
            // SAFETY: `argv` holds `count` pointers to NUL-terminated strings, all alive until
            // the LocalFree below.
            OsString::from_wide(unsafe { (*argv.add(i)).as_wide() })
        })
        .collect();
    // SAFETY: `argv` is the one LocalAlloc block CommandLineToArgvW returned, freed once.
    unsafe { LocalFree(Some(HLOCAL(argv.cast()))) };
    Ok(args)
}
