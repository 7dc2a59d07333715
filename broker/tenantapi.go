package broker

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
)

// tenantAPI serves /v1/tenants. See NewTenantAPI.
type tenantAPI struct {
	manager Manager
	plans   []Plan
	log     *slog.Logger
	mux     *http.ServeMux
}

// NewTenantAPI returns the operators' tenant API:
//
//	POST   /v1/tenants       create: {"id", "plan", "weight", "limits", "metadata"}; 202 while pending, 200 when an identical tenant is already ready
//	GET    /v1/tenants       list: {"tenants": [...]}, filtered by ?state=
//	GET    /v1/tenants/{id}  one tenant
//	PATCH  /v1/tenants/{id}  change plan, weight, limits or metadata; 200, or 202 while the change is applied
//	DELETE /v1/tenants/{id}  remove; 202 with the tenant in state removing
//
// The handler does no authentication: mount it with admin.Server.Handle,
// which checks the admin bearer token first. A request that omits the plan
// gets plans[0], so pass Config.TenantPlans. Limits in a request override
// the plan's limits field by field. Metadata keys starting with "osb_"
// belong to the service broker and are rejected.
func NewTenantAPI(m Manager, plans []Plan, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	a := &tenantAPI{
		manager: m,
		plans:   slices.Clone(plans),
		log:     logger.With("logger", "tenantapi"),
		mux:     http.NewServeMux(),
	}
	a.mux.HandleFunc("POST /v1/tenants", a.create)
	a.mux.HandleFunc("GET /v1/tenants", a.list)
	a.mux.HandleFunc("GET /v1/tenants/{id}", a.get)
	a.mux.HandleFunc("PATCH /v1/tenants/{id}", a.update)
	a.mux.HandleFunc("DELETE /v1/tenants/{id}", a.remove)
	return a
}

// ServeHTTP routes the request and logs it if it is rejected.
func (a *tenantAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveLoggingRejections(a.log, a.mux, w, r)
}

// createTenantRequest is the body of POST /v1/tenants.
type createTenantRequest struct {
	ID       string            `json:"id"`
	Plan     string            `json:"plan"`
	Weight   *int              `json:"weight"`
	Limits   *limitsOverride   `json:"limits"`
	Metadata map[string]string `json:"metadata"`
}

// updateTenantRequest is the body of PATCH /v1/tenants/{id}. Absent fields
// stay as they are. A metadata key set to null is deleted, as in a JSON
// merge patch (RFC 7396).
type updateTenantRequest struct {
	Plan     *string            `json:"plan"`
	Weight   *int               `json:"weight"`
	Limits   *limitsOverride    `json:"limits"`
	Metadata map[string]*string `json:"metadata"`
}

// limitsOverride is a partial Limits: only the fields present replace the
// plan's or the tenant's value.
type limitsOverride struct {
	Rate          *float64 `json:"rate"`
	Burst         *int     `json:"burst"`
	MaxConcurrent *int     `json:"max_concurrent"`
	MaxQueued     *int     `json:"max_queued"`
}

// apply returns base with the fields present in o replaced.
func (o *limitsOverride) apply(base Limits) Limits {
	if o == nil {
		return base
	}
	if o.Rate != nil {
		base.Rate = *o.Rate
	}
	if o.Burst != nil {
		base.Burst = *o.Burst
	}
	if o.MaxConcurrent != nil {
		base.MaxConcurrent = *o.MaxConcurrent
	}
	if o.MaxQueued != nil {
		base.MaxQueued = *o.MaxQueued
	}
	return base
}

// tenantList is the body of GET /v1/tenants.
type tenantList struct {
	Tenants []Tenant `json:"tenants"`
}

