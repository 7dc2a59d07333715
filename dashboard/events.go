package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// heartbeatInterval is the longest time between two writes on an event
// stream. A comment line then keeps proxies and the browser from taking
// the connection for dead when EventInterval is longer.
const heartbeatInterval = 15 * time.Second

// writeGrace is how long one event may take to write. It replaces the
// server's WriteTimeout for the stream, which would otherwise end the
// stream after that timeout, 5 minutes on the admin listener.
const writeGrace = 10 * time.Second

// handleEvents streams snapshots as server-sent events ("event: snapshot"),
// one at once and then one per EventInterval, until the client leaves or
// src.Done closes.
//
// The token comes in the Authorization header like every data request. The
// page reads the stream with fetch, because EventSource cannot send
// headers, and a token in the URL would end up in access logs and browser
// history.
func (d *dashboard) handleEvents(w http.ResponseWriter, r *http.Request) {
	select {
	case d.streams <- struct{}{}:
		defer func() { <-d.streams }()
	default:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "too many event streams open: close a dashboard tab, or poll /api/snapshot")
		return
	}

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ticker := time.NewTicker(d.src.EventInterval)
	defer ticker.Stop()
	heartbeat := time.NewTicker(heartbeatInterval)
	defer heartbeat.Stop()

	// The retry field sets how long the client waits before it reconnects.
	if !d.writeEvent(w, rc, []byte("retry: 3000\n\n")) || !d.sendSnapshot(w, rc) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.src.Done:
			return
		case <-ticker.C:
			if !d.sendSnapshot(w, rc) {
				return
			}
			heartbeat.Reset(heartbeatInterval)
		case <-heartbeat.C:
			if !d.writeEvent(w, rc, []byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}

// sendSnapshot writes one snapshot event and reports whether the stream
// is still open.
func (d *dashboard) sendSnapshot(w http.ResponseWriter, rc *http.ResponseController) bool {
	body, err := json.Marshal(d.snapshot())
	if err != nil {
		d.log.Error("encoding dashboard snapshot failed", "error", err)
		return false
	}
	var event bytes.Buffer
	event.Grow(len(body) + 32)
	event.WriteString("event: snapshot\ndata: ")
	// JSON from encoding/json has no raw newlines, so one data line holds
	// the whole snapshot.
	event.Write(body)
	event.WriteString("\n\n")
	return d.writeEvent(w, rc, event.Bytes())
}

func (d *dashboard) writeEvent(w http.ResponseWriter, rc *http.ResponseController, event []byte) bool {
	if err := rc.SetWriteDeadline(time.Now().Add(writeGrace)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		d.log.Debug("setting the event stream's write deadline failed", "error", err)
	}
	if _, err := w.Write(event); err != nil {
		d.log.Debug("event stream closed", "error", err)
		return false
	}
	if err := rc.Flush(); err != nil {
		d.log.Debug("event stream closed", "error", err)
		return false
	}
	return true
}
