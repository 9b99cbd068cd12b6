//! `hf-space-proxy`: a small reverse proxy that runs in a public Hugging Face Docker Space and forwards
//! every request to one private Space, adding the token server-side (`X-HF-Authorization`), so callers
//! never hold it. It streams bodies (SSE, uploads), tunnels WebSockets, rewrites the private origin in
//! `Location`, JSON, HTML and SSE, strips caller credentials, and maps failures to small JSON errors.
//!
//! Configuration comes from `PROXY_*` environment variables; see the crate README.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = hf_space_proxy::Config::from_map([
//!     ("PROXY_TARGET_URL", "https://alice-app.hf.space"),
//!     ("PROXY_HF_TOKEN", "hf_xxx"),
//!     ("PROXY_LISTEN", "127.0.0.1:7860"),
//! ])?;
//! let listener = tokio::net::TcpListener::bind(config.listen_addr()).await?;
//! hf_space_proxy::serve(config, listener, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```

mod body;
mod config;
mod cors;
mod errors;
mod framing;
mod handler;
mod headers;
mod limits;
mod log;
mod ops;
mod preset;
mod race;
mod rewrite;
mod server;
mod timer;
mod upstream;
mod websocket;

pub use config::{
    Config, ConfigError, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, MAX_HEADER_BYTES,
};
pub use server::serve;
