//! The commands of `conch sftp`, as sftp(1) names them: `get`, `put`
//! (`-r` recursive, `-p` preserve, `-a` resume), `ls` (`-l`, `-a`, `-1`,
//! several names a line on a terminal), `cd`,
//! `lcd`, `pwd`, `lpwd`, `mkdir`, `lmkdir`, `rm`, `rmdir`, `rename`,
//! `chmod`, `ln` (`-s`), `symlink`, `df` (`-h`), `progress`, `help`,
//! `bye`/`exit`/`quit`. `get`, `put`, `rm`, `chmod` and `ls` take glob
//! patterns (see `glob`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use conch_tokio::sftp::conch_sftp::names::{base_name, join};
use conch_tokio::sftp::{conch_sftp, Progress, Sftp, SftpError, TransferOptions};

use super::glob;

/// What to do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// End the session.
    Quit,
}

/// The help text of the `help` command.
pub const HELP: &str = "\
Available commands:
bye                                Quit sftp
cd path                            Change remote directory to 'path'
chmod mode path                    Change permissions of file 'path' to 'mode'
df [-h] [path]                     Display statistics for current directory or
                                   filesystem containing 'path'
exit                               Quit sftp
get [-afpr] remote [local]         Download file
help                               Display this help text
lcd path                           Change local directory to 'path'
lmkdir path                        Create local directory
ln [-s] oldpath newpath            Link remote file (-s for symlink)
lpwd                               Print local working directory
ls [-1afl] [path]                  Display remote directory listing
mkdir path                         Create remote directory
progress                           Toggle display of progress meter
put [-afpr] local [remote]         Upload file
pwd                                Display remote working directory
quit                               Quit sftp
rename oldpath newpath             Rename remote file
rm path                            Delete remote file
rmdir path                         Remove remote directory
symlink oldpath newpath            Symlink remote file";

/// A session's state: the remote and local working directories and the
/// defaults from the command line.
#[derive(Debug)]
pub struct Shell {
    sftp: Sftp,
    cwd: String,
    lcwd: PathBuf,
    recursive: bool,
    preserve: bool,
    /// Show a progress meter (on a terminal).
    pub progress: bool,
    fetched: bool,
}

/// Splits a command line into words: whitespace separates, quotes
/// (`'...'`, `"..."`) group, a backslash escapes the next character.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                word.push(chars.next().ok_or("Trailing backslash")?);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("Unterminated quote".into());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Splits leading `-xyz` flags (letters from `allowed`) from the words.
fn flags(words: &[String], allowed: &str) -> Result<(String, Vec<String>), String> {
    let mut set = String::new();
    let mut rest = Vec::new();
    let mut done = false;
    for w in words {
        if !done && w.len() > 1 && w.starts_with('-') {
            for c in w[1..].chars() {
                if !allowed.contains(c) {
                    return Err(format!("unknown option -{c}"));
                }
                set.push(c);
            }
        } else {
            done = true;
            rest.push(w.clone());
        }
    }
    Ok((set, rest))
}

fn err(context: &str, e: SftpError) -> String {
    format!("{context}: {e}")
}

/// A progress meter on stderr, redrawn at most ten times a second.
fn meter(enabled: bool) -> impl FnMut(&Progress<'_>) + Send {
    let start = Instant::now();
    let mut last = None::<Instant>;
    move |p: &Progress<'_>| {
        if !enabled {
            return;
        }
        let now = Instant::now();
        let done = p.total.is_some_and(|t| p.transferred >= t);
        if !done && last.is_some_and(|l| now.duration_since(l).as_millis() < 100) {
            return;
        }
        last = Some(now);
        let pct = p
            .total
            .filter(|t| *t > 0)
            .map_or(100, |t| p.transferred.saturating_mul(100) / t);
        let secs = now.duration_since(start).as_secs_f64().max(0.001);
        let rate = p.transferred as f64 / secs / (1024.0 * 1024.0);
        let mut e = std::io::stderr();
        let _ = write!(
            e,
            "\r{:<40} {pct:>3}% {:>12} {rate:>8.1}MB/s{}",
            base_name(p.path),
            p.transferred,
            if done { "\n" } else { "" }
        );
        let _ = e.flush();
    }
}

