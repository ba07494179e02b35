//! A view as a Windows service that starts at boot (why a service and not WinFsp's launcher:
//! [`crate::service`]).
//!
//! - `service install NAME MNT --lower DIR [--config FILE] [--link V=B]...` registers
//!   `bindfs-rs-NAME`: own process, automatic start, run as LocalSystem, its command line this
//!   executable with `service run NAME` and the view's arguments, every path made absolute (a
//!   service starts in System32). The arguments are checked first as `mount` checks them (the
//!   mount point, the links inside the view, the links file parsed, the on-disk layer a
//!   directory), so bad input registers nothing; a links file is read again at each start, so
//!   editing it and restarting the service applies it. A failed start is retried after 10 s, then
//!   after 60 s (the SCM's failure actions, also on a clean exit with an error): a backing on a
//!   disk that comes late at boot gets its chance.
//! - `service run` is what the SCM starts: it connects to the SCM (`service_dispatcher`), reports
//!   `StartPending`, mounts, and reports `Running` only once the view is live and its pipe
//!   answers, so `service start` (and `install --now`) return when the view can be used. A Stop
//!   or Shutdown control unmounts the view cleanly and reports `Stopped`; so does `bindfs-rs
//!   unmount`, through the pipe. A start that fails reports `Stopped` with a service-specific
//!   exit code 1, and the error goes to `--log-file` (a service has no console).
//! - `uninstall` stops the service, then deletes it; it leaves alone a service of that name that
//!   does not run `bindfs-rs service run`.
//! - Installing, starting, stopping and removing need an administrator (the SCM's own rule);
//!   `status` does not. A service's view belongs to LocalSystem: its drive letter is global, and
//!   its pipe admits SYSTEM and Administrators only, so changing its links takes an elevated
//!   prompt.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use windows::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_FAILED_SERVICE_CONTROLLER_CONNECT, ERROR_INVALID_LEVEL,
    ERROR_SERVICE_ALREADY_RUNNING, ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SERVICE_EXISTS,
    ERROR_SERVICE_MARKED_FOR_DELETE, ERROR_SERVICE_NEVER_STARTED, ERROR_SERVICE_NOT_ACTIVE, WIN32_ERROR,
};
use windows_service::service::{
    Service, ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod, ServiceInfo,
    ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult, ServiceStatusHandle};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

use super::{MountRequest, absolute, mount_point, prepare};
use crate::logs::LogArgs;
use crate::service::ViewArgs;

mod sys;

/// What every service name this command registers starts with.
const PREFIX: &str = "bindfs-rs-";

/// How long `start` waits for a view to come up (a slow disk at boot, a large links file).
const START_LIMIT: Duration = Duration::from_secs(120);

/// How long `stop` and `uninstall` wait for a view to go.
const STOP_LIMIT: Duration = Duration::from_secs(60);

/// The service-specific exit code of a start that failed.
const FAILED: u32 = 1;

/// The SCM's name of the service `name`: `bindfs-rs-NAME`, NAME of letters, digits, `.`, `_`, `-`.
fn service_name(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(format!("{PREFIX}{name}"))
    } else {
        Err(format!("service name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-'"))
    }
}

/// The Win32 error behind `e`, if it is one.
fn os_error(e: &windows_service::Error) -> Option<WIN32_ERROR> {
    match e {
        windows_service::Error::Winapi(io) => io.raw_os_error().map(|code| WIN32_ERROR(code as u32)),
        _ => None,
    }
}

/// One line for an SCM error of `what` (`install`, `start`, ...) on `service`.
fn scm_error(what: &str, service: &str, e: &windows_service::Error) -> String {
    match os_error(e) {
        Some(ERROR_ACCESS_DENIED) => {
            format!("service {what}: needs an administrator (run it from an elevated prompt)")
        }
        Some(ERROR_SERVICE_DOES_NOT_EXIST) => {
            format!("no service {service} (see `bindfs-rs service install`)")
        }
        Some(ERROR_SERVICE_MARKED_FOR_DELETE) => {
            format!("service {service} is being removed: close what holds it open (services.msc) and retry")
        }
        _ => match e {
            windows_service::Error::Winapi(io) => format!("service {what} {service}: {io}"),
            other => format!("service {what} {service}: {other}"),
        },
    }
}

