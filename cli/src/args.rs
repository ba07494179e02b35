//! Link arguments, the same on every platform: `--link VIRTUAL=BACKING` and the TOML config file
//! of `mount --config`; and the value parsers that check the ranges of `mount`'s numbers.

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

/// The links of a TOML config file: `[[link]]` tables with `virtual`, `backing`, and optional
/// `read_only`, `merged`, `except`, `optional`.
pub fn read_config(path: &Path) -> Result<Vec<LinkArg>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("config {}: {e}", path.display()))?;
    let parsed: ConfigFile = toml::from_str(&text)
        .map_err(|e| format!("config {}: {}", path.display(), e.message().replace('\n', " ")))?;
    Ok(parsed.link)
}

/// The value parser of `--cache-ttl`: seconds from 0 to 3600.
pub fn cache_ttl(text: &str) -> Result<f64, String> {
    const WANT: &str = "expected seconds from 0 to 3600";
    let secs: f64 = text.trim().parse().map_err(|_| WANT.to_owned())?;
    if (0.0..=3600.0).contains(&secs) { Ok(secs) } else { Err(WANT.to_owned()) }
}

/// The value parser of `--poll-us`: microseconds from 0 to 10000.
pub fn poll_us(text: &str) -> Result<u64, String> {
    const WANT: &str = "expected microseconds from 0 to 10000";
    let us: u64 = text.trim().parse().map_err(|_| WANT.to_owned())?;
    if us <= 10_000 { Ok(us) } else { Err(WANT.to_owned()) }
}

/// The value parser of `--wait-backings`: seconds from 0 to 3600.
pub fn wait_backings(text: &str) -> Result<u64, String> {
    const WANT: &str = "expected whole seconds from 0 to 3600";
    let secs: u64 = text.trim().parse().map_err(|_| WANT.to_owned())?;
    if secs <= 3600 { Ok(secs) } else { Err(WANT.to_owned()) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cache_ttl_and_poll_us_take_their_ranges_only() {
        assert_eq!(cache_ttl("0"), Ok(0.0));
        assert_eq!(cache_ttl("0.5"), Ok(0.5));
        assert_eq!(cache_ttl("3600"), Ok(3600.0));
        for bad in ["3600.5", "-1", "NaN", "inf", "soon", ""] {
            assert_eq!(cache_ttl(bad), Err("expected seconds from 0 to 3600".to_owned()), "{bad}");
        }
        assert_eq!(poll_us("0"), Ok(0));
        assert_eq!(poll_us("10000"), Ok(10_000));
        for bad in ["10001", "-1", "5.5", ""] {
            assert_eq!(poll_us(bad), Err("expected microseconds from 0 to 10000".to_owned()), "{bad}");
        }
        assert_eq!(wait_backings("0"), Ok(0));
        assert_eq!(wait_backings("3600"), Ok(3600));
        for bad in ["3601", "-1", "1.5", "soon", ""] {
            assert_eq!(wait_backings(bad), Err("expected whole seconds from 0 to 3600".to_owned()), "{bad}");
        }
    }

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
        let links = read_config(&good).unwrap();
        assert_eq!(links.len(), 1);
        assert!(links[0].merged && !links[0].read_only && links[0].optional);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[[link]]\nvirtual = \"/m/a\"\nbacking = \"/srv/a\"\nreadonly = true\n")
            .unwrap();
        let err = read_config(&bad).unwrap_err();
        assert!(err.contains("readonly") && !err.contains('\n'), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