impl Shell {
    /// A shell starting in the server's initial directory.
    pub async fn new(sftp: Sftp, recursive: bool, preserve: bool) -> Result<Self, String> {
        let cwd = sftp
            .realpath(".")
            .await
            .map_err(|e| err("cannot find the remote directory", e))?;
        let lcwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Ok(Shell {
            sftp,
            cwd,
            lcwd,
            recursive,
            preserve,
            progress: false,
            fetched: false,
        })
    }

    /// `HOST:PATH`: changes to PATH when it is a directory, otherwise
    /// downloads it into the local directory.
    pub async fn start_at(&mut self, path: &str) -> Result<(), String> {
        let remote = self.remote(path);
        let attrs = self.sftp.stat(&remote).await.map_err(|e| err(&remote, e))?;
        if attrs.is_dir() {
            self.cwd = self
                .sftp
                .realpath(&remote)
                .await
                .map_err(|e| err(&remote, e))?;
        } else {
            self.get(&[remote]).await?;
            self.fetched = true;
        }
        Ok(())
    }

    /// Whether `start_at` fetched a file (sftp then exits).
    pub fn fetched_start(&self) -> bool {
        self.fetched
    }

    fn remote(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            join(&self.cwd, path)
        }
    }

    fn local(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.lcwd.join(p)
        }
    }

    /// A remote path with its patterns expanded; none matching is an
    /// error, as in sftp.
    async fn expand(&self, path: &str) -> Result<Vec<String>, String> {
        let pattern = self.remote(path);
        let found = glob::remote(&self.sftp, &pattern).await?;
        if found.is_empty() {
            return Err(format!("File \"{pattern}\" not found."));
        }
        Ok(found)
    }

    fn options(&self, set: &str) -> TransferOptions {
        TransferOptions {
            preserve: self.preserve || set.contains('p'),
            resume: set.contains('a'),
            ..Default::default()
        }
    }

    /// Runs one command line.
    pub async fn run_line(&mut self, line: &str) -> Result<Flow, String> {
        let words = split_words(line)?;
        let Some((cmd, args)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        let one = |args: &[String]| -> Result<String, String> {
            match args {
                [a] => Ok(a.clone()),
                _ => Err(format!("{cmd}: expected one path")),
            }
        };
        let two = |args: &[String]| -> Result<(String, String), String> {
            match args {
                [a, b] => Ok((a.clone(), b.clone())),
                _ => Err(format!("{cmd}: expected two paths")),
            }
        };
        match cmd.as_str() {
            "bye" | "exit" | "quit" => return Ok(Flow::Quit),
            "help" | "?" => println!("{HELP}"),
            "progress" => {
                self.progress = !self.progress;
                println!(
                    "Progress meter {}",
                    if self.progress { "enabled" } else { "disabled" }
                );
            }
            "pwd" => println!("Remote working directory: {}", self.cwd),
            "lpwd" => println!("Local working directory: {}", self.lcwd.display()),
            "cd" => {
                let target = self.remote(&one(args)?);
                let real = self
                    .sftp
                    .realpath(&target)
                    .await
                    .map_err(|e| err(&target, e))?;
                let attrs = self.sftp.stat(&real).await.map_err(|e| err(&real, e))?;
                if !attrs.is_dir() {
                    return Err(format!(
                        "Can't change directory: \"{real}\" is not a directory"
                    ));
                }
                self.cwd = real;
            }
            "lcd" => {
                let target = self.local(&one(args)?);
                if !target.is_dir() {
                    return Err(format!(
                        "Couldn't change local directory to \"{}\"",
                        target.display()
                    ));
                }
                self.lcwd = target;
            }
            "lmkdir" => {
                let target = self.local(&one(args)?);
                std::fs::create_dir(&target).map_err(|e| format!("{}: {e}", target.display()))?;
            }
            "ls" | "dir" => self.ls(args).await?,
            "mkdir" => {
                let p = self.remote(&one(args)?);
                self.sftp.mkdir(&p, 0o777).await.map_err(|e| err(&p, e))?;
            }
            "rmdir" => {
                let p = self.remote(&one(args)?);
                self.sftp.rmdir(&p).await.map_err(|e| err(&p, e))?;
            }
            "rm" => {
                for p in self.expand(&one(args)?).await? {
                    println!("Removing {p}");
                    self.sftp.remove(&p).await.map_err(|e| err(&p, e))?;
                }
            }
            "rename" => {
                let (a, b) = two(args)?;
                let (a, b) = (self.remote(&a), self.remote(&b));
                self.sftp.rename(&a, &b).await.map_err(|e| err(&a, e))?;
            }
            "chmod" => {
                let (mode, path) = two(args)?;
                let mode =
                    u32::from_str_radix(&mode, 8).map_err(|_| format!("Invalid mode {mode}"))?;
                for p in self.expand(&path).await? {
                    println!("Changing mode on {p}");
                    self.sftp.chmod(&p, mode).await.map_err(|e| err(&p, e))?;
                }
            }
            "ln" | "symlink" => {
                let (set, rest) = flags(args, "s")?;
                let (old, new) = two(&rest)?;
                let new = self.remote(&new);
                if cmd == "symlink" || set.contains('s') {
                    // The target is stored as given (relative to the link).
                    self.sftp
                        .symlink(&old, &new)
                        .await
                        .map_err(|e| err(&new, e))?;
                } else {
                    let old = self.remote(&old);
                    self.sftp
                        .hardlink(&old, &new)
                        .await
                        .map_err(|e| err(&new, e))?;
                }
            }
            "df" => {
                let (set, rest) = flags(args, "hi")?;
                let path = match rest.as_slice() {
                    [] => self.cwd.clone(),
                    [p] => self.remote(p),
                    _ => return Err("df: expected at most one path".into()),
                };
                let s = self.sftp.statvfs(&path).await.map_err(|e| err(&path, e))?;
                let total = s.total_bytes();
                let avail = s.available_bytes();
                let used = total.saturating_sub(s.bfree.saturating_mul(s.frsize));
                let cap = used.saturating_mul(100).checked_div(total).unwrap_or(0);
                if set.contains('h') {
                    let h = |b: u64| format!("{:.1}G", b as f64 / (1u64 << 30) as f64);
                    println!("    Size     Used    Avail   (root)    %Capacity");
                    println!(
                        "{:>8} {:>8} {:>8} {:>8} {:>11}%",
                        h(total),
                        h(used),
                        h(avail),
                        h(s.bfree.saturating_mul(s.frsize)),
                        cap
                    );
                } else {
                    println!("        Size         Used        Avail       (root)    %Capacity");
                    println!(
                        "{:>12} {:>12} {:>12} {:>12} {:>11}%",
                        total / 1024,
                        used / 1024,
                        avail / 1024,
                        s.bfree.saturating_mul(s.frsize) / 1024,
                        cap
                    );
                }
            }
            "get" => {
                let (set, rest) = flags(args, "afpPrR")?;
                self.transfer_get(&set, &rest).await?;
            }
            "put" => {
                let (set, rest) = flags(args, "afpPrR")?;
                self.transfer_put(&set, &rest).await?;
            }
            "version" => println!("SFTP protocol version {}", self.sftp.server_info().version),
            other => return Err(format!("Invalid command: {other}")),
        }
        Ok(Flow::Continue)
    }

    async fn get(&mut self, args: &[String]) -> Result<(), String> {
        self.transfer_get("", args).await
    }

    async fn transfer_get(&mut self, set: &str, args: &[String]) -> Result<(), String> {
        let (pattern, local) = match args {
            [r] => (self.remote(r), None),
            [r, l] => (self.remote(r), Some(self.local(l))),
            _ => return Err("get: expected remote [local]".into()),
        };
        let sources = glob::remote(&self.sftp, &pattern).await?;
        if sources.is_empty() {
            return Err(format!("File \"{pattern}\" not found."));
        }
        if let Some(l) = local.as_ref().filter(|l| sources.len() > 1 && !l.is_dir()) {
            return Err(format!(
                "Multiple source paths, but destination \"{}\" is not a directory",
                l.display()
            ));
        }
        for remote in sources {
            self.get_one(set, remote, local.clone()).await?;
        }
        Ok(())
    }

    async fn get_one(
        &mut self,
        set: &str,
        remote: String,
        local: Option<PathBuf>,
    ) -> Result<(), String> {
        let name = base_name(&remote).to_string();
        let mut local = local.unwrap_or_else(|| self.lcwd.join(&name));
        if local.is_dir() {
            local = local.join(&name);
        }
        let opts = self.options(set);
        let recursive = self.recursive || set.contains('r') || set.contains('R');
        let attrs = self.sftp.stat(&remote).await.map_err(|e| err(&remote, e))?;
        let mut meter = meter(self.progress);
        if attrs.is_dir() {
            if !recursive {
                return Err(format!("{remote}: is a directory (use get -r)"));
            }
            let stats = self
                .sftp
                .download_tree(&remote, &local, &opts, Some(&mut meter))
                .await
                .map_err(|e| err(&remote, e))?;
            for s in stats.skipped {
                eprintln!("Skipping {}: {}", s.path, s.reason);
            }
        } else {
            if self.progress {
                println!("Fetching {remote} to {}", local.display());
            }
            self.sftp
                .download(&remote, &local, &opts, Some(&mut meter))
                .await
                .map_err(|e| err(&remote, e))?;
        }
        Ok(())
    }

    async fn transfer_put(&mut self, set: &str, args: &[String]) -> Result<(), String> {
        let (pattern, remote) = match args {
            [l] => (self.local(l), None),
            [l, r] => (self.local(l), Some(self.remote(r))),
            _ => return Err("put: expected local [remote]".into()),
        };
        let sources = glob::local(&pattern);
        if sources.is_empty() {
            return Err(format!("File \"{}\" not found.", pattern.display()));
        }
        if sources.len() > 1 {
            if let Some(r) = &remote {
                if !self.sftp.stat(r).await.is_ok_and(|a| a.is_dir()) {
                    return Err(format!(
                        "Multiple paths match, but destination \"{r}\" is not a directory"
                    ));
                }
            }
        }
        for local in sources {
            self.put_one(set, local, remote.clone()).await?;
        }
        Ok(())
    }

    async fn put_one(
        &mut self,
        set: &str,
        local: PathBuf,
        remote: Option<String>,
    ) -> Result<(), String> {
        let name = local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: no file name", local.display()))?
            .to_string();
        let mut remote = remote.unwrap_or_else(|| join(&self.cwd, &name));
        if self.sftp.stat(&remote).await.is_ok_and(|a| a.is_dir()) {
            remote = join(&remote, &name);
        }
        let opts = self.options(set);
        let recursive = self.recursive || set.contains('r') || set.contains('R');
        let mut meter = meter(self.progress);
        if local.is_dir() {
            if !recursive {
                return Err(format!("{}: is a directory (use put -r)", local.display()));
            }
            let stats = self
                .sftp
                .upload_tree(&local, &remote, &opts, Some(&mut meter))
                .await
                .map_err(|e| err(&remote, e))?;
            for s in stats.skipped {
                eprintln!("Skipping {}: {}", s.path, s.reason);
            }
        } else {
            if self.progress {
                println!("Uploading {} to {remote}", local.display());
            }
            self.sftp
                .upload(&local, &remote, &opts, Some(&mut meter))
                .await
                .map_err(|e| err(&remote, e))?;
        }
        Ok(())
    }

    async fn ls(&mut self, args: &[String]) -> Result<(), String> {
        let (set, rest) = flags(args, "1aflnrSth")?;
        let (arg, path) = match rest.as_slice() {
            [] => (None, self.cwd.clone()),
            [p] => (Some(p.as_str()), self.remote(p)),
            _ => return Err("ls: expected at most one path".into()),
        };
        let long = set.contains('l') || set.contains('n');
        let line = |name: &str, attrs: &conch_sftp::FileAttributes| {
            if long {
                conch_sftp::longname(name.as_bytes(), attrs)
            } else {
                name.to_string()
            }
        };
        let mut lines = Vec::new();
        if arg.is_some_and(glob::has_magic) {
            // Matches are shown as the pattern named them: relative to the
            // working directory when it was relative.
            let prefix = format!("{}/", self.cwd.trim_end_matches('/'));
            for p in self.expand(arg.unwrap_or_default()).await? {
                let attrs = self.sftp.lstat(&p).await.map_err(|e| err(&p, e))?;
                let shown = match arg.is_some_and(|a| !a.starts_with('/')) {
                    true => p.strip_prefix(&prefix).unwrap_or(&p),
                    false => &p,
                };
                lines.push(line(shown, &attrs));
            }
        } else {
            let attrs = self.sftp.stat(&path).await.map_err(|e| err(&path, e))?;
            if !attrs.is_dir() {
                lines.push(line(arg.unwrap_or(&path), &attrs));
            } else {
                let mut entries = self.sftp.list_dir(&path).await.map_err(|e| err(&path, e))?;
                // Sorted by name, as sftp does unless `-f`.
                if !set.contains('f') {
                    entries.sort_by(|a, b| a.raw_name.cmp(&b.raw_name));
                }
                for e in entries {
                    if e.name.starts_with('.') && !set.contains('a') {
                        continue;
                    }
                    lines.push(match (long, e.longname.is_empty()) {
                        (true, false) => e.longname,
                        _ => line(&e.name, &e.attrs),
                    });
                }
            }
        }
        // Several names a line on a terminal, one a line otherwise (or
        // with `-1`, `-l`), as sftp does.
        let columns = !long && !set.contains('1') && std::io::stdout().is_terminal();
        let out = if columns {
            in_columns(&lines, terminal_width())
        } else {
            lines.iter().map(|l| format!("{l}\n")).collect()
        };
        print!("{out}");
        Ok(())
    }
}

