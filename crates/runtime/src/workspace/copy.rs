//! `[workspace] kind = "copy"`: the sandbox root copied once per run.
//! Regular files keep their permission bits, symlinks are copied as links
//! (never followed), directories are walked; anything else (sockets,
//! devices, fifos) is left out.

use std::fs;
use std::path::{Path, PathBuf};

/// Copy the tree at `from` to `to` (which must not exist yet).
pub fn tree(from: &Path, to: &Path) -> Result<(), (PathBuf, std::io::Error)> {
    let at = |p: &Path| {
        let p = p.to_path_buf();
        move |e| (p, e)
    };
    fs::create_dir(to).map_err(at(to))?;
    let mut pending = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = pending.pop() {
        for entry in fs::read_dir(&src).map_err(at(&src))? {
            let entry = entry.map_err(at(&src))?;
            let (source, target) = (entry.path(), dst.join(entry.file_name()));
            let kind = entry.file_type().map_err(at(&source))?;
            if kind.is_dir() {
                fs::create_dir(&target).map_err(at(&target))?;
                pending.push((source, target));
            } else if kind.is_symlink() {
                let link = fs::read_link(&source).map_err(at(&source))?;
                std::os::unix::fs::symlink(link, &target).map_err(at(&target))?;
            } else if kind.is_file() {
                fs::copy(&source, &target).map_err(at(&target))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn copies_files_and_links_without_following() {
        let base = std::env::temp_dir().join(format!("loopc-copy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let from = base.join("from");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("sub/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.join("link")).unwrap();
        super::tree(&from, &base.join("to")).unwrap();
        assert_eq!(std::fs::read_to_string(base.join("to/sub/a.txt")).unwrap(), "a");
        assert_eq!(
            std::fs::read_link(base.join("to/link")).unwrap(),
            std::path::Path::new("/etc/passwd")
        );
        assert!(super::tree(&from, &base.join("to")).is_err(), "an existing target is refused");
        let _ = std::fs::remove_dir_all(&base);
    }
}
