//! Directory tree transfers. A recursive download is where a hostile
//! server could reach outside the target directory: every entry name is
//! checked to be one plain component (`conch_sftp::names`), symlinks are
//! skipped (or, on request, followed to regular files only), local files
//! are opened without following symlinks, directories are never entered
//! through a symlink, and listings and depth are bounded
//! ([`TransferOptions::max_entries`], [`TransferOptions::max_depth`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use conch_sftp::names::{check_entry_name, join};

use super::transfer::local_attrs;
use super::{FileType, ProgressFn, Result, Sftp, SftpError, TransferOptions};

/// An entry a tree transfer left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry (remote path for a download, local for an upload), with
    /// an unsafe name shown escaped.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What a tree transfer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Files copied.
    pub files: u64,
    /// Directories created or entered.
    pub dirs: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Entries left out.
    pub skipped: Vec<Skipped>,
}

/// Lends the caller's progress callback to one file's transfer.
fn reborrow<'a>(p: &'a mut Option<ProgressFn<'_>>) -> Option<ProgressFn<'a>> {
    match p {
        Some(f) => Some(&mut **f),
        None => None,
    }
}

fn local_err(path: &Path) -> impl Fn(io::Error) -> SftpError + '_ {
    move |e| SftpError::local(path, e)
}

/// Creates `dir` unless it is already a real directory (not a symlink).
fn ensure_local_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(SftpError::local(
            dir,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a directory",
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(dir).map_err(local_err(dir))
        }
        Err(e) => Err(SftpError::local(dir, e)),
    }
}

impl Sftp {
    /// Downloads the remote directory `remote` into the local directory
    /// `local` (created if missing), recursively. Only directories and
    /// regular files are copied; what is left out is listed in the result.
    pub async fn download_tree(
        &self,
        remote: &str,
        local: &Path,
        opts: &TransferOptions,
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<TreeStats> {
        if !self.stat(remote).await?.is_dir() {
            return Err(SftpError::Invalid(format!("{remote} is not a directory")));
        }
        let mut stats = TreeStats::default();
        // Depth-first with an explicit stack: a deep tree costs memory in
        // proportion to what is pending, not the async call depth.
        let mut stack = vec![(remote.to_string(), local.to_path_buf(), 0usize)];
        while let Some((rdir, ldir, depth)) = stack.pop() {
            if depth > opts.max_depth {
                return Err(SftpError::Invalid(format!(
                    "{rdir}: tree deeper than {} levels",
                    opts.max_depth
                )));
            }
            ensure_local_dir(&ldir)?;
            stats.dirs += 1;
            let entries = self
                .read_dir(&rdir)
                .await?
                .collect_bounded(&rdir, opts.max_entries)
                .await?;
            for entry in entries {
                let name = match check_entry_name(&entry.raw_name) {
                    Ok(n) => n.to_string(),
                    Err(reason) => {
                        if entry.raw_name != b"." && entry.raw_name != b".." {
                            stats.skipped.push(Skipped {
                                path: format!("{rdir}/{}", entry.name.escape_debug()),
                                reason: reason.to_string(),
                            });
                        }
                        continue;
                    }
                };
                let rpath = join(&rdir, &name);
                let lpath = ldir.join(&name);
                let mut kind = entry.attrs.file_type();
                if kind == FileType::Symlink && opts.follow_symlinks {
                    kind = match self.stat(&rpath).await {
                        Ok(a) if a.is_file() => FileType::File,
                        Ok(_) => FileType::Symlink,
                        Err(e) => {
                            stats.skipped.push(Skipped {
                                path: rpath,
                                reason: e.to_string(),
                            });
                            continue;
                        }
                    };
                }
                match kind {
                    FileType::Dir => stack.push((rpath, lpath, depth + 1)),
                    FileType::File => {
                        let s = self
                            .download(&rpath, &lpath, opts, reborrow(&mut progress))
                            .await?;
                        stats.files += 1;
                        stats.bytes += s.bytes;
                    }
                    FileType::Symlink => stats.skipped.push(Skipped {
                        path: rpath,
                        reason: "symbolic link".into(),
                    }),
                    FileType::Other => stats.skipped.push(Skipped {
                        path: rpath,
                        reason: "not a regular file or directory".into(),
                    }),
                }
            }
        }
        Ok(stats)
    }

    /// Uploads the local directory `local` into the remote directory
    /// `remote` (created if missing), recursively. Symlinks are skipped
    /// unless [`TransferOptions::follow_symlinks`] (then regular files
    /// behind them are copied).
    pub async fn upload_tree(
        &self,
        local: &Path,
        remote: &str,
        opts: &TransferOptions,
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<TreeStats> {
        let mut stats = TreeStats::default();
        let mut stack: Vec<(PathBuf, String, usize)> =
            vec![(local.to_path_buf(), remote.to_string(), 0)];
        while let Some((ldir, rdir, depth)) = stack.pop() {
            if depth > opts.max_depth {
                return Err(SftpError::Invalid(format!(
                    "{}: tree deeper than {} levels",
                    ldir.display(),
                    opts.max_depth
                )));
            }
            let meta = fs::metadata(&ldir).map_err(local_err(&ldir))?;
            match self.stat(&rdir).await {
                Ok(a) if a.is_dir() => {}
                Ok(_) => {
                    return Err(SftpError::Invalid(format!(
                        "{rdir} exists and is not a directory"
                    )))
                }
                Err(_) => {
                    let mode = local_attrs(&meta).permissions.unwrap_or(0o755) & 0o777;
                    self.mkdir(&rdir, mode).await?;
                }
            }
            stats.dirs += 1;
            let mut names: Vec<_> = fs::read_dir(&ldir)
                .map_err(local_err(&ldir))?
                .collect::<io::Result<Vec<_>>>()
                .map_err(local_err(&ldir))?;
            names.sort_by_key(|e| e.file_name());
            for entry in names {
                let lpath = entry.path();
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    stats.skipped.push(Skipped {
                        path: lpath.display().to_string(),
                        reason: "name is not UTF-8".into(),
                    });
                    continue;
                };
                let rpath = join(&rdir, &name);
                let mut ty = entry.file_type().map_err(local_err(&lpath))?;
                if ty.is_symlink() {
                    if !opts.follow_symlinks {
                        stats.skipped.push(Skipped {
                            path: lpath.display().to_string(),
                            reason: "symbolic link".into(),
                        });
                        continue;
                    }
                    match fs::metadata(&lpath) {
                        Ok(m) if m.is_file() => ty = m.file_type(),
                        _ => {
                            stats.skipped.push(Skipped {
                                path: lpath.display().to_string(),
                                reason: "symbolic link to a non-file".into(),
                            });
                            continue;
                        }
                    }
                }
                if ty.is_dir() {
                    stack.push((lpath, rpath, depth + 1));
                } else if ty.is_file() {
                    let s = self
                        .upload(&lpath, &rpath, opts, reborrow(&mut progress))
                        .await?;
                    stats.files += 1;
                    stats.bytes += s.bytes;
                } else {
                    stats.skipped.push(Skipped {
                        path: lpath.display().to_string(),
                        reason: "not a regular file or directory".into(),
                    });
                }
            }
            if opts.preserve {
                self.setstat(&rdir, local_attrs(&meta)).await?;
            }
        }
        Ok(stats)
    }
}
