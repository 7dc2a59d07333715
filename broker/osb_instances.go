package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/dflb/dflb/tenant"
)

// Operation identifiers returned with 202 and sent back by the platform in
// last_operation polls.
const (
	opProvision   = "provision"
	opUpdate      = "update"
	opDeprovision = "deprovision"
)

// derivedIDPrefix starts every tenant ID derived from an instance ID, so
// that operators can tell such tenants apart.
const derivedIDPrefix = "osb-"

// provisionRequest is the body of PUT /v2/service_instances/{instance_id}.
type provisionRequest struct {
	ServiceID        string          `json:"service_id"`
	PlanID           string          `json:"plan_id"`
	OrganizationGUID string          `json:"organization_guid"`
	SpaceGUID        string          `json:"space_guid"`
	Parameters       json.RawMessage `json:"parameters"`
}

// updateRequest is the body of PATCH /v2/service_instances/{instance_id}.
// The plan stays as it is when PlanID is empty.
type updateRequest struct {
	ServiceID  string          `json:"service_id"`
	PlanID     string          `json:"plan_id"`
	Parameters json.RawMessage `json:"parameters"`
}

// operationResponse is the body of a 202 response.
type operationResponse struct {
	Operation string `json:"operation"`
}

// lastOperationResponse is the body of GET .../last_operation.
type lastOperationResponse struct {
	State       string `json:"state"`
	Description string `json:"description"`
}

// States of last_operation, fixed by the specification.
const (
	opStateInProgress = "in progress"
	opStateSucceeded  = "succeeded"
	opStateFailed     = "failed"
)

// instanceParameters are the parameters that provision and update accept.
type instanceParameters struct {
	// Tenant is the tenant ID that the user chose, not yet normalized.
	Tenant string
}

func (b *osbBroker) provision(w http.ResponseWriter, r *http.Request) {
	instanceID := r.PathValue("instance_id")
	if !acceptsIncomplete(r) {
		writeOSBError(w, http.StatusUnprocessableEntity, codeAsyncRequired,
			"this service creates tenants asynchronously; retry with the query parameter accepts_incomplete=true")
		return
	}
	var req provisionRequest
	if !b.decodeBody(w, r, &req) {
		return
	}
	plan, err := b.checkServicePlan(req.ServiceID, req.PlanID)
	if err != nil {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	params, err := decodeInstanceParameters(req.Parameters)
	if err != nil {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	id := tenantIDForInstance(instanceID)
	if params.Tenant != "" {
		if id, err = normalizeTenantID(params.Tenant); err != nil {
			writeOSBError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("parameters.tenant: %v", err))
			return
		}
	}

	want := Tenant{
		ID:       id,
		Plan:     plan.Name,
		Weight:   plan.Weight,
		Limits:   plan.Limits,
		Metadata: map[string]string{osbInstanceKey: instanceID},
	}
	if req.OrganizationGUID != "" {
		want.Metadata[osbOrgKey] = req.OrganizationGUID
	}
	if req.SpaceGUID != "" {
		want.Metadata[osbSpaceKey] = req.SpaceGUID
	}

	if existing, found := b.findInstance(instanceID); found {
		b.respondExistingInstance(w, existing, want)
		return
	}
	if _, exists := b.manager.GetTenant(id); exists {
		writeOSBError(w, http.StatusConflict, codeConflict, fmt.Sprintf(
			"tenant %q already exists for another service instance or was created by an operator; provision with another parameters.tenant", id))
		return
	}

	created, err := b.manager.CreateTenant(r.Context(), want)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			writeOSBError(w, http.StatusConflict, codeConflict, fmt.Sprintf("tenant %q: %v; provision with another parameters.tenant", id, err))
			return
		}
		b.writeManagerError(w, r, err, http.StatusNotFound, "creating", id)
		return
	}
	b.requestLog(r).Info("service instance provision requested", "instance_id", instanceID, "tenant", id, "plan", plan.Name, "state", created.State)

	// A tenant that is ready at once already existed with these attributes,
	// created by a concurrent identical request.
	if created.State == StateReady {
		writeJSON(w, http.StatusOK, emptyObject)
		return
	}
	writeJSON(w, http.StatusAccepted, operationResponse{Operation: opProvision})
}

