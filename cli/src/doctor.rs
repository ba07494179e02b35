//! `bindfs-rs doctor`: what views need on this system, one line a finding and, where something
//! is wrong, one line with its fix. Exit status 1 when something required is missing.
//!
//! Each check is a pure function of what was read from the system (so every verdict is tested
//! without that system); [`run`] reads the system and prints. On Linux: `/dev/fuse`,
//! `fusermount3` (required for a user's views, which mount through it), `user_allow_other` in
//! `/etc/fuse.conf`, and what passthrough needs (kernel 6.9 or later built with
//! `CONFIG_FUSE_PASSTHROUGH`, and `CAP_SYS_ADMIN`). On Windows: WinFsp's install directory in
//! the registry, its DLL there, and the DLL's version.

use std::io::Write;

/// How a finding stands.
#[cfg_attr(not(target_os = "linux"), allow(dead_code, reason = "Windows' findings are ok or fail"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As views need it.
    Ok,
    /// Worth knowing; views work.
    Note,
    /// Views work, with less (no passthrough, ...).
    Warn,
    /// Something required is missing: views cannot be mounted (by this user).
    Fail,
}

/// One finding: what was found, and how to fix it where it is not ok.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How it stands.
    pub verdict: Verdict,
    /// What was checked and found, one line.
    pub text: String,
    /// The fix, one line.
    pub fix: Option<String>,
}

impl Finding {
    fn new(verdict: Verdict, text: impl Into<String>, fix: Option<&str>) -> Finding {
        Finding { verdict, text: text.into(), fix: fix.map(str::to_owned) }
    }
}

