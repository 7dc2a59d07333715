package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// bindRequest is the body of PUT .../service_bindings/{binding_id}.
type bindRequest struct {
	ServiceID string `json:"service_id"`
	PlanID    string `json:"plan_id"`
	// AppGUID is the deprecated form of BindResource.AppGUID.
	AppGUID      string `json:"app_guid"`
	BindResource struct {
		AppGUID string `json:"app_guid"`
		Route   string `json:"route"`
	} `json:"bind_resource"`
	Parameters json.RawMessage `json:"parameters"`
}

// bindingRecord is the value stored for a binding in the tenant's metadata,
// under osbBindingPrefix + binding ID. A repeated bind request is identical when
// its record encodes to the same JSON.
type bindingRecord struct {
	AppGUID string `json:"app_guid,omitempty"`
	Route   string `json:"route,omitempty"`
}

// bindResponse is the body of a successful bind.
type bindResponse struct {
	Credentials bindCredentials `json:"credentials"`
}

// bindCredentials tell an application where its tenant is served. The URL
// carries no secret: the proxy routes by the tenant in the host or path.
type bindCredentials struct {
	URL    string `json:"url"`
	Tenant string `json:"tenant"`
}

func (b *osbBroker) bind(w http.ResponseWriter, r *http.Request) {
	instanceID := r.PathValue("instance_id")
	bindingID := r.PathValue("binding_id")
	var req bindRequest
	if !b.decodeBody(w, r, &req) {
		return
	}
	if _, err := b.checkServicePlan(req.ServiceID, req.PlanID); err != nil {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if params := bytes.TrimSpace(req.Parameters); len(params) > 0 && !bytes.Equal(params, []byte("null")) && !bytes.Equal(params, []byte("{}")) {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, "bindings take no parameters; remove parameters from the request")
		return
	}
	record := bindingRecord{AppGUID: req.BindResource.AppGUID, Route: req.BindResource.Route}
	if record.AppGUID == "" {
		record.AppGUID = req.AppGUID
	}
	encoded, err := json.Marshal(record)
	if err != nil {
		b.requestLog(r).Error("encoding binding record failed", "binding_id", bindingID, "err", err)
		writeOSBError(w, http.StatusInternalServerError, codeInternal, "encoding the binding failed; the broker's operator finds the cause in the DFLB log")
		return
	}

	existing, found := b.findInstance(instanceID)
	if !found {
		writeOSBError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("service instance %q not found; provision it first", instanceID))
		return
	}
	if !b.checkBindable(w, existing) {
		return
	}

	unlock := lockTenant(existing.ID)
	defer unlock()
	t, found := b.manager.GetTenant(existing.ID)
	if !found {
		writeOSBError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("service instance %q not found; provision it first", instanceID))
		return
	}
	resp := bindResponse{Credentials: bindCredentials{URL: b.cfg.tenantURL(t.ID), Tenant: t.ID}}
	key := osbBindingPrefix + bindingID
	if old, ok := t.Metadata[key]; ok {
		if old != string(encoded) {
			writeOSBError(w, http.StatusConflict, codeConflict, fmt.Sprintf(
				"binding %q already exists with other attributes; unbind it first or use another binding ID", bindingID))
			return
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}

	t.Metadata = cloneMetadata(t.Metadata)
	t.Metadata[key] = string(encoded)
	if _, err := b.manager.UpdateTenant(r.Context(), t); err != nil {
		b.writeManagerError(w, r, err, http.StatusNotFound, "binding", t.ID)
		return
	}
	b.requestLog(r).Info("service binding created", "instance_id", instanceID, "binding_id", bindingID, "tenant", t.ID)
	writeJSON(w, http.StatusCreated, resp)
}

// checkBindable responds with 422 unless the tenant is ready.
func (b *osbBroker) checkBindable(w http.ResponseWriter, t Tenant) bool {
	switch t.State {
	case StateReady:
		return true
	case StateFailed:
		writeOSBError(w, http.StatusUnprocessableEntity, codeInstanceFailed, fmt.Sprintf(
			"tenant %q failed (%s) and cannot be bound; deprovision the instance and provision it again", t.ID, t.Error))
	default:
		writeOSBError(w, http.StatusUnprocessableEntity, codeConcurrencyError, fmt.Sprintf(
			"tenant %q is %s; bind when last_operation reports the operation in progress finished", t.ID, t.State))
	}
	return false
}

func (b *osbBroker) unbind(w http.ResponseWriter, r *http.Request) {
	instanceID := r.PathValue("instance_id")
	bindingID := r.PathValue("binding_id")
	query := r.URL.Query()
	if err := b.checkService(query.Get("service_id")); err != nil {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if query.Get("plan_id") == "" {
		writeOSBError(w, http.StatusBadRequest, codeBadRequest, "query parameter plan_id is missing; send the plan ID of the instance")
		return
	}

	existing, found := b.findInstance(instanceID)
	if !found {
		writeJSON(w, http.StatusGone, emptyObject)
		return
	}

	unlock := lockTenant(existing.ID)
	defer unlock()
	t, found := b.manager.GetTenant(existing.ID)
	key := osbBindingPrefix + bindingID
	if _, bound := t.Metadata[key]; !found || !bound {
		writeJSON(w, http.StatusGone, emptyObject)
		return
	}
	// The removal of the tenant takes its bindings with it, and the Manager
	// accepts no updates meanwhile.
	if t.State == StateRemoving {
		writeJSON(w, http.StatusOK, emptyObject)
		return
	}

	t.Metadata = cloneMetadata(t.Metadata)
	delete(t.Metadata, key)
	if _, err := b.manager.UpdateTenant(r.Context(), t); err != nil {
		b.writeManagerError(w, r, err, http.StatusGone, "unbinding", t.ID)
		return
	}
	b.requestLog(r).Info("service binding deleted", "instance_id", instanceID, "binding_id", bindingID, "tenant", t.ID)
	writeJSON(w, http.StatusOK, emptyObject)
}