/// The arguments after the executable that the service runs: `service run NAME` and the view's
/// arguments with every path absolute, checked as `mount` checks them.
fn launch_arguments(name: &str, view: &ViewArgs) -> Result<Vec<OsString>, String> {
    let point = mount_point(&view.mountpoint)?;
    let lower = absolute(&view.lower)?.to_string();
    match std::fs::metadata(&lower) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("--lower {}: not a directory", view.lower.display())),
        Err(e) => return Err(format!("--lower {}: {e}", view.lower.display())),
    }
    let mut args: Vec<OsString> = vec!["service".into(), "run".into(), name.into()];
    args.extend([point.winfsp.into_os_string(), "--lower".into(), lower.into()]);
    let mut links = Vec::new();
    if let Some(config) = &view.config {
        let file = absolute(config)?.to_string();
        links = crate::args::read_links_file(Path::new(&file))?.0;
        // The service resolves a relative path from System32, not from where the file is.
        for link in &links {
            for path in [&link.virt, &link.backing].into_iter().chain(&link.except) {
                if !path.is_absolute() {
                    return Err(format!(
                        "config {}: {}: a service needs absolute paths",
                        config.display(),
                        path.display()
                    ));
                }
            }
        }
        args.extend(["--config".into(), file.into()]);
    }
    for text in &view.links {
        let link = crate::args::parse_link(text)?;
        let given = format!("{}={}", absolute(&link.virt)?, absolute(&link.backing)?);
        args.extend(["--link".into(), given.into()]);
        links.push(link);
    }
    // The links as the daemon takes them: inside the view, backings resolved.
    prepare(&MountRequest {
        mountpoint: view.mountpoint.clone(),
        lower: view.lower.clone(),
        links,
        foreground: true,
        cache_ttl: Duration::ZERO,
        wait_backings: None,
    })?;
    if let Some(secs) = view.cache_ttl {
        args.extend(["--cache-ttl".into(), secs.to_string().into()]);
    }
    if let Some(level) = view.log_level.and_then(|l| l.to_possible_value()) {
        args.extend(["--log-level".into(), level.get_name().into()]);
    }
    if let Some(file) = &view.log_file {
        let file = absolute(file)?.to_string();
        if !Path::new(&file).parent().is_some_and(Path::is_dir) {
            return Err(format!("--log-file {file}: its directory does not exist"));
        }
        args.extend(["--log-file".into(), file.into()]);
    }
    Ok(args)
}

/// Opens the SCM for `what`.
fn manager(what: &str, access: ServiceManagerAccess) -> Result<ServiceManager, String> {
    ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT | access)
        .map_err(|e| scm_error(what, "", &e))
}

/// Opens the service of `name` for `what`.
fn open(name: &str, what: &str, access: ServiceAccess) -> Result<(String, Service), String> {
    let service = service_name(name)?;
    let opened = manager(what, ServiceManagerAccess::empty())?
        .open_service(&service, access)
        .map_err(|e| scm_error(what, &service, &e))?;
    Ok((service, opened))
}

/// `service install`.
pub fn install(name: &str, view: &ViewArgs, now: bool) -> Result<(), String> {
    install_with(name, view, &std::env::current_exe().map_err(|e| format!("own executable: {e}"))?)?;
    if now { start(name) } else { Ok(()) }
}

