package broker

import (
	"fmt"
	"net/http"

	"github.com/dflb/dflb/tenant"
)

// catalogResponse is the body of GET /v2/catalog.
type catalogResponse struct {
	Services []catalogService `json:"services"`
}

type catalogService struct {
	Name                 string        `json:"name"`
	ID                   string        `json:"id"`
	Description          string        `json:"description"`
	Bindable             bool          `json:"bindable"`
	PlanUpdateable       bool          `json:"plan_updateable"`
	InstancesRetrievable bool          `json:"instances_retrievable"`
	BindingsRetrievable  bool          `json:"bindings_retrievable"`
	Plans                []catalogPlan `json:"plans"`
}

type catalogPlan struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Free        bool           `json:"free"`
	Metadata    planMetadata   `json:"metadata"`
	Schemas     catalogSchemas `json:"schemas"`
}

// planMetadata shows the plan's limits to marketplace users. Platforms
// treat the object as opaque.
type planMetadata struct {
	Limits  Limits   `json:"limits"`
	Weight  int      `json:"weight,omitempty"`
	Bullets []string `json:"bullets,omitempty"`
}

type catalogSchemas struct {
	ServiceInstance struct {
		Create inputSchema `json:"create"`
		Update inputSchema `json:"update"`
	} `json:"service_instance"`
}

type inputSchema struct {
	Parameters map[string]any `json:"parameters"`
}

// instanceParameterSchema is the JSON schema (draft-04) of the parameters
// of a provision or update request: only tenant, a DNS label.
var instanceParameterSchema = map[string]any{
	"$schema":              "http://json-schema.org/draft-04/schema#",
	"type":                 "object",
	"additionalProperties": false,
	"properties": map[string]any{
		"tenant": map[string]any{
			"type":        "string",
			"description": "Tenant ID: a DNS label of a-z, 0-9 and '-'. Derived from the instance ID when omitted.",
			"pattern":     "^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$",
			"maxLength":   tenant.MaxIDLen,
		},
	},
}

// catalog serves the one service, bindable and with updatable plans.
// Fetching instances and bindings is not offered.
func (b *osbBroker) catalog(w http.ResponseWriter, _ *http.Request) {
	plans := make([]catalogPlan, 0, len(b.cfg.Plans))
	for _, p := range b.cfg.Plans {
		cp := catalogPlan{
			ID:          p.ID,
			Name:        p.Name,
			Description: p.Description,
			Free:        p.Free,
			Metadata:    planMetadata{Limits: p.Limits, Weight: p.Weight, Bullets: limitBullets(p.Limits)},
		}
		cp.Schemas.ServiceInstance.Create.Parameters = instanceParameterSchema
		cp.Schemas.ServiceInstance.Update.Parameters = instanceParameterSchema
		plans = append(plans, cp)
	}

	writeJSON(w, http.StatusOK, catalogResponse{Services: []catalogService{{
		Name:           b.cfg.ServiceName,
		ID:             b.cfg.ServiceID,
		Description:    b.cfg.ServiceDescription,
		Bindable:       true,
		PlanUpdateable: true,
		Plans:          plans,
	}}})
}

// limitBullets describes the limits for the catalog's "bullets" display
// convention, one line per limited dimension.
func limitBullets(l Limits) []string {
	var bullets []string
	if l.Rate > 0 {
		bullets = append(bullets, fmt.Sprintf("%g requests per second", l.Rate))
	}
	if l.Burst > 0 {
		bullets = append(bullets, fmt.Sprintf("bursts of %d requests", l.Burst))
	}
	if l.MaxConcurrent > 0 {
		bullets = append(bullets, fmt.Sprintf("%d concurrent requests", l.MaxConcurrent))
	}
	return bullets
}
