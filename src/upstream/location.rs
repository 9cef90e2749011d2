//! Module download locations: the go-getter source strings a registry's `X-Terraform-Get`
//! names, parsed the way Terraform's go-getter 1.8 reads them, into what the mirror can fetch
//! itself (an HTTP(S) archive, a git repository over HTTPS) or a clear refusal.
//!
//! * `//` after the scheme's `://` starts the package's subdirectory, before any `?`.
//! * A forced getter `NAME::` picks the getter: `git::` is fetched; `s3::`, `gcs::`, `hg::`,
//!   `file::` and the rest are refused by name.
//! * Without one, `github.com/OWNER/REPO` is git over HTTPS (go-getter's GitHub detector);
//!   an `http(s)://` URL is an archive when its path ends in a known suffix or it carries
//!   `?archive=`, and otherwise a page to ask again with `?terraform-get=1`.

use url::Url;

use crate::archive::ArchiveFormat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Archive {
        url: Url,
        format: ArchiveFormat,
        subdir: String,
    },
    Git {
        /// The repository, without `ref` and `depth`.
        url: Url,
        /// A branch, tag or commit; `None` for the default branch.
        reference: Option<String>,
        subdir: String,
    },
    /// An HTTP(S) URL that is not an archive: go-getter asks it again with
    /// `?terraform-get=1` and follows its `X-Terraform-Get`.
    Indirect { url: Url, subdir: String },
}

impl Location {
    pub fn subdir(&self) -> &str {
        match self {
            Location::Archive { subdir, .. }
            | Location::Git { subdir, .. }
            | Location::Indirect { subdir, .. } => subdir,
        }
    }
}

/// Splits `SOURCE//SUBDIR?QUERY` into `SOURCE?QUERY` and `SUBDIR` (go-getter's
/// `SourceDirSubdir`).
pub fn split_subdir(src: &str) -> (String, String) {
    let start = src.find("://").map_or(0, |i| i + 3);
    let Some(rel) = src[start..].find("//") else {
        return (src.to_owned(), String::new());
    };
    let at = start + rel;
    let (before, after) = (&src[..at], &src[at + 2..]);
    match after.split_once('?') {
        Some((subdir, query)) => (format!("{before}?{query}"), subdir.to_owned()),
        None => (before.to_owned(), after.to_owned()),
    }
}

/// Checks a subdirectory names a path inside the package (or `*`, one wrapper directory).
fn clean_subdir(subdir: &str) -> Result<String, String> {
    let parts: Vec<&str> = subdir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.iter().any(|p| *p == ".." || p.contains(['\\', '\0'])) {
        return Err(format!("its subdirectory {subdir:?} leaves the package"));
    }
    if parts.iter().any(|p| p.contains(['*', '?', '['])) && parts != ["*"] {
        return Err(format!(
            "its subdirectory {subdir:?} is a pattern; only \"*\" (one wrapper directory) is understood"
        ));
    }
    Ok(parts.join("/"))
}

/// Parses a location from a registry's `X-Terraform-Get` (already resolved against the
/// download URL when it was relative). The error says why it cannot be fetched.
pub fn parse(raw: &str) -> Result<Location, String> {
    let raw = raw.trim();
    if raw.len() > 4096 {
        return Err("the location is longer than 4096 characters".into());
    }
    let (forced, rest) = match raw.split_once("::") {
        Some((getter, rest))
            if !getter.is_empty() && getter.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (Some(getter.to_ascii_lowercase()), rest)
        }
        _ => (None, raw),
    };
    let (source, subdir) = split_subdir(rest);
    let subdir = clean_subdir(&subdir)?;
    match forced.as_deref() {
        Some("git") => git(&source, subdir),
        Some("http" | "https") => http(&source, subdir),
        Some(other) => Err(format!(
            "the {other}:: getter is not supported by the mirror (it fetches git:: over HTTPS and HTTP(S) archives)"
        )),
        None if source.starts_with("github.com/") => git(&format!("https://{source}"), subdir),
        None => http(&source, subdir),
    }
}

