package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/dflb/dflb/admin"
	"github.com/dflb/dflb/alert"
	"github.com/dflb/dflb/balancer"
	"github.com/dflb/dflb/broker"
	"github.com/dflb/dflb/config"
	"github.com/dflb/dflb/controlplane"
	"github.com/dflb/dflb/dashboard"
	"github.com/dflb/dflb/internal/bearer"
	"github.com/dflb/dflb/proxy"
	"github.com/dflb/dflb/tenant"
)

// app holds the wired parts of one dflb process.
type app struct {
	configPath string
	config     *config.Config
	log        *slog.Logger

	router *balancer.Router
	stats  *balancer.Stats
	pool   *balancer.Pool
	window *balancer.Window
	proxy  *proxy.Proxy
	admin  *admin.Server

	instances     *instances
	db            *controlplane.DB                        // nil for the static provider
	downOnExit    bool                                    // delete the instances and db's file when run returns
	alerts        *alert.Manager                          // nil for the static provider
	specs         atomic.Pointer[[]balancer.InstanceSpec] // as last published
	notifications *controlplane.NotificationHandler
	dfmSecret     string

	proxyLn net.Listener
	adminLn net.Listener

	adminToken []byte
	history    *dashboard.History // the dashboard's charts
	// stopping closes when the process starts shutting down, which ends
	// the dashboard's event streams so that the admin listener can drain.
	stopping chan struct{}
}

// newApp loads the configuration, opens both listeners, brings the
// instances up and builds the first routing table, so that every
// configuration error surfaces before serving.
func newApp(ctx context.Context, configPath, dataDir string, logger *slog.Logger) (*app, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, err
	}
	extractor, err := tenant.New(cfg.TenantConfig())
	if err != nil {
		return nil, fmt.Errorf("%s: routing: %w", configPath, err)
	}
	opts, err := proxyOptions(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}

	a := &app{
		configPath: configPath,
		config:     cfg,
		log:        logger,
		router:     &balancer.Router{},
		stats:      balancer.NewStats(),
		stopping:   make(chan struct{}),
	}
	a.stats.SetTenantLabelCap(cfg.Admin.TenantLabelCap)
	a.proxy, err = proxy.New(opts, extractor, a.router, logger)
	if err != nil {
		return nil, err
	}
	health := balancer.HealthConfig{Failures: cfg.Proxy.PassiveFailures, Cooloff: cfg.Proxy.PassiveCooloff, SlowStart: cfg.Proxy.SlowStart}
	a.pool = balancer.NewPool(a.proxy.NewTransport, health, proxy.CloseTransport)
	a.window = balancer.NewWindow(a.stats, time.Second, 60)

	if err := a.newAdmin(dataDir); err != nil {
		return nil, err
	}
	if err := a.listen(); err != nil {
		return nil, err
	}
	a.instances, err = newInstances(cfg, notifyURL(a.adminLn), a.dfmSecret, logger)
	if err != nil {
		a.closeListeners()
		return nil, err
	}

	if a.instances.launcher != nil {
		a.db, err = controlplane.OpenDB(filepath.Join(dataDir, stateFile))
		if err != nil {
			a.closeListeners()
			return nil, err
		}
	}
	err = a.instances.start(ctx, cfg, wiring{db: a.db, publish: a.publish, stats: a.stats, pool: a.pool, limits: a.setTenantLimits})
	if err != nil {
		a.close()
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	if c := a.instances.controller; c != nil {
		a.admin.Handle("POST "+controlplane.CancelPath, http.HandlerFunc(c.ServeCancel))
		a.admin.Handle("GET "+controlplane.DecisionsPath, http.HandlerFunc(c.ServeDecisions))
		a.alerts, err = alert.New(cfg.Alerts, alert.WithLogger(logger), alert.WithNotifyHook(c.RecordAlert))
		if err != nil {
			a.close()
			return nil, fmt.Errorf("%s: alerts: %w", configPath, err)
		}
		c.Alerts = a.alerts
		c.ErrorRate = cfg.Alerts.Rules.TenantErrorRate
		a.admin.Handle("GET "+alertsPath, http.HandlerFunc(a.handleAlerts))
		if err := a.mountTenantAPI(c); err != nil {
			a.close()
			return nil, fmt.Errorf("%s: broker: %w", configPath, err)
		}
	}
	return a, nil
}

