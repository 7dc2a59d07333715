package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
)

// osbBroker serves the Open Service Broker API. See NewOSB.
type osbBroker struct {
	manager Manager
	cfg     Config
	auth    basicAuth
	// setupErr is the configuration problem that disables the broker, or nil.
	setupErr error
	log      *slog.Logger
	mux      *http.ServeMux
}

// NewOSB returns a service broker that implements the Open Service Broker
// API v2, as spec.md of github.com/openservicebrokerapi/servicebroker
// describes it from version 2.13 on:
//
//	GET    /v2/catalog                                         the service and its plans
//	PUT    /v2/service_instances/{instance_id}                 provision a tenant; needs accepts_incomplete=true
//	PATCH  /v2/service_instances/{instance_id}                 change the plan; a change needs accepts_incomplete=true
//	DELETE /v2/service_instances/{instance_id}                 deprovision; needs accepts_incomplete=true
//	GET    /v2/service_instances/{instance_id}/last_operation  progress of the three above
//	PUT    /v2/service_instances/{instance_id}/service_bindings/{binding_id}  credentials: the tenant URL and ID
//	DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}  unbind
//
// Every request must carry HTTP basic authentication with the credentials
// in the variables that cfg.UsernameEnv and cfg.PasswordEnv name, read once
// here, and X-Broker-API-Version 2.13 or later. Mount the handler with
// admin.Server.HandleSelfAuthenticated.
//
// A service instance is one tenant. Its ID is parameters.tenant of the
// provision request, or is derived from the instance ID. The broker keeps
// no state of its own: the instance ID and the bindings are stored in the
// tenant's Metadata, so a restarted broker finds them again.
//
// If cfg is invalid or a credential variable is unset, the error is logged
// and every request gets 503. Call Config.Validate and
// Config.CheckCredentials at start to stop there instead.
func NewOSB(m Manager, cfg Config, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	b := &osbBroker{
		manager: m,
		cfg:     cfg,
		log:     logger.With("logger", "osb"),
		mux:     http.NewServeMux(),
	}

	creds, credErr := cfg.credentials(os.LookupEnv)
	b.setupErr = errors.Join(cfg.Validate(), credErr)
	if b.setupErr != nil {
		b.log.Error("service broker disabled; every request gets 503 until the configuration is fixed", "err", b.setupErr)
	}
	b.auth = newBasicAuth(creds)

	b.mux.HandleFunc("GET /v2/catalog", b.catalog)
	b.mux.HandleFunc("PUT /v2/service_instances/{instance_id}", b.provision)
	b.mux.HandleFunc("PATCH /v2/service_instances/{instance_id}", b.update)
	b.mux.HandleFunc("DELETE /v2/service_instances/{instance_id}", b.deprovision)
	b.mux.HandleFunc("GET /v2/service_instances/{instance_id}/last_operation", b.lastOperation)
	b.mux.HandleFunc("PUT /v2/service_instances/{instance_id}/service_bindings/{binding_id}", b.bind)
	b.mux.HandleFunc("DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}", b.unbind)
	return b
}

// ServeHTTP authenticates the request and checks its API version before
// any handler runs, so that nothing is created for an unknown client.
func (b *osbBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The specification recommends that brokers return the request identity.
	if id := r.Header.Get(requestIDHeader); id != "" {
		w.Header().Set(requestIDHeader, id)
	}
	if b.setupErr != nil {
		writeOSBError(w, http.StatusServiceUnavailable, codeUnavailable, "the service broker is not configured; its operator finds the cause in the DFLB log")
		return
	}
	if !b.auth.valid(r) {
		// Only the path and address are logged: the Authorization header
		// carries the password.
		b.requestLog(r).Warn("unauthorized service broker request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Basic realm="dflb-broker", charset="UTF-8"`)
		writeOSBError(w, http.StatusUnauthorized, codeUnauthorized, "missing or invalid basic authentication; use the user name and password registered for this broker")
		return
	}
	serveLoggingRejections(b.requestLog(r), http.HandlerFunc(b.serveAuthenticated), w, r)
}

// serveAuthenticated checks the API version and routes the request.
func (b *osbBroker) serveAuthenticated(w http.ResponseWriter, r *http.Request) {
	if err := checkAPIVersion(r); err != nil {
		writeOSBError(w, http.StatusPreconditionFailed, codeAPIVersion, err.Error())
		return
	}
	b.mux.ServeHTTP(w, r)
}

// requestLog returns the logger with the platform's request identity, if any.
func (b *osbBroker) requestLog(r *http.Request) *slog.Logger {
	if id := r.Header.Get(requestIDHeader); id != "" {
		return b.log.With("request_id", id)
	}
	return b.log
}

// decodeBody reads the JSON body into v, or responds with 400 or 413.
// Unknown fields are ignored, as the specification requires of receivers.
func (b *osbBroker) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(limitBody(w, r)).Decode(v)
	if err == nil {
		return true
	}
	if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
		writeOSBError(w, http.StatusRequestEntityTooLarge, codeBadRequest, fmt.Sprintf("request body is larger than %d bytes", maxErr.Limit))
		return false
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("the body is empty")
	}
	writeOSBError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("invalid request body: %v; send a JSON object", err))
	return false
}

