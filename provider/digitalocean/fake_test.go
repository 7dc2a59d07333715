package digitalocean

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVPC is the UUID of the only VPC that the fake API serves.
const fakeVPC = "5a4981aa-9653-4bd1-bef5-d6bff52042e4"

// never is a delay after which a fake droplet or action never changes.
const never = time.Duration(-1)

// fakeAPI is an HTTP fake of the DigitalOcean API endpoints that the
// provider uses. It responds in the JSON shapes of the real API (from the
// DigitalOcean OpenAPI specification), sends the RateLimit-* headers on
// every response, and runs on its own clock, which the tests advance
// instead of sleeping. It listens on 127.0.0.1 only.
type fakeAPI struct {
	t      *testing.T
	server *httptest.Server
	token  string
	clock  *testClock

	mu       sync.Mutex
	nextID   int
	droplets map[int]*fakeDroplet
	actions  map[int]*fakeAction
	// requests are the authenticated requests, in order.
	requests []fakeRequest
	// createBodies are the decoded bodies of POST /v2/droplets.
	createBodies []map[string]any
	// faults are responses that replace the normal one, by route pattern
	// such as "POST /v2/droplets", consumed in order.
	faults map[string][]fault
	// activeAfter is how long a new droplet stays in status new.
	activeAfter time.Duration
	// actionDelays is how long an action of each type stays in progress.
	actionDelays map[string]time.Duration
	sizes        []string
	// remaining and reset are the rate limit headers of normal responses.
	remaining int
	reset     time.Time
}

type fakeRequest struct {
	method string
	path   string
	query  url.Values
}

func (r fakeRequest) String() string {
	if len(r.query) == 0 {
		return r.method + " " + r.path
	}
	return r.method + " " + r.path + "?" + r.query.Encode()
}

type fakeDroplet struct {
	id        int
	name      string
	status    string
	tags      []string
	created   time.Time
	activeAt  time.Time // zero: stays new
	privateIP string
	publicIP  string
	region    string
	size      string
	vpc       string
}

type fakeAction struct {
	id         int
	dropletID  int
	kind       string
	started    time.Time
	completeAt time.Time // zero: stays in progress
}

// fault replaces one response of a route.
type fault struct {
	// status, when set, is sent with the API's JSON error body.
	status  int
	message string
	headers map[string]string
	// delay holds the response back, ending early when the client gives up.
	delay time.Duration
	// lose handles the request normally but never sends the response, as
	// when a response is lost on the way: the client times out.
	lose bool
}

func newFakeAPI(t *testing.T, clock *testClock, token string) *fakeAPI {
	f := &fakeAPI{
		t:            t,
		token:        token,
		clock:        clock,
		nextID:       3164444,
		droplets:     make(map[int]*fakeDroplet),
		actions:      make(map[int]*fakeAction),
		faults:       make(map[string][]fault),
		activeAfter:  40 * time.Second,
		actionDelays: map[string]time.Duration{"reboot": 20 * time.Second, "power_cycle": 10 * time.Second, "power_on": 10 * time.Second},
		sizes:        []string{"s-1vcpu-1gb", "s-2vcpu-2gb"},
		remaining:    5000,
		reset:        clock.now().Add(time.Hour),
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/droplets", f.createDroplet)
	mux.HandleFunc("GET /v2/droplets", f.listDroplets)
	mux.HandleFunc("GET /v2/droplets/{id}", f.getDroplet)
	mux.HandleFunc("DELETE /v2/droplets/{id}", f.deleteDroplet)
	mux.HandleFunc("POST /v2/droplets/{id}/actions", f.postAction)
	mux.HandleFunc("GET /v2/droplets/{id}/actions/{action}", f.getAction)
	mux.HandleFunc("GET /v2/vpcs/{id}", f.getVPC)

	f.server = httptest.NewUnstartedServer(f.middleware(mux))
	f.server.Start()
	if !strings.HasPrefix(f.server.URL, "http://127.0.0.1:") {
		t.Fatalf("the fake API must listen on 127.0.0.1, got %s", f.server.URL)
	}
	t.Cleanup(f.server.Close)
	return f
}

// addFault queues a fault for the route pattern, such as
// "POST /v2/droplets" or "GET /v2/droplets/{id}".
func (f *fakeAPI) addFault(pattern string, flt fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[pattern] = append(f.faults[pattern], flt)
}

// addDroplet stores an active droplet with the given tags, as if created
// earlier, and returns its ID.
func (f *fakeAPI) addDroplet(name string, tags ...string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.newDroplet(name, tags, "s-1vcpu-1gb", fakeVPC)
	d.status = "active"
	d.activeAt = f.clock.now()
	return d.id
}

func (f *fakeAPI) newDroplet(name string, tags []string, size, vpc string) *fakeDroplet {
	id := f.nextID
	f.nextID++
	n := len(f.droplets)
	d := &fakeDroplet{
		id:        id,
		name:      name,
		status:    "new",
		tags:      tags,
		created:   f.clock.now().UTC().Truncate(time.Second),
		privateIP: fmt.Sprintf("10.116.%d.%d", n/200, n%200+2),
		publicIP:  fmt.Sprintf("192.0.2.%d", n%250+1),
		region:    "nyc3",
		size:      size,
		vpc:       vpc,
	}
	f.droplets[id] = d
	return d
}

func (f *fakeAPI) setActionDelay(kind string, delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actionDelays[kind] = delay
}

func (f *fakeAPI) setActiveAfter(delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.activeAfter = delay
}

// setRateLimit sets the RateLimit-Remaining and RateLimit-Reset headers
// of the next normal responses.
func (f *fakeAPI) setRateLimit(remaining int, reset time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remaining = remaining
	f.reset = reset
}

func (f *fakeAPI) createRequests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.createBodies)
}

