//! Requests written byte for byte on a TCP socket, for headers no HTTP client sends:
//! invalid UTF-8, oversized values, hundreds of repeats.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw response: its status, `Set-Cookie` values, headers and body.
#[derive(Debug)]
pub struct RawAnswer {
    /// The status code.
    pub status: u16,
    /// The `Set-Cookie` values.
    pub set_cookies: Vec<String>,
    /// Every header, as (lowercased name, value).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl RawAnswer {
    /// Every value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `GET path` with `headers` (each a whole `Name: value` line without the CRLF),
/// `Connection: close`; returns the response.
pub async fn get(addr: SocketAddr, path: &str, headers: &[Vec<u8>]) -> RawAnswer {
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n").into_bytes();
    for header in headers {
        request.extend_from_slice(header);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&request).await.expect("write the request");
    let mut response = Vec::new();
    // A hung server fails the case instead of hanging the suite.
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("the server answered")
        .expect("read the response");
    parse(&String::from_utf8_lossy(&response))
}

fn parse(response: &str) -> RawAnswer {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let set_cookies = headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .map(|(_, value)| value.clone())
        .collect();
    RawAnswer {
        status,
        set_cookies,
        headers,
        body: body.to_owned(),
    }
}

/// A `Cookie: ...` header line from raw bytes.
pub fn cookie_header(value: &[u8]) -> Vec<u8> {
    let mut line = b"Cookie: ".to_vec();
    line.extend_from_slice(value);
    line
}
