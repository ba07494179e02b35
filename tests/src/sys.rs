//! The system calls the tests make that no safe wrapper covers, each behind a safe function:
//! the only `unsafe` of the test harness.
#![allow(unsafe_code)]

#[cfg(target_os = "linux")]
pub use linux::*;
#[cfg(windows)]
pub use windows::*;

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    use std::path::Path;
    use std::process::Command;

    fn done(rc: libc::c_int) -> io::Result<()> {
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    /// Makes `command` run as `uid`/`gid` with exactly the supplementary groups `groups`
    /// (std's `uid`/`gid` cannot give groups).
    pub fn run_as(command: &mut Command, uid: u32, gid: u32, groups: &[u32]) {
        let groups: Vec<libc::gid_t> = groups.to_vec();
        // SAFETY: between fork and exec the closure only makes three system calls, on memory
        // allocated before the fork.
        unsafe {
            command.pre_exec(move || {
                done(libc::setgroups(groups.len(), groups.as_ptr()))?;
                done(libc::setgid(gid))?;
                done(libc::setuid(uid))
            });
        }
    }

    /// `fcntl(fd, cmd, &flock)` with a whole-file `struct flock` of type `ty` (`F_RDLCK`,
    /// `F_WRLCK`, `F_UNLCK`); returns the `flock` as the call left it (for `F_GETLK`).
    pub fn whole_file_lock(fd: BorrowedFd<'_>, cmd: i32, ty: i32) -> io::Result<libc::flock> {
        let mut lock = whole_file(ty);
        // SAFETY: `fd` is open for the whole call and `lock` an initialized `flock` it may write.
        let r = unsafe { libc::fcntl(fd.as_raw_fd(), cmd, &mut lock) };
        if r == -1 { Err(io::Error::last_os_error()) } else { Ok(lock) }
    }

    fn whole_file(ty: i32) -> libc::flock {
        libc::flock {
            l_type: ty as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        }
    }

    /// `truncate(2)` by path (rustix has only `ftruncate`).
    pub fn truncate(path: &Path, len: i64) -> io::Result<()> {
        let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
        // SAFETY: `c` is a NUL-terminated path that outlives the call; truncate only reads it.
        done(unsafe { libc::truncate(c.as_ptr(), len) })
    }

    /// Writes `data` at each offset through a shared writable mapping of the first `len` bytes
    /// of `fd`, `msync`s it when `sync`, and unmaps it.
    pub fn mmap_write(
        fd: BorrowedFd<'_>,
        len: usize,
        writes: &[(usize, &[u8])],
        sync: bool,
    ) -> io::Result<()> {
        if writes.iter().any(|(at, data)| at + data.len() > len) {
            return Err(io::Error::other("a write past the mapping"));
        }
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a fresh shared mapping of `len` bytes of the open `fd`; it is written only
        // inside its bounds (checked above), no reference into it is created, and it is unmapped
        // before return.
        unsafe {
            let map = libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), 0);
            if map == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            for (at, data) in writes {
                std::ptr::copy_nonoverlapping(data.as_ptr(), map.cast::<u8>().add(*at), data.len());
            }
            let synced = if sync { done(libc::msync(map, len, libc::MS_SYNC)) } else { Ok(()) };
            synced.and(done(libc::munmap(map, len)))
        }
    }

    /// The first `len` bytes of `fd` as a private read-only mapping shows them.
    pub fn mmap_read(fd: BorrowedFd<'_>, len: usize) -> io::Result<Vec<u8>> {
        // SAFETY: a fresh private read-only mapping of `len` bytes of the open `fd`, copied out
        // while it exists and unmapped before return.
        unsafe {
            let map =
                libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, fd.as_raw_fd(), 0);
            if map == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let seen = std::slice::from_raw_parts(map.cast::<u8>(), len).to_vec();
            done(libc::munmap(map, len)).map(|()| seen)
        }
    }

    /// `kill(2)`: sends `signal` to process `pid`.
    pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
        // SAFETY: sending a signal has no memory-safety preconditions.
        done(unsafe { libc::kill(pid, signal) })
    }

    /// A child process holding a POSIX write lock (`F_SETLK`) on the whole file at `path` until
    /// `go` is dropped: its pid, and `go`. Fails when the child could not take the lock.
    pub fn fork_lock_holder(path: &Path) -> io::Result<(i32, OwnedFd)> {
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
        // Close-on-exec, so processes other tests start meanwhile do not keep them open.
        let cloexec = rustix::pipe::PipeFlags::CLOEXEC;
        let (ready_r, ready_w) = rustix::pipe::pipe_with(cloexec)?;
        let (go_r, go_w) = rustix::pipe::pipe_with(cloexec)?;
        let lock = whole_file(libc::F_WRLCK);
        // SAFETY: the child only makes async-signal-safe calls (close, open, fcntl, write, read,
        // _exit) on values prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: see above; every pointer outlives the calls.
            unsafe {
                // Only the parent keeps the write end: its close is the signal to exit.
                libc::close(go_w.as_raw_fd());
                let fd = libc::open(c_path.as_ptr(), libc::O_RDWR);
                let ok = fd >= 0 && libc::fcntl(fd, libc::F_SETLK, &lock) == 0;
                let byte = [u8::from(ok)];
                libc::write(ready_w.as_raw_fd(), byte.as_ptr().cast(), 1);
                let mut buf = [0u8; 1];
                libc::read(go_r.as_raw_fd(), buf.as_mut_ptr().cast(), 1);
                libc::_exit(0);
            }
        }
        drop((ready_w, go_r));
        let mut byte = [0u8; 1];
        let got = rustix::io::read(&ready_r, &mut byte)?;
        if got != 1 || byte[0] != 1 {
            drop(go_w);
            let _ = wait_child(pid);
            return Err(io::Error::other("the holder could not take its lock"));
        }
        Ok((pid, go_w))
    }

    /// Waits for child `pid` (once): its wait status.
    pub fn wait_child(pid: i32) -> io::Result<i32> {
        let mut status = 0;
        // SAFETY: `status` is a local the call writes; waiting has no other precondition.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid { Ok(status) } else { Err(io::Error::last_os_error()) }
    }

    extern "C" fn ignore_signal(_: libc::c_int) {}

    /// Installs a handler for `signal` that does nothing, without `SA_RESTART`: a call the
    /// signal interrupts ends with `EINTR`, as it does natively.
    pub fn interrupt_on(signal: i32) -> io::Result<()> {
        // SAFETY: a zeroed sigaction (a valid empty mask, no flags) with a handler that touches
        // nothing.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore_signal as *const () as usize;
            done(libc::sigaction(signal, &action, std::ptr::null_mut()))
        }
    }

    /// Sends `signal` to the thread `thread` (not joined yet, so its id is still valid).
    pub fn signal_thread<T>(thread: &std::thread::JoinHandle<T>, signal: i32) -> io::Result<()> {
        use std::os::unix::thread::JoinHandleExt;
        // SAFETY: a thread borrowed unjoined: its pthread id stays valid (an ended thread not
        // yet joined is still a valid target).
        match unsafe { libc::pthread_kill(thread.as_pthread_t(), signal) } {
            0 => Ok(()),
            code => Err(io::Error::from_raw_os_error(code)),
        }
    }
}

