"""FastAPI + httpx reverse proxy, equivalent to the seed design, as the peer for bench/proxy.

One catch-all route forwards every method to PROXY_TARGET_URL with httpx.AsyncClient (a shared, pooled
client), adds the token header, strips the caller's credentials and hop-by-hop headers, and streams the
response back with StreamingResponse. Run: uvicorn fastapi_proxy:app --port N (env PROXY_TARGET_URL,
PROXY_HF_TOKEN).
"""

import os

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

TARGET = os.environ["PROXY_TARGET_URL"].rstrip("/")
TOKEN = os.environ.get("PROXY_HF_TOKEN", "")
HOP = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "proxy-authenticate", "proxy-authorization", "host", "content-length",
}
STRIP_IN = HOP | {"authorization", "x-hf-authorization", "x-ip-token", "cookie"}

app = FastAPI()
client = httpx.AsyncClient(base_url=TARGET, timeout=httpx.Timeout(120.0, connect=10.0),
                           limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))


@app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def proxy(path: str, request: Request):
    headers = {k: v for k, v in request.headers.items() if k.lower() not in STRIP_IN}
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    if TOKEN:
        headers["x-hf-authorization"] = f"Bearer {TOKEN}"
    upstream_req = client.build_request(
        request.method, "/" + path, params=request.query_params, headers=headers,
        content=request.stream() if has_body else None,
    )
    upstream = await client.send(upstream_req, stream=True)
    out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP}
    return StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code, headers=out_headers,
                             background=BackgroundTask(upstream.aclose))
