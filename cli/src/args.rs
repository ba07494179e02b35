//! Link arguments, the same on every platform: `--link VIRTUAL=BACKING` and the TOML config file
//! of `mount --config`.

use std::path::{Path, PathBuf};

/// One link as given on the command line or in a config file.
#[derive(Clone, Debug, serde::Deserialize)]
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
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    link: Vec<LinkArg>,
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
    })
}

/// The links of a TOML config file: `[[link]]` tables with `virtual`, `backing`, and optional
/// `read_only`, `merged`, `except`.
pub fn read_config(path: &Path) -> Result<Vec<LinkArg>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("config {}: {e}", path.display()))?;
    let parsed: ConfigFile = toml::from_str(&text)
        .map_err(|e| format!("config {}: {}", path.display(), e.message().replace('\n', " ")))?;
    Ok(parsed.link)
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
            "[[link]]\nvirtual = \"/m/a\"\nbacking = \"/srv/a\"\nmerged = true\nexcept = [\"/m/a/keep\"]\n",
        )
        .unwrap();
        let links = read_config(&good).unwrap();
        assert_eq!(links.len(), 1);
        assert!(links[0].merged && !links[0].read_only);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[[link]]\nvirtual = \"/m/a\"\nbacking = \"/srv/a\"\nreadonly = true\n")
            .unwrap();
        let err = read_config(&bad).unwrap_err();
        assert!(err.contains("readonly") && !err.contains('\n'), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