#[cfg(windows)]
mod windows {
    use std::fs::File;
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;

    use windows::Win32::Foundation::HANDLE;
    use windows::Win32::Storage::FileSystem::{GETFINALPATHNAMEBYHANDLE_FLAGS, GetFinalPathNameByHandleW};

    /// `FSCTL_SET_REPARSE_POINT` on open `file` with the reparse buffer `data`.
    pub fn set_reparse_point_of(file: &File, data: &[u8]) -> io::Result<()> {
        use windows::Win32::System::IO::DeviceIoControl;
        use windows::Win32::System::Ioctl::FSCTL_SET_REPARSE_POINT;
        let len = u32::try_from(data.len()).map_err(|_| io::Error::other("reparse data too long"))?;
        let mut returned = 0u32;
        // SAFETY: an open handle; `data` is readable for `len` bytes; no output buffer.
        unsafe {
            DeviceIoControl(
                HANDLE(file.as_raw_handle()),
                FSCTL_SET_REPARSE_POINT,
                Some(data.as_ptr().cast()),
                len,
                None,
                0,
                Some(&mut returned),
                None,
            )
        }
        .map_err(|e| io::Error::from_raw_os_error(e.code().0 & 0xFFFF))
    }

    /// `GetFinalPathNameByHandleW` of open `file` into `buf`: the length of the name, or the
    /// size needed when `buf` is too small (0 on failure).
    pub fn final_path_name(file: &File, buf: &mut [u16], flags: GETFINALPATHNAMEBYHANDLE_FLAGS) -> u32 {
        // SAFETY: an open handle and a writable buffer of the length given.
        unsafe { GetFinalPathNameByHandleW(HANDLE(file.as_raw_handle()), buf, flags) }
    }

