//! A request whose body the handler ignores must not cost the client its pooled connection.

mod common;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

async fn read_response<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await.ok()?;
    Some(head)
}

#[tokio::test]
async fn unread_bodies_keep_the_connection_alive() {
    let emu = common::start().await;
    let addr = emu.url().trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    // validate-yaml answers without looking at the body.
    let body = format!(
        "{{\"content\": \"{}\", \"repoType\": \"model\"}}",
        "x".repeat(200_000)
    );
    for _ in 0..3 {
        let req = format!(
            "POST /api/validate-yaml HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        wr.write_all(req.as_bytes()).await.expect("write");
        let head = read_response(&mut rd)
            .await
            .expect("a response on the same connection");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    let req = format!(
        "GET /api/whoami-v2 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        common::ALICE
    );
    wr.write_all(req.as_bytes()).await.expect("write");
    let head = read_response(&mut rd).await.expect("connection still open");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(emu.journal().len(), 4);
    assert_eq!(emu.journal()[0].bytes_in, body.len() as u64);
}
