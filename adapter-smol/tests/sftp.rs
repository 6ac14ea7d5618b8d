//! The SFTP client on smol (the driver's `futures-io` files and listing
//! streams) against the driver's SFTP server, in process.

use conch_driver::testing::{TestServer, PASSWORD, USER};
use conch_smol::sftp::{conch_sftp, RootFs, StatusCode, TransferOptions};
use conch_smol::{connect, Listener};
use smol::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use smol::stream::StreamExt;

#[test]
fn smol_files_streams_and_transfers() {
    smol::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::new();
        let listener = Listener::bind("127.0.0.1:0", server.options.clone())
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let root = dir.path().to_path_buf();
        smol::spawn(async move {
            let (session, _) = listener.accept().await.unwrap();
            while let Some(incoming) = session.accept_channel().await {
                let fs = RootFs::new(&root).unwrap();
                std::thread::spawn(move || {
                    let server = conch_sftp::server::Server::new(fs);
                    let _ = conch_smol::sftp::serve_blocking(&incoming.channel, server);
                });
            }
        })
        .detach();
        let session = connect("127.0.0.1", port, server.client_options())
            .await
            .unwrap();
        session.auth_password(USER, PASSWORD).await.unwrap();
        let sftp = session.sftp().await.unwrap();

        let mut f = sftp.create("a.txt").await.unwrap();
        f.write_all(b"smol over sftp").await.unwrap();
        f.close().await.unwrap();
        let mut f = sftp.open("a.txt").await.unwrap();
        f.seek(std::io::SeekFrom::Start(5)).await.unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "over sftp");

        let mut listing = sftp.read_dir("/").await.unwrap();
        let mut names = Vec::new();
        while let Some(entry) = listing.next().await {
            names.push(entry.unwrap().name);
        }
        assert!(names.contains(&"a.txt".to_string()), "{names:?}");

        let local = dir.path().join("copy");
        sftp.download("a.txt", &local, &TransferOptions::default(), None)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&local).unwrap(), b"smol over sftp");
        let e = sftp.stat("missing").await.unwrap_err();
        assert_eq!(e.status_code(), Some(StatusCode::NoSuchFile));
    });
}
