//! keyward inside another program: start a server on a free port, talk
//! RESP to it over a plain TCP socket, shut it down gracefully.
//!
//! cargo run --example embedded

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Port 0: the OS picks a free port; the handle knows which. By default
    // keyward binds 127.0.0.1 and ::1 only.
    let server = keyward::Server::builder().port(0).start().await?;
    let addr = server.addr();
    println!("keyward serving on {addr}");

    let mut conn = TcpStream::connect(addr).await?;
    // Two pipelined commands, one write: SET greeting hello, GET greeting.
    conn.write_all(
        b"*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n\
          *2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n",
    )
    .await?;
    let expected: &[u8] = b"+OK\r\n$5\r\nhello\r\n";
    let mut reply = vec![0u8; expected.len()];
    conn.read_exact(&mut reply).await?;
    println!("replies: {:?}", String::from_utf8_lossy(&reply));
    assert_eq!(reply, expected);

    // Closes every connection and waits for the server's tasks to finish.
    server.shutdown().await;
    println!("server stopped");
    Ok(())
}
