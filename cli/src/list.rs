//! How `bindfs-rs link list` prints links, the same on every platform: one line a link, or with
//! `--json` one JSON array of link objects (`virtual`, `backing`, `read_only`, `merged`,
//! `anchorless`, `except`, `view`: the mount point of the link's view, `optional`, `pending`:
//! waiting for its backing) over every view listed, so a script reads Linux and Windows alike;
//! or with `--toml` one view's links as a links file, which `link apply` and `mount --config`
//! read back (pending links included: they are wanted links that wait).

use bindfs_core::control::LinkInfo;

/// How `link list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One line a link.
    Text,
    /// A JSON array.
    Json,
    /// A links file.
    Toml,
}

impl Format {
    /// The format the flags ask for (clap keeps them exclusive).
    pub fn of(json: bool, toml: bool) -> Format {
        match (json, toml) {
            (true, _) => Format::Json,
            (_, true) => Format::Toml,
            _ => Format::Text,
        }
    }
}

/// Prints `links` as `link list` does.
pub fn print(links: &[LinkInfo], format: Format, out: &mut dyn std::io::Write) -> Result<(), String> {
    let io = |e: std::io::Error| format!("stdout: {e}");
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(links).map_err(|e| e.to_string())?;
            writeln!(out, "{text}").map_err(io)
        }
        Format::Toml => write!(out, "{}", links_file(links)?).map_err(io),
        Format::Text => {
            for l in links {
                writeln!(out, "{l}").map_err(io)?;
            }
            Ok(())
        }
    }
}

/// One `[[link]]` table of a links file (flags left out where off, as a user writes them).
#[derive(serde::Serialize)]
struct FileLink<'a> {
    #[serde(rename = "virtual")]
    virt: &'a str,
    backing: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    merged: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    except: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    optional: bool,
}

#[derive(serde::Serialize)]
struct LinksFile<'a> {
    link: Vec<FileLink<'a>>,
}

/// `links` (of one view) as a links file.
fn links_file(links: &[LinkInfo]) -> Result<String, String> {
    let mut views: Vec<&str> = links.iter().map(|l| l.view.as_str()).collect();
    views.dedup();
    if views.len() > 1 {
        return Err(format!(
            "--toml writes the links file of one view: name it (links of {} views are live: {})",
            views.len(),
            views.join(", ")
        ));
    }
    let file = LinksFile {
        link: links
            .iter()
            .map(|l| FileLink {
                virt: &l.virt,
                backing: &l.backing,
                read_only: l.read_only,
                merged: l.merged,
                except: &l.except,
                optional: l.optional || l.pending,
            })
            .collect(),
    };
    let body = toml::to_string(&file).map_err(|e| format!("links file: {e}"))?;
    let view = views.first().map_or_else(String::new, |v| format!(" of {v}"));
    Ok(format!(
        "# The links{view}, as `bindfs-rs link list --toml` wrote them: `bindfs-rs link apply FILE`\n\
         # makes a live view match this file, `bindfs-rs mount MNT --config FILE` mounts it.\n{body}"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// The keys of one link object in `link list --json`, sorted: what every platform prints.
    pub(crate) const KEYS: [&str; 9] =
        ["anchorless", "backing", "except", "merged", "optional", "pending", "read_only", "view", "virtual"];

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
            assert!(object["optional"].is_boolean() && object["pending"].is_boolean(), "{l}");
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
            optional: false,
            pending: false,
        };
        let mut out = Vec::new();
        print(&[link.clone(), link], Format::Json, &mut out).unwrap();
        let links = check_shape(&String::from_utf8(out).unwrap());
        assert_eq!(links.len(), 2);
        assert_eq!(links[0]["except"][0], "/m/a/keep");
        let mut empty = Vec::new();
        print(&[], Format::Json, &mut empty).unwrap();
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
            optional: false,
            pending: false,
        };
        let mut out = Vec::new();
        print(std::slice::from_ref(&link), Format::Text, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "/m/a -> /srv/b  (merged, anchorless)\n");
        let waiting = LinkInfo { optional: true, pending: true, ..link };
        let mut out = Vec::new();
        print(&[waiting], Format::Text, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "/m/a -> /srv/b  (merged, anchorless, optional, pending: waiting for its backing)\n"
        );
    }

    #[test]
    fn toml_is_a_links_file_that_reads_back() {
        let link = |virt: &str, pending: bool| LinkInfo {
            view: "/m".into(),
            virt: virt.into(),
            backing: "/srv/it's \"here\"".into(),
            read_only: true,
            merged: false,
            anchorless: true,
            except: vec!["/m/a/keep".into()],
            optional: pending,
            pending,
        };
        let mut out = Vec::new();
        print(&[link("/m/a", false), link("/m/b", true)], Format::Toml, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("links.toml");
        std::fs::write(&file, &text).unwrap();
        let back = crate::args::read_links_file(&file).unwrap().0;
        assert_eq!(back.len(), 2, "{text}");
        assert_eq!(back[0].virt, std::path::PathBuf::from("/m/a"));
        assert_eq!(back[0].backing, std::path::PathBuf::from("/srv/it's \"here\""));
        assert!(back[0].read_only && !back[0].merged && !back[0].optional, "{text}");
        assert_eq!(back[0].except, [std::path::PathBuf::from("/m/a/keep")]);
        assert!(back[1].optional, "{text}");
        // No links: a file that reads back as none.
        let mut out = Vec::new();
        print(&[], Format::Toml, &mut out).unwrap();
        std::fs::write(&file, &out).unwrap();
        assert!(crate::args::read_links_file(&file).unwrap().0.is_empty());
        // Two views' links make no one file.
        let other = LinkInfo { view: "/n".into(), ..link("/n/a", false) };
        let err = print(&[link("/m/a", false), other], Format::Toml, &mut Vec::new()).unwrap_err();
        assert!(err.contains("name it"), "{err}");
    }
}
