#!/usr/bin/env bash
# Module benchmark, loopback only, every run bounded in count and time:
#  1. module archive downloads: wrk on a stored module version's archive.tar.gz through
#     tfmirror against nginx serving the very same bytes as a static file, alternating round
#     by round, for a typical small module (SMALL_KB) and a large one (LARGE_MB), over HTTPS
#     (both with the same certificate, as clients talk to a mirror) and over plain HTTP
#     (where nginx sends the file with sendfile, which TLS rules out);
#     target: tfmirror within 10% of nginx's requests/s.
#  2. cold pull-through: for each of COUNT modules of PULL_MB, a direct `curl` of the origin's
#     archive against a `curl` of the same version's archive.tar.gz through a tfmirror that
#     has never seen it (the origin's location, the download, the safe unpack, the
#     deterministic repack, the store, then the answer).
#
#   bench/modules.sh   (env: DURATION=5s ROUNDS=3 CONNS=64 SMALL_KB=64 LARGE_MB=20 COUNT=5 PULL_MB=10)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
SMALL_KB=${SMALL_KB:-64}
LARGE_MB=${LARGE_MB:-20}
COUNT=${COUNT:-5}
PULL_MB=${PULL_MB:-10}
OUT=bench/out
mkdir -p "$OUT"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=$PWD/target/release/tfmirror
fi

WORK=$(mktemp -d "$PWD/$OUT/modules.XXXXXX")
TFM_PORT=18680
NGX_PORT=18681
PULL_PORT=18682
TFM_TLS_PORT=18683
NGX_TLS_PORT=18684
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -s "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A module package of SIZE bytes of incompressible files (so gzip cannot shrink it away),
# with GitHub's wrapper directory.
make_module() { # out.tar.gz name size_bytes
  python3 - "$@" <<'PY'
import io, os, sys, tarfile
out, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tarfile.open(out, "w:gz", compresslevel=1) as t:
    main = f'variable "name" {{}}\noutput "name" {{ value = "{name}" }}\n'.encode()
    entries = [("main.tf", main)]
    left, i = size, 0
    while left > 0:
        n = min(left, 1 << 20)
        entries.append((f"files/blob{i}.bin", os.urandom(n)))
        left -= n
        i += 1
    for path, data in entries:
        info = tarfile.TarInfo(f"{name}-1.0.0/{path}")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
PY
}

# Starts `tfmirror serve` on PORT with extra HCL; waits (bounded) for /healthz.
serve() {
  local name=$1 port=$2 extra=$3
  mkdir -p "$WORK/$name"
  printf 'data_dir = "%s"\nserver {\n  listen = "127.0.0.1:%s"\n}\nworker {\n  enabled = false\n}\n%s\n' \
    "$WORK/$name/data" "$port" "$extra" > "$WORK/$name/tfmirror.hcl"
  RUST_LOG=warn "$BIN" --config "$WORK/$name/tfmirror.hcl" serve > "$WORK/$name/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$WORK/$name/log"; exit 1
}

