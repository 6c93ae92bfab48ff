//! Slow and greedy clients against `serve` on a real loopback socket: headers trickled a byte at a time and
//! idle connections are closed after the header timeout, a stalled body after the body timeout, and
//! connections past the per-address or total cap are closed at once, while `/healthz` keeps answering.

mod common;

use std::time::{Duration, Instant};

use common::*;
use talon_server::connections::ConnectionLimits;
use talon_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
const BODY_TIMEOUT: Duration = Duration::from_secs(1);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// A server with small caps and short timeouts on a free port; answers its address.
async fn start(max_connections: usize, max_per_address: usize) -> (Harness, String) {
    let connections = ConnectionLimits {
        max_connections,
        max_per_address,
        header_timeout: HEADER_TIMEOUT,
        body_timeout: BODY_TIMEOUT,
        idle_timeout: IDLE_TIMEOUT,
    };
    let h = Harness::new(Config { connections, ..Config::default() }).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(talon_server::serve(listener, h.state.clone(), std::future::pending()));
    (h, address)
}

/// How long until the server closes `stream` (reading whatever it sends meanwhile), at most `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some((started.elapsed(), answer)),
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

async fn healthz(address: &str) -> u16 {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").await.expect("write");
    let (_, answer) = closed_within(&mut stream, Duration::from_secs(5)).await.expect("an answer");
    String::from_utf8_lossy(&answer).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn headers_trickled_a_byte_at_a_time_are_cut_off_and_healthz_still_answers() {
    let (_h, address) = start(100, 100).await;
    let mut slow = TcpStream::connect(&address).await.expect("connect");
    let trickle = tokio::spawn(async move {
        let started = Instant::now();
        for byte in b"GET /healthz HTTP/1.1\r\nhost: slow\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if slow.write_all(&[*byte]).await.is_err() {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        Duration::MAX
    });
    assert_eq!(healthz(&address).await, 200, "others are served meanwhile");
    let cut = tokio::time::timeout(Duration::from_secs(10), trickle).await.expect("ended").expect("joined");
    assert!(cut < Duration::from_secs(4), "the trickling client was cut off after {cut:?}");
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let (_h, address) = start(100, 100).await;
    // One that never sends: its headers never come.
    let mut silent = TcpStream::connect(&address).await.expect("connect");
    let (after, _) = closed_within(&mut silent, Duration::from_secs(5)).await.expect("closed");
    assert!(after >= HEADER_TIMEOUT / 2 && after < HEADER_TIMEOUT * 3, "closed after {after:?}");
    // A keep-alive connection left idle after a request: after the idle timeout.
    let mut kept = TcpStream::connect(&address).await.expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await.expect("write");
    let (after, answer) = closed_within(&mut kept, Duration::from_secs(8)).await.expect("closed");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert!(after >= IDLE_TIMEOUT / 2 && after < IDLE_TIMEOUT * 3, "closed after {after:?}");
}

#[tokio::test]
async fn a_stalled_body_is_refused_after_the_body_timeout() {
    let (_h, address) = start(100, 100).await;
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    let head = "POST /oauth2/token HTTP/1.1\r\nhost: t\r\ncontent-type: application/x-www-form-urlencoded\r\n\
                content-length: 100\r\n\r\nclient_id=";
    stream.write_all(head.as_bytes()).await.expect("write");
    let (after, answer) = closed_within(&mut stream, Duration::from_secs(5)).await.expect("answered and closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400") && text.contains("request body could not be read"), "{text}");
    assert!(after >= BODY_TIMEOUT / 2 && after < BODY_TIMEOUT * 3, "after {after:?}");
}

#[tokio::test]
async fn connections_past_the_caps_are_closed_at_once() {
    let (_h, address) = start(100, 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&address).await.expect("connect"));
    }
    // Give the server a moment to admit them, then the fourth from this address is closed unread.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = TcpStream::connect(&address).await.expect("the kernel accepts");
    let (after, answer) = closed_within(&mut over, Duration::from_secs(2)).await.expect("closed");
    assert!(answer.is_empty() && after < Duration::from_millis(500), "closed after {after:?}");
    // A place given back is a place to use.
    held.pop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(healthz(&address).await, 200);

    let (_h, address) = start(2, 100).await;
    let _a = TcpStream::connect(&address).await.expect("connect");
    let _b = TcpStream::connect(&address).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(&address).await.expect("the kernel accepts");
    let (after, _) = closed_within(&mut third, Duration::from_secs(2)).await.expect("closed");
    assert!(after < Duration::from_millis(500), "past the total cap, closed after {after:?}");
}