// newAdmin builds the admin listener's handlers, among them the receiver of
// DFM's notifications, which checks the secret shared with DFM.
func (a *app) newAdmin(dataDir string) error {
	token, err := loadSecret(a.config.Admin.TokenEnv, dataDir, "admin.token", a.log)
	if err != nil {
		return err
	}
	a.admin, err = admin.New(token, a.ready, a.log)
	if err != nil {
		return err
	}
	a.adminToken = []byte(token)
	a.admin.HandleMetrics(a.stats.WritePrometheus, a.pool.WritePrometheus, a.proxy.WritePrometheus,
		func(w io.Writer) { metrics.WriteProcessMetrics(w) })
	a.admin.HandleProfiling()
	a.admin.Handle("GET "+statusPath, http.HandlerFunc(a.handleStatus))

	a.dfmSecret, err = loadSecret(a.config.Provider.SecretEnv, dataDir, "dfm.secret", a.log)
	if err != nil {
		return err
	}
	a.notifications, err = controlplane.NewNotificationHandler(a.dfmSecret, a.log)
	if err != nil {
		return err
	}
	a.admin.HandleSelfAuthenticated("POST "+controlplane.NotificationsPath, a.notifications)
	a.mountDashboard()
	return nil
}

// mountDashboard serves the operator dashboard at / and /dashboard/. The
// page itself is open; its data endpoints check the admin token.
func (a *app) mountDashboard() {
	a.history = dashboard.NewHistory(a.window.Rates, dashboard.HistoryOptions{})
	h := dashboard.Handler(dashboard.Source{
		Status:     a.buildStatus,
		TokenValid: func(r *http.Request) bool { return bearer.Valid(r, a.adminToken) },
		Alerts: func() any {
			if a.alerts == nil {
				return nil
			}
			return a.alerts.Active()
		},
		History: a.history,
		Done:    a.stopping,
		Logger:  a.log,
	})
	a.admin.HandleSelfAuthenticated("GET /", h)
	a.admin.HandleSelfAuthenticated("GET /dashboard/", http.StripPrefix("/dashboard", h))
}

func (a *app) closeListeners() {
	a.proxyLn.Close()
	a.adminLn.Close()
}

// close releases what newApp opened when run will not.
func (a *app) close() {
	a.closeListeners()
	if a.db != nil {
		a.db.Close()
	}
}

// stateFile is the control plane's state database in the data directory.
const stateFile = "state.db"

// publish builds the table for specs, swaps it in and then releases the
// backends and statistics that the old table alone used.
func (a *app) publish(specs []balancer.InstanceSpec) error {
	table, err := a.pool.Build(specs, a.stats)
	if err != nil {
		return fmt.Errorf("building routing table: %w", err)
	}
	a.router.Store(table)
	a.pool.Prune(table)
	a.stats.Retain(table)
	a.specs.Store(&specs)
	return nil
}

// mountTenantAPI serves the tenant API on the admin listener, behind the
// admin token, and, when broker.service_id is set, the Open Service Broker
// API under /v2/, behind the broker's own basic authentication.
func (a *app) mountTenantAPI(c *controlplane.Controller) error {
	manager := tenantManager{c: c}
	api := broker.NewTenantAPI(manager, a.config.Broker.TenantPlans(), a.log)
	// Patterns name their methods: a pattern without one would conflict
	// with the dashboard's "GET /".
	for _, pattern := range []string{"GET /v1/tenants", "POST /v1/tenants", "GET /v1/tenants/{id}",
		"PATCH /v1/tenants/{id}", "DELETE /v1/tenants/{id}"} {
		a.admin.Handle(pattern, api)
	}

	if a.config.Broker.ServiceID == "" {
		// A marketplace pointed at a dflb without the broker gets a 404
		// naming the missing setting, not the dashboard's.
		off := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the Open Service Broker API is off: set broker.service_id and its credentials in the config", http.StatusNotFound)
		})
		for _, method := range osbMethods {
			a.admin.HandleSelfAuthenticated(method+" /v2/", off)
		}
		return nil
	}
	if err := a.config.Broker.CheckCredentials(); err != nil {
		return err
	}
	osb := broker.NewOSB(manager, a.config.Broker, a.log)
	for _, method := range osbMethods {
		a.admin.HandleSelfAuthenticated(method+" /v2/", osb)
	}
	return nil
}

// osbMethods are the methods of the Open Service Broker API. Its patterns
// name them, because a pattern without a method would conflict with the
// dashboard's "GET /".
var osbMethods = []string{"GET", "PUT", "PATCH", "DELETE"}

// alertsPath lists the alerts that are pending or firing.
const alertsPath = "/v1/alerts"

func (a *app) handleAlerts(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a.alerts.Active()); err != nil {
		a.log.Debug("writing alerts response failed", "error", err)
	}
}

