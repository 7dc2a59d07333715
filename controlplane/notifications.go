package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/dflb/dflb/dfmapi"
	"github.com/dflb/dflb/internal/bearer"
)

// NotificationsPath is the URL path to which DFM posts notifications.
const NotificationsPath = "/v1/notifications"

// DefaultRecentCapacity is the number of notifications that a
// NotificationHandler keeps for Recent unless WithRecentCapacity sets another.
const DefaultRecentCapacity = 1000

// maxNotificationBytes is the maximum size of a notification body. DFM's
// notifications are a few hundred bytes.
const maxNotificationBytes = 64 << 10

// NotificationHandler is the http.Handler for POST /v1/notifications. It
// authenticates DFM by the shared bearer secret, validates the
// notification, drops duplicates that DFM's retries cause, keeps the most
// recent notifications in memory and passes each new one to subscribers.
type NotificationHandler struct {
	secret       []byte
	log          *slog.Logger
	unauthorized throttle

	recorded store
}

// NotificationOption configures a NotificationHandler.
type NotificationOption func(*NotificationHandler)

// WithRecentCapacity sets how many notifications Recent can return. The oldest
// are dropped first. Values below 1 are replaced by 1.
func WithRecentCapacity(n int) NotificationOption {
	return func(h *NotificationHandler) { h.recorded.setCapacity(max(n, 1)) }
}

// NewNotificationHandler returns a handler that accepts notifications
// carrying "Authorization: Bearer <secret>". An empty secret is rejected,
// because the receiver must not accept notifications without
// authentication by accident.
func NewNotificationHandler(secret string, logger *slog.Logger, opts ...NotificationOption) (*NotificationHandler, error) {
	if secret == "" {
		return nil, errors.New("controlplane: empty notification secret: set the secret shared with DFM")
	}
	if logger == nil {
		logger = slog.Default()
	}
	h := &NotificationHandler{
		secret: []byte(secret),
		log:    logger.With("logger", "notifications"),
	}
	h.recorded.init(DefaultRecentCapacity, h.log)
	for _, opt := range opts {
		opt(h)
	}
	return h, nil
}

// ServeHTTP accepts one notification. It responds 204 to a new or a
// duplicate notification, 401 to a missing or wrong token, 400 with the
// problem to an invalid body, 413 to a body over 64 KiB and 405 to methods
// other than POST. DFM drops a notification on 400 and 401 and retries on
// other errors.
func (h *NotificationHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use POST", r.Method))
		return
	}
	if !h.authorized(r) {
		if n := h.unauthorized.allow(time.Now()); n > 0 {
			h.log.Warn("rejected notifications with a missing or wrong bearer token", "remote", r.RemoteAddr, "count", n)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="dflb"`)
		writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
		return
	}

	n, status, err := decodeNotification(w, r)
	if err != nil {
		h.log.Warn("rejected invalid notification", "remote", r.RemoteAddr, "error", err)
		writeError(w, status, err.Error())
		return
	}

	if h.recorded.add(n) {
		h.log.Info("notification", "instance", n.Instance, "seq", n.Seq, "kind", n.Kind,
			"component", n.Component, "reason", n.Reason)
	} else {
		h.log.Debug("duplicate notification", "instance", n.Instance, "seq", n.Seq, "kind", n.Kind)
	}
	w.WriteHeader(http.StatusNoContent)
}

// authorized checks the bearer token.
func (h *NotificationHandler) authorized(r *http.Request) bool {
	return bearer.Valid(r, h.secret)
}

// decodeNotification reads and validates the body. Unknown fields are
// ignored, so that a newer DFM can add fields without being rejected.
func decodeNotification(w http.ResponseWriter, r *http.Request) (dfmapi.Notification, int, error) {
	var n dfmapi.Notification
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxNotificationBytes))
	if err := dec.Decode(&n); err != nil {
		return n, decodeStatus(err), describeDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return n, http.StatusBadRequest, errors.New("invalid JSON: unexpected data after the notification object")
	}
	if err := n.Validate(); err != nil {
		return n, http.StatusBadRequest, fmt.Errorf("invalid notification: %w", err)
	}
	return n, 0, nil
}

func decodeStatus(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// describeDecodeError names the field or byte offset of a JSON error.
func describeDecodeError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	var timeErr *time.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("invalid JSON: empty body; send one notification object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the body ends inside the notification object")
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Errorf("invalid JSON: field %s: cannot use a JSON %s as %v", typeErr.Field, typeErr.Value, typeErr.Type)
	case errors.As(err, &typeErr):
		return fmt.Errorf("invalid JSON: the body is a JSON %s; send one notification object", typeErr.Value)
	case errors.As(err, &timeErr):
		// Time is the only field with its own parser.
		return fmt.Errorf("invalid JSON: field time: %q is not an RFC 3339 time such as 2026-12-04T21:00:00Z", timeErr.Value)
	case errors.As(err, &tooLarge):
		return fmt.Errorf("notification body exceeds %d bytes", tooLarge.Limit)
	default:
		return fmt.Errorf("invalid JSON: %v", err)
	}
}

func writeError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(dfmapi.ErrorResponse{Error: message})
}
