//! Link arguments, the same on every platform: `--link VIRTUAL=BACKING` and the TOML links file
//! of `mount --config` (its `[[link]]` tables, and its `[mount]` table of mount options, whose
//! names and checks are [`crate::options`]'s).

use std::path::{Path, PathBuf};

/// One link as given on the command line or in a config file.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkArg {
    /// The virtual path (absolute, or relative to the working directory).
    #[serde(rename = "virtual")]
    pub virt: PathBuf,
    /// The backing path.
    pub backing: PathBuf,
    /// Rule 13.
    #[serde(default)]
    pub read_only: bool,
    /// Rule 11.
    #[serde(default)]
    pub merged: bool,
    /// Exception paths (rule 8).
    #[serde(default)]
    pub except: Vec<PathBuf>,
    /// A missing backing does not fail the mount or `link apply`: the link waits (pending) and
    /// the daemon creates it when the backing appears.
    #[serde(default)]
    pub optional: bool,
}

/// A links file: its top-level keys.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    link: Vec<LinkArg>,
    /// Mount options (see [`crate::options`]); the command line wins over them.
    #[serde(default)]
    mount: toml::Table,
}

impl LinkArg {
    /// The link over the whole view at `mountpoint` that a directory SOURCE of the fstab form
    /// stands for.
    pub fn whole_view(mountpoint: &Path, backing: &Path) -> LinkArg {
        LinkArg { virt: mountpoint.to_path_buf(), backing: backing.to_path_buf(), ..LinkArg::default() }
    }
}

/// Parses `VIRTUAL=BACKING` (split at the first `=`).
pub fn parse_link(text: &str) -> Result<LinkArg, String> {
    let (virt, backing) =
        text.split_once('=').ok_or_else(|| format!("--link {text:?}: expected VIRTUAL=BACKING"))?;
    if virt.is_empty() || backing.is_empty() {
        return Err(format!("--link {text:?}: expected VIRTUAL=BACKING"));
    }
    Ok(LinkArg {
        virt: virt.into(),
        backing: backing.into(),
        read_only: false,
        merged: false,
        except: vec![],
        optional: false,
    })
}

/// A links file's links (`[[link]]` tables with `virtual`, `backing`, and optional `read_only`,
/// `merged`, `except`, `optional`) and the mount options of its `[mount]` table.
pub fn read_links_file(path: &Path) -> Result<(Vec<LinkArg>, crate::options::Settings), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("config {}: {e}", path.display()))?;
    let parsed: ConfigFile = toml::from_str(&text)
        .map_err(|e| format!("config {}: {}", path.display(), e.message().replace('\n', " ")))?;
    let options =
        crate::options::table(&parsed.mount).map_err(|e| format!("config {}: {e}", path.display()))?;
    Ok((parsed.link, options))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn link_arguments_split_at_the_first_equals_sign() {
        let l = parse_link("/mnt/v/a=/srv/b=c").unwrap();
        assert_eq!((l.virt, l.backing), (PathBuf::from("/mnt/v/a"), PathBuf::from("/srv/b=c")));
        assert!(parse_link("/mnt/v/a").is_err());
        assert!(parse_link("=/srv").is_err());
    }

    #[test]
    fn config_files_list_links_and_refuse_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("bindfs-rs-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "[[link]]\nvirtual = \"/m/a\"\nbacking = \"/srv/a\"\nmerged = true\nexcept = [\"/m/a/keep\"]\noptional = true\n",
        )
        .unwrap();
        let (links, options) = read_links_file(&good).unwrap();
        assert_eq!(options, crate::options::Settings::default());
        assert_eq!(links.len(), 1);
        assert!(links[0].merged && !links[0].read_only && links[0].optional);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[[link]]\nvirtual = \"/m/a\"\nbacking = \"/srv/a\"\nreadonly = true\n")
            .unwrap();
        let err = read_links_file(&bad).unwrap_err();
        assert!(err.contains("readonly") && !err.contains('\n'), "{err}");
        let with_mount = dir.join("mount.toml");
        std::fs::write(&with_mount, "[mount]\ncache_ttl = 0\nexec = false\n").unwrap();
        let (_, options) = read_links_file(&with_mount).unwrap();
        assert_eq!((options.cache_ttl, options.exec), (Some(0.0), Some(false)));
        std::fs::write(&with_mount, "[mount]\ncache_tt = 0\n").unwrap();
        let err = read_links_file(&with_mount).unwrap_err();
        assert!(err.ends_with("[mount] cache_tt: unknown mount option"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