func (f *fakeAPI) dropletCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.droplets)
}

// requestCount returns how many requests had the method and path.
func (f *fakeAPI) requestCount(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.method == method && r.path == path {
			n++
		}
	}
	return n
}

func (f *fakeAPI) requestLog() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// actionKinds returns the types of the actions started on a droplet, in
// order.
func (f *fakeAPI) actionKinds(dropletID int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int
	for id, a := range f.actions {
		if a.dropletID == dropletID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var kinds []string
	for _, id := range ids {
		kinds = append(kinds, f.actions[id].kind)
	}
	return kinds
}

func (f *fakeAPI) setDropletStatus(id int, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.droplets[id].status = status
}

// middleware checks the token, records the request, applies faults and
// sets the rate limit headers.
func (f *fakeAPI) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)

		if r.Header.Get("Authorization") != "Bearer "+f.token {
			f.writeError(w, http.StatusUnauthorized, "unauthorized", "Unable to authenticate you")
			return
		}

		f.mu.Lock()
		f.requests = append(f.requests, fakeRequest{method: r.Method, path: r.URL.Path, query: r.URL.Query()})
		var flt *fault
		if queue := f.faults[pattern]; len(queue) > 0 {
			flt = &queue[0]
			f.faults[pattern] = queue[1:]
		}
		f.mu.Unlock()

		if flt == nil {
			mux.ServeHTTP(w, r)
			return
		}
		if flt.delay > 0 {
			select {
			case <-time.After(flt.delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case flt.lose:
			mux.ServeHTTP(httptest.NewRecorder(), r)
			<-r.Context().Done()
		case flt.status != 0:
			for k, v := range flt.headers {
				w.Header().Set(k, v)
			}
			f.writeError(w, flt.status, errorID(flt.status), flt.message)
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

func errorID(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusUnprocessableEntity:
		return "unprocessable_entity"
	case http.StatusUnauthorized:
		return "unauthorized"
	default:
		if status >= 500 {
			return "server_error"
		}
		return "bad_request"
	}
}

// writeJSON sends v with the rate limit headers of a normal response.
func (f *fakeAPI) writeJSON(w http.ResponseWriter, status int, v any) {
	f.mu.Lock()
	if f.remaining > 0 {
		f.remaining--
	}
	remaining, reset := f.remaining, f.reset
	f.mu.Unlock()

	h := w.Header()
	if h.Get("Ratelimit-Limit") == "" {
		h.Set("Ratelimit-Limit", "5000")
		h.Set("Ratelimit-Remaining", strconv.Itoa(remaining))
		h.Set("Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		if err := json.NewEncoder(w).Encode(v); err != nil {
			f.t.Errorf("fake API: encoding the response: %v", err)
		}
	}
}

// writeError sends the API's error body {"id": ..., "message": ...}.
func (f *fakeAPI) writeError(w http.ResponseWriter, status int, id, message string) {
	if message == "" {
		message = http.StatusText(status)
	}
	f.writeJSON(w, status, map[string]any{"id": id, "message": message, "request_id": "req-" + strconv.Itoa(status)})
}

func (f *fakeAPI) createDroplet(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.writeError(w, http.StatusBadRequest, "bad_request", "invalid JSON: "+err.Error())
		return
	}
	name, _ := body["name"].(string)
	size, _ := body["size"].(string)
	vpc, _ := body["vpc_uuid"].(string)

	f.mu.Lock()
	f.createBodies = append(f.createBodies, body)
	validSize := slices.Contains(f.sizes, size)
	f.mu.Unlock()
	if !validSize {
		f.writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "You specified an invalid size for Droplet creation.")
		return
	}
	if vpc != fakeVPC {
		f.writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "VPC not found.")
		return
	}

	var tags []string
	if raw, ok := body["tags"].([]any); ok {
		for _, tag := range raw {
			s, _ := tag.(string)
			tags = append(tags, s)
		}
	}

	f.mu.Lock()
	d := f.newDroplet(name, tags, size, vpc)
	if f.activeAfter != never {
		d.activeAt = f.clock.now().Add(f.activeAfter)
	}
	action := f.newActionLocked(d.id, "create", f.activeAfter)
	view := f.dropletJSON(d)
	f.mu.Unlock()

	f.writeJSON(w, http.StatusAccepted, map[string]any{
		"droplet": view,
		"links": map[string]any{"actions": []any{map[string]any{
			"id": action.id, "rel": "create", "href": f.server.URL + "/v2/actions/" + strconv.Itoa(action.id),
		}}},
	})
}

