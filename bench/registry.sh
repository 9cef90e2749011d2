# Sourced by the benchmarks: writes a GnuPG-signed Provider Registry Protocol tree of COUNT
# archives of SIZE_MB under $WORK/registry (make_registry.py) and serves it with nginx on
# 127.0.0.1:$REG_PORT. Needs WORK, REG_PORT, COUNT, SIZE_MB and NGINX set; leaves the
# server's PID in $WORK/nginx.pid for the caller to stop. REG_LIMIT_RATE (an nginx rate such
# as 20m, bytes per second per connection) makes each download as slow as a real origin's.
start_signed_registry() {
  export GNUPGHOME="$WORK/gnupg"
  mkdir -m 700 "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key "tfmirror bench <bench@localhost>" ed25519 sign never 2>/dev/null
  local key_id
  key_id=$(gpg --batch --with-colons --list-keys | awk -F: '/^pub/ {print $5; exit}')
  python3 bench/make_registry.py "$WORK/registry" "http://127.0.0.1:$REG_PORT" "$COUNT" "$SIZE_MB" "$GNUPGHOME" "$key_id"
  cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  default_type application/json;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
  uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen 127.0.0.1:$REG_PORT; root $WORK/registry; limit_rate ${REG_LIMIT_RATE:-0}; }
}
NGX
  "$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"
  for _ in $(seq 1 50); do [ -s "$WORK/nginx.pid" ] && break; sleep 0.1; done
  # Both sides of every comparison read the archives from memory.
  cat "$WORK"/registry/files/*.zip > /dev/null
}
