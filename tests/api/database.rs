//! The server's own connections to PostgreSQL over TCP.

use serde_json::json;

use crate::fixture::{Fixture, users};
use crate::helpers::{Backend, TestApp, TestDb, test_args};

/// Forwards every connection on a port of its own to `target`: the sockets the server opens to
/// this port are then told apart from every other test's.
async fn forwarder(target: (String, u16)) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    port
}

/// `TCP_NODELAY` of each of this process's TCP sockets connected to `port`.
fn nodelay_of_sockets_to(port: u16) -> Vec<bool> {
    let mut found = Vec::new();
    cdtg_api::db::nodelay::for_each_connection_to(port, |socket| {
        found.push(socket.tcp_nodelay().expect("read TCP_NODELAY"));
    });
    found
}

/// sqlx 0.9.0 leaves Nagle's algorithm on, which holds the tail of any statement over ~16 KB
/// for the server's delayed ACK (40 ms). The server switches it off on every connection it
/// opens. (PostgreSQL only: SQLite has no socket.)
#[tokio::test]
async fn database_connections_over_tcp_send_without_delay() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let TestDb::Postgres { url, .. } = &db else {
        unreachable!()
    };
    let rest = url
        .split_once("@")
        .map(|(_, r)| r)
        .expect("a URL with a host");
    let (host_port, name) = rest.split_once('/').expect("a URL with a database");
    let (host, port) = host_port
        .split_once(':')
        .map(|(h, p)| (h.to_owned(), p.parse::<u16>().unwrap()))
        .unwrap_or((host_port.to_owned(), 5432));
    let through = forwarder((host, port)).await;
    let forwarded = url.replace(host_port, &format!("127.0.0.1:{through}"));
    assert!(forwarded.ends_with(name));

    let app = TestApp::spawn_on(TestDb::Shared { url: forwarded }, test_args()).await;
    let fixture = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, crate::fixture::PASSWORD).await;
    // A few requests at once, so the pool opens several connections.
    let queries = (0..4).map(|_| {
        app.ok(
            &token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": crate::fixture::gid(cdtg_api::ids::NodeType::Group, fixture.group_a1) }),
        )
    });
    futures_util::future::join_all(queries).await;

    let sockets = nodelay_of_sockets_to(through);
    assert!(
        !sockets.is_empty(),
        "the server holds connections through the forwarder"
    );
    assert!(
        sockets.iter().all(|on| *on),
        "every database connection has TCP_NODELAY: {sockets:?}"
    );
    drop(app);
    drop(db);
}
