//! Any text as a links file (`mount --config`, with its `[mount]` table), as `-o` words and as
//! a `--link` argument: an error or a result, never a panic. The parsers are the CLI's own
//! modules (the links file, the options table and the log flags it names).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../cli/src/args.rs"]
#[allow(dead_code)]
mod args;
#[path = "../../cli/src/logs/flags.rs"]
#[allow(dead_code)]
mod logs;
#[path = "../../cli/src/options.rs"]
#[allow(dead_code)]
mod options;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = std::env::temp_dir().join(format!("bindfs-fuzz-config-{}.toml", std::process::id()));
    if std::fs::write(&file, text).is_ok() {
        if let Err(message) = args::read_links_file(&file) {
            // Errors are one line, as the CLI prints them.
            assert!(!message.contains('\n'), "{message:?}");
        }
    }
    // `-o` words: settings, or one line naming the word.
    if let Err(message) = options::words(text) {
        assert!(!message.contains('\n'), "{message:?}");
    }
    match args::parse_link(text) {
        // A link argument splits at its first '=' into two non-empty halves.
        Ok(l) => assert!(!l.virt.as_os_str().is_empty() && !l.backing.as_os_str().is_empty()),
        Err(message) => assert!(message.starts_with("--link")),
    }
});
