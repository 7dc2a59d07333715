// Package dashboard is DFLB's live operator dashboard. Its one page shows
// each instance with its state, components and health, and charts of
// request rate, error rate and p99 over the last hour. Below them come a
// sortable tenant table with placement, the control plane's decisions and
// the active alerts.
//
// Wiring, on the admin listener:
//
//	history := dashboard.NewHistory(window.Rates, dashboard.HistoryOptions{})
//	go history.Run(ctx)
//	h := dashboard.Handler(dashboard.Source{
//		Status:     func() controlplane.Status { ... as GET /v1/status builds it ... },
//		Alerts:     func() any { return alerts.Active() },
//		TokenValid: func(r *http.Request) bool { return bearer.Valid(r, token) },
//		History:    history,
//		Done:       ctx.Done(),
//	})
//	adminServer.HandleSelfAuthenticated("GET /", h)
//	adminServer.HandleSelfAuthenticated("GET /dashboard/", http.StripPrefix("/dashboard", h))
//
// The handler serves, relative to where it is mounted:
//
//	GET /              the page (open)
//	GET /static/...    its script, style and the vendored uPlot (open)
//	GET /api/snapshot  instances, tenant rows, decisions, alerts (JSON)
//	GET /api/history   chart series; ?tenant=, ?instance=, ?since=<Unix ms>
//	GET /api/events    a snapshot every 2 s as server-sent events
//
// The /api/ endpoints check Source.TokenValid on every request and answer
// 401 with a JSON body without the admin token. They do so whether or not
// the caller also wraps them in its own authentication, so the handler is
// safe to mount with HandleSelfAuthenticated. The page asks for the token,
// keeps it in the tab's sessionStorage only, and sends it as
// "Authorization: Bearer <token>". It reads the event stream with fetch
// rather than EventSource, which cannot send that header, so the token
// never appears in a URL. No endpoint accepts the token as a query
// parameter.
//
// Charts use uPlot, vendored in static/vendor/uplot with its licence; the
// version is in the README there.
package dashboard
