// Package provider defines how DFLB creates, restarts, deletes and lists
// instances, whatever runs them: local processes, virtual machines or a
// cloud API. Each implementation lives in a subpackage, such as
// provider/local.
package provider

import (
	"context"
	"time"
)

// State is the lifecycle state of an instance as the provider observed it.
type State string

// Instance states.
const (
	// StateNew is an instance whose DFM has started but has not yet passed
	// its health check.
	StateNew State = "new"
	// StateActive is an instance whose DFM passes its health check.
	StateActive State = "active"
	// StateOff is an instance that exists but whose DFM is not running.
	StateOff State = "off"
	// StateUnknown is an instance whose DFM runs but does not respond, for
	// example because the machine hangs.
	StateUnknown State = "unknown"
)

// Instance is one machine that runs a DFM and its components.
type Instance struct {
	// ID identifies the instance to the provider. It is stable for the
	// instance's lifetime.
	ID string
	// Name is the unique name given in Spec.Name.
	Name string
	// Tags are free-form labels given in Spec.Tags.
	Tags []string
	// Address is the private IP address of the instance: a loopback address
	// for local instances, the VPC address for cloud ones.
	Address string
	// DFMURL is the base URL of the instance's DFM API, such as
	// "http://127.0.1.3:7070".
	DFMURL string
	// State is the state observed when the instance was read.
	State State
	// Created is when the provider created the instance.
	Created time.Time
}

// Spec describes an instance to create.
type Spec struct {
	// Name is unique among the provider's instances and makes Create
	// idempotent: creating an existing name returns that instance.
	Name string
	// Tags are free-form labels stored with the instance.
	Tags []string
	// Image selects what the instance runs. Its meaning depends on the
	// provider: a machine image, or a set of component templates.
	Image string
	// Bootstrap contains the settings that DFM needs to reach DFLB.
	Bootstrap Bootstrap
}

// Bootstrap is the configuration that DFM receives when its instance starts.
type Bootstrap struct {
	// NotifyURL is the URL of DFLB's notification receiver. Empty disables
	// notifications.
	NotifyURL string
	// Secret is the bearer token shared by DFM and DFLB. Providers must not
	// log it or write it to disk.
	Secret string
}

// Provider creates, restarts, deletes and lists instances. Every method
// returns when ctx ends, with an error that wraps ctx.Err(). Errors are
// *Error values, so callers can tell with errors.Is or IsRetryable whether
// to retry.
type Provider interface {
	// Create starts an instance and waits until its DFM is healthy. It is
	// idempotent by spec.Name: an existing instance with that name is
	// returned instead of creating another.
	Create(ctx context.Context, spec Spec) (Instance, error)
	// Get returns the instance with the given ID, or an error that matches
	// ErrNotFound.
	Get(ctx context.Context, id string) (Instance, error)
	// List returns every instance of the provider.
	List(ctx context.Context) ([]Instance, error)
	// Restart stops the instance gracefully and starts it again.
	Restart(ctx context.Context, id string) error
	// Delete stops the instance and frees its resources. Deleting an unknown
	// ID returns nil.
	Delete(ctx context.Context, id string) error
}