// respondExistingInstance responds to a provision request for an instance ID
// that already has a tenant: 200 if it is identical and ready, 202 while
// it is being created, 409 if it differs.
func (b *osbBroker) respondExistingInstance(w http.ResponseWriter, existing, want Tenant) {
	identical := existing.ID == want.ID && existing.Plan == want.Plan &&
		existing.Metadata[osbOrgKey] == want.Metadata[osbOrgKey] &&
		existing.Metadata[osbSpaceKey] == want.Metadata[osbSpaceKey]
	if !identical {
		writeOSBError(w, http.StatusConflict, codeConflict, fmt.Sprintf(
			"service instance already exists as tenant %q on plan %q with other attributes; deprovision it first or use another instance ID",
			existing.ID, existing.Plan))
		return
	}

	switch existing.State {
	case StateReady:
		writeJSON(w, http.StatusOK, emptyObject)
	case StateRemoving:
		writeOSBError(w, http.StatusUnprocessableEntity, codeConcurrencyError, fmt.Sprintf(
			"tenant %q of this service instance is being deprovisioned; provision again when last_operation reports it gone", existing.ID))
	default:
		// A failed tenant also gets 202: the next last_operation poll reports
		// the failure, which starts the platform's orphan mitigation.
		writeJSON(w, http.StatusAccepted, operationResponse{Operation: opProvision})
	}
}

func (b *osbBroker) update(w http.ResponseWriter, r *http.Request) {
	instanceID := r.PathValue("instance_id")
	var req updateRequest
	if !b.decodeBody(w, r, &req) {
		return
	}
	if err := b.checkService(req.ServiceID); err != nil {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	var newPlan Plan
	if req.PlanID != "" {
		var err error
		if newPlan, err = b.checkServicePlan(req.ServiceID, req.PlanID); err != nil {
			writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
	}
	params, err := decodeInstanceParameters(req.Parameters)
	if err != nil {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}

	existing, found := b.findInstance(instanceID)
	if !found {
		writeOSBError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("service instance %q not found; provision it first", instanceID))
		return
	}
	if params.Tenant != "" {
		id, err := normalizeTenantID(params.Tenant)
		if err != nil || id != existing.ID {
			writeOSBError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
				"parameters.tenant %q differs from the instance's tenant %q, and a tenant ID cannot change; provision a new instance for another tenant", params.Tenant, existing.ID))
			return
		}
	}
	if req.PlanID == "" || newPlan.Name == existing.Plan {
		writeJSON(w, http.StatusOK, emptyObject)
		return
	}
	if existing.State != StateReady {
		writeOSBError(w, http.StatusUnprocessableEntity, codeConcurrencyError, fmt.Sprintf(
			"tenant %q is %s; change its plan when last_operation reports the operation in progress finished", existing.ID, existing.State))
		return
	}
	// A plan change may move the tenant to other instances, which finishes
	// after the response.
	if !acceptsIncomplete(r) {
		writeOSBError(w, http.StatusUnprocessableEntity, codeAsyncRequired,
			"this service changes plans asynchronously; retry with the query parameter accepts_incomplete=true")
		return
	}

	unlock := lockTenant(existing.ID)
	defer unlock()
	t, found := b.manager.GetTenant(existing.ID)
	if !found {
		writeOSBError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("service instance %q not found; provision it first", instanceID))
		return
	}
	// A plan change resets the weight and any limits that an operator set
	// through the tenant API.
	t.Plan = newPlan.Name
	t.Weight = newPlan.Weight
	t.Limits = newPlan.Limits
	updated, err := b.manager.UpdateTenant(r.Context(), t)
	if err != nil {
		b.writeManagerError(w, r, err, http.StatusNotFound, "updating", t.ID)
		return
	}
	b.requestLog(r).Info("service instance plan changed", "instance_id", instanceID, "tenant", t.ID, "plan", newPlan.Name, "state", updated.State)

	if updated.State == StatePending {
		writeJSON(w, http.StatusAccepted, operationResponse{Operation: opUpdate})
		return
	}
	writeJSON(w, http.StatusOK, emptyObject)
}

