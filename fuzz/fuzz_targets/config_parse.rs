//! Any text as a `mount --config` file and as a `--link` argument: an error or links, never a
//! panic. The parser is the CLI's own module.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../cli/src/args.rs"]
#[allow(dead_code)]
mod args;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = std::env::temp_dir().join(format!("bindfs-fuzz-config-{}.toml", std::process::id()));
    if std::fs::write(&file, text).is_ok() {
        if let Err(message) = args::read_config(&file) {
            // Errors are one line, as the CLI prints them.
            assert!(!message.contains('\n'), "{message:?}");
        }
    }
    match args::parse_link(text) {
        // A link argument splits at its first '=' into two non-empty halves.
        Ok(l) => assert!(!l.virt.as_os_str().is_empty() && !l.backing.as_os_str().is_empty()),
        Err(message) => assert!(message.starts_with("--link")),
    }
});
