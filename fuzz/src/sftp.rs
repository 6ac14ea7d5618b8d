//! The SFTP codec, both roles (`conch-sftp`): the input, split every
//! `data[1] % 32 + 1` bytes, goes to a client that has seen the server's
//! version and has requests of every reply kind in flight (`data[0]` even),
//! or to a server over a file system that answers everything (odd).
//! Checked besides "no panic": errors are sticky; every request the server
//! decodes re-encodes to the same packet; the server's output per input
//! stays within one reply per request of at most the packet limit.

use conch_sftp::client::{Client, ClientEvent};
use conch_sftp::packet::{ClientPacket, Framer, NameEntry, Request, MAX_PACKET_LEN};
use conch_sftp::server::{FileSystem, FsResult, Server};
use conch_sftp::{FileAttributes, OpenFlags};

/// A file system with one empty file and one directory with one entry.
struct TinyFs;

impl FileSystem for TinyFs {
    type File = ();
    type Dir = bool;

    fn open(&mut self, _: &[u8], _: OpenFlags, _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn read(&mut self, _: &mut (), offset: u64, len: u32) -> FsResult<Vec<u8>> {
        Ok(if offset == 0 {
            vec![7; len.min(1 << 20) as usize]
        } else {
            Vec::new()
        })
    }
    fn write(&mut self, _: &mut (), _: u64, _: &[u8]) -> FsResult<()> {
        Ok(())
    }
    fn fstat(&mut self, _: &mut ()) -> FsResult<FileAttributes> {
        Ok(FileAttributes::with_size(0))
    }
    fn fsetstat(&mut self, _: &mut (), _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn opendir(&mut self, _: &[u8]) -> FsResult<bool> {
        Ok(false)
    }
    fn readdir(&mut self, done: &mut bool) -> FsResult<Vec<NameEntry>> {
        if std::mem::replace(done, true) {
            return Ok(Vec::new());
        }
        Ok(vec![NameEntry {
            filename: b"f".to_vec(),
            longname: Vec::new(),
            attrs: FileAttributes::with_size(1),
        }])
    }
    fn stat(&mut self, _: &[u8]) -> FsResult<FileAttributes> {
        Ok(FileAttributes::default())
    }
    fn lstat(&mut self, _: &[u8]) -> FsResult<FileAttributes> {
        Ok(FileAttributes::default())
    }
    fn setstat(&mut self, _: &[u8], _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn remove(&mut self, _: &[u8]) -> FsResult<()> {
        Ok(())
    }
    fn mkdir(&mut self, _: &[u8], _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn rmdir(&mut self, _: &[u8]) -> FsResult<()> {
        Ok(())
    }
    fn realpath(&mut self, p: &[u8]) -> FsResult<Vec<u8>> {
        Ok(p.to_vec())
    }
    fn rename(&mut self, _: &[u8], _: &[u8]) -> FsResult<()> {
        Ok(())
    }
    fn readlink(&mut self, p: &[u8]) -> FsResult<Vec<u8>> {
        Ok(p.to_vec())
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> FsResult<()> {
        Ok(())
    }
}

/// The fuzz entry point.
pub fn sftp_codec(data: &[u8]) {
    let [role, split, stream @ ..] = data else {
        return;
    };
    let chunk = usize::from(split % 32) + 1;
    if role % 2 == 0 {
        client(stream, chunk);
    } else {
        server(stream, chunk);
    }
}

fn client(stream: &[u8], chunk: usize) {
    let mut c = Client::new();
    c.consume_transmit(c.transmit().len());
    c.handle_input(&[0, 0, 0, 5, 2, 0, 0, 0, 3])
        .expect("a plain version");
    assert!(matches!(c.poll_event(), Some(ClientEvent::Ready(_))));
    let h = b"h".to_vec();
    for r in [
        Request::Read {
            handle: h.clone(),
            offset: 0,
            len: 100,
        },
        Request::Readdir { handle: h.clone() },
        Request::Stat {
            path: b"p".to_vec(),
        },
        Request::Open {
            path: b"p".to_vec(),
            flags: OpenFlags::READ,
            attrs: FileAttributes::default(),
        },
        Request::Remove {
            path: b"p".to_vec(),
        },
        Request::Statvfs {
            path: b"/".to_vec(),
        },
        Request::Limits,
        Request::UsersGroupsById {
            uids: vec![0],
            gids: vec![0],
        },
        Request::Extended {
            name: "x@y".into(),
            data: Default::default(),
        },
    ] {
        c.send(&r).expect("send");
    }
    for piece in stream.chunks(chunk) {
        if c.handle_input(piece).is_err() {
            assert!(
                c.handle_input(b"\0\0\0\x05\x65\0\0\0\0").is_err(),
                "errors are sticky"
            );
            assert!(c.send(&Request::Limits).is_err());
            return;
        }
        while c.poll_event().is_some() {}
    }
}

fn server(stream: &[u8], chunk: usize) {
    let mut s = Server::new(TinyFs);
    s.handle_input(&[0, 0, 0, 5, 1, 0, 0, 0, 3]).expect("INIT");
    s.consume_transmit(s.transmit().len());
    // The server's own decoding of each request, checked by re-encoding.
    let mut framer = Framer::new(MAX_PACKET_LEN);
    for piece in stream.chunks(chunk) {
        framer.push(piece);
        while let Ok(Some((ty, body))) = framer.next_packet() {
            if let Ok(ClientPacket::Request { id, request }) =
                ClientPacket::decode(ty, body.clone())
            {
                let mut out = Vec::new();
                request.encode(id, &mut out);
                let mut again = Framer::new(u32::MAX);
                again.push(&out);
                let (ty2, body2) = again.next_packet().expect("frame").expect("whole");
                assert_eq!(
                    ClientPacket::decode(ty2, body2),
                    Ok(ClientPacket::Request { id, request })
                );
            }
        }
        let before = s.transmit().len();
        if s.handle_input(piece).is_err() {
            assert!(
                s.handle_input(b"\0\0\0\x05\x11\0\0\0\0").is_err(),
                "errors are sticky"
            );
            return;
        }
        // At most one reply per complete request, each within the limit.
        let produced = s.transmit().len() - before;
        assert!(produced <= (piece.len() / 9 + 1) * (MAX_PACKET_LEN as usize + 4));
        s.consume_transmit(s.transmit().len());
    }
}
