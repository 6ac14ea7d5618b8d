//! Client and server state machines against each other over an in-memory
//! file system, and each against hand-made hostile input.

use std::collections::BTreeMap;

use bytes::Bytes;
use conch_sftp::client::{Client, ClientEvent, Reply};
use conch_sftp::ext::{self, Limits};
use conch_sftp::packet::{ClientPacket, Framer, NameEntry, Request, MAX_PACKET_LEN};
use conch_sftp::server::{FileSystem, FsResult, Server};
use conch_sftp::{FileAttributes, OpenFlags, ProtocolError, StatusCode, StatusError};

/// A flat in-memory file system: paths are keys, directories are the
/// keys ending in '/'.
#[derive(Default)]
struct MemFs {
    files: BTreeMap<Vec<u8>, Vec<u8>>,
    dirs: Vec<Vec<u8>>,
}

fn not_found() -> StatusError {
    StatusError::new(StatusCode::NoSuchFile)
}

impl FileSystem for MemFs {
    type File = Vec<u8>;
    type Dir = Vec<NameEntry>;

    fn open(&mut self, path: &[u8], flags: OpenFlags, _: &FileAttributes) -> FsResult<Vec<u8>> {
        if !self.files.contains_key(path) {
            if !flags.contains(OpenFlags::CREATE) {
                return Err(not_found());
            }
            self.files.insert(path.to_vec(), Vec::new());
        } else if flags.contains(OpenFlags::TRUNCATE) {
            self.files.insert(path.to_vec(), Vec::new());
        }
        Ok(path.to_vec())
    }
    fn read(&mut self, file: &mut Vec<u8>, offset: u64, len: u32) -> FsResult<Vec<u8>> {
        let data = self.files.get(file).ok_or_else(not_found)?;
        let start = (offset as usize).min(data.len());
        let end = (start + len as usize).min(data.len());
        Ok(data[start..end].to_vec())
    }
    fn write(&mut self, file: &mut Vec<u8>, offset: u64, data: &[u8]) -> FsResult<()> {
        let f = self.files.get_mut(file).ok_or_else(not_found)?;
        let end = offset as usize + data.len();
        if f.len() < end {
            f.resize(end, 0);
        }
        f[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
    fn fstat(&mut self, file: &mut Vec<u8>) -> FsResult<FileAttributes> {
        let p = file.clone();
        self.stat(&p)
    }
    fn fsetstat(&mut self, _: &mut Vec<u8>, _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn opendir(&mut self, path: &[u8]) -> FsResult<Vec<NameEntry>> {
        if !self.dirs.iter().any(|d| d == path) {
            return Err(not_found());
        }
        let mut prefix = path.to_vec();
        prefix.push(b'/');
        Ok(self
            .files
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| NameEntry {
                filename: k[prefix.len()..].to_vec(),
                longname: Vec::new(),
                attrs: FileAttributes::with_size(v.len() as u64),
            })
            .collect())
    }
    fn readdir(&mut self, dir: &mut Vec<NameEntry>) -> FsResult<Vec<NameEntry>> {
        // Three at a time, so listing takes several READDIRs.
        let n = dir.len().min(3);
        Ok(dir.drain(..n).collect())
    }
    fn stat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        let f = self.files.get(path).ok_or_else(not_found)?;
        Ok(FileAttributes {
            size: Some(f.len() as u64),
            permissions: Some(0o100_644),
            ..Default::default()
        })
    }
    fn lstat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        self.stat(path)
    }
    fn setstat(&mut self, _: &[u8], _: &FileAttributes) -> FsResult<()> {
        Ok(())
    }
    fn remove(&mut self, path: &[u8]) -> FsResult<()> {
        self.files.remove(path).map(drop).ok_or_else(not_found)
    }
    fn mkdir(&mut self, path: &[u8], _: &FileAttributes) -> FsResult<()> {
        self.dirs.push(path.to_vec());
        Ok(())
    }
    fn rmdir(&mut self, path: &[u8]) -> FsResult<()> {
        let before = self.dirs.len();
        self.dirs.retain(|d| d != path);
        if self.dirs.len() == before {
            return Err(not_found());
        }
        Ok(())
    }
    fn realpath(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let mut p = b"/".to_vec();
        p.extend_from_slice(path);
        Ok(p)
    }
    fn rename(&mut self, from: &[u8], to: &[u8]) -> FsResult<()> {
        if self.files.contains_key(to) {
            return Err(StatusError::with_message(StatusCode::Failure, "exists"));
        }
        let data = self.files.remove(from).ok_or_else(not_found)?;
        self.files.insert(to.to_vec(), data);
        Ok(())
    }
    fn readlink(&mut self, _: &[u8]) -> FsResult<Vec<u8>> {
        Err(StatusError::new(StatusCode::Failure))
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> FsResult<()> {
        Err(StatusError::new(StatusCode::OpUnsupported))
    }
}

/// Moves bytes both ways until neither side has anything to send.
fn pump(client: &mut Client, server: &mut Server<MemFs>) {
    loop {
        let c = client.transmit().to_vec();
        client.consume_transmit(c.len());
        if !c.is_empty() {
            server
                .handle_input(&c)
                .expect("server accepts the client's bytes");
        }
        let s = server.transmit().to_vec();
        server.consume_transmit(s.len());
        if !s.is_empty() {
            client
                .handle_input(&s)
                .expect("client accepts the server's bytes");
        }
        if c.is_empty() && s.is_empty() {
            return;
        }
    }
}

fn ready(fs: MemFs) -> (Client, Server<MemFs>) {
    let mut client = Client::new();
    let mut server = Server::new(fs);
    pump(&mut client, &mut server);
    match client.poll_event() {
        Some(ClientEvent::Ready(info)) => {
            assert_eq!(info.version, 3);
            assert!(info.supports(ext::POSIX_RENAME) && info.supports(ext::LIMITS));
        }
        other => panic!("expected the version, got {other:?}"),
    }
    (client, server)
}

fn call(
    client: &mut Client,
    server: &mut Server<MemFs>,
    req: Request,
) -> Result<Reply, StatusError> {
    let id = client.send(&req).unwrap();
    pump(client, server);
    match client.poll_event() {
        Some(ClientEvent::Reply { id: got, result }) => {
            assert_eq!(got, id);
            result
        }
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn handle(r: Result<Reply, StatusError>) -> Vec<u8> {
    match r {
        Ok(Reply::Handle(h)) => h,
        other => panic!("expected a handle, got {other:?}"),
    }
}

#[test]
fn write_read_stat_rename_remove() {
    let (mut c, mut s) = ready(MemFs::default());
    let h = handle(call(
        &mut c,
        &mut s,
        Request::Open {
            path: b"f".to_vec(),
            flags: OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
            attrs: FileAttributes::default(),
        },
    ));
    // Several writes in flight at once, then their replies.
    let ids: Vec<u32> = (0..4u64)
        .map(|i| {
            c.send(&Request::Write {
                handle: h.clone(),
                offset: i * 5,
                data: Bytes::from(format!("part{i}")),
            })
            .unwrap()
        })
        .collect();
    assert_eq!(c.in_flight(), 4);
    pump(&mut c, &mut s);
    for id in ids {
        assert_eq!(
            c.poll_event(),
            Some(ClientEvent::Reply {
                id,
                result: Ok(Reply::Ok)
            })
        );
    }
    assert_eq!(
        call(
            &mut c,
            &mut s,
            Request::Read {
                handle: h.clone(),
                offset: 5,
                len: 100
            }
        ),
        Ok(Reply::Data(Bytes::from_static(b"part1part2part3")))
    );
    assert_eq!(
        call(
            &mut c,
            &mut s,
            Request::Read {
                handle: h.clone(),
                offset: 20,
                len: 100
            }
        ),
        Ok(Reply::Eof)
    );
    assert_eq!(
        call(&mut c, &mut s, Request::Close { handle: h.clone() }),
        Ok(Reply::Ok)
    );
    // The handle is gone: a read with it fails, the session goes on.
    let e = call(
        &mut c,
        &mut s,
        Request::Read {
            handle: h,
            offset: 0,
            len: 1,
        },
    )
    .unwrap_err();
    assert_eq!(e.code, StatusCode::Failure);
    match call(
        &mut c,
        &mut s,
        Request::Stat {
            path: b"f".to_vec(),
        },
    ) {
        Ok(Reply::Attrs(a)) => assert_eq!((a.size, a.is_file()), (Some(20), true)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        call(
            &mut c,
            &mut s,
            Request::Rename {
                from: b"f".to_vec(),
                to: b"g".to_vec()
            }
        ),
        Ok(Reply::Ok)
    );
    let e = call(
        &mut c,
        &mut s,
        Request::Stat {
            path: b"f".to_vec(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, StatusCode::NoSuchFile);
    assert_eq!(
        call(
            &mut c,
            &mut s,
            Request::Remove {
                path: b"g".to_vec()
            }
        ),
        Ok(Reply::Ok)
    );
    let e = call(
        &mut c,
        &mut s,
        Request::Remove {
            path: b"g".to_vec(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, StatusCode::NoSuchFile);
    // Optional operations the file system lacks are OP_UNSUPPORTED.
    let e = call(
        &mut c,
        &mut s,
        Request::Hardlink {
            from: b"a".to_vec(),
            to: b"b".to_vec(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, StatusCode::OpUnsupported);
    assert_eq!(
        call(&mut c, &mut s, Request::Limits),
        Ok(Reply::Limits(Limits {
            max_packet_length: 262_144,
            max_read_length: 261_120,
            max_write_length: 261_120,
            max_open_handles: 512,
        }))
    );
}

#[test]
fn listing_takes_several_readdirs_and_ends_with_eof() {
    let mut fs = MemFs::default();
    fs.dirs.push(b"d".to_vec());
    for i in 0..7 {
        fs.files
            .insert(format!("d/file{i}").into_bytes(), vec![0; i]);
    }
    let (mut c, mut s) = ready(fs);
    let h = handle(call(
        &mut c,
        &mut s,
        Request::Opendir {
            path: b"d".to_vec(),
        },
    ));
    let mut names = Vec::new();
    loop {
        match call(&mut c, &mut s, Request::Readdir { handle: h.clone() }) {
            Ok(Reply::Name(entries)) => {
                for e in entries {
                    // The server fills in `ls -l` lines.
                    assert!(e.longname.starts_with(b"?---------"), "{:?}", e.longname);
                    names.push(String::from_utf8(e.filename).unwrap());
                }
            }
            Ok(Reply::Eof) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(names.len(), 7);
    assert_eq!(names[6], "file6");
}

#[test]
fn read_only_server_refuses_changes_and_serves_reads() {
    let mut fs = MemFs::default();
    fs.files.insert(b"f".to_vec(), b"data".to_vec());
    let mut c = Client::new();
    let mut s = Server::new(fs).read_only(true);
    pump(&mut c, &mut s);
    assert!(matches!(c.poll_event(), Some(ClientEvent::Ready(_))));
    for req in [
        Request::Remove {
            path: b"f".to_vec(),
        },
        Request::Mkdir {
            path: b"d".to_vec(),
            attrs: FileAttributes::default(),
        },
        Request::Open {
            path: b"f".to_vec(),
            flags: OpenFlags::WRITE,
            attrs: FileAttributes::default(),
        },
    ] {
        let e = call(&mut c, &mut s, req).unwrap_err();
        assert_eq!(e.code, StatusCode::PermissionDenied);
    }
    assert!(s.fs().files.contains_key(&b"f"[..]));
    let h = handle(call(
        &mut c,
        &mut s,
        Request::Open {
            path: b"f".to_vec(),
            flags: OpenFlags::READ,
            attrs: FileAttributes::default(),
        },
    ));
    assert_eq!(
        call(
            &mut c,
            &mut s,
            Request::Read {
                handle: h,
                offset: 0,
                len: 10
            }
        ),
        Ok(Reply::Data(Bytes::from_static(b"data")))
    );
}

#[test]
fn every_request_round_trips_through_the_codec() {
    let attrs = FileAttributes {
        size: Some(1 << 40),
        uid_gid: Some((1000, 100)),
        permissions: Some(0o100_600),
        atime_mtime: Some((1, u32::MAX)),
        extended: vec![(b"x@example".to_vec(), b"v".to_vec())],
    };
    let h = b"\0\x01handle".to_vec();
    let p = |s: &str| s.as_bytes().to_vec();
    let requests = vec![
        Request::Open {
            path: p("a"),
            flags: OpenFlags::READ | OpenFlags::EXCLUSIVE,
            attrs: attrs.clone(),
        },
        Request::Close { handle: h.clone() },
        Request::Read {
            handle: h.clone(),
            offset: u64::MAX,
            len: 7,
        },
        Request::Write {
            handle: h.clone(),
            offset: 5 << 32,
            data: Bytes::from_static(b"xyz"),
        },
        Request::Lstat { path: p("l") },
        Request::Fstat { handle: h.clone() },
        Request::Setstat {
            path: p("s"),
            attrs: attrs.clone(),
        },
        Request::Fsetstat {
            handle: h.clone(),
            attrs: FileAttributes::default(),
        },
        Request::Opendir { path: p("d") },
        Request::Readdir { handle: h.clone() },
        Request::Remove { path: p("r") },
        Request::Mkdir {
            path: p("m"),
            attrs: FileAttributes::with_permissions(0o755),
        },
        Request::Rmdir { path: p("m") },
        Request::Realpath { path: p(".") },
        Request::Stat { path: p("s") },
        Request::Rename {
            from: p("a"),
            to: p("b"),
        },
        Request::Readlink { path: p("l") },
        Request::Symlink {
            target: p("t"),
            link: p("l"),
        },
        Request::PosixRename {
            from: p("a"),
            to: p("b"),
        },
        Request::Statvfs { path: p("/") },
        Request::Fstatvfs { handle: h.clone() },
        Request::Hardlink {
            from: p("a"),
            to: p("b"),
        },
        Request::Fsync { handle: h.clone() },
        Request::Lsetstat {
            path: p("l"),
            attrs,
        },
        Request::Limits,
        Request::ExpandPath { path: p("~/x") },
        Request::CopyData {
            from: h.clone(),
            from_offset: 1,
            len: 0,
            to: p("h2"),
            to_offset: 9,
        },
        Request::HomeDirectory { user: p("alice") },
        Request::UsersGroupsById {
            uids: vec![0, 1000],
            gids: vec![],
        },
        Request::Extended {
            name: "x@example.org".into(),
            data: Bytes::from_static(b"\0\0"),
        },
    ];
    for (i, req) in requests.into_iter().enumerate() {
        let mut out = Vec::new();
        req.encode(i as u32, &mut out);
        let mut framer = Framer::new(MAX_PACKET_LEN);
        framer.push(&out);
        let (ty, body) = framer.next_packet().unwrap().unwrap();
        assert_eq!(framer.buffered(), 0);
        assert_eq!(
            ClientPacket::decode(ty, body),
            Ok(ClientPacket::Request {
                id: i as u32,
                request: req
            })
        );
    }
}

/// A client that has seen the server's version.
fn started() -> Client {
    let mut c = Client::new();
    c.consume_transmit(c.transmit().len());
    c.handle_input(&[0, 0, 0, 5, 2, 0, 0, 0, 3]).unwrap();
    assert!(matches!(c.poll_event(), Some(ClientEvent::Ready(_))));
    c
}

fn packet(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut p = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    p.push(ty);
    p.extend_from_slice(body);
    p
}

#[test]
fn replies_out_of_order_are_matched_by_id() {
    let mut c = started();
    let a = c
        .send(&Request::Stat {
            path: b"a".to_vec(),
        })
        .unwrap();
    let b = c
        .send(&Request::Remove {
            path: b"b".to_vec(),
        })
        .unwrap();
    // b's STATUS OK first, then a's ATTRS (size 9).
    let mut status = b.to_be_bytes().to_vec();
    status.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut attrs = a.to_be_bytes().to_vec();
    attrs.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]);
    let mut input = packet(101, &status);
    input.extend(packet(105, &attrs));
    // Byte by byte: framing does not depend on the chunking.
    for byte in input {
        c.handle_input(&[byte]).unwrap();
    }
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Reply {
            id: b,
            result: Ok(Reply::Ok)
        })
    );
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Reply {
            id: a,
            result: Ok(Reply::Attrs(FileAttributes::with_size(9)))
        })
    );
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn hostile_replies_end_the_session() {
    // A length over the limit is refused from its four bytes alone.
    let mut c = started();
    assert_eq!(
        c.handle_input(&[0xff, 0xff, 0xff, 0xff]),
        Err(ProtocolError::PacketTooLong {
            len: u32::MAX,
            max: MAX_PACKET_LEN
        })
    );
    // And the session stays failed.
    assert!(c.send(&Request::Limits).is_err());

    // A NAME claiming 2^32-1 entries in a few bytes: refused before any
    // allocation for them.
    let mut c = started();
    let id = c
        .send(&Request::Realpath {
            path: b".".to_vec(),
        })
        .unwrap();
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    assert!(matches!(
        c.handle_input(&packet(104, &body)),
        Err(ProtocolError::Truncated { .. })
    ));

    // A string longer than its packet.
    let mut c = started();
    let id = c
        .send(&Request::Readlink {
            path: b"l".to_vec(),
        })
        .unwrap();
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, b'x']);
    assert!(matches!(
        c.handle_input(&packet(104, &body)),
        Err(ProtocolError::Truncated { .. })
    ));

    // A reply to a request never sent.
    let mut c = started();
    assert_eq!(
        c.handle_input(&packet(101, &[0, 0, 0, 42, 0, 0, 0, 0])),
        Err(ProtocolError::UnknownRequestId(42))
    );

    // A DATA reply to a STAT.
    let mut c = started();
    let id = c
        .send(&Request::Stat {
            path: b"a".to_vec(),
        })
        .unwrap();
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        c.handle_input(&packet(103, &body)),
        Err(ProtocolError::MismatchedReply { id, kind: 103 })
    );

    // A handle over 256 bytes.
    let mut c = started();
    let id = c
        .send(&Request::Opendir {
            path: b"d".to_vec(),
        })
        .unwrap();
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&300u32.to_be_bytes());
    body.extend_from_slice(&[7; 300]);
    assert!(c.handle_input(&packet(102, &body)).is_err());

    // A request before the version.
    let mut c = Client::new();
    assert_eq!(
        c.handle_input(&packet(101, &[0, 0, 0, 0, 0, 0, 0, 0])),
        Err(ProtocolError::VersionOrder)
    );
}

#[test]
fn a_forgotten_request_drops_its_reply() {
    let mut c = started();
    let a = c
        .send(&Request::Remove {
            path: b"a".to_vec(),
        })
        .unwrap();
    c.forget(a);
    let mut body = a.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 0, 0]);
    c.handle_input(&packet(101, &body)).unwrap();
    assert_eq!(c.poll_event(), None);
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn server_answers_malformed_requests_and_refuses_garbage() {
    let mut s = Server::new(MemFs::default());
    s.handle_input(&packet(1, &[0, 0, 0, 3])).unwrap();
    let version = s.transmit().to_vec();
    s.consume_transmit(version.len());
    assert_eq!(version[4], 2);
    // An OPEN cut short after its id: BAD_MESSAGE for id 9.
    s.handle_input(&packet(3, &[0, 0, 0, 9, 0, 0])).unwrap();
    let reply = s.transmit().to_vec();
    assert_eq!(&reply[4..13], &[101, 0, 0, 0, 9, 0, 0, 0, 5]);
    s.consume_transmit(reply.len());
    // A reply type sent to a server ends the session.
    assert_eq!(
        s.handle_input(&packet(101, &[0, 0, 0, 1])),
        Err(ProtocolError::UnexpectedPacket(101))
    );
    // A request before INIT too.
    let mut s = Server::new(MemFs::default());
    assert_eq!(
        s.handle_input(&packet(17, &[0, 0, 0, 1, 0, 0, 0, 1, b'a'])),
        Err(ProtocolError::VersionOrder)
    );
}