/// Prints `findings`; an error when one of them is a [`Verdict::Fail`].
pub fn report(findings: &[Finding], out: &mut dyn Write) -> Result<(), String> {
    let io = |e: std::io::Error| format!("stdout: {e}");
    for f in findings {
        let tag = match f.verdict {
            Verdict::Ok => "ok",
            Verdict::Note => "note",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        writeln!(out, "{tag:<5} {}", f.text).map_err(io)?;
        if let Some(fix) = &f.fix {
            writeln!(out, "      fix: {fix}").map_err(io)?;
        }
    }
    let failed = findings.iter().filter(|f| f.verdict == Verdict::Fail).count();
    if failed > 0 {
        Err(format!("doctor: {failed} required thing(s) missing (see FAIL above)"))
    } else {
        Ok(())
    }
}

#[cfg(any(target_os = "linux", test))]
/// `/dev/fuse`: `device` is `(is a character device, mode)` when it exists.
pub fn dev_fuse(device: Option<(bool, u32)>, root: bool) -> Finding {
    match device {
        None => Finding::new(
            Verdict::Fail,
            "/dev/fuse: missing",
            Some("load the module (modprobe fuse); in a container, pass the device (--device /dev/fuse)"),
        ),
        Some((false, _)) => Finding::new(
            Verdict::Fail,
            "/dev/fuse: not a character device",
            Some("recreate it: rm /dev/fuse && mknod -m 0666 /dev/fuse c 10 229"),
        ),
        Some((true, mode)) if mode & 0o006 == 0o006 || root => {
            Finding::new(Verdict::Ok, format!("/dev/fuse: present, mode {:04o}", mode & 0o7777), None)
        }
        Some((true, mode)) => Finding::new(
            Verdict::Note,
            format!("/dev/fuse: mode {:04o}: users mount only through fusermount3 (setuid)", mode & 0o7777),
            Some(
                "nothing to do while fusermount3 is setuid root (see below); chmod 0666 /dev/fuse lets users open it directly",
            ),
        ),
    }
}

#[cfg(any(target_os = "linux", test))]
/// `fusermount3`: `found` is `(path, owner uid, mode)` when it is on the PATH.
pub fn fusermount3(found: Option<(&str, u32, u32)>, root: bool) -> Finding {
    const INSTALL: &str = "install fuse3 (apt install fuse3, dnf install fuse3, pacman -S fuse3)";
    match found {
        None if root => Finding::new(
            Verdict::Warn,
            "fusermount3: not found (root mounts without it; users' views need it)",
            Some(INSTALL),
        ),
        None => Finding::new(
            Verdict::Fail,
            "fusermount3: not found (a user's views mount through it)",
            Some(INSTALL),
        ),
        Some((path, 0, mode)) if mode & 0o4000 != 0 => {
            Finding::new(Verdict::Ok, format!("fusermount3: {path}, setuid root"), None)
        }
        Some((path, _, _)) => Finding::new(
            if root { Verdict::Warn } else { Verdict::Fail },
            format!("fusermount3: {path} is not setuid root, so users cannot mount with it"),
            Some(&format!("chown root {path} && chmod u+s {path} (or reinstall fuse3)")),
        ),
    }
}

#[cfg(any(target_os = "linux", test))]
/// `user_allow_other` in `/etc/fuse.conf` (`conf` is its text, when readable).
pub fn user_allow_other(conf: Option<&str>) -> Finding {
    let on = conf.is_some_and(|text| text.lines().any(|l| l.trim() == "user_allow_other"));
    if on {
        Finding::new(Verdict::Ok, "/etc/fuse.conf: user_allow_other is set", None)
    } else {
        // Views of users serve their user only (no allow_other), so nothing needs it today.
        Finding::new(
            Verdict::Note,
            "/etc/fuse.conf: user_allow_other is not set: a user's view serves that user only \
             (root's views serve everyone)",
            Some("nothing to do: bindfs-rs does not need it (views of users serve their user only)"),
        )
    }
}

#[cfg(any(target_os = "linux", test))]
/// Passthrough (open files served by the kernel at native speed): `release` is the kernel's
/// (`uname -r`), `config` whether it was built with `CONFIG_FUSE_PASSTHROUGH` (when known),
/// `cap_sys_admin` whether this process has that capability.
pub fn passthrough(release: &str, config: Option<bool>, cap_sys_admin: bool) -> Finding {
    let version: Vec<u32> = release.split(['.', '-', '+']).take(2).map_while(|p| p.parse().ok()).collect();
    let too_old = match version.as_slice() {
        [major, minor] => (*major, *minor) < (6, 9),
        _ => false,
    };
    if too_old {
        return Finding::new(
            Verdict::Warn,
            format!("kernel {release}: no passthrough before 6.9 (the daemon does the I/O, slower)"),
            Some("run a kernel 6.9 or later built with CONFIG_FUSE_PASSTHROUGH=y"),
        );
    }
    if config == Some(false) {
        return Finding::new(
            Verdict::Warn,
            format!("kernel {release}: built without CONFIG_FUSE_PASSTHROUGH (the daemon does the I/O)"),
            Some("run a kernel built with CONFIG_FUSE_PASSTHROUGH=y"),
        );
    }
    if !cap_sys_admin {
        return Finding::new(
            Verdict::Warn,
            format!(
                "kernel {release}: passthrough needs CAP_SYS_ADMIN, which this user lacks (the daemon does the I/O)"
            ),
            Some("mount as root (sudo bindfs-rs mount ...) for passthrough"),
        );
    }
    let known = if config.is_none() {
        " (kernel config not readable in /proc/config.gz or /boot: assumed built in)"
    } else {
        ""
    };
    Finding::new(Verdict::Ok, format!("kernel {release}: passthrough possible{known}"), None)
}

#[cfg(any(target_os = "linux", test))]
/// Who runs the views: root serves every user, a user only themself.
pub fn privileges(uid: u32) -> Finding {
    if uid == 0 {
        Finding::new(Verdict::Ok, "running as root: views serve every user (allow_other)", None)
    } else {
        Finding::new(
            Verdict::Note,
            format!("running as uid {uid}: views serve this user only, mounted through fusermount3"),
            Some("mount as root (sudo bindfs-rs mount ...) for a view every user sees"),
        )
    }
}

#[cfg(any(windows, test))]
/// WinFsp: `install_dir` from the registry, whether its DLL is there, and the DLL's version.
pub fn winfsp(install_dir: Option<&str>, dll: Option<&str>, version: Option<&str>) -> Vec<Finding> {
    const INSTALL: &str = "install WinFsp from https://winfsp.dev/rel/ (winget install WinFsp.WinFsp)";
    let Some(dir) = install_dir else {
        return vec![Finding::new(
            Verdict::Fail,
            r"WinFsp: not installed (no InstallDir under HKLM\SOFTWARE\WOW6432Node\WinFsp)",
            Some(INSTALL),
        )];
    };
    let Some(dll) = dll else {
        return vec![Finding::new(
            Verdict::Fail,
            format!(r"WinFsp: installed at {dir}, but its DLL is missing from bin\"),
            Some("repair or reinstall WinFsp from https://winfsp.dev/rel/"),
        )];
    };
    let version = version.map_or_else(|| "version unknown".to_owned(), |v| format!("version {v}"));
    vec![Finding::new(Verdict::Ok, format!("WinFsp: {dll}, {version}"), None)]
}

/// `bindfs-rs doctor`: checks this system and prints the findings.
pub fn run(out: &mut dyn Write) -> Result<(), String> {
    report(&gather(), out)
}

#[cfg(target_os = "linux")]
fn gather() -> Vec<Finding> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let uid = rustix::process::geteuid().as_raw();
    let root = uid == 0;
    let device = std::fs::metadata("/dev/fuse").ok().map(|m| (m.file_type().is_char_device(), m.mode()));
    let helper = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|d| d.join("fusermount3"))
        .find_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m)));
    let helper_text =
        helper.as_ref().map(|(p, m)| (p.display().to_string(), m.uid(), m.permissions().mode()));
    let conf = std::fs::read_to_string("/etc/fuse.conf").ok();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |r| r.trim().to_owned());
    let config = kernel_config(&release).map(|text| fuse_passthrough_configured(&text));
    vec![
        privileges(uid),
        dev_fuse(device, root),
        fusermount3(helper_text.as_ref().map(|(p, u, m)| (p.as_str(), *u, *m)), root),
        user_allow_other(conf.as_deref()),
        passthrough(&release, config, has_cap_sys_admin()),
    ]
}