func (b *osbBroker) deprovision(w http.ResponseWriter, r *http.Request) {
	instanceID := r.PathValue("instance_id")
	query := r.URL.Query()
	if err := b.checkService(query.Get("service_id")); err != nil {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if query.Get("plan_id") == "" {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, "query parameter plan_id is missing; send the plan ID of the instance")
		return
	}
	if !acceptsIncomplete(r) {
		writeOSBError(w, http.StatusUnprocessableEntity, codeAsyncRequired,
			"this service removes tenants asynchronously; retry with the query parameter accepts_incomplete=true")
		return
	}

	t, found := b.findInstance(instanceID)
	if !found {
		writeJSON(w, http.StatusGone, emptyObject)
		return
	}
	// A repeated request during removal gets 202 too, as the specification
	// requires.
	if t.State != StateRemoving {
		if err := b.manager.RemoveTenant(r.Context(), t.ID); err != nil {
			b.writeManagerError(w, r, err, http.StatusGone, "removing", t.ID)
			return
		}
		b.requestLog(r).Info("service instance deprovision requested", "instance_id", instanceID, "tenant", t.ID)
	}
	writeJSON(w, http.StatusAccepted, operationResponse{Operation: opDeprovision})
}

// lastOperation reports the state of the instance's tenant. An instance
// whose tenant is gone gets 410 Gone, which the platform takes as the
// success of a deprovision.
func (b *osbBroker) lastOperation(w http.ResponseWriter, r *http.Request) {
	instanceID := r.PathValue("instance_id")
	op := r.URL.Query().Get("operation")
	if op != "" && !slices.Contains([]string{opProvision, opUpdate, opDeprovision}, op) {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
			"unknown operation %.40q; send the operation value of the 202 response, or none", op))
		return
	}

	t, found := b.findInstance(instanceID)
	if !found {
		writeJSON(w, http.StatusGone, emptyObject)
		return
	}

	resp := lastOperationResponse{}
	switch t.State {
	case StatePending:
		resp.State = opStateInProgress
		resp.Description = fmt.Sprintf("Tenant %s is being set up on plan %s.", t.ID, t.Plan)
		if op == opUpdate {
			resp.Description = fmt.Sprintf("Tenant %s is moving to plan %s.", t.ID, t.Plan)
		}
	case StateRemoving:
		resp.State = opStateInProgress
		resp.Description = fmt.Sprintf("Tenant %s is being removed.", t.ID)
	case StateFailed:
		resp.State = opStateFailed
		resp.Description = fmt.Sprintf("Tenant %s failed: %s", t.ID, t.Error)
	default:
		resp.State = opStateSucceeded
		resp.Description = fmt.Sprintf("Tenant %s is ready on plan %s at %s.", t.ID, t.Plan, b.cfg.tenantURL(t.ID))
	}
	writeJSON(w, http.StatusOK, resp)
}

// decodeInstanceParameters decodes the parameters object of a provision or
// update request. Unknown parameters are rejected, so that a misspelt one
// does not leave the user with a tenant they did not ask for.
func decodeInstanceParameters(raw json.RawMessage) (instanceParameters, error) {
	var params instanceParameters
	if len(raw) == 0 || string(raw) == "null" {
		return params, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return params, fmt.Errorf("parameters: %v; send a JSON object such as {\"tenant\": \"acme\"}", err)
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if name != "tenant" {
			return params, fmt.Errorf("parameters: unknown parameter %.40q; the only parameter is tenant", name)
		}
	}
	if raw, ok := fields["tenant"]; ok {
		if err := json.Unmarshal(raw, &params.Tenant); err != nil {
			return params, errors.New(`parameters.tenant: must be a string such as "acme"`)
		}
		if params.Tenant == "" {
			return params, fmt.Errorf("parameters.tenant: empty; omit it to derive the tenant ID from the instance ID, or use 1 to %d bytes of a-z, 0-9 and '-'", tenant.MaxIDLen)
		}
	}
	return params, nil
}

// tenantIDForInstance derives a tenant ID from an instance ID: "osb-"
// followed by the instance ID when that is a lower-case DNS label short
// enough, such as a GUID, and otherwise by 32 hex digits of its SHA-256.
// The same instance ID always gives the same tenant ID.
func tenantIDForInstance(instanceID string) string {
	if len(derivedIDPrefix)+len(instanceID) <= tenant.MaxIDLen {
		if id, err := normalizeTenantID(instanceID); err == nil && id == instanceID {
			return derivedIDPrefix + instanceID
		}
	}
	sum := sha256.Sum256([]byte(instanceID))
	return derivedIDPrefix + hex.EncodeToString(sum[:16])
}