/// Registers the service of `name`, run by `exe`.
fn install_with(name: &str, view: &ViewArgs, exe: &Path) -> Result<(), String> {
    let service = service_name(name)?;
    let info = ServiceInfo {
        name: service.clone().into(),
        display_name: format!("bindfs-rs view {name}").into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe.to_path_buf(),
        launch_arguments: launch_arguments(name, view)?,
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let created = manager("install", ServiceManagerAccess::CREATE_SERVICE)?
        .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::DELETE)
        .map_err(|e| match os_error(&e) {
            Some(ERROR_SERVICE_EXISTS) => {
                format!("service {service} is installed already (`bindfs-rs service uninstall {name}` first)")
            }
            _ => scm_error("install", &service, &e),
        })?;
    let configured = configure(&created, name, view);
    if let Err(e) = configured {
        // Nothing half-done: a service without its retries is not what was asked for.
        let _ = created.delete();
        return Err(scm_error("install", &service, &e));
    }
    Ok(())
}

/// The service's description, and its restarts after a failed start or a crash. A system that
/// does not know a failure setting (Wine answers ERROR_INVALID_LEVEL) gets the service without
/// it, and a note says so.
fn configure(service: &Service, name: &str, view: &ViewArgs) -> windows_service::Result<()> {
    service.set_description(format!(
        "Serves the bindfs-rs view at {} (bindfs-rs service status {name})",
        view.mountpoint.display()
    ))?;
    let restart =
        |secs| ServiceAction { action_type: ServiceActionType::Restart, delay: Duration::from_secs(secs) };
    let restarts = service.update_failure_actions(ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart(10), restart(60)]),
    });
    // A failed mount ends the process cleanly with an error code: a failure too.
    let restarts = restarts.and_then(|()| service.set_failure_actions_on_non_crash_failures(true));
    match restarts {
        Err(e) if os_error(&e) == Some(ERROR_INVALID_LEVEL) => {
            eprintln!("bindfs-rs: note: this system does not restart a service whose start failed");
            Ok(())
        }
        other => other,
    }
}

/// Polls the service's state until `done` says so or `limit` passes.
fn wait_until(
    service: &Service,
    name: &str,
    limit: Duration,
    done: impl Fn(ServiceState) -> bool,
) -> Result<ServiceStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        let status = service.query_status().map_err(|e| scm_error("status", name, &e))?;
        if done(status.current_state) {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "service {name} is still {} after {} s",
                state_word(status.current_state),
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `service start`: returns once the view is live.
pub fn start(name: &str) -> Result<(), String> {
    let (service, opened) = open(name, "start", ServiceAccess::START | ServiceAccess::QUERY_STATUS)?;
    match opened.start::<&OsStr>(&[]) {
        Ok(()) => {}
        Err(e) if os_error(&e) == Some(ERROR_SERVICE_ALREADY_RUNNING) => {}
        Err(e) => return Err(scm_error("start", &service, &e)),
    }
    let status = wait_until(&opened, &service, START_LIMIT, |s| {
        matches!(s, ServiceState::Running | ServiceState::Stopped)
    })?;
    if status.current_state == ServiceState::Running {
        Ok(())
    } else {
        Err(format!(
            "service {service} stopped before its view was live ({}): its --log-file says why",
            exit_words(&status.exit_code)
        ))
    }
}

/// `service stop`: returns once the view is gone.
pub fn stop(name: &str) -> Result<(), String> {
    let (service, opened) = open(name, "stop", ServiceAccess::STOP | ServiceAccess::QUERY_STATUS)?;
    stop_opened(&service, &opened)
}

fn stop_opened(service: &str, opened: &Service) -> Result<(), String> {
    match opened.stop() {
        Ok(_) => {}
        Err(e) if os_error(&e) == Some(ERROR_SERVICE_NOT_ACTIVE) => return Ok(()),
        Err(e) => return Err(scm_error("stop", service, &e)),
    }
    wait_until(opened, service, STOP_LIMIT, |s| s == ServiceState::Stopped).map(|_| ())
}

/// Whether the service's command line is one `install` wrote.
fn is_ours(opened: &Service) -> bool {
    opened.query_config().is_ok_and(|c| c.executable_path.to_string_lossy().contains(" service run "))
}

/// `service uninstall`: stops the service and removes it.
pub fn uninstall(name: &str) -> Result<(), String> {
    let access = ServiceAccess::QUERY_CONFIG
        | ServiceAccess::QUERY_STATUS
        | ServiceAccess::STOP
        | ServiceAccess::DELETE;
    let (service, opened) = open(name, "uninstall", access)?;
    if !is_ours(&opened) {
        return Err(format!("service {service} does not run `bindfs-rs service run`: left alone"));
    }
    stop_opened(&service, &opened)?;
    opened.delete().map_err(|e| scm_error("uninstall", &service, &e))
}

/// A service state in a word.
fn state_word(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Stopped => "stopped",
        ServiceState::StartPending => "starting",
        ServiceState::StopPending => "stopping",
        ServiceState::Running => "running",
        ServiceState::ContinuePending => "resuming",
        ServiceState::PausePending => "pausing",
        ServiceState::Paused => "paused",
    }
}

