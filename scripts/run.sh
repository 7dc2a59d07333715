#!/usr/bin/env bash
# Starts DFLB with config/local.yaml: DFLB creates two local instances, each
# DFM supervising a sample component. On Ctrl-C, DFLB deletes the instances,
# which would otherwise outlive it, and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

config=config/local.yaml
stop() {
	trap - INT TERM EXIT
	# With -down-on-exit, DFLB stops its control plane, deletes the
	# instances and the state, and exits 0. A terminal's Ctrl-C has already
	# reached it too, and the repeated signal changes nothing.
	status=0
	if [ -n "${dflb:-}" ]; then
		kill -INT "$dflb" 2>/dev/null || true
		wait "$dflb" 2>/dev/null || status=$?
	fi
	# A DFLB that failed, or exited earlier, may have left instances behind.
	if [ "$status" -ne 0 ]; then
		bin/dflb -config "$config" -data-dir .dflb -down || true
	fi
	exit 0
}
trap stop INT TERM EXIT

bin/dflb -config "$config" -data-dir .dflb -down-on-exit &
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
