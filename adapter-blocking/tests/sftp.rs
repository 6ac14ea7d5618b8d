//! The blocking SFTP client (std's Read/Write/Seek, listings as iterators)
//! against the driver's SFTP server, in process.

use std::io::{Read, Seek, SeekFrom, Write};

use conch_blocking::sftp::{conch_sftp, RootFs, StatusCode, TransferOptions};
use conch_blocking::{connect, Listener};
use conch_driver::testing::{TestServer, PASSWORD, USER};

#[test]
fn blocking_files_listings_and_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let (session, _) = listener.accept().unwrap();
        while let Some(incoming) = session.accept_channel() {
            let fs = RootFs::new(&root).unwrap();
            let channel = incoming.channel.into_inner();
            std::thread::spawn(move || {
                let _ = conch_blocking::sftp::serve_blocking(
                    &channel,
                    conch_sftp::server::Server::new(fs),
                );
            });
        }
    });
    let session = connect("127.0.0.1", port, server.client_options()).unwrap();
    session.auth_password(USER, PASSWORD).unwrap();
    let sftp = session.sftp().unwrap();

    let mut f = sftp.create("notes.txt").unwrap();
    f.write_all(b"0123456789").unwrap();
    f.flush().unwrap();
    f.seek(SeekFrom::Start(4)).unwrap();
    f.write_all(b"xx").unwrap();
    f.close().unwrap();
    let mut s = String::new();
    let mut f = sftp.open("notes.txt").unwrap();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "0123xx6789");
    assert_eq!(f.seek(SeekFrom::Current(-2)).unwrap(), 8);

    sftp.mkdir("sub", 0o755).unwrap();
    let names: Vec<String> = sftp
        .read_dir("/")
        .unwrap()
        .map(|e| e.unwrap().name)
        .filter(|n| n != "." && n != "..")
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, ["notes.txt", "sub"]);

    let local = dir.path().join("copy.txt");
    let stats = sftp
        .download("notes.txt", &local, &TransferOptions::default(), None)
        .unwrap();
    assert_eq!(stats.bytes, 10);
    assert_eq!(std::fs::read(&local).unwrap(), b"0123xx6789");
    let e = sftp.remove("nope").unwrap_err();
    assert_eq!(e.status_code(), Some(StatusCode::NoSuchFile));
}