/// How a service ended, in words.
fn exit_words(code: &ServiceExitCode) -> String {
    match *code {
        ServiceExitCode::Win32(0) => "no error".to_owned(),
        ServiceExitCode::Win32(n) => format!("{}", std::io::Error::from_raw_os_error(n as i32)),
        ServiceExitCode::ServiceSpecific(n) => format!("bindfs-rs error {n}"),
    }
}

/// `service status`: state, start type, and the command the service runs.
pub fn status(name: &str, out: &mut dyn Write) -> Result<(), String> {
    let (service, opened) = open(name, "status", ServiceAccess::QUERY_CONFIG | ServiceAccess::QUERY_STATUS)?;
    let config = opened.query_config().map_err(|e| scm_error("status", &service, &e))?;
    let status = opened.query_status().map_err(|e| scm_error("status", &service, &e))?;
    let mut state = state_word(status.current_state).to_owned();
    if let Some(pid) = status.process_id.filter(|_| status.current_state != ServiceState::Stopped) {
        state.push_str(&format!(" (pid {pid})"));
    }
    // A service never started since boot reports ERROR_SERVICE_NEVER_STARTED: no failure.
    let never = ServiceExitCode::Win32(ERROR_SERVICE_NEVER_STARTED.0);
    let failed = status.exit_code != ServiceExitCode::NO_ERROR && status.exit_code != never;
    if status.current_state == ServiceState::Stopped && failed {
        state.push_str(&format!(" (last run failed: {})", exit_words(&status.exit_code)));
    }
    let start = match config.start_type {
        ServiceStartType::AutoStart => "starts at boot",
        ServiceStartType::OnDemand => "starts on demand",
        ServiceStartType::Disabled => "disabled",
        _ => "a driver's start type",
    };
    writeln!(out, "{service}: {state}, {start}").map_err(|e| e.to_string())?;
    writeln!(out, "command: {}", config.executable_path.display()).map_err(|e| e.to_string())
}

/// The view `service run` serves, for the service's main, which the SCM calls without it.
static SERVED: OnceLock<(String, ViewArgs)> = OnceLock::new();

/// `service run`: hands this process to the SCM, which calls [`service_main`] on a thread of its
/// own; returns once the service has stopped.
pub fn run(name: String, view: ViewArgs) -> Result<(), String> {
    let service = service_name(&name)?;
    let _ = SERVED.set((name, view));
    sys::dispatch(&service).map_err(|e| match os_error(&e) {
        Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) => "service run: only the service manager runs this \
                                                           (`service install` registers it); `bindfs-rs mount` \
                                                           serves in a console"
            .to_owned(),
        _ => scm_error("run", &service, &e),
    })
}

/// The service's main: serves the view and tells the SCM how it goes.
fn service_main(_arguments: Vec<OsString>) {
    if let Some((name, view)) = SERVED.get() {
        if let Err(e) = serve(name, view) {
            tracing::error!("service {PREFIX}{name}: {e}");
        }
    }
}

/// A status to report: `state`, accepting `accept`, ended with `exit`.
fn service_status(state: ServiceState, accept: ServiceControlAccept, exit: ServiceExitCode) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accept,
        exit_code: exit,
        checkpoint: 0,
        wait_hint: START_LIMIT,
        process_id: None,
    }
}

