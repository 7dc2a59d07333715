#!/usr/bin/env bash
# Starts DFLB with config/local.yaml: DFLB creates two local instances, each
# DFM supervising a sample component. Ctrl-C stops DFLB and deletes the
# instances, which would otherwise outlive it.
set -euo pipefail
cd "$(dirname "$0")/.."

config=config/local.yaml
stop() {
	trap - INT TERM EXIT
	if [ -n "${dflb:-}" ]; then
		kill -TERM "$dflb" 2>/dev/null || true
		wait "$dflb" 2>/dev/null || true
	fi
	bin/dflb -config "$config" -down || true
}
trap stop INT TERM EXIT

bin/dflb -config "$config" -data-dir .dflb &
dflb=$!

for _ in $(seq 300); do
	curl -fsS -o /dev/null http://127.0.0.1:9090/healthz 2>/dev/null && break
	kill -0 "$dflb" 2>/dev/null || exit 1
	sleep 0.1
done

cat <<'HELP'

DFLB is listening on 127.0.0.1:8080. It created instance i1 (tenants acme,
globex) and instance i2 (tenants initech, umbrella), each a DFM process
supervising a sample component; their state and logs are in .dflb/instances.
Try:

  curl -H 'Host: acme.apps.localhost' http://127.0.0.1:8080/
  curl http://127.0.0.1:8080/t/initech/hello
  curl -H 'X-Tenant-ID: globex' http://127.0.0.1:8080/
  curl -H 'Host: nobody.apps.localhost' http://127.0.0.1:8080/        # 404
  curl -H "Authorization: Bearer $(cat .dflb/admin.token)" http://127.0.0.1:9090/metrics
  curl -H "Authorization: Bearer $(cat .dflb/dfm.secret)" http://127.0.1.1:7070/v1/status

Kill a component (pkill -KILL -f 'component -instance i1') and DFM restarts
it; DFLB logs DFM's notifications. Press Ctrl-C to stop everything.
HELP
wait "$dflb"