# 1. Stored modules: uploaded with `tfmirror add-module`, then the stored archive copied
# byte for byte into nginx's tree at the same path.
mkdir -p "$WORK/static" "$WORK/origin/files"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
serve stored "$TFM_PORT" ""
# The same data directory over HTTPS (a second process, started once the modules are in).
TLS_HCL="server {
  listen = \"127.0.0.1:$TFM_TLS_PORT\"
  tls {
    cert_file = \"$WORK/cert.pem\"
    key_file  = \"$WORK/key.pem\"
  }
}"
for m in small:$((SMALL_KB << 10)) large:$((LARGE_MB << 20)); do
  name=${m%%:*}; size=${m##*:}
  make_module "$WORK/$name.tar.gz" "$name" "$size"
  "$BIN" --config "$WORK/stored/tfmirror.hcl" add-module --namespace bench --name "$name" \
    --system aws --version 1.0.0 "$WORK/$name.tar.gz" > /dev/null
  path="v1/modules/bench/$name/aws/1.0.0/archive.tar.gz"
  mkdir -p "$WORK/static/$(dirname "$path")"
  curl -fsS -o "$WORK/static/$path" "http://127.0.0.1:$TFM_PORT/$path"
done

# The origin for the cold pull-through: modules.v1 as static files, each download answered
# 204 with an X-Terraform-Get naming its archive (as a registry does).
mkdir -p "$WORK/origin/.well-known"
echo '{"modules.v1": "/v1/modules/"}' > "$WORK/origin/.well-known/terraform.json"
for i in $(seq 0 $((COUNT - 1))); do
  make_module "$WORK/origin/files/mod$i.tar.gz" "mod$i" $((PULL_MB << 20))
  mkdir -p "$WORK/origin/v1/modules/bench/mod$i/aws"
  echo '{"modules": [{"versions": [{"version": "1.0.0"}]}]}' \
    > "$WORK/origin/v1/modules/bench/mod$i/aws/versions"
done
cat > "$WORK/nginx.conf" <<NGX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/json;
  types { application/gzip gz; }
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
  uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen 127.0.0.1:$NGX_PORT; root $WORK/static; }
  server {
    listen 127.0.0.1:$NGX_TLS_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    root $WORK/static;
  }
  server {
    listen 127.0.0.1:$((NGX_PORT + 10));
    root $WORK/origin;
    location ~ ^/v1/modules/bench/(mod[0-9]+)/aws/1.0.0/download$ {
      add_header X-Terraform-Get /files/\$1.tar.gz;
      return 204;
    }
  }
}
NGX
"$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"
for _ in $(seq 1 50); do [ -s "$WORK/nginx.pid" ] && break; sleep 0.1; done
ORIGIN=http://127.0.0.1:$((NGX_PORT + 10))
cat "$WORK"/origin/files/*.tar.gz "$WORK"/static/v1/modules/bench/*/aws/1.0.0/* > /dev/null

# The HTTPS tfmirror reads the same data directory as the plain one.
sed -e "/^server {/,/^}/d" "$WORK/stored/tfmirror.hcl" > "$WORK/tls.hcl"
printf '%s\n' "$TLS_HCL" >> "$WORK/tls.hcl"
RUST_LOG=warn "$BIN" --config "$WORK/tls.hcl" serve > "$WORK/tls.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -fsk "https://127.0.0.1:$TFM_TLS_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

for name in small large; do
  path="v1/modules/bench/$name/aws/1.0.0/archive.tar.gz"
  for url in "http://127.0.0.1:$NGX_PORT" "https://127.0.0.1:$TFM_TLS_PORT" "https://127.0.0.1:$NGX_TLS_PORT"; do
    cmp <(curl -fsS "http://127.0.0.1:$TFM_PORT/$path" | sha256sum) \
        <(curl -fsSk "$url/$path" | sha256sum)
  done
done

run_wrk() { # base path conns -> "rps p99"
  local out="$WORK/wrk.txt"
  wrk -t2 -c"$3" -d"$DURATION" --latency "$1/$2" > "$out"
  echo "$(awk '/^Requests\/sec/ {print $2}' "$out") $(awk '$1 == "99%" {print $2}' "$out")"
}

: > "$WORK/archives.txt"
for scheme in https http; do
  if [ "$scheme" = https ]; then
    tfm="https://127.0.0.1:$TFM_TLS_PORT"; ngx="https://127.0.0.1:$NGX_TLS_PORT"
  else
    tfm="http://127.0.0.1:$TFM_PORT"; ngx="http://127.0.0.1:$NGX_PORT"
  fi
  for name in small large; do
    path="v1/modules/bench/$name/aws/1.0.0/archive.tar.gz"
    conns=$CONNS
    [ "$name" = large ] && conns=16
    for _ in $(seq 1 "$ROUNDS"); do
      echo "$scheme-$name tfmirror $(run_wrk "$tfm" "$path" "$conns")" >> "$WORK/archives.txt"
      echo "$scheme-$name nginx $(run_wrk "$ngx" "$path" "$conns")" >> "$WORK/archives.txt"
    done
  done
done

# 2. Cold pull-through against a direct fetch, alternating per module.
serve pull "$PULL_PORT" "upstream \"registry.terraform.io\" {
  url          = \"$ORIGIN\"
  pull_through = true
}"
timed() { curl -fsS -o /dev/null -w '%{time_total}\n' "$1"; }
: > "$WORK/cold.txt"
for i in $(seq 0 $((COUNT - 1))); do
  direct=$(timed "$ORIGIN/files/mod$i.tar.gz")
  mirror=$(timed "http://127.0.0.1:$PULL_PORT/v1/modules/bench/mod$i/aws/1.0.0/archive.tar.gz")
  again=$(timed "http://127.0.0.1:$PULL_PORT/v1/modules/bench/mod$i/aws/1.0.0/archive.tar.gz")
  echo "$direct $mirror $again" >> "$WORK/cold.txt"
done

python3 - "$WORK/archives.txt" "$WORK/cold.txt" "$SMALL_KB" "$LARGE_MB" "$PULL_MB" "$DURATION" "$ROUNDS" <<'PY' | tee "$OUT/modules-results.txt"
import statistics, sys
from collections import defaultdict
archives, cold, small_kb, large_mb, pull_mb, duration, rounds = sys.argv[1:8]
def ms(v):
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
runs = defaultdict(list)
for line in open(archives):
    name, server, rps, p99 = line.split()
    runs[(name, server)].append((float(rps), ms(p99)))
print(f"module archive downloads (median of {rounds} alternating rounds of {duration})")
print(f"{'module':<22} {'server':<9} {'requests/s':>11} {'p99':>9}")
for name, label in (
    (f"{scheme}-{size}", f"{scheme} {size} {amount}")
    for scheme in ("https", "http")
    for size, amount in (("small", f"{small_kb} KiB"), ("large", f"{large_mb} MiB"))
):
    med = {}
    for server in ("tfmirror", "nginx"):
        rows = runs[(name, server)]
        rps = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        med[server] = rps
        print(f"{label:<22} {server:<9} {rps:>11.0f} {p99:>7.2f}ms")
    ratio = med["tfmirror"] / med["nginx"]
    print(f"{label:<22} tfmirror/nginx = {ratio:.2f}  (target >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'})")
rows = [tuple(map(float, l.split())) for l in open(cold) if l.strip()]
print(f"cold pull-through, {len(rows)} modules x {pull_mb} MiB (seconds)")
print(f"{'module':>8} {'direct':>8} {'mirror':>8} {'stored':>8}")
for i, (d, m, a) in enumerate(rows):
    print(f"{i:>8} {d:8.3f} {m:8.3f} {a:8.3f}")
d = statistics.median(r[0] for r in rows)
m = statistics.median(r[1] for r in rows)
a = statistics.median(r[2] for r in rows)
print(f"{'median':>8} {d:8.3f} {m:8.3f} {a:8.3f}   (mirror/direct {m / d:.1f}x: fetch, unpack, repack, store)")
PY
