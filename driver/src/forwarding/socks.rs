//! The server half of SOCKS as `ssh -D` speaks it: SOCKS4 and 4a (CONNECT)
//! and SOCKS5 (RFC 1928: no authentication, CONNECT, IPv4, IPv6 and domain
//! names). Each request names the target of one `direct-tcpip` channel.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

/// Longest SOCKS4 user id or SOCKS4a host name read (OpenSSH's limit is
/// similar); a longer one is refused.
const MAX_FIELD: usize = 1024;

/// A client's CONNECT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksRequest {
    /// The protocol version, 4 or 5 (4a is 4 with a host name).
    pub version: u8,
    /// Host name or address to connect to.
    pub host: String,
    /// Port to connect to.
    pub port: u16,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("SOCKS: {what}"))
}

/// Reads bytes up to a NUL (not included), at most [`MAX_FIELD`].
async fn read_cstr<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await?;
        if b[0] == 0 {
            return Ok(out);
        }
        if out.len() == MAX_FIELD {
            return Err(invalid("field too long"));
        }
        out.push(b[0]);
    }
}

/// Reads the client's greeting and request; for SOCKS5 the method
/// negotiation is answered on the way. Requests other than CONNECT are
/// answered with a failure and returned as an error.
pub async fn read_request<S>(s: &mut S) -> io::Result<SocksRequest>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut version = [0u8; 1];
    s.read_exact(&mut version).await?;
    match version[0] {
        4 => read_socks4(s).await,
        5 => read_socks5(s).await,
        v => Err(invalid(&format!("unsupported version {v}"))),
    }
}

async fn read_socks4<S>(s: &mut S) -> io::Result<SocksRequest>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // VN CD DSTPORT DSTIP USERID NUL [HOST NUL]
    let mut head = [0u8; 7];
    s.read_exact(&mut head).await?;
    let command = head[0];
    let port = u16::from_be_bytes([head[1], head[2]]);
    let ip = Ipv4Addr::new(head[3], head[4], head[5], head[6]);
    let _user = read_cstr(s).await?;
    // SOCKS4a: 0.0.0.x with x non-zero means a host name follows.
    let host = if head[3..6] == [0, 0, 0] && head[6] != 0 {
        String::from_utf8(read_cstr(s).await?).map_err(|_| invalid("host name not UTF-8"))?
    } else {
        ip.to_string()
    };
    if command != 1 {
        reply(s, 4, false).await?;
        return Err(invalid("only CONNECT is supported"));
    }
    Ok(SocksRequest {
        version: 4,
        host,
        port,
    })
}

async fn read_socks5<S>(s: &mut S) -> io::Result<SocksRequest>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut n = [0u8; 1];
    s.read_exact(&mut n).await?;
    let mut methods = vec![0u8; n[0].into()];
    s.read_exact(&mut methods).await?;
    // RFC 1928 section 3: 0x00 no authentication; 0xFF none acceptable.
    if !methods.contains(&0) {
        s.write_all(&[5, 0xff]).await?;
        return Err(invalid("client offers no method without authentication"));
    }
    s.write_all(&[5, 0]).await?;
    // Section 4: VER CMD RSV ATYP DST.ADDR DST.PORT
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(invalid("bad request version"));
    }
    let host = match head[3] {
        1 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a).await?;
            Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).await?;
            let mut name = vec![0u8; len[0].into()];
            s.read_exact(&mut name).await?;
            String::from_utf8(name).map_err(|_| invalid("host name not UTF-8"))?
        }
        4 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await?;
            Ipv6Addr::from(a).to_string()
        }
        _ => {
            // Section 6: 0x08 address type not supported.
            s.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Err(invalid("unsupported address type"));
        }
    };
    let mut port = [0u8; 2];
    s.read_exact(&mut port).await?;
    if head[1] != 1 {
        // Section 6: 0x07 command not supported.
        s.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Err(invalid("only CONNECT is supported"));
    }
    Ok(SocksRequest {
        version: 5,
        host,
        port: u16::from_be_bytes(port),
    })
}

/// Answers the request: granted, or failed (SOCKS4 0x5B; SOCKS5 0x05,
/// connection refused, as the server's open failure is reported). The bound
/// address is given as zeros, as OpenSSH does.
pub async fn reply<S>(s: &mut S, version: u8, granted: bool) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    if version == 4 {
        let code = if granted { 0x5a } else { 0x5b };
        s.write_all(&[0, code, 0, 0, 0, 0, 0, 0]).await?;
    } else {
        let code = if granted { 0 } else { 5 };
        s.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    }
    s.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_on::block_on;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Reads from `input`, collects what is written.
    struct Duplex {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl AsyncRead for Duplex {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(io::Read::read(&mut self.input, buf))
        }
    }

    impl AsyncWrite for Duplex {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.output.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A request read from `input`, and what the server wrote back.
    fn parse(input: &[u8]) -> (io::Result<SocksRequest>, Vec<u8>) {
        let mut d = Duplex {
            input: io::Cursor::new(input.to_vec()),
            output: Vec::new(),
        };
        let r = block_on(read_request(&mut d));
        (r, d.output)
    }

    #[test]
    fn socks4_4a_and_5_requests_name_their_target() {
        let (r, _) = parse(b"\x04\x01\x00\x50\x7f\x00\x00\x01user\0");
        assert_eq!(r.unwrap().host, "127.0.0.1");
        let (r, _) = parse(b"\x04\x01\x01\xbb\x00\x00\x00\x01\0example.org\0");
        let r = r.unwrap();
        assert_eq!((r.host.as_str(), r.port), ("example.org", 443));
        let (r, w) = parse(b"\x05\x01\x00\x05\x01\x00\x03\x07db.test\x15\x38");
        let r = r.unwrap();
        assert_eq!((r.version, r.host.as_str(), r.port), (5, "db.test", 5432));
        assert_eq!(w, [5, 0]);
        let mut v6 = b"\x05\x01\x00\x05\x01\x00\x04".to_vec();
        v6.extend(Ipv6Addr::LOCALHOST.octets());
        v6.extend([0, 22]);
        assert_eq!(parse(&v6).0.unwrap().host, "::1");
    }

    #[test]
    fn unsupported_requests_are_answered_and_refused() {
        // Only username/password offered: no acceptable method.
        let (r, w) = parse(b"\x05\x01\x02");
        assert!(r.is_err());
        assert_eq!(w, [5, 0xff]);
        // BIND (2) is not supported.
        let (r, w) = parse(b"\x05\x01\x00\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50");
        assert!(r.is_err());
        assert_eq!(w[..4], [5, 0, 5, 7]);
        assert!(parse(b"\x06").0.is_err());
    }
}
