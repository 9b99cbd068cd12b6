# shellcheck shell=bash
# shellcheck disable=SC2034  # addr, pid, proxy_env, ng_port and ng_pid are set for the sourcing script
# Sourced by run.sh, ab.sh and callgrind.sh: how the benchmarks start the upstream, the proxy and nginx, so that
# every script measures the same set-up. Processes started here are stopped when the script exits.
TOKEN="hf_benchtoken_not_a_secret"
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_all EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts a command whose first stdout line is "listening on http://ADDR" (stdout to LOG.stdout, stderr to LOG);
# sets $addr and $pid (the command's own: memory is read from it). Waits up to 60 s (callgrind starts slowly).
# usage: start_listening LOG CMD...
start_listening() {
  local log="$1"; shift
  "$@" >"$log.stdout" 2>"$log" &
  pid=$!; pids+=("$pid")
  local line=""
  for _ in $(seq 1 1200); do
    line=$(head -n1 "$log.stdout" 2>/dev/null || true)
    [ -n "$line" ] && break
    sleep 0.05
  done
  [ -n "$line" ] || { echo "$* did not start; see $log" >&2; exit 1; }
  addr="${line#listening on http://}"
}

# The proxy's environment in front of UPSTREAM_ADDR, as a command prefix in $proxy_env (run it as
# `"${proxy_env[@]}" BIN`, or with a wrapper such as valgrind before BIN). wrk is one caller holding 64 requests
# in flight: the per-caller cap (default 32) is off here.
# usage: set_proxy_env UPSTREAM_ADDR
set_proxy_env() {
  proxy_env=(env -i PROXY_TARGET_URL="http://$1" PROXY_HF_TOKEN="$TOKEN" PROXY_LISTEN=127.0.0.1:0
    PROXY_PUBLIC_ORIGIN=https://bench-proxy.hf.space PROXY_MAX_CONNECTIONS_PER_CALLER=0)
}

# Starts nginx (NGINX, else the one on PATH, else /usr/sbin/nginx) in DIR in front of UPSTREAM_ADDR and waits
# until it answers; sets $ng_port and $ng_pid (the master; the worker is its only child).
# usage: start_nginx DIR UPSTREAM_ADDR
start_nginx() {
  local ng=$1 bin="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
  [ -x "$bin" ] || { echo "missing nginx: apt-get install -y nginx-light" >&2; exit 1; }
  rm -rf "$ng"; mkdir -p "$ng/tmp"
  ng_port=$(free_port)
  nginx_conf "$ng" "$ng_port" "$2" "$TOKEN"
  "$bin" -p "$ng" -c "$ng/nginx.conf" >"$ng/stdout.log" 2>&1 &
  ng_pid=$!; pids+=("$ng_pid")
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$ng_port/" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://127.0.0.1:$ng_port/" >/dev/null
}

# nginx as the proxy's mature peer: one worker, an upstream keepalive pool, the same token header, access log
# on (buffered and flushed every 200 ms like ours), no response buffering (ours streams every body frame by
# frame).
# usage: nginx_conf DIR PORT UPSTREAM_ADDR TOKEN  (writes DIR/nginx.conf; DIR/tmp must exist)
nginx_conf() {
  local ng=$1 port=$2 up=$3 token=$4
  cat > "$ng/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 4096; }
http {
  access_log $ng/access.log combined buffer=16k flush=200ms;
  client_body_temp_path $ng/tmp/body;
  proxy_temp_path $ng/tmp/proxy;
  fastcgi_temp_path $ng/tmp/fastcgi;
  uwsgi_temp_path $ng/tmp/uwsgi;
  scgi_temp_path $ng/tmp/scgi;
  upstream app { server $up; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_set_header X-HF-Authorization "Bearer $token";
      proxy_buffering off;
    }
  }
}
NGINX
}
