//! Directory listings as a stream of entries (SSH_FXP_OPENDIR, READDIR
//! until EOF, CLOSE: draft-ietf-secsh-filexfer-02 section 6.7).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use conch_sftp::client::Reply;
use conch_sftp::packet::{Handle, NameEntry, Request};
use futures_util::stream::Stream;

use super::{unexpected, FileAttributes, Result, Sftp, SftpError};

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name, as text (invalid UTF-8 replaced; see [`DirEntry::raw_name`]).
    pub name: String,
    /// The name exactly as the server sent it.
    pub raw_name: Vec<u8>,
    /// The server's `ls -l` line.
    pub longname: String,
    /// Attributes (OpenSSH sends those of the entry itself: a symlink is
    /// not followed).
    pub attrs: FileAttributes,
}

impl From<NameEntry> for DirEntry {
    fn from(e: NameEntry) -> Self {
        DirEntry {
            name: String::from_utf8_lossy(&e.filename).into_owned(),
            longname: String::from_utf8_lossy(&e.longname).into_owned(),
            raw_name: e.filename,
            attrs: e.attrs,
        }
    }
}

/// A directory being listed: a [`Stream`] of entries (or call
/// [`ReadDir::next_entry`]). Dropping it closes the handle.
#[derive(Debug)]
pub struct ReadDir {
    sftp: Sftp,
    handle: Handle,
    buffered: VecDeque<DirEntry>,
    pending: Option<u32>,
    done: bool,
}

impl ReadDir {
    pub(crate) fn new(sftp: Sftp, handle: Handle) -> Self {
        ReadDir {
            sftp,
            handle,
            buffered: VecDeque::new(),
            pending: None,
            done: false,
        }
    }

    /// Polls for the next entry; `None` at the end of the listing.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<DirEntry>>> {
        loop {
            if let Some(e) = self.buffered.pop_front() {
                return Poll::Ready(Some(Ok(e)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let id = match self.pending {
                Some(id) => id,
                None => {
                    let request = Request::Readdir {
                        handle: self.handle.clone(),
                    };
                    match self.sftp.engine().send(&request) {
                        Ok(id) => {
                            self.pending = Some(id);
                            id
                        }
                        Err(e) => {
                            self.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
            };
            let reply = match self.sftp.engine().poll_reply(cx, id) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            self.pending = None;
            match reply {
                Ok(Reply::Name(entries)) => {
                    // An empty NAME would have us ask forever: treat it as
                    // the end, as OpenSSH's client does with count 0.
                    if entries.is_empty() {
                        self.done = true;
                    }
                    self.buffered
                        .extend(entries.into_iter().map(DirEntry::from));
                }
                Ok(Reply::Eof) => self.done = true,
                Ok(other) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(unexpected(other))));
                }
                Err(e) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    /// The next entry; `None` at the end of the listing.
    pub async fn next_entry(&mut self) -> Option<Result<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Reads every entry, refusing a listing of more than `max` entries.
    pub async fn collect_bounded(mut self, path: &str, max: usize) -> Result<Vec<DirEntry>> {
        let mut all = Vec::new();
        while let Some(e) = self.next_entry().await {
            if all.len() >= max {
                return Err(SftpError::Invalid(format!(
                    "directory {path} lists more than {max} entries"
                )));
            }
            all.push(e?);
        }
        Ok(all)
    }
}

impl Stream for ReadDir {
    type Item = Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx)
    }
}

impl Drop for ReadDir {
    fn drop(&mut self) {
        if let Some(id) = self.pending {
            self.sftp.engine().forget(id);
        }
        self.sftp.engine().send_and_forget(&Request::Close {
            handle: std::mem::take(&mut self.handle),
        });
    }
}
