//! Module packages for tests: tar.gz archives built entry by entry, and git repositories
//! (made with the git CLI, served bare by the fake registry's smart-HTTP relay).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `.tar.gz` of `files` (path, content), each below `wrapper/` when one is given.
pub fn tar_gz(files: &[(&str, &str)], wrapper: Option<&str>) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (path, content) in files {
        let name = match wrapper {
            Some(w) => format!("{w}/{path}"),
            None => (*path).to_owned(),
        };
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Raw names, so hostile ones (`..`, absolute) reach the archive unchanged.
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name = [0; 100];
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// A `.tar.gz` holding one symbolic link `name` -> `target` beside `main.tf`.
pub fn tar_gz_with_link(name: &str, target: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, "main.tf", &b"x"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, name, target).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository of modules: a work tree and its bare copy at `root/NAME.git`, which the fake
/// registry serves.
pub struct GitRepo {
    pub work: PathBuf,
    pub bare: PathBuf,
}

impl GitRepo {
    pub fn create(root: &Path, name: &str) -> Self {
        let work = root.join(format!("{name}-work"));
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "."]);
        let bare = root.join(format!("{name}.git"));
        Self { work, bare }
    }

    /// Writes `files`, commits them, (re)points `tag` at the commit and updates the bare
    /// copy. Returns the commit.
    pub fn commit_and_tag(&self, files: &[(&str, &str)], tag: &str) -> String {
        for (path, content) in files {
            let p = self.work.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::File::create(&p)
                .unwrap()
                .write_all(content.as_bytes())
                .unwrap();
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "--allow-empty", "-m", tag]);
        git(&self.work, &["tag", "-f", tag]);
        if self.bare.exists() {
            std::fs::remove_dir_all(&self.bare).unwrap();
        }
        let parent = self.bare.parent().unwrap().to_owned();
        git(
            &parent,
            &[
                "clone",
                "-q",
                "--bare",
                self.work.to_str().unwrap(),
                self.bare.to_str().unwrap(),
            ],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }
}
