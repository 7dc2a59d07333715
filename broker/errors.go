package broker

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Errors that a Manager wraps, so that the APIs can choose the status.
var (
	// ErrNotFound means that no tenant has the ID. The APIs respond with
	// 404, or 410 where the Open Service Broker API requires it.
	ErrNotFound = errors.New("tenant not found")
	// ErrConflict means that the tenant exists with other attributes or is
	// being removed. The APIs respond with 409, or 422 ConcurrencyError
	// where the Open Service Broker API requires it.
	ErrConflict = errors.New("tenant conflict")
	// ErrNoCapacity means that no instance can take the tenant now. The
	// APIs respond with 503.
	ErrNoCapacity = errors.New("no capacity for tenant")
)

// maxBodyBytes bounds request bodies of both APIs. A tenant with its
// metadata is a few KiB at most.
const maxBodyBytes = 1 << 20

// writeJSON sends v as the response body with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An encoding error here means that the client went away, and the
	// status has already been sent.
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the error body of the tenant API.
type apiError struct {
	Error string `json:"error"`
}

// writeAPIError sends a tenant API error.
func writeAPIError(w http.ResponseWriter, status int, message string) {
	recordMessage(w, message)
	writeJSON(w, status, apiError{Error: message})
}

// osbError is the error body that the Open Service Broker API defines:
// error is a CamelCase code, description a message for the user.
type osbError struct {
	Error       string `json:"error"`
	Description string `json:"description"`
}

// Error codes of the Open Service Broker API. The specification fixes
// AsyncRequired and ConcurrencyError, the others are this broker's.
const (
	codeAsyncRequired    = "AsyncRequired"
	codeConcurrencyError = "ConcurrencyError"
	codeBadRequest       = "BadRequest"
	codeConflict         = "Conflict"
	codeNotFound         = "NotFound"
	codeUnauthorized     = "Unauthorized"
	codeAPIVersion       = "UnsupportedAPIVersion"
	codeNoCapacity       = "NoCapacity"
	codeInstanceFailed   = "InstanceFailed"
	codeUnavailable      = "BrokerUnavailable"
	codeInternal         = "InternalError"
)

// writeOSBError sends an Open Service Broker API error.
func writeOSBError(w http.ResponseWriter, status int, code, description string) {
	recordMessage(w, code+": "+description)
	writeJSON(w, status, osbError{Error: code, Description: description})
}

// emptyObject is the body "{}" that the specification requires where a
// response has no fields.
var emptyObject = struct{}{}