// setTenantLimits hands the tenants' limits to the proxy. Limits the
// control plane accepted are valid, so an error is only logged.
func (a *app) setTenantLimits(limits map[string]controlplane.TenantLimits) {
	out := make(map[string]proxy.TenantLimit, len(limits))
	for id, l := range limits {
		out[id] = proxy.TenantLimit{Rate: l.Rate, Burst: l.Burst, MaxConcurrent: l.MaxConcurrent, MaxQueued: l.MaxQueued}
	}
	if err := a.proxy.SetTenantLimits(out); err != nil {
		a.log.Error("applying tenant limits failed; the previous limits stay", "error", err)
	}
}

// ready reports whether the proxy has a routing table with any tenant.
func (a *app) ready() error {
	table := a.router.Load()
	if table == nil || table.Tenants() == 0 {
		return errors.New("routing table has no tenants")
	}
	return nil
}

func (a *app) listen() error {
	var err error
	a.proxyLn, err = net.Listen("tcp", a.config.Listen)
	if err != nil {
		return fmt.Errorf("opening proxy listener %s: %w (change listen in %s or stop what uses it)", a.config.Listen, err, a.configPath)
	}
	a.adminLn, err = net.Listen("tcp", a.config.Admin.Listen)
	if err != nil {
		a.proxyLn.Close()
		return fmt.Errorf("opening admin listener %s: %w (change admin.listen in %s or stop what uses it)", a.config.Admin.Listen, err, a.configPath)
	}
	return nil
}

// run serves until ctx ends, reloading on each value from reload, then drains.
func (a *app) run(ctx context.Context, reload <-chan os.Signal) error {
	windowCtx, stopWindow := context.WithCancel(context.Background())
	defer stopWindow()
	// The alert manager outlives the other loops at shutdown, because only
	// a running manager delivers what flushAlerts waits for.
	alertsCtx, stopAlerts := context.WithCancel(context.Background())
	defer stopAlerts()
	go a.window.Run(windowCtx)
	go a.history.Run(windowCtx)

	notes, unsubscribe := a.notifications.Subscribe(256)
	defer unsubscribe()
	health := &controlplane.ComponentHealth{Pool: a.pool, Hold: a.config.Proxy.PassiveCooloff, Logger: a.log}
	go health.Run(windowCtx, notes)
	controlDone := make(chan struct{})
	if c := a.instances.controller; c != nil {
		supervisor := &controlplane.Supervisor{
			Provider:    a.instances.launcher.Provider,
			Pool:        a.pool,
			Secret:      a.dfmSecret,
			MaxRestarts: a.config.Autoscale.MaxRestarts,
			Observe:     c.Observe,
			Abandon:     c.Abandoned,
			Supervised:  c.Supervised,
			Logger:      a.log,
		}
		go supervisor.Run(windowCtx)
		go a.alerts.Run(alertsCtx)
		controlNotes, unsubscribeControl := a.notifications.Subscribe(256)
		defer unsubscribeControl()
		go func() {
			defer close(controlDone)
			c.Run(windowCtx, controlNotes)
		}()
	} else {
		close(controlDone)
	}

	errs := make(chan error, 2)
	go func() { errs <- a.proxy.Serve(a.proxyLn) }()
	go func() { errs <- a.admin.Serve(a.adminLn) }()
	a.log.Info("dflb started", "listen", a.config.Listen, "admin", a.config.Admin.Listen,
		"instances", len(a.config.Instances), "tenants", a.router.Load().Tenants())

	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			a.reload(ctx)
		case serveErr = <-errs:
			break loop
		}
	}

	a.log.Info("shutting down")
	close(a.stopping)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.config.Proxy.ShutdownGrace+5*time.Second)
	defer cancel()
	stopWindow()
	<-controlDone
	drainErr := a.proxy.Shutdown(shutdownCtx)
	var downErr error
	if a.downOnExit {
		downErr = a.deleteInstances()
	}
	a.flushAlerts()
	stopAlerts()
	adminErr := a.admin.Shutdown(shutdownCtx)
	var dbErr error
	if a.db != nil {
		dbErr = a.db.Close()
	}
	if a.downOnExit && a.db != nil && downErr == nil && dbErr == nil {
		downErr = removeState(a.db.Path(), a.log)
	}
	a.log.Info("stopped")
	return errors.Join(serveErr, drainErr, downErr, adminErr, dbErr)
}

// alertFlushTimeout bounds the wait for alert notifications at exit, so
// that an unreachable sink delays the exit by at most this much.
const alertFlushTimeout = 5 * time.Second

// flushAlerts waits until the alert notifications decided so far are
// delivered, or dropped by their sinks, for up to alertFlushTimeout.
func (a *app) flushAlerts() {
	if a.alerts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), alertFlushTimeout)
	defer cancel()
	if left := a.alerts.Flush(ctx); left > 0 {
		a.log.Warn("alert notifications not delivered before exit", "undelivered", left, "waited", alertFlushTimeout.String())
	}
}

