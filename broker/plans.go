package broker

import (
	"errors"
	"fmt"
	"strings"
)

// Plan is one tier of the tenant offering: the limits and weight that a
// tenant gets, and how the service catalog presents it.
type Plan struct {
	// Name is the plan's name in the tenant API and the catalog. It must be
	// CLI-friendly: letters, digits, '.' and '-'.
	Name string
	// ID is the plan's ID in the Open Service Broker API, a GUID that must
	// never change once a marketplace has seen it.
	ID string
	// Description is the one-line text that the catalog shows.
	Description string
	// Limits are the traffic limits of a tenant on this plan.
	Limits Limits
	// Weight is the weight of a tenant on this plan (see Tenant.Weight).
	Weight int
	// Free marks the plan as without cost in the catalog. false shows it as
	// paid.
	Free bool
}

// findPlanByName returns the plan with the name.
func findPlanByName(plans []Plan, name string) (Plan, bool) {
	for _, p := range plans {
		if p.Name == name {
			return p, true
		}
	}
	return Plan{}, false
}

// findPlanByID returns the plan with the Open Service Broker API ID.
func findPlanByID(plans []Plan, id string) (Plan, bool) {
	for _, p := range plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// planNames lists the plan names for error messages, such as "free, standard".
func planNames(plans []Plan) string {
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// validatePlans checks every plan and returns all problems joined. path
// prefixes each problem, such as "plans".
func validatePlans(path string, plans []Plan) error {
	if len(plans) == 0 {
		return fmt.Errorf("%s: no plans: add at least one with name, id and description", path)
	}

	var errs []error
	names := map[string]int{}
	ids := map[string]int{}
	for i, p := range plans {
		at := fmt.Sprintf("%s[%d]", path, i)
		if err := checkCLIName(p.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s.name: %w", at, err))
		}
		if first, dup := names[p.Name]; dup && p.Name != "" {
			errs = append(errs, fmt.Errorf("%s.name: %q is also the name of %s[%d]; give every plan its own name", at, p.Name, path, first))
		}
		names[p.Name] = i

		if err := checkOSBID(p.ID); err != nil {
			errs = append(errs, fmt.Errorf("%s.id: %w", at, err))
		}
		if first, dup := ids[p.ID]; dup && p.ID != "" {
			errs = append(errs, fmt.Errorf("%s.id: %q is also the ID of %s[%d]; give every plan its own GUID", at, p.ID, path, first))
		}
		ids[p.ID] = i

		if strings.TrimSpace(p.Description) == "" {
			errs = append(errs, fmt.Errorf("%s.description: missing; the service catalog requires a description of every plan", at))
		}
		if err := p.Limits.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s.limits: %w", at, err))
		}
		if p.Weight < 0 {
			errs = append(errs, fmt.Errorf("%s.weight: %d is negative; use 0 or more", at, p.Weight))
		}
	}
	return errors.Join(errs...)
}

// checkCLIName accepts a "CLI-friendly" name as the Open Service Broker API
// defines it: non-empty, only letters, digits, '.' and '-'.
func checkCLIName(name string) error {
	if name == "" {
		return errors.New("missing; use letters, digits, '.' and '-'")
	}
	for i, c := range []byte(name) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("%q has %q at offset %d; use only letters, digits, '.' and '-'", name, c, i)
		}
	}
	return nil
}

// checkOSBID accepts a service or plan ID that can appear in a URL without
// escaping: the unreserved characters of RFC 3986, which the Open Service
// Broker API recommends for IDs.
func checkOSBID(id string) error {
	if id == "" {
		return errors.New("missing; generate a GUID with uuidgen and keep it for good")
	}
	for i, c := range []byte(id) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return fmt.Errorf("%q has %q at offset %d; use a GUID, or only letters, digits, '-', '.', '_' and '~'", id, c, i)
		}
	}
	return nil
}