/// The running kernel's build configuration: `/proc/config.gz` (the kernel's own, where built
/// with `CONFIG_IKCONFIG_PROC`), else `/boot/config-RELEASE` (as distributions install it).
#[cfg(target_os = "linux")]
fn kernel_config(release: &str) -> Option<String> {
    use std::io::Read;
    let from_proc = std::fs::File::open("/proc/config.gz").ok().and_then(|file| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(file).read_to_string(&mut text).ok().map(|_| text)
    });
    from_proc.or_else(|| std::fs::read_to_string(format!("/boot/config-{release}")).ok())
}

#[cfg(any(target_os = "linux", test))]
/// Whether a kernel configuration's text builds FUSE passthrough in.
fn fuse_passthrough_configured(config: &str) -> bool {
    config.lines().any(|l| l.trim() == "CONFIG_FUSE_PASSTHROUGH=y")
}

/// Whether this process's effective capabilities hold `CAP_SYS_ADMIN` (bit 21 of `CapEff` in
/// `/proc/self/status`).
#[cfg(target_os = "linux")]
fn has_cap_sys_admin() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

#[cfg(windows)]
fn gather() -> Vec<Finding> {
    let dir = bindfs_winfsp::winfsp_install_dirs().into_iter().next();
    let dir_text = dir.as_ref().map(|d| d.display().to_string());
    let dll =
        dir.as_ref().map(|d| d.join("bin").join(bindfs_winfsp::winfsp_dll_name())).filter(|p| p.is_file());
    let version = dll.as_deref().and_then(crate::windows::file_version);
    let dll_text = dll.as_ref().map(|d| d.display().to_string());
    winfsp(dir_text.as_deref(), dll_text.as_deref(), version.as_deref())
}