func (a *tenantAPI) create(w http.ResponseWriter, r *http.Request) {
	var req createTenantRequest
	if !a.decode(w, r, &req, "id, plan, weight, limits and metadata") {
		return
	}

	id, err := normalizeTenantID(req.ID)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, err.Error())
		return
	}
	plan, ok := a.plan(w, req.Plan)
	if !ok {
		return
	}

	if !a.checkMetadataRequest(w, req.Metadata) {
		return
	}

	t := Tenant{
		ID:       id,
		Plan:     plan.Name,
		Weight:   plan.Weight,
		Limits:   req.Limits.apply(plan.Limits),
		Metadata: req.Metadata,
	}
	if req.Weight != nil {
		t.Weight = *req.Weight
	}
	if !a.checkTenant(w, t) {
		return
	}

	created, err := a.manager.CreateTenant(r.Context(), t)
	if err != nil {
		a.writeManagerError(w, err, "creating", id)
		return
	}
	a.log.Info("tenant create requested", "tenant", id, "plan", t.Plan, "state", created.State)
	writeJSON(w, statusForState(created.State), created)
}

func (a *tenantAPI) list(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	if state != "" && !validState(state) {
		writeAPIError(w, http.StatusBadRequest, fmt.Sprintf("invalid state %q; use %s, %s, %s or %s",
			state, StatePending, StateReady, StateRemoving, StateFailed))
		return
	}

	tenants := []Tenant{}
	for _, t := range a.manager.ListTenants() {
		if state == "" || t.State == state {
			tenants = append(tenants, t)
		}
	}
	slices.SortFunc(tenants, func(x, y Tenant) int { return cmp.Compare(x.ID, y.ID) })
	writeJSON(w, http.StatusOK, tenantList{Tenants: tenants})
}

func (a *tenantAPI) get(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok {
		return
	}
	t, found := a.manager.GetTenant(id)
	if !found {
		writeAPIError(w, http.StatusNotFound, notFoundMessage(id))
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *tenantAPI) update(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok {
		return
	}
	var req updateTenantRequest
	if !a.decode(w, r, &req, "plan, weight, limits and metadata") {
		return
	}
	patch := make(map[string]string, len(req.Metadata))
	for key, value := range req.Metadata {
		patch[key] = ""
		if value != nil {
			patch[key] = *value
		}
	}
	if !a.checkMetadataRequest(w, patch) {
		return
	}
	var plan Plan
	if req.Plan != nil {
		if plan, ok = a.plan(w, *req.Plan); !ok {
			return
		}
	}

	unlock := lockTenant(id)
	defer unlock()

	t, found := a.manager.GetTenant(id)
	if !found {
		writeAPIError(w, http.StatusNotFound, notFoundMessage(id))
		return
	}
	// A new plan brings its own weight and limits. The fields given in
	// this request then apply on top of them.
	if req.Plan != nil && plan.Name != t.Plan {
		t.Plan = plan.Name
		t.Weight = plan.Weight
		t.Limits = plan.Limits
	}
	if req.Weight != nil {
		t.Weight = *req.Weight
	}
	t.Limits = req.Limits.apply(t.Limits)
	if req.Metadata != nil {
		t.Metadata = cloneMetadata(t.Metadata)
		for key, value := range req.Metadata {
			if value == nil {
				delete(t.Metadata, key)
				continue
			}
			t.Metadata[key] = *value
		}
	}
	if !a.checkTenant(w, t) {
		return
	}

	updated, err := a.manager.UpdateTenant(r.Context(), t)
	if err != nil {
		a.writeManagerError(w, err, "updating", id)
		return
	}
	a.log.Info("tenant updated", "tenant", id, "plan", updated.Plan, "state", updated.State)
	writeJSON(w, statusForState(updated.State), updated)
}

func (a *tenantAPI) remove(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathID(w, r)
	if !ok {
		return
	}
	if err := a.manager.RemoveTenant(r.Context(), id); err != nil {
		a.writeManagerError(w, err, "removing", id)
		return
	}
	a.log.Info("tenant removal requested", "tenant", id)

	// The manager may already have forgotten the tenant.
	t, found := a.manager.GetTenant(id)
	if !found {
		t = Tenant{ID: id, State: StateRemoving}
	}
	writeJSON(w, http.StatusAccepted, t)
}

// decode reads the JSON body into v. Unknown fields are rejected, so that a
// misspelt field is not silently ignored. fields lists the accepted ones
// for the error message.
func (a *tenantAPI) decode(w http.ResponseWriter, r *http.Request, v any, fields string) bool {
	dec := json.NewDecoder(limitBody(w, r))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err == nil {
		return true
	}

	if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
		writeAPIError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxErr.Limit))
		return false
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("the body is empty")
	}
	writeAPIError(w, http.StatusBadRequest, fmt.Sprintf("invalid request body: %v; send a JSON object with %s", err, fields))
	return false
}

