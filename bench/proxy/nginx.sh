# shellcheck shell=bash
# Sourced by run.sh and ab.sh: nginx as the proxy's mature peer, set up once.
# One worker, an upstream keepalive pool, the same token header, access log on (buffered and flushed every
# 200 ms like ours), no response buffering (ours streams every body frame by frame).
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
