//! `TCP_NODELAY` for the PostgreSQL connections, which sqlx 0.9.0 no longer sets.
//!
//! Without it, a statement larger than the socket's first send (about 16 KB on Linux: a keyset
//! chunk's `IN (…1000 ids…)`, a multi-row `INSERT`) leaves in two writes, Nagle's algorithm
//! holds the second until the server's delayed ACK, and the statement takes 40 ms more. An
//! export of the city read 130 chunks that way. The fix is upstream (transact-rs/sqlx PR 4336)
//! but not released; until it is, every new pooled connection runs [`set_on_connections_to`],
//! which finds this process's TCP sockets connected to the database's port and sets the option
//! on those that lack it. Unix-socket connections need nothing. Remove this module when the
//! sqlx in `Cargo.lock` sets the option itself.

/// Sets `TCP_NODELAY` on every TCP socket of this process whose peer listens on `port` and
/// does not have it yet; returns how many it changed.
#[cfg(target_os = "linux")]
pub fn set_on_connections_to(port: u16) -> usize {
    let mut changed = 0;
    for_each_connection_to(port, |socket| {
        if socket.tcp_nodelay().is_ok_and(|on| !on) && socket.set_tcp_nodelay(true).is_ok() {
            changed += 1;
        }
    });
    changed
}

/// Calls `f` with each TCP socket of this process connected to `port`. Best effort: a socket
/// that closes meanwhile, or anything that is not a TCP socket, is skipped.
#[cfg(target_os = "linux")]
pub fn for_each_connection_to(port: u16, mut f: impl FnMut(socket2::SockRef<'_>)) {
    use std::os::fd::{BorrowedFd, RawFd};

    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        // Only sockets: the link of a socket's descriptor reads `socket:[inode]`.
        if !std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        {
            continue;
        }
        // SAFETY: the descriptor is only used during this iteration, for `getsockopt`,
        // `getpeername` and `setsockopt`. Should another task close it (and the number be
        // reused) meanwhile, those calls fail or apply to another socket of this process; no
        // memory is touched through it either way.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let connected_to_port = socket.r#type().is_ok_and(|t| t == socket2::Type::STREAM)
            && socket
                .peer_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .is_some_and(|a| a.port() == port);
        if connected_to_port {
            f(socket);
        }
    }
}

/// Elsewhere the option cannot be reached from here; connections keep the system default.
#[cfg(not(target_os = "linux"))]
pub fn set_on_connections_to(_port: u16) -> usize {
    0
}

#[cfg(not(target_os = "linux"))]
pub fn for_each_connection_to(_port: u16, _f: impl FnMut(socket2::SockRef<'_>)) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn sets_the_option_on_tcp_connections_to_the_port_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to_port = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let elsewhere = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_port.nodelay().unwrap());
        assert!(set_on_connections_to(port) >= 1);
        assert!(to_port.nodelay().unwrap(), "the connection to the port");
        assert!(
            !elsewhere.nodelay().unwrap(),
            "a connection elsewhere is left alone"
        );
        // Nothing left to change.
        assert_eq!(set_on_connections_to(port), 0);
    }
}