// plan returns the plan with the name, or plans[0] for an empty name. It
// responds with 400 for an unknown name, and with 500 when no plans are
// configured.
func (a *tenantAPI) plan(w http.ResponseWriter, name string) (Plan, bool) {
	if name == "" && len(a.plans) > 0 {
		return a.plans[0], true
	}
	p, ok := findPlanByName(a.plans, name)
	if !ok && name == "" {
		writeAPIError(w, http.StatusInternalServerError, "no plans are configured; the operator must add plans to the broker configuration")
		return Plan{}, false
	}
	if !ok {
		writeAPIError(w, http.StatusBadRequest, fmt.Sprintf("unknown plan %q; use one of: %s", name, planNames(a.plans)))
		return Plan{}, false
	}
	return p, true
}

// pathID returns the normalized tenant ID of the URL, or responds with 400.
func (a *tenantAPI) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, err := normalizeTenantID(r.PathValue("id"))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return id, true
}

// checkMetadataRequest validates the metadata entries of a request, in key
// order so that the same request always gets the same message, and
// responds with 400 naming the first invalid one.
func (a *tenantAPI) checkMetadataRequest(w http.ResponseWriter, metadata map[string]string) bool {
	for _, key := range slices.Sorted(maps.Keys(metadata)) {
		if err := checkMetadataEntry(key, metadata[key]); err != nil {
			writeAPIError(w, http.StatusBadRequest, err.Error())
			return false
		}
	}
	return true
}

// checkTenant validates the limits, weight and metadata size of a tenant
// about to be created or updated, and responds with 400 naming the first
// invalid one.
func (a *tenantAPI) checkTenant(w http.ResponseWriter, t Tenant) bool {
	err := t.Limits.Validate()
	if err != nil {
		err = fmt.Errorf("invalid limits: %w", err)
	}
	if err == nil && t.Weight < 0 {
		err = fmt.Errorf("invalid weight %d: use 0 or more", t.Weight)
	}
	if err == nil {
		err = checkMetadataSize(t.Metadata)
	}
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// writeManagerError maps an error of the Manager to a status. verb names
// the operation for the message, such as "creating".
func (a *tenantAPI) writeManagerError(w http.ResponseWriter, err error, verb, id string) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeAPIError(w, http.StatusNotFound, notFoundMessage(id))
	case errors.Is(err, ErrConflict):
		writeAPIError(w, http.StatusConflict, fmt.Sprintf("%s tenant %q: %v; change it with PATCH /v1/tenants/%s, or wait until its removal finishes", verb, id, err, id))
	case errors.Is(err, ErrNoCapacity):
		a.log.Warn("no capacity for tenant", "tenant", id, "err", err)
		writeAPIError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s tenant %q: %v; add an instance or retry later", verb, id, err))
	default:
		a.log.Error("tenant manager failed", "op", verb, "tenant", id, "err", err)
		writeAPIError(w, http.StatusInternalServerError, fmt.Sprintf("%s tenant %q failed; the DFLB log has the cause", verb, id))
	}
}

func notFoundMessage(id string) string {
	return fmt.Sprintf("tenant %q not found; GET /v1/tenants lists the tenants", id)
}

// statusForState returns 202 for a tenant whose creation or change is
// still in progress, and 200 otherwise.
func statusForState(state string) int {
	if state == StatePending {
		return http.StatusAccepted
	}
	return http.StatusOK
}

func validState(state string) bool {
	switch state {
	case StatePending, StateReady, StateRemoving, StateFailed:
		return true
	}
	return false
}