// checkServicePlan returns the plan with the ID, or an error if serviceID is
// not this broker's service or planID is no plan of it.
func (b *osbBroker) checkServicePlan(serviceID, planID string) (Plan, error) {
	if err := b.checkService(serviceID); err != nil {
		return Plan{}, err
	}
	if planID == "" {
		return Plan{}, errors.New("plan_id is missing; use a plan ID from GET /v2/catalog")
	}
	p, ok := findPlanByID(b.cfg.Plans, planID)
	if !ok {
		return Plan{}, fmt.Errorf("plan_id %q is not a plan of this service; use a plan ID from GET /v2/catalog", planID)
	}
	return p, nil
}

// checkService returns an error if serviceID is not this broker's service.
func (b *osbBroker) checkService(serviceID string) error {
	if serviceID == "" {
		return fmt.Errorf("service_id is missing; use %q from GET /v2/catalog", b.cfg.ServiceID)
	}
	if serviceID != b.cfg.ServiceID {
		return fmt.Errorf("service_id %q is not offered by this broker; use %q from GET /v2/catalog", serviceID, b.cfg.ServiceID)
	}
	return nil
}

// findInstance returns the tenant of the service instance. It tries the
// tenant ID derived from instanceID first, and otherwise searches every
// tenant's metadata, since parameters.tenant may have named any ID.
func (b *osbBroker) findInstance(instanceID string) (Tenant, bool) {
	if t, ok := b.manager.GetTenant(tenantIDForInstance(instanceID)); ok && t.Metadata[osbInstanceKey] == instanceID {
		return t, true
	}
	for _, t := range b.manager.ListTenants() {
		if t.Metadata[osbInstanceKey] == instanceID {
			return t, true
		}
	}
	return Tenant{}, false
}

// writeManagerError maps an error of the Manager to the status that the
// specification requires. goneStatus is the status for ErrNotFound: 410 for
// deletions, 404 otherwise.
func (b *osbBroker) writeManagerError(w http.ResponseWriter, r *http.Request, err error, goneStatus int, op, id string) {
	switch {
	case errors.Is(err, ErrNotFound):
		if goneStatus == http.StatusGone {
			writeJSON(w, http.StatusGone, emptyObject)
			return
		}
		writeOSBError(w, goneStatus, codeNotFound, fmt.Sprintf("%s tenant %q: %v", op, id, err))
	case errors.Is(err, ErrConflict):
		writeOSBError(w, http.StatusUnprocessableEntity, codeConcurrencyError, fmt.Sprintf("%s tenant %q: %v; retry when the operation in progress has finished", op, id, err))
	case errors.Is(err, ErrNoCapacity):
		b.requestLog(r).Warn("no capacity for tenant", "tenant", id, "err", err)
		writeOSBError(w, http.StatusServiceUnavailable, codeNoCapacity, fmt.Sprintf("%s tenant %q: no capacity on the platform now; retry later", op, id))
	default:
		b.requestLog(r).Error("tenant manager failed", "op", op, "tenant", id, "err", err)
		writeOSBError(w, http.StatusInternalServerError, codeInternal, fmt.Sprintf("%s tenant %q failed; the broker's operator finds the cause in the DFLB log", op, id))
	}
}

// acceptsIncomplete reports whether the request allows an asynchronous
// response.
func acceptsIncomplete(r *http.Request) bool {
	ok, err := strconv.ParseBool(r.URL.Query().Get("accepts_incomplete"))
	return err == nil && ok
}