/// The mount request of a service's view: `mount -f` with the service's arguments.
fn request_of(view: &ViewArgs) -> Result<MountRequest, String> {
    let (links, file) = crate::mount_links(view.config.as_deref(), None, &view.mountpoint, &view.links)?;
    // The command line's cache time wins over the links file's `[mount]` table, as for `mount`.
    let flags = crate::options::Settings { cache_ttl: view.cache_ttl, ..Default::default() };
    let chosen = flags.or(file).resolve();
    if !chosen.kernel.is_empty() {
        return Err(format!("{}: these mount options are for Linux views", chosen.kernel.join(",")));
    }
    Ok(MountRequest {
        mountpoint: view.mountpoint.clone(),
        lower: view.lower.clone(),
        links,
        foreground: true,
        cache_ttl: chosen.cache_ttl,
        wait_backings: chosen.wait_backings,
    })
}

/// Serves the view until a Stop or Shutdown control, or `bindfs-rs unmount`.
fn serve(name: &str, view: &ViewArgs) -> Result<(), String> {
    let service = service_name(name)?;
    let (stop_tx, stop_rx) = mpsc::channel();
    let control_stop = stop_tx.clone();
    // The handler tells the SCM the stop has begun (`service stop` and Windows' shutdown then
    // wait for it); it is registered before the handle it reports with exists.
    let registered: Arc<OnceLock<ServiceStatusHandle>> = Arc::default();
    let handler_handle = Arc::clone(&registered);
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(handle) = handler_handle.get() {
                let pending = service_status(
                    ServiceState::StopPending,
                    ServiceControlAccept::empty(),
                    ServiceExitCode::NO_ERROR,
                );
                let _ = handle.set_service_status(pending);
            }
            let _ = control_stop.send(());
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle =
        service_control_handler::register(&service, handler).map_err(|e| scm_error("run", &service, &e))?;
    let _ = registered.set(handle);
    let report = |state, accept, exit| {
        if let Err(e) = handle.set_service_status(service_status(state, accept, exit)) {
            tracing::warn!(error = %e, "reporting the service's state");
        }
    };
    report(ServiceState::StartPending, ServiceControlAccept::empty(), ServiceExitCode::NO_ERROR);
    let served = (|| {
        let log = LogArgs { log_level: view.log_level, debug: false, log_file: view.log_file.clone() };
        crate::logs::start(&log, true, "--log-file ")?;
        let request = request_of(view)?;
        let ready = prepare(&request)?;
        super::serve(&request, ready, stop_tx, &stop_rx, || {
            tracing::info!("service {service}: view live at {}", view.mountpoint.display());
            let accept = ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN;
            report(ServiceState::Running, accept, ServiceExitCode::NO_ERROR);
        })
    })();
    let exit = match &served {
        Ok(()) => ServiceExitCode::NO_ERROR,
        Err(_) => ServiceExitCode::ServiceSpecific(FAILED),
    };
    if let Err(e) = &served {
        tracing::error!("service {service}: {e}");
    }
    report(ServiceState::Stopped, ServiceControlAccept::empty(), exit);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;
    use bindfs_winfsp::under_wine;

    /// A name no other run of the tests uses (Wine reuses small process ids).
    fn unique(test: &str) -> String {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        format!("test-{test}-{}-{nanos}", std::process::id())
    }

    /// Uninstalls the service of its name when the test ends, passed or not.
    struct Installed<'a>(&'a str);

    impl Drop for Installed<'_> {
        fn drop(&mut self) {
            let _ = uninstall(self.0);
        }
    }

    /// Taken by each test that talks to the service manager: Wine's answers a handle it has just
    /// given out with ERROR_INVALID_HANDLE now and then while another thread of the same process
    /// creates or deletes a service.
    static SCM: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Whether this process may register services: on Windows only an administrator may; Wine
    /// lets everyone.
    fn may_register(test: &str) -> bool {
        match manager("install", ServiceManagerAccess::CREATE_SERVICE) {
            Ok(_) => true,
            Err(e) if !under_wine() && e.contains("needs an administrator") => {
                eprintln!("{test}: skipped: registering a service needs an administrator");
                false
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// A tree with spaces in its names: `my lower\`, `my backing\`, `links file.toml` (one link),
    /// and the view's directory `my view` (not created).
    struct Tree {
        _dir: tempfile::TempDir,
        root: PathBuf,
    }

    impl Tree {
        fn new() -> Tree {
            let dir = tempfile::Builder::new().prefix("bindfs-service-").tempdir().unwrap();
            let root = PathBuf::from(absolute(dir.path()).unwrap().to_string());
            std::fs::create_dir(root.join("my lower")).unwrap();
            std::fs::create_dir(root.join("my backing")).unwrap();
            let toml = format!(
                "[[link]]\nvirtual = '{}'\nbacking = '{}'\nread_only = true\n",
                root.join(r"my view\docs").display(),
                root.join("my backing").display()
            );
            std::fs::write(root.join("links file.toml"), toml).unwrap();
            Tree { _dir: dir, root }
        }

        fn view(&self) -> ViewArgs {
            ViewArgs {
                mountpoint: self.root.join("my view"),
                lower: self.root.join("my lower"),
                links: vec![format!(r"{}\my view\x=C:\some where\", self.root.display())],
                config: Some(self.root.join("links file.toml")),
                cache_ttl: Some(0.5),
                log_level: Some(crate::logs::Level::Info),
                log_file: Some(self.root.join("service log.txt")),
            }
        }
    }

    #[test]
    fn the_service_runs_service_run_with_every_path_absolute() {
        let tree = Tree::new();
        let args = launch_arguments("data", &tree.view()).unwrap();
        let r = tree.root.display();
        let want: Vec<OsString> = [
            "service".to_owned(),
            "run".into(),
            "data".into(),
            format!(r"{r}\my view"),
            "--lower".into(),
            format!(r"{r}\my lower"),
            "--config".into(),
            format!(r"{r}\links file.toml"),
            "--link".into(),
            format!(r"{r}\my view\x=C:\some where"),
            "--cache-ttl".into(),
            "0.5".into(),
            "--log-level".into(),
            "info".into(),
            "--log-file".into(),
            format!(r"{r}\service log.txt"),
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        assert_eq!(args, want);
        // A drive stays a drive; a relative path becomes absolute from here.
        let bare = ViewArgs {
            links: vec![],
            config: None,
            cache_ttl: None,
            log_level: None,
            log_file: None,
            ..tree.view()
        };
        let args = launch_arguments("d", &ViewArgs { mountpoint: r"\\.\x:".into(), ..bare.clone() }).unwrap();
        assert_eq!(args[3..], [r"\\.\X:", "--lower", &*format!(r"{r}\my lower")].map(OsString::from));
        let args = launch_arguments("d", &ViewArgs { mountpoint: r"rel view\".into(), ..bare }).unwrap();
        let here = absolute(&std::env::current_dir().unwrap().join("rel view")).unwrap().to_string();
        assert_eq!(args[3], OsString::from(here));
    }

    #[test]
    fn bad_input_is_one_line_and_registers_nothing() {
        let _scm = SCM.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !may_register("bad_input_is_one_line_and_registers_nothing") {
            return;
        }
        let tree = Tree::new();
        let exe = std::env::current_exe().unwrap();
        let name = unique("bad");
        let bad_toml = tree.root.join("bad.toml");
        std::fs::write(&bad_toml, "[[link]]\nvirtual = 1\n").unwrap();
        let relative_toml = tree.root.join("relative.toml");
        std::fs::write(&relative_toml, "[[link]]\nvirtual = 'docs'\nbacking = 'C:\\x'\n").unwrap();
        let cases = [
            (ViewArgs { lower: tree.root.join("nope"), ..tree.view() }, "--lower"),
            (ViewArgs { lower: tree.root.join("links file.toml"), ..tree.view() }, "not a directory"),
            (ViewArgs { config: Some(tree.root.join("none.toml")), ..tree.view() }, "none.toml"),
            (ViewArgs { config: Some(bad_toml), ..tree.view() }, "bad.toml"),
            (ViewArgs { config: Some(relative_toml), ..tree.view() }, "absolute paths"),
            (ViewArgs { links: vec!["novalue".into()], ..tree.view() }, "VIRTUAL=BACKING"),
            (ViewArgs { links: vec![r"C:\elsewhere=C:\x".into()], ..tree.view() }, ""),
            (ViewArgs { log_file: Some(tree.root.join(r"no dir\log.txt")), ..tree.view() }, "--log-file"),
        ];
        for (view, names) in cases {
            let e = install_with(&name, &view, &exe).unwrap_err();
            assert!(e.contains(names) && !e.contains('\n'), "{e}");
            let gone = status(&name, &mut Vec::new()).unwrap_err();
            assert!(gone.starts_with("no service bindfs-rs-test-bad-"), "{e} installed something: {gone}");
        }
        let e = install_with("no/slash", &tree.view(), &exe).unwrap_err();
        assert!(e.starts_with("service name \"no/slash\""), "{e}");
    }

    #[test]
    fn install_registers_an_auto_start_service_whose_command_parses_back_and_uninstall_removes_it() {
        let _scm = SCM.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !may_register("install_registers_...") {
            return;
        }
        let tree = Tree::new();
        let name = unique("install");
        let exe = std::env::current_exe().unwrap();
        let view = tree.view();
        install_with(&name, &view, &exe).unwrap();
        let _installed = Installed(&name);

        let (service, opened) =
            open(&name, "status", ServiceAccess::QUERY_CONFIG | ServiceAccess::QUERY_STATUS).unwrap();
        assert_eq!(service, format!("bindfs-rs-{name}"));
        let config = opened.query_config().unwrap();
        assert_eq!(config.start_type, ServiceStartType::AutoStart);
        assert!(config.service_type.contains(ServiceType::OWN_PROCESS), "{:?}", config.service_type);
        assert_eq!(config.display_name, OsString::from(format!("bindfs-rs view {name}")));
        // The stored command line splits, as Windows splits it, into this executable and the
        // launch arguments, and those parse back into the same view, made absolute.
        let argv = sys::split_command_line(config.executable_path.as_os_str()).unwrap();
        assert_eq!(PathBuf::from(&argv[0]), exe);
        assert_eq!(argv[1..], launch_arguments(&name, &view).unwrap()[..]);
        let cli = crate::Cli::try_parse_from(
            std::iter::once(OsString::from("bindfs-rs")).chain(argv[1..].to_vec()),
        )
        .unwrap();
        let crate::Command::Service(crate::service::ServiceCommand::Run { name: parsed, view: back }) =
            cli.command
        else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(parsed, name);
        // The same view, its paths made absolute (the trailing backslash dropped).
        let link = format!(r"{}\my view\x=C:\some where", tree.root.display());
        assert_eq!(back, ViewArgs { links: vec![link], ..view.clone() });
        drop(opened);

        let mut out = Vec::new();
        status(&name, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(&format!("{service}: stopped, starts at boot\ncommand: ")), "{text}");
        assert!(text.contains(" service run "), "{text}");

        let again = install_with(&name, &view, &exe).unwrap_err();
        assert!(again.contains("installed already") && !again.contains('\n'), "{again}");

        uninstall(&name).unwrap();
        let gone = status(&name, &mut Vec::new()).unwrap_err();
        assert_eq!(gone, format!("no service {service} (see `bindfs-rs service install`)"));
        assert_eq!(uninstall(&name).unwrap_err(), gone);
    }

    #[test]
    fn service_run_outside_the_service_manager_is_one_line() {
        let tree = Tree::new();
        let e = run("x".into(), tree.view()).unwrap_err();
        assert!(e.starts_with("service run: only the service manager runs this"), "{e}");
    }
}