#[cfg(not(any(target_os = "linux", windows)))]
fn gather() -> Vec<Finding> {
    vec![Finding::new(Verdict::Fail, "this build has no backend for this system", None)]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dev_fuse_must_be_a_character_device() {
        assert_eq!(dev_fuse(None, true).verdict, Verdict::Fail);
        assert!(dev_fuse(None, true).fix.unwrap().contains("modprobe fuse"));
        assert_eq!(dev_fuse(Some((false, 0o666)), true).verdict, Verdict::Fail);
        assert_eq!(dev_fuse(Some((true, 0o20666)), false).verdict, Verdict::Ok);
        assert_eq!(dev_fuse(Some((true, 0o600)), true).verdict, Verdict::Ok);
        assert_eq!(dev_fuse(Some((true, 0o600)), false).verdict, Verdict::Note);
    }

    #[test]
    fn fusermount3_is_required_for_users_and_must_be_setuid_root() {
        assert_eq!(fusermount3(None, true).verdict, Verdict::Warn);
        assert_eq!(fusermount3(None, false).verdict, Verdict::Fail);
        assert!(fusermount3(None, false).fix.unwrap().contains("fuse3"));
        assert_eq!(fusermount3(Some(("/usr/bin/fusermount3", 0, 0o104755)), false).verdict, Verdict::Ok);
        let plain = fusermount3(Some(("/usr/bin/fusermount3", 0, 0o100755)), false);
        assert_eq!(plain.verdict, Verdict::Fail);
        assert!(plain.fix.unwrap().contains("chmod u+s /usr/bin/fusermount3"));
        assert_eq!(fusermount3(Some(("/x/fusermount3", 1000, 0o104755)), true).verdict, Verdict::Warn);
    }

    #[test]
    fn user_allow_other_is_read_from_uncommented_lines() {
        assert_eq!(user_allow_other(Some("# user_allow_other\n")).verdict, Verdict::Note);
        assert_eq!(user_allow_other(Some("mount_max = 9\n user_allow_other \n")).verdict, Verdict::Ok);
        assert_eq!(user_allow_other(None).verdict, Verdict::Note);
    }

    #[test]
    fn passthrough_needs_6_9_the_config_and_cap_sys_admin() {
        let old = passthrough("6.1.0-28-amd64", Some(true), true);
        assert_eq!(old.verdict, Verdict::Warn);
        assert!(old.text.contains("6.9") && old.fix.is_some());
        assert_eq!(passthrough("6.12.9+deb13-amd64", Some(false), true).verdict, Verdict::Warn);
        let user = passthrough("6.12.9", Some(true), false);
        assert!(user.verdict == Verdict::Warn && user.text.contains("CAP_SYS_ADMIN"));
        assert_eq!(passthrough("6.12.9", Some(true), true).verdict, Verdict::Ok);
        assert!(passthrough("6.9.0", None, true).text.contains("assumed"));
    }

    #[test]
    fn winfsp_must_be_installed_with_its_dll() {
        let missing = winfsp(None, None, None);
        assert_eq!(missing[0].verdict, Verdict::Fail);
        assert!(missing[0].fix.as_deref().unwrap().contains("winfsp.dev"));
        assert_eq!(winfsp(Some(r"C:\WinFsp"), None, None)[0].verdict, Verdict::Fail);
        let ok = winfsp(Some(r"C:\WinFsp"), Some(r"C:\WinFsp\bin\winfsp-x64.dll"), Some("2.1.25156"));
        assert_eq!(ok[0].verdict, Verdict::Ok);
        assert!(ok[0].text.contains("version 2.1.25156"), "{}", ok[0].text);
    }

    /// Under Wine (tools/windows-test.sh): the registry is read (a key every Windows has, and
    /// WinFsp's, which the test prefix lacks unless WinFsp was installed into it), and the
    /// version of the WinFsp DLL the test run ships is read from its resource.
    #[cfg(windows)]
    #[test]
    fn winfsp_is_found_through_the_registry_and_its_dll_version_is_read() {
        let product =
            bindfs_winfsp::registry_string(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion", "ProductName");
        assert!(product.is_some_and(|p| !p.is_empty()));
        let findings = gather();
        assert_eq!(findings.len(), 1, "{findings:?}");
        match bindfs_winfsp::winfsp_install_dirs().into_iter().next() {
            None => {
                assert_eq!(findings[0].verdict, Verdict::Fail);
                assert!(findings[0].fix.as_deref().is_some_and(|f| f.contains("winfsp.dev")));
            }
            Some(dir) => assert!(
                findings[0].text.contains(&dir.display().to_string()) || findings[0].verdict == Verdict::Ok
            ),
        }
        let Some(dir) = std::env::var_os("BINDFS_WINFSP_DLL_DIR") else {
            eprintln!("skipped the DLL version: BINDFS_WINFSP_DLL_DIR is not set");
            return;
        };
        // A Linux path of the test run: on Wine's Z: drive.
        let dir = std::path::PathBuf::from(format!("Z:{}", dir.to_string_lossy().replace('/', "\\")));
        let version = crate::windows::file_version(&dir.join(bindfs_winfsp::winfsp_dll_name()));
        assert!(version.as_deref().is_some_and(|v| v.split('.').count() == 4), "{version:?}");
    }

    #[test]
    fn every_finding_that_is_not_ok_has_a_fix() {
        let findings = [
            dev_fuse(Some((true, 0o600)), false),
            user_allow_other(None),
            privileges(1000),
            passthrough("6.1.0", Some(true), true),
            passthrough("6.12.9", Some(false), true),
            passthrough("6.12.9", Some(true), false),
            fusermount3(None, true),
        ];
        for f in findings {
            assert_ne!(f.verdict, Verdict::Ok, "{f:?}");
            assert!(f.fix.as_deref().is_some_and(|x| !x.is_empty() && !x.contains('\n')), "{f:?}");
        }
    }

    #[test]
    fn the_kernel_config_says_whether_passthrough_is_built_in() {
        assert!(fuse_passthrough_configured("CONFIG_FUSE_FS=y\nCONFIG_FUSE_PASSTHROUGH=y\n"));
        assert!(!fuse_passthrough_configured("CONFIG_FUSE_FS=y\n# CONFIG_FUSE_PASSTHROUGH is not set\n"));
    }

    /// Where /proc/config.gz is there (this machine's kernel), doctor reads it.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_config_is_read_from_proc_config_gz() {
        if !std::path::Path::new("/proc/config.gz").exists() {
            eprintln!("skipped: this kernel has no /proc/config.gz");
            return;
        }
        let text = kernel_config("no-such-release").unwrap();
        assert!(
            text.lines().any(|l| l.starts_with("CONFIG_FUSE_FS=")),
            "no CONFIG_FUSE_FS in /proc/config.gz"
        );
    }

    #[test]
    fn a_failure_fails_the_report_and_every_fix_is_one_line() {
        let mut out = Vec::new();
        let findings = [privileges(0), dev_fuse(None, true)];
        let err = report(&findings, &mut out).unwrap_err();
        assert!(err.contains("1 required"), "{err}");
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().nth(1).unwrap().starts_with("FAIL  /dev/fuse: missing"), "{text}");
        assert!(text.lines().nth(2).unwrap().starts_with("      fix: "), "{text}");
        let mut out = Vec::new();
        report(&[privileges(0)], &mut out).unwrap();
    }
}
