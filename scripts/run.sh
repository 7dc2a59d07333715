#!/usr/bin/env bash
# Starts two sample component instances and DFLB in front of them, using
# config/example.yaml, and stops all three on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

pids=()
stop() {
	trap - INT TERM EXIT
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap stop INT TERM EXIT

bin/component -instance i1 -listen 127.0.0.1:9001 -tenants acme,globex &
pids+=($!)
bin/component -instance i2 -listen 127.0.0.1:9002 -tenants initech,umbrella &
pids+=($!)
bin/dflb -config config/example.yaml -data-dir .dflb &
pids+=($!)

for _ in $(seq 50); do
	curl -fsS -o /dev/null http://127.0.0.1:9090/healthz 2>/dev/null && break
	sleep 0.1
done

cat <<'HELP'

DFLB is listening on 127.0.0.1:8080, in front of instance i1 (tenants acme,
globex) and instance i2 (tenants initech, umbrella). Try:

  curl -H 'Host: acme.apps.localhost' http://127.0.0.1:8080/
  curl http://127.0.0.1:8080/t/initech/hello
  curl -H 'X-Tenant-ID: globex' http://127.0.0.1:8080/
  curl -H 'Host: nobody.apps.localhost' http://127.0.0.1:8080/        # 404
  curl -H "Authorization: Bearer $(cat .dflb/admin.token)" http://127.0.0.1:9090/metrics

Press Ctrl-C to stop.
HELP
wait -n "${pids[@]}"