// deleteInstances deletes every instance of the provider. It runs after
// the control loop and the supervisor have stopped, so nothing replaces the
// instances, and before the admin listener closes, so that each DFM
// delivers its shutdown notification instead of retrying it until it
// gives up. The provider bounds the wait: the local provider kills the
// processes of an instance that has not stopped within 30 s.
func (a *app) deleteInstances() error {
	if a.instances.launcher == nil {
		return nil
	}
	a.log.Info("deleting the instances before exit")
	return a.instances.teardown(context.Background())
}

// reload applies the configuration file again. An invalid file changes
// nothing: the error is logged and the current table keeps serving.
func (a *app) reload(ctx context.Context) {
	cfg, err := config.Load(a.configPath)
	if err != nil {
		a.log.Error("reload rejected, keeping the current configuration", "error", err)
		return
	}
	extractor, err := tenant.New(cfg.TenantConfig())
	if err != nil {
		a.log.Error("reload rejected, keeping the current configuration", "file", a.configPath, "error", err)
		return
	}
	if !reflect.DeepEqual(a.config.Provider, cfg.Provider) {
		a.log.Error("reload rejected, keeping the current configuration: the provider section changed; restart dflb to apply it", "file", a.configPath)
		return
	}
	switched, err := a.instances.change(ctx, a.config, cfg, a.publish)
	if switched {
		a.proxy.SetExtractor(extractor)
	}
	if err != nil {
		a.log.Error("reload failed", "file", a.configPath, "routes_switched", switched, "error", err)
		if switched {
			a.config = cfg
		}
		return
	}

	if changed := restartOnlyChanges(a.config, cfg); len(changed) > 0 {
		a.log.Warn("reload applied routes only; restart to apply the other changes", "changed", strings.Join(changed, ", "))
	}
	a.config = cfg
	a.log.Info("configuration reloaded", "file", a.configPath, "instances", len(cfg.Instances),
		"tenants", a.router.Load().Tenants())
}

// restartOnlyChanges names the settings that differ between old and next
// but apply only at start.
func restartOnlyChanges(old, next *config.Config) []string {
	var changed []string
	if old.Listen != next.Listen {
		changed = append(changed, "listen")
	}
	if old.Admin != next.Admin {
		changed = append(changed, "admin")
	}
	if fmt.Sprint(old.Proxy) != fmt.Sprint(next.Proxy) {
		changed = append(changed, "proxy")
	}
	return changed
}

func proxyOptions(cfg *config.Config) (proxy.Options, error) {
	policy, err := balancer.ParsePolicy(cfg.Proxy.Balance)
	if err != nil {
		return proxy.Options{}, fmt.Errorf("proxy.balance: %w", err)
	}
	p := cfg.Proxy
	return proxy.Options{
		Balance:               policy,
		TrustedProxies:        p.TrustedProxies,
		ForwardedProto:        p.ForwardedProto,
		MaxHeaderBytes:        int(p.MaxHeaderBytes),
		MaxBodyBytes:          p.MaxBodyBytes,
		StreamThreshold:       int(p.StreamThreshold),
		ConnectTimeout:        p.ConnectTimeout,
		ResponseHeaderTimeout: p.ResponseHeaderTimeout,
		ClientIdleTimeout:     p.ClientIdleTimeout,
		ClientReadTimeout:     p.ClientReadTimeout,
		WriteTimeout:          p.WriteTimeout,
		UpstreamIdleTimeout:   p.UpstreamIdleTimeout,
		MaxConnsPerBackend:    p.MaxConnsPerBackend,
		RetryAttempts:         p.RetryAttempts,
		ShutdownGrace:         p.ShutdownGrace,
		TryDuration:           p.TryDuration,
		TryInterval:           p.TryInterval,
		MaxConns:              p.MaxConns,
		TenantQueueTimeout:    p.TenantQueueTimeout,
	}, nil
}

// loadSecret reads a secret from the environment variable envName.
// Without one it generates a secret and stores it, readable by the owner
// only, in dataDir/fileName, so that a first run is authenticated too and
// later runs reuse it. The secret itself is never logged.
func loadSecret(envName, dataDir, fileName string, logger *slog.Logger) (string, error) {
	if secret := os.Getenv(envName); secret != "" {
		return secret, nil
	}

	path := filepath.Join(dataDir, fileName)
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		logger.Info("secret read from file", "file", path, "env", envName)
		return strings.TrimSpace(string(data)), nil
	}

	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generating a secret for %s: %w", path, err)
	}
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("creating data directory %s: %w", dataDir, err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing a secret to %s: %w", path, err)
	}
	logger.Info("secret generated", "file", path, "env", envName)
	return secret, nil
}