// listDroplets serves GET /v2/droplets?tag_name=&page=&per_page= with
// the API's pagination: the links object has absolute page URLs when
// there is more than one page, and is left out otherwise.
func (f *fakeAPI) listDroplets(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	tag := query.Get("tag_name")
	page := atoiDefault(query.Get("page"), 1)
	perPage := min(atoiDefault(query.Get("per_page"), 20), 200)

	f.mu.Lock()
	var ids []int
	for id, d := range f.droplets {
		if tag == "" || slices.Contains(d.tags, tag) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	total := len(ids)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	views := []any{}
	for _, id := range ids[start:end] {
		views = append(views, f.dropletJSON(f.droplets[id]))
	}
	f.mu.Unlock()

	body := map[string]any{"droplets": views, "meta": map[string]any{"total": total}}
	lastPage := max((total+perPage-1)/perPage, 1)
	if lastPage > 1 {
		pageURL := func(n int) string {
			q := url.Values{"page": {strconv.Itoa(n)}, "per_page": {strconv.Itoa(perPage)}}
			if tag != "" {
				q.Set("tag_name", tag)
			}
			return f.server.URL + "/v2/droplets?" + q.Encode()
		}
		pages := map[string]any{}
		if page > 1 {
			pages["first"] = pageURL(1)
			pages["prev"] = pageURL(page - 1)
		}
		if page < lastPage {
			pages["next"] = pageURL(page + 1)
			pages["last"] = pageURL(lastPage)
		}
		body["links"] = map[string]any{"pages": pages}
	}
	f.writeJSON(w, http.StatusOK, body)
}

func (f *fakeAPI) getDroplet(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	d := f.droplets[atoiDefault(r.PathValue("id"), 0)]
	var view map[string]any
	if d != nil {
		view = f.dropletJSON(d)
	}
	f.mu.Unlock()
	if d == nil {
		f.writeNotFound(w)
		return
	}
	f.writeJSON(w, http.StatusOK, map[string]any{"droplet": view})
}

func (f *fakeAPI) deleteDroplet(w http.ResponseWriter, r *http.Request) {
	id := atoiDefault(r.PathValue("id"), 0)
	f.mu.Lock()
	_, ok := f.droplets[id]
	delete(f.droplets, id)
	f.mu.Unlock()
	if !ok {
		f.writeNotFound(w)
		return
	}
	f.writeJSON(w, http.StatusNoContent, nil)
}

func (f *fakeAPI) postAction(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Type string `json:"type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.writeError(w, http.StatusBadRequest, "bad_request", "invalid JSON")
		return
	}
	id := atoiDefault(r.PathValue("id"), 0)

	f.mu.Lock()
	d := f.droplets[id]
	delay, known := f.actionDelays[body.Type]
	var view map[string]any
	if d != nil && known {
		view = f.actionJSON(f.newActionLocked(id, body.Type, delay))
	}
	f.mu.Unlock()

	switch {
	case d == nil:
		f.writeNotFound(w)
	case !known:
		f.writeError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "Action type is not valid.")
	default:
		f.writeJSON(w, http.StatusCreated, map[string]any{"action": view})
	}
}

func (f *fakeAPI) getAction(w http.ResponseWriter, r *http.Request) {
	dropletID := atoiDefault(r.PathValue("id"), 0)
	f.mu.Lock()
	a := f.actions[atoiDefault(r.PathValue("action"), 0)]
	var view map[string]any
	if a != nil && a.dropletID == dropletID {
		view = f.actionJSON(a)
	}
	f.mu.Unlock()
	if view == nil {
		f.writeNotFound(w)
		return
	}
	f.writeJSON(w, http.StatusOK, map[string]any{"action": view})
}

func (f *fakeAPI) getVPC(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != fakeVPC {
		f.writeNotFound(w)
		return
	}
	f.writeJSON(w, http.StatusOK, map[string]any{"vpc": map[string]any{
		"id": fakeVPC, "urn": "do:vpc:" + fakeVPC, "name": "dflb-test", "ip_range": "10.116.0.0/20",
		"region": "nyc3", "created_at": "2024-01-02T03:04:05Z", "default": false,
	}})
}

func (f *fakeAPI) writeNotFound(w http.ResponseWriter) {
	f.writeError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
}

// newActionLocked starts an action that completes after delay, or never.
// The caller holds f.mu.
func (f *fakeAPI) newActionLocked(dropletID int, kind string, delay time.Duration) *fakeAction {
	a := &fakeAction{id: 36804636 + len(f.actions), dropletID: dropletID, kind: kind, started: f.clock.now()}
	if delay != never {
		a.completeAt = a.started.Add(delay)
	}
	f.actions[a.id] = a
	return a
}

// actionJSON returns the action as the API shows it now. A completed
// power_on makes its droplet active. The caller holds f.mu.
func (f *fakeAPI) actionJSON(a *fakeAction) map[string]any {
	status := "in-progress"
	var completed any
	if !a.completeAt.IsZero() && !f.clock.now().Before(a.completeAt) {
		status = "completed"
		completed = a.completeAt.UTC().Format(time.RFC3339)
		if d := f.droplets[a.dropletID]; d != nil && a.kind == "power_on" {
			d.status = "active"
		}
	}
	return map[string]any{
		"id": a.id, "status": status, "type": a.kind,
		"started_at": a.started.UTC().Format(time.RFC3339), "completed_at": completed,
		"resource_id": a.dropletID, "resource_type": "droplet", "region_slug": "nyc3",
	}
}

// dropletJSON returns the droplet as the API shows it now: in status new
// without networks until activeAt, then active with a private and a
// public IPv4 address. The caller holds f.mu.
func (f *fakeAPI) dropletJSON(d *fakeDroplet) map[string]any {
	if d.status == "new" && !d.activeAt.IsZero() && !f.clock.now().Before(d.activeAt) {
		d.status = "active"
	}
	v4 := []any{}
	if d.status != "new" {
		v4 = []any{
			map[string]any{"ip_address": d.privateIP, "netmask": "255.255.240.0", "gateway": "nil", "type": "private"},
			map[string]any{"ip_address": d.publicIP, "netmask": "255.255.255.0", "gateway": "192.0.2.254", "type": "public"},
		}
	}
	return map[string]any{
		"id": d.id, "name": d.name, "memory": 1024, "vcpus": 1, "disk": 25, "locked": false,
		"status": d.status, "kernel": nil, "created_at": d.created.Format(time.RFC3339),
		"features": []any{"private_networking"}, "backup_ids": []any{}, "snapshot_ids": []any{},
		"image":      map[string]any{"id": 123456, "name": "dflb-dfm", "type": "snapshot"},
		"volume_ids": []any{},
		"size":       map[string]any{"slug": d.size},
		"size_slug":  d.size,
		"networks":   map[string]any{"v4": v4, "v6": []any{}},
		"region":     map[string]any{"slug": d.region, "name": "New York 3"},
		"tags":       slices.Clone(d.tags),
		"vpc_uuid":   d.vpc,
	}
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
