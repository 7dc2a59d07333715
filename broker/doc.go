// Package broker serves the two HTTP APIs through which tenants are created
// and removed: the tenant API for operators and the Open Service Broker API
// v2 for service marketplaces such as Cloud Foundry's or Kubernetes' service
// catalog.
//
// Both APIs only validate requests and translate them into calls on a
// Manager, which the control plane implements. Creating and removing a
// tenant finish after the response, so both APIs return 202 and report
// progress in the tenant's State.
//
// Mounting on the admin listener (package admin):
//
//	api := broker.NewTenantAPI(manager, cfg.TenantPlans(), logger)
//	adminServer.Handle("/v1/tenants", api)  // bearer token checked by admin
//	adminServer.Handle("/v1/tenants/", api)
//	adminServer.HandleSelfAuthenticated("/v2/", broker.NewOSB(manager, cfg, logger)) // basic auth
//
// The tenant API has no authentication of its own, so it must be mounted
// behind the admin token. The broker checks HTTP basic authentication itself
// and must not be mounted behind the admin token, which marketplaces do not
// send.
package broker
