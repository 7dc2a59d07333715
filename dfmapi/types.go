// Package dfmapi contains the wire types of DFM, the agent that runs on each
// instance, and a client for its HTTP API. Both DFM and DFLB's control plane
// import it, so neither imports the other.
//
// Every endpoint except GET /healthz requires "Authorization: Bearer
// <secret>". Errors are JSON objects such as {"error": "unknown component"}.
package dfmapi

import (
	"encoding/json"
	"fmt"
	"time"
)

// API paths of DFM.
const (
	PathHealth     = "/healthz"
	PathStatus     = "/v1/status"
	PathTenants    = "/v1/tenants"
	PathStart      = "/v1/components/start"
	PathShutdown   = "/v1/shutdown"
	PathMetrics    = "/metrics"
	pathComponents = "/v1/components/"
)

// RestartPath returns the path that restarts the component name.
func RestartPath(name string) string { return pathComponents + name + "/restart" }

// ResetPath returns the path that clears the failed state of the component
// name and starts it.
func ResetPath(name string) string { return pathComponents + name + "/reset" }

// InstanceState is the life-cycle state of DFM itself.
type InstanceState string

const (
	InstanceRunning      InstanceState = "running"
	InstanceShuttingDown InstanceState = "shutting_down"
	InstanceStopped      InstanceState = "stopped"
)

// ComponentState is the supervision state of one component.
type ComponentState string

const (
	// ComponentStopped is a component that is not running and not scheduled
	// to start.
	ComponentStopped ComponentState = "stopped"
	// ComponentStarting is a component whose process runs but whose readiness
	// check has not passed yet.
	ComponentStarting ComponentState = "starting"
	// ComponentUp is a running component whose health check passes.
	ComponentUp ComponentState = "up"
	// ComponentUnhealthy is a running component that failed its health check
	// failure_threshold times in a row. DFM restarts it.
	ComponentUnhealthy ComponentState = "unhealthy"
	// ComponentBackoff is a component that exited and waits for its next start.
	ComponentBackoff ComponentState = "backoff"
	// ComponentFailed is a component that DFM no longer restarts: it crashed
	// crash_loop_max times within crash_loop_window, or exited with a code in
	// no_retry_exit_codes. POST /v1/components/{name}/reset clears the state.
	ComponentFailed ComponentState = "failed"
	// ComponentStopping is a component that got its stop signal and has not
	// exited yet.
	ComponentStopping ComponentState = "stopping"
)

// Status is the response of GET /v1/status.
type Status struct {
	Instance   string            `json:"instance"`
	Address    string            `json:"address"`
	State      InstanceState     `json:"state"`
	Components []ComponentStatus `json:"components"`
	Load       Load              `json:"load"`
}

// Component returns the status of the component name and whether it exists.
func (s Status) Component(name string) (ComponentStatus, bool) {
	for _, c := range s.Components {
		if c.Name == name {
			return c, true
		}
	}
	return ComponentStatus{}, false
}

// ComponentStatus is the state of one supervised component.
type ComponentStatus struct {
	Name  string         `json:"name"`
	State ComponentState `json:"state"`
	// PID is the process ID of the running component, 0 when none runs.
	PID  int `json:"pid"`
	Port int `json:"port"`
	// Restarts counts the spawns after the first one since DFM started.
	Restarts int      `json:"restarts"`
	Tenants  []string `json:"tenants"`
	// CPU is the CPU time of the component's process group per second of
	// wall time over the last sampling interval, so 1.0 is one full core.
	CPU      float64 `json:"cpu"`
	RSSBytes int64   `json:"rss_bytes"`
	// LastExit describes how the last process ended, such as "exit status 1"
	// or "signal: killed", and is empty before the first exit.
	LastExit string `json:"last_exit"`
}

// Load is the host-wide load of an instance.
type Load struct {
	// CPU is the busy fraction of all cores over the last sampling interval.
	CPU             float64 `json:"cpu"`
	MemUsedFraction float64 `json:"mem_used_fraction"`
	Load1           float64 `json:"load1"`
	// Overloaded is true once CPU stayed at or above the overload threshold
	// for the overload window, until it falls below threshold - hysteresis.
	Overloaded bool `json:"overloaded"`
	// Low is true once CPU stayed at or below the low threshold for the low
	// window, until it rises above threshold + hysteresis.
	Low bool `json:"low"`
}

// TenantsRequest is the body of PUT /v1/tenants. An empty Components list
// applies the tenant set to every component.
type TenantsRequest struct {
	Tenants    []string `json:"tenants"`
	Components []string `json:"components,omitempty"`
}

// StartRequest is the body of POST /v1/components/start. A component that
// already runs gets the tenant set applied instead.
type StartRequest struct {
	Components []string `json:"components"`
	Tenants    []string `json:"tenants"`
}

// ShutdownRequest is the body of POST /v1/shutdown. A zero Deadline means
// DFM uses the sum of the components' grace periods.
type ShutdownRequest struct {
	Deadline Duration `json:"deadline,omitempty"`
}

// ErrorResponse is the body of every error response of DFM.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Duration is a time.Duration that JSON encodes as a Go duration string such
// as "30s".
type Duration time.Duration

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a duration string such as "30s" or "1m30s".
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("invalid duration %s: write a string such as \"30s\"", data)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit such as \"30s\": %w", s, err)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: it must not be negative", s)
	}
	*d = Duration(v)
	return nil
}
