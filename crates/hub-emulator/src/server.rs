//! The accept loop shared by the Hub and the Space apps: hyper-util connections with upgrades,
//! the peer address in request extensions, and a handle that drops the connection on purpose.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// In request extensions: `kill()` closes the connection without an answer.
#[derive(Clone)]
pub struct ConnKiller(Arc<Notify>);

impl ConnKiller {
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

/// Serves `app` on `listener` until `shutdown` flips to true.
pub async fn serve(listener: TcpListener, app: Router, mut shutdown: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                // Out of file descriptors and the like: keep serving the other connections.
                Err(_) => continue,
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut sd = shutdown.clone();
        tokio::spawn(async move {
            let notify = Arc::new(Notify::new());
            let killer = ConnKiller(notify.clone());
            let tower = TowerToHyperService::new(app);
            let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(killer.clone());
                hyper::service::Service::call(&tower, req)
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = notify.notified() => {}
                _ = sd.changed() => {}
            }
        });
    }
}

pub type Peer = ConnectInfo<SocketAddr>;
