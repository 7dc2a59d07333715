#!/usr/bin/env bash
# Starts DFLB with config/local.yaml: DFLB creates two local instances, each
# DFM supervising a sample component. Ctrl-C deletes the instances, which
# would otherwise outlive DFLB, and stops DFLB.
set -euo pipefail
cd "$(dirname "$0")/.."

config=config/local.yaml
stop() {
	trap - INT TERM EXIT
	# Stop DFLB first, so that its control plane does not repair the
	# instances being deleted; -down then deletes them and the state.
	if [ -n "${dflb:-}" ]; then
		kill -TERM "$dflb" 2>/dev/null || true
		wait "$dflb" 2>/dev/null || true
	fi
	bin/dflb -config "$config" -data-dir .dflb -down || true
	exit 0
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
globex) on 127.0.1.1 and instance i2 (tenants initech, umbrella) on
127.0.1.2. Each is a DFM process supervising a sample component; their state
and logs are in .dflb/instances. Try:

  curl -H 'Host: acme.apps.localhost' http://127.0.0.1:8080/
  curl http://127.0.0.1:8080/t/initech/hello
  curl -H 'X-Tenant-ID: globex' http://127.0.0.1:8080/
  curl -H 'Host: nobody.apps.localhost' http://127.0.0.1:8080/        # 404
  curl -H "Authorization: Bearer $(cat .dflb/admin.token)" http://127.0.0.1:9090/metrics
  curl -H "Authorization: Bearer $(cat .dflb/dfm.secret)" http://127.0.1.1:7070/v1/status

The dashboard is at http://127.0.0.1:9090/ (token in .dflb/admin.token).
Create a tenant: see "Tenants" in README.md.

Crash i1's component and DFM restarts it, while DFLB keeps acme's requests
off it until DFM reports it up again:

  kill -KILL $(cat .dflb/instances/i1/components/app.pid)

Press Ctrl-C to delete the instances and stop DFLB.
HELP
wait "$dflb"
