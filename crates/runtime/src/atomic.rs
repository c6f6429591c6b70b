//! Writing a file so that readers see the old content or the new, never a
//! half, and so that nothing planted in the directory can redirect the
//! write: the temporary file is created fresh (`O_CREAT | O_EXCL`, which
//! does not follow a symlink) under an unpredictable name, then renamed
//! over the target (which replaces a symlink there instead of writing
//! through it).

use std::io::Write;
use std::path::Path;

/// The permissions of the written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `0600`: loopc's state and traces.
    Private,
    /// What the process's umask gives a new file (`0644` usually).
    Default,
    /// An existing file's permissions, else the default.
    KeepExisting,
}

/// Replace `path` with `bytes` atomically (see the module docs).
pub fn write(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let existing = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut attempt = 0;
    let (temp, mut file) = loop {
        let temp = dir.join(format!(".{name}.loopc-{:016x}.tmp", crate::random_u64()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if mode == Mode::Private { 0o600 } else { 0o666 });
        }
        match options.open(&temp) {
            Ok(f) => break (temp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        file.write_all(bytes)?;
        if let (Mode::KeepExisting, Some(permissions)) = (mode, existing) {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let dir = std::env::temp_dir().join(format!("loopc-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim.txt");
        std::fs::write(&victim, "keep").unwrap();
        let target = dir.join("out.json");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write(&target, b"new", Mode::Private).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