    /// `GetShortPathNameW` of the NUL-terminated `long` into `out`: the length written (or
    /// needed, or 0 on failure).
    pub fn short_path_name(long: &[u16], out: &mut [u16]) -> io::Result<u32> {
        use windows::Win32::Storage::FileSystem::GetShortPathNameW;
        use windows::core::PCWSTR;
        if long.last() != Some(&0) {
            return Err(io::Error::other("not NUL-terminated"));
        }
        // SAFETY: `long` is NUL-terminated (checked) and outlives the call; `out` is a writable
        // buffer whose length is what the call is given.
        Ok(unsafe { GetShortPathNameW(PCWSTR(long.as_ptr()), Some(out)) })
    }

    /// Whether this runs under Wine (its `ntdll` has `wine_get_version`).
    pub fn under_wine() -> bool {
        use windows::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
        use windows::core::{s, w};
        // SAFETY: both names are NUL-terminated literals; ntdll is loaded in every process and the
        // handle is not freed; the address found is only compared, never called.
        unsafe {
            GetModuleHandleW(w!("ntdll.dll"))
                .is_ok_and(|ntdll| GetProcAddress(ntdll, s!("wine_get_version")).is_some())
        }
    }

    /// Sets the DACL of the open `file` to that of self-relative `descriptor`, through the handle.
    pub fn set_dacl(file: &File, descriptor: &[u8]) -> io::Result<()> {
        use windows::Win32::Security::{
            DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, SetKernelObjectSecurity,
        };
        // SAFETY: an open handle; `descriptor` is a self-relative descriptor that outlives the call,
        // which only reads it.
        unsafe {
            SetKernelObjectSecurity(
                HANDLE(file.as_raw_handle()),
                DACL_SECURITY_INFORMATION,
                PSECURITY_DESCRIPTOR(descriptor.as_ptr() as *mut _),
            )
        }
        .map_err(|e| io::Error::from_raw_os_error(e.code().0 & 0xFFFF))
    }

    /// The parts `parts` (`SECURITY_INFORMATION` flags) of the security descriptor of the file at
    /// `path`, self-relative, read with Win32 (not through a view).
    pub fn security_of(path: &Path, parts: u32) -> io::Result<Vec<u8>> {
        use windows::Win32::Security::{GetFileSecurityW, PSECURITY_DESCRIPTOR};
        use windows::core::PCWSTR;
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        let mut needed = 0u32;
        // SAFETY: a NUL-terminated path; a first call with no buffer only asks the size.
        let _ = unsafe { GetFileSecurityW(PCWSTR(wide.as_ptr()), parts, None, 0, &mut needed) };
        let mut out = vec![0u8; needed as usize];
        let len = needed;
        // SAFETY: a NUL-terminated path and a writable buffer of `len` bytes.
        let done = unsafe {
            GetFileSecurityW(
                PCWSTR(wide.as_ptr()),
                parts,
                Some(PSECURITY_DESCRIPTOR(out.as_mut_ptr().cast())),
                len,
                &mut needed,
            )
        };
        if !done.as_bool() {
            return Err(io::Error::last_os_error());
        }
        out.truncate(needed.min(len) as usize);
        Ok(out)
    }
}
