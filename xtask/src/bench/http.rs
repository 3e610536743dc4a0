//! Just enough HTTP/1.1 for the load generator: a keep-alive client over a blocking `TcpStream`,
//! and the request side of a tiny server. Hand-written so that the generator spends its time on
//! the socket, not in a client library, and so that the xtask stays light to build.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim_end().to_owned()
    }
}

/// One keep-alive connection to an HTTP server.
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    head: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let writer = stream.try_clone()?;
        Ok(Conn {
            addr,
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
            head: Vec::with_capacity(256),
        })
    }

    /// Sends one request and reads its response. Bodies are sent with Content-Length.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        self.head.clear();
        write!(
            self.head,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )?;
        if body.len() < 16 * 1024 {
            // One segment for small requests.
            self.head.extend_from_slice(body);
            self.writer.write_all(&self.head)?;
        } else {
            self.writer.write_all(&self.head)?;
            self.writer.write_all(body)?;
        }
        read_response(&mut self.reader)
    }

    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        self.request("GET", path, b"")
    }
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The headers the generator cares about.
#[derive(Debug, Default)]
struct Head {
    content_length: Option<usize>,
    chunked: bool,
}

/// Reads header lines up to the empty line; `None` at a clean end of stream before any.
fn read_head(reader: &mut impl BufRead, first: &mut String) -> io::Result<Option<Head>> {
    first.clear();
    if reader.read_line(first)? == 0 {
        return Ok(None);
    }
    let mut head = Head::default();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("connection closed inside the headers".to_owned()));
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return Ok(Some(head));
        }
        let Some((name, value)) = trimmed.split_once(':') else {
            return Err(bad(format!("malformed header line {trimmed:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(
                value
                    .parse()
                    .map_err(|_| bad(format!("bad Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
}

fn read_body(reader: &mut impl BufRead, head: &Head) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if head.chunked {
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = line.trim_end().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| bad(format!("bad chunk size {:?}", line.trim_end())))?;
            if size == 0 {
                // Trailers (none expected), then the final empty line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    }
    if let Some(length) = head.content_length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Reads one response (status line, headers, body by Content-Length or chunked).
pub fn read_response(reader: &mut impl BufRead) -> io::Result<Response> {
    let mut status_line = String::new();
    let head = read_head(reader, &mut status_line)?
        .ok_or_else(|| bad("the server closed the connection without a response".to_owned()))?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| bad(format!("bad status line {:?}", status_line.trim_end())))?;
    let body = read_body(reader, &head)?;
    Ok(Response { status, body })
}

/// Reads one request's body (by Content-Length or chunked); `None` when the client closed the
/// connection between requests.
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut request_line = String::new();
    let Some(head) = read_head(reader, &mut request_line)? else {
        return Ok(None);
    };
    read_body(reader, &head).map(Some)
}

/// The reply of the generator's HTTP servers.
pub const OK_EMPTY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn responses_by_length_and_chunked() {
        let mut input = Cursor::new(
            b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n\
              HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello\
              HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\n6;x=y\r\n input\r\n0\r\n\r\n"
                .to_vec(),
        );
        let r = read_response(&mut input).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (204, &b""[..]));
        let r = read_response(&mut input).unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "hello"));
        let r = read_response(&mut input).unwrap();
        assert_eq!((r.status, r.text().as_str()), (400, "bad input"));
        let err = read_response(&mut input).unwrap_err();
        assert!(err.to_string().contains("without a response"), "{err}");
        let err = read_response(&mut Cursor::new(b"SSH-2.0\r\n\r\n".to_vec())).unwrap_err();
        assert!(err.to_string().contains("bad status line"), "{err}");
    }

    #[test]
    fn requests_until_the_client_closes() {
        let mut input = Cursor::new(
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        );
        assert_eq!(read_request(&mut input).unwrap(), Some(b"{}".to_vec()));
        assert_eq!(read_request(&mut input).unwrap(), Some(Vec::new()));
        assert_eq!(read_request(&mut input).unwrap(), None);
    }
}
