//! How `bindfs-rs link list` prints links, the same on every platform: one line a link, or with
//! `--json` one JSON array of link objects (`virtual`, `backing`, `read_only`, `merged`,
//! `anchorless`, `except`, `view`: the mount point of the link's view) over every view listed, so a script reads Linux and Windows alike.

use bindfs_core::control::LinkInfo;

/// Prints `links` as `link list` does.
pub fn print(links: &[LinkInfo], json: bool, out: &mut dyn std::io::Write) -> Result<(), String> {
    let io = |e: std::io::Error| format!("stdout: {e}");
    if json {
        let text = serde_json::to_string_pretty(links).map_err(|e| e.to_string())?;
        return writeln!(out, "{text}").map_err(io);
    }
    for l in links {
        writeln!(out, "{l}").map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// The keys of one link object in `link list --json`, sorted: what every platform prints.
    pub(crate) const KEYS: [&str; 7] =
        ["anchorless", "backing", "except", "merged", "read_only", "view", "virtual"];

    /// Checks that `text` is `link list --json` output: an array of link objects with exactly
    /// [`KEYS`], typed as the Linux command prints them; returns the objects.
    pub(crate) fn check_shape(text: &str) -> Vec<serde_json::Value> {
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let links = value.as_array().unwrap_or_else(|| panic!("not an array: {text}")).clone();
        for l in &links {
            let object = l.as_object().unwrap_or_else(|| panic!("not an object: {l}"));
            let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, KEYS, "{l}");
            assert!(object["virtual"].is_string() && object["backing"].is_string(), "{l}");
            assert!(object["read_only"].is_boolean() && object["merged"].is_boolean(), "{l}");
            assert!(object["anchorless"].is_boolean() && object["except"].is_array(), "{l}");
            assert!(object["view"].is_string(), "{l}");
        }
        links
    }

    #[test]
    fn json_is_one_flat_array_of_link_objects() {
        let link = LinkInfo {
            view: "/m".into(),
            virt: "/m/a".into(),
            backing: "/srv/b".into(),
            read_only: true,
            merged: false,
            anchorless: false,
            except: vec!["/m/a/keep".into()],
        };
        let mut out = Vec::new();
        print(&[link.clone(), link], true, &mut out).unwrap();
        let links = check_shape(&String::from_utf8(out).unwrap());
        assert_eq!(links.len(), 2);
        assert_eq!(links[0]["except"][0], "/m/a/keep");
        let mut empty = Vec::new();
        print(&[], true, &mut empty).unwrap();
        assert_eq!(String::from_utf8(empty).unwrap().trim(), "[]");
    }

    #[test]
    fn text_is_one_line_a_link() {
        let link = LinkInfo {
            view: "/m".into(),
            virt: "/m/a".into(),
            backing: "/srv/b".into(),
            read_only: false,
            merged: true,
            anchorless: true,
            except: vec![],
        };
        let mut out = Vec::new();
        print(&[link], false, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "/m/a -> /srv/b  (merged, anchorless)\n");
    }
}