fn https_url(source: &str) -> Result<Url, String> {
    let url = Url::parse(source).map_err(|e| format!("{source:?} is not a URL: {e}"))?;
    match url.scheme() {
        "https" | "http" => {}
        "ssh" | "git" => {
            return Err(format!(
                "git over {}:// is not supported by the mirror; use https://",
                url.scheme()
            ));
        }
        other => {
            return Err(format!(
                "the {other}:// scheme is not supported by the mirror"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{source:?} names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the location carries credentials".into());
    }
    Ok(url)
}

fn git(source: &str, subdir: String) -> Result<Location, String> {
    let mut url = https_url(source)?;
    let mut reference = None;
    let mut kept = Vec::new();
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "ref" => reference = Some(v.into_owned()),
            "depth" => {}
            "sshkey" => return Err("git with an ssh key is not supported by the mirror".into()),
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    if let Some(r) = &reference
        && (r.is_empty()
            || r.starts_with('-')
            || r.len() > 255
            || !r.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(format!("the git ref {r:?} is not a valid ref"));
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok(Location::Git {
        url,
        reference,
        subdir,
    })
}

fn http(source: &str, subdir: String) -> Result<Location, String> {
    let mut url = https_url(source)?;
    let mut archive = None;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "archive" {
                archive = Some(v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    let format = match &archive {
        Some(a) => Some(ArchiveFormat::from_suffix(a).ok_or_else(|| {
            format!("the archive format {a:?} is not supported (tar.gz, tgz, tar, zip are)")
        })?),
        None => {
            let path = url.path().to_ascii_lowercase();
            match ArchiveFormat::from_suffix(&path) {
                Some(f) => Some(f),
                None if [".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".bz2", ".xz", ".gz"]
                    .iter()
                    .any(|s| path.ends_with(s)) =>
                {
                    return Err(format!(
                        "the archive format of {path:?} is not supported (tar.gz, tgz, tar, zip are)"
                    ));
                }
                None => None,
            }
        }
    };
    if archive.is_some() {
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Ok(match format {
        Some(format) => Location::Archive {
            url,
            format,
            subdir,
        },
        None => Location::Indirect { url, subdir },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdirs_split_like_go_getter() {
        assert_eq!(
            split_subdir("https://h/r.git//modules/a?ref=v1"),
            ("https://h/r.git?ref=v1".to_owned(), "modules/a".to_owned())
        );
        assert_eq!(
            split_subdir("https://h/x.tar.gz//sub"),
            ("https://h/x.tar.gz".to_owned(), "sub".to_owned())
        );
        assert_eq!(
            split_subdir("https://h/x.tar.gz"),
            ("https://h/x.tar.gz".to_owned(), String::new())
        );
    }

    #[test]
    fn git_locations_keep_ref_and_subdir() {
        let loc = parse("git::https://github.com/org/repo.git//modules/vpc?ref=v1.2.0").unwrap();
        assert_eq!(
            loc,
            Location::Git {
                url: Url::parse("https://github.com/org/repo.git").unwrap(),
                reference: Some("v1.2.0".into()),
                subdir: "modules/vpc".into(),
            }
        );
        let loc = parse("github.com/org/repo?ref=abc").unwrap();
        assert!(
            matches!(loc, Location::Git { ref url, .. } if url.as_str() == "https://github.com/org/repo")
        );
        assert!(
            parse("git::ssh://git@github.com/org/repo.git")
                .unwrap_err()
                .contains("ssh://")
        );
        assert!(
            parse("git::https://h/r.git?ref=--upload-pack=x")
                .unwrap_err()
                .contains("not a valid ref")
        );
        assert!(
            parse("git::https://user:pw@h/r.git")
                .unwrap_err()
                .contains("credentials")
        );
    }

    #[test]
    fn archives_by_suffix_or_archive_parameter() {
        let loc = parse("https://h/m/v1.tgz?token=x").unwrap();
        assert!(
            matches!(loc, Location::Archive { format: ArchiveFormat::TarGz, ref url, .. } if url.query() == Some("token=x"))
        );
        let loc = parse("https://h/download?archive=zip&x=1").unwrap();
        assert!(
            matches!(loc, Location::Archive { format: ArchiveFormat::Zip, ref url, .. } if url.as_str() == "https://h/download?x=1")
        );
        assert!(matches!(
            parse("https://h/page").unwrap(),
            Location::Indirect { .. }
        ));
        assert!(
            parse("https://h/x.tar.xz")
                .unwrap_err()
                .contains("not supported")
        );
    }

    #[test]
    fn unsupported_getters_are_named() {
        for (raw, name) in [
            ("s3::https://s3.amazonaws.com/b/m.zip", "s3::"),
            (
                "gcs::https://www.googleapis.com/storage/v1/b/m.zip",
                "gcs::",
            ),
            ("hg::https://h/repo", "hg::"),
            ("file:///etc", "file://"),
        ] {
            let err = parse(raw).unwrap_err();
            assert!(err.contains(name), "{raw}: {err}");
        }
        assert!(
            parse("https://h/x.tar.gz//../../etc")
                .unwrap_err()
                .contains("leaves the package")
        );
        assert_eq!(parse("https://h/x.tar.gz//*").unwrap().subdir(), "*");
    }
}
