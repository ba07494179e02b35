//! `bindfs-rs link which PATH` and `bindfs-rs status [MNT]`: what serves a path, and how each
//! live view serves. The daemon answers (the core's `which` and `status` requests); this module
//! prints the answers, the same on every platform, and on Linux asks the daemons.

use bindfs_core::control::{LayerInfo, StatusInfo, WhichInfo};
use serde::Serialize;

/// One view as `status` shows it: its daemon's answer, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewStatus {
    /// The view's mount point.
    pub view: String,
    /// Whether its daemon answered.
    pub alive: bool,
    /// The daemon's process id.
    pub pid: Option<u32>,
    /// Whether open files' I/O passes through to the backing files (`None`: unknown, or not on
    /// this platform).
    pub passthrough: Option<bool>,
    /// The cache time, in seconds.
    pub cache_ttl: Option<f64>,
    /// How many links the view has, the pending ones included (as `link list` shows them).
    pub links: Option<usize>,
    /// How many of them wait for their backing.
    pub pending: Option<usize>,
    /// Why the daemon did not answer.
    pub error: Option<String>,
}

impl ViewStatus {
    /// A view whose daemon answered.
    pub fn live(view: String, s: &StatusInfo) -> ViewStatus {
        ViewStatus {
            view,
            alive: true,
            pid: Some(s.pid),
            passthrough: s.passthrough,
            cache_ttl: Some(s.cache_ttl),
            links: Some(s.links),
            pending: Some(s.pending),
            error: None,
        }
    }

    /// A view whose daemon did not answer (Linux: the view stays in the mount table when its
    /// daemon dies; a Windows daemon takes its pipe with it, so nothing is left to show).
    #[cfg(any(target_os = "linux", test))]
    pub fn dead(view: String, error: String) -> ViewStatus {
        ViewStatus {
            view,
            alive: false,
            pid: None,
            passthrough: None,
            cache_ttl: None,
            links: None,
            pending: None,
            error: Some(error),
        }
    }
}

fn io(e: std::io::Error) -> String {
    format!("stdout: {e}")
}

/// Prints `link which`'s answer.
pub fn print_which(w: &WhichInfo, json: bool, out: &mut dyn std::io::Write) -> Result<(), String> {
    if json {
        let text = serde_json::to_string_pretty(w).map_err(|e| e.to_string())?;
        return writeln!(out, "{text}").map_err(io);
    }
    let mut lines = vec![w.path.clone()];
    lines.push(match &w.link {
        Some(l) => format!("  link:      {l}"),
        None => "  link:      none (no link covers it)".to_owned(),
    });
    let below = |w: &WhichInfo| match w.layers.first() {
        Some(l) if l.origin == "backing" => format!("the backing of {}", l.link.as_deref().unwrap_or("?")),
        Some(LayerInfo { link: Some(chain), .. }) => {
            format!("the on-disk layer, reached through the chain of {chain}")
        }
        _ => "the on-disk layer".to_owned(),
    };
    lines.push(match w.layer.as_str() {
        "exception" => format!(
            "  layer:     exception {} of link {}: falls through to {}",
            w.exception.as_deref().unwrap_or("?"),
            w.excepted_link.as_deref().unwrap_or("?"),
            below(w)
        ),
        "synthesized" => {
            "  layer:     synthesized (a directory the view makes so the links below it stay reachable)"
                .to_owned()
        }
        "backing" => format!("  layer:     {}", below(w)),
        other => format!("  layer:     {other}"),
    });
    if let Some(real) = &w.real_path {
        lines.push(format!("  real path: {real}"));
    }
    lines.push(format!("  writable:  {}", if w.writable { "yes" } else { "no" }));
    for (i, l) in w.layers.iter().enumerate() {
        // A chain (a link whose backing is inside the view) may lead to the on-disk layer.
        let from = match (l.origin.as_str(), &l.link) {
            ("backing", Some(link)) => format!("backing of {link}"),
            (_, Some(chain)) => format!("on-disk, through the chain of {chain}"),
            (_, None) => "on-disk".to_owned(),
        };
        let head = if i == 0 { "  layers:   " } else { "            " };
        lines.push(format!("{head} {}. {}  ({from}, {})", i + 1, l.real_path, l.kind));
    }
    for line in lines {
        writeln!(out, "{line}").map_err(io)?;
    }
    Ok(())
}

/// Prints `status`'s rows.
pub fn print_status(views: &[ViewStatus], json: bool, out: &mut dyn std::io::Write) -> Result<(), String> {
    if json {
        let text = serde_json::to_string_pretty(views).map_err(|e| e.to_string())?;
        return writeln!(out, "{text}").map_err(io);
    }
    for v in views {
        let line = match (v.alive, v.pid, v.cache_ttl, v.links) {
            (true, Some(pid), Some(ttl), Some(links)) => {
                let passthrough = match v.passthrough {
                    Some(true) => "passthrough on  ",
                    Some(false) => "passthrough off  ",
                    None => "",
                };
                let pending = match v.pending {
                    Some(n) if n > 0 => format!(" ({n} pending)"),
                    _ => String::new(),
                };
                format!("{}  pid {pid}  {passthrough}cache {ttl}s  {links} link(s){pending}", v.view)
            }
            _ => format!("{}  {}", v.view, v.error.as_deref().unwrap_or("daemon not running")),
        };
        writeln!(out, "{line}").map_err(io)?;
    }
    Ok(())
}

