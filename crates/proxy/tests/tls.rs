//! The https upstream path: TLS with SNI and Host set to the upstream's name, certificate verification on.
//! The certificate is made by the `openssl` command (Debian's openssl package); without it the test says
//! so and fails, rather than pass without checking anything.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A throwaway CA and a `localhost` leaf it signed: (CA DER, leaf DER, leaf PKCS#8 key DER).
fn make_certs(dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command is needed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-days",
            "2",
            "-subj",
            "/CN=hf-space-proxy test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    run(&["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"]);
    run(&[
        "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
    ]);
    run(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
    ]);
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    (read("ca.der"), read("cert.der"), read("key.der"))
}

/// A TLS upstream on 127.0.0.1 that records the SNI and Host it saw.
async fn tls_upstream(
    cert: Vec<u8>,
    key: Vec<u8>,
) -> (u16, Arc<Mutex<Vec<(Option<String>, String)>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, seen) = (acceptor.clone(), seen2.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().map(str::to_owned);
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let host = req
                        .headers()
                        .get("host")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let tok = req.headers().get("x-hf-authorization").is_some();
                    seen.lock().unwrap().push((sni.clone(), host));
                    async move {
                        let body = if tok { "secure hello" } else { "no token" };
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(body)),
                        ))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn https_upstream_gets_sni_and_host_and_is_verified() {
    let dir = std::env::temp_dir().join(format!("hf-space-proxy-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = make_certs(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let (port, seen) = tls_upstream(cert, key).await;
    let target = format!("https://localhost:{port}");

    // Trusted via the extra root: forwarded, with SNI and Host naming the upstream.
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    let config = hf_space_proxy::Config::from_map([
        ("PROXY_TARGET_URL", target.as_str()),
        ("PROXY_HF_TOKEN", TOKEN),
        ("PROXY_WAKE_RETRY_SECS", "0"),
    ])
    .unwrap()
    .with_extra_root(ca)
    .with_log_sink(Arc::new(move |l: &str| {
        sink.lock().unwrap().push(l.to_owned())
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hf_space_proxy::serve(config, listener, async move {
        let _ = rx.await;
    }));
    let r = get(addr, "/", "").await;
    assert_eq!(r.status, 200, "{} {:?}", r.text(), logs.lock().unwrap());
    assert_eq!(r.text(), "secure hello");
    assert_eq!(
        seen.lock().unwrap().last().unwrap(),
        &(Some("localhost".to_owned()), format!("localhost:{port}"))
    );
    let _ = tx.send(());
    server.await.unwrap().unwrap();

    // Not trusted (only the web PKI roots): the proxy refuses to talk to it.
    let proxy = start_proxy(&target, &[]).await;
    let before = seen.lock().unwrap().len();
    let r = get(proxy.addr, "/", "").await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(seen.lock().unwrap().len(), before);
    let logs = proxy.stop().await;
    assert!(logs.iter().any(|l| l.contains("tls")), "{logs:?}");
}