/// The terminal's width in columns (80 when unknown), as sftp reads it.
fn terminal_width() -> usize {
    #[cfg(unix)]
    if let Ok(size) = rustix::termios::tcgetwinsize(std::io::stdout()) {
        if size.ws_col > 0 {
            return usize::from(size.ws_col);
        }
    }
    80
}

/// Names laid out row by row in columns as wide as the longest name plus
/// two spaces, as many as fit in `width` (sftp's short listing).
fn in_columns(names: &[String], width: usize) -> String {
    let Some(widest) = names.iter().map(|n| n.chars().count()).max() else {
        return String::new();
    };
    let col = widest + 2;
    let per_line = (width / col).max(1);
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        let end = i + 1 == names.len() || (i + 1) % per_line == 0;
        if end {
            out.push_str(name);
            out.push('\n');
        } else {
            out.push_str(&format!("{name:<col$}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_listings_fill_rows_of_equal_columns() {
        let names: Vec<String> = ["a", "bbbb", "cc", "d", "eeeeee"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // Columns of 8 (6 + 2): three fit in 24, two lines.
        assert_eq!(
            in_columns(&names, 24),
            "a       bbbb    cc\nd       eeeeee\n"
        );
        // Narrower than one column: one name a line.
        assert_eq!(in_columns(&names[..2], 3), "a\nbbbb\n");
        assert_eq!(in_columns(&[], 80), "");
    }

    #[test]
    fn words_split_with_quotes_and_escapes() {
        assert_eq!(
            split_words("put  'a b' c\\ d \"e\"").unwrap(),
            ["put", "a b", "c d", "e"]
        );
        assert!(split_words("get 'x").is_err());
        assert_eq!(split_words("ls ''").unwrap(), ["ls", ""]);
    }

    #[test]
    fn leading_flags_are_split_off() {
        let w: Vec<String> = ["-rp", "a", "-b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            flags(&w, "rp").unwrap(),
            ("rp".to_string(), vec!["a".to_string(), "-b".to_string()])
        );
        assert!(flags(&w, "r").is_err());
    }
}