/// `link which` on Linux: asks the daemon of the view holding `path`.
#[cfg(target_os = "linux")]
pub fn which(path: &std::path::Path, json: bool, out: &mut dyn std::io::Write) -> Result<(), String> {
    use bindfs_fuse::control::Request;
    let path = bindlink::client::resolved_string(path)?;
    let mountpoint = crate::link::view_of(&path)?;
    let reply = crate::link::call(&mountpoint, &Request::Which { path: path.clone() })?;
    let w =
        reply.which.ok_or_else(|| format!("the daemon of {} cannot answer which", mountpoint.display()))?;
    print_which(&w, json, out)
}

/// `status` on Linux: every view (or the one at `mountpoint`) and what its daemon answers.
#[cfg(target_os = "linux")]
pub fn status(
    mountpoint: Option<&std::path::Path>,
    json: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    use bindfs_fuse::control::{self, Request};
    let mountpoints = match mountpoint {
        Some(m) => vec![crate::link::named_view(m)?],
        None => crate::link::views()?,
    };
    let mut rows = Vec::new();
    for m in mountpoints {
        let name = m.to_string_lossy().into_owned();
        match control::try_call(&m, &Request::Status) {
            Ok(reply) => match (reply.error, reply.status) {
                (None, Some(s)) => rows.push(ViewStatus::live(name, &s)),
                // Listing every view: those of other users are not this user's to see.
                (Some(e), _) if mountpoint.is_none() && e == "permission denied" => {}
                (Some(e), _) => return Err(format!("{name}: {e}")),
                (None, None) => rows.push(ViewStatus::dead(name, "the daemon cannot answer status".into())),
            },
            Err(e) if mountpoint.is_none() && e.hresult == bindfs_core::hresult::ACCESS_DENIED => {}
            // The row names the view already: say what is wrong with it, once.
            Err(e) if e.hresult == bindfs_core::hresult::SERVICE_NOT_ACTIVE => {
                rows.push(ViewStatus::dead(name, "daemon not running".into()));
            }
            Err(e) => rows.push(ViewStatus::dead(name, e.message)),
        }
    }
    print_status(&rows, json, out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bindfs_core::control::LinkInfo;

    fn which() -> WhichInfo {
        WhichInfo {
            path: "/m/d/f".into(),
            view: "/m".into(),
            layer: "backing".into(),
            link: Some(LinkInfo {
                view: "/m".into(),
                virt: "/m/d".into(),
                backing: "/srv/d".into(),
                read_only: false,
                merged: true,
                anchorless: false,
                except: vec![],
                optional: false,
                pending: false,
            }),
            exception: None,
            excepted_link: None,
            real_path: Some("/srv/d/f".into()),
            writable: true,
            layers: vec![
                LayerInfo {
                    origin: "backing".into(),
                    link: Some("/m/d".into()),
                    real_path: "/srv/d/f".into(),
                    kind: "file".into(),
                },
                LayerInfo {
                    origin: "on-disk".into(),
                    link: None,
                    real_path: "/m/d/f".into(),
                    kind: "file".into(),
                },
            ],
        }
    }

    #[test]
    fn which_text_names_the_link_the_layer_and_every_holder_in_order() {
        let mut out = Vec::new();
        print_which(&which(), false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("link:      /m/d -> /srv/d  (merged)"), "{text}");
        assert!(text.contains("layer:     the backing of /m/d"), "{text}");
        assert!(text.contains("real path: /srv/d/f"), "{text}");
        let first = text.find("1. /srv/d/f").unwrap();
        assert!(first < text.find("2. /m/d/f  (on-disk, file)").unwrap(), "{text}");
    }

    #[test]
    fn which_text_names_the_on_disk_layer_a_chain_reaches() {
        let mut w = which();
        w.layers[1].link = Some("/m/c".into());
        w.layers.remove(0);
        let mut out = Vec::new();
        print_which(&w, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("layer:     the on-disk layer, reached through the chain of /m/c"), "{text}");
        assert!(text.contains("1. /m/d/f  (on-disk, through the chain of /m/c, file)"), "{text}");
        assert!(!text.contains("backing of"), "{text}");
    }

    #[test]
    fn status_shows_dead_daemons_as_such() {
        let live = StatusInfo { pid: 7, passthrough: Some(false), cache_ttl: 2.0, links: 3, pending: 2 };
        let rows = [
            ViewStatus::live("/m".into(), &live),
            ViewStatus::dead("/n".into(), "daemon not running".into()),
        ];
        let mut out = Vec::new();
        print_status(&rows, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Pending links counted (review point 11); a dead daemon said once (point 12).
        assert_eq!(
            text,
            "/m  pid 7  passthrough off  cache 2s  3 link(s) (2 pending)\n/n  daemon not running\n"
        );
        let mut json = Vec::new();
        print_status(&rows, true, &mut json).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value[0]["cache_ttl"], 2.0);
        assert_eq!(value[0]["pending"], 2);
        assert_eq!(value[1]["alive"], false);
    }
}
